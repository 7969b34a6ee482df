"""A reproducer, not yet part of the cluster tier: a worker SIGKILLed mid-burst, then a rolling
restart of every worker, 1,500 incidents, each counted at the receivers.

Found so far: one run lost 1 incident of 1,500 at ingest (partition 5, offset 208 of
incidents.submitted never ingested, yet committed past, nothing logged): Faust's off-by-one
commit check, fixed in alertcast.stream.transport (tests/test_stream_commit.py). After the fix,
2 of 3 runs passed; the third delivered 1,500/1,500 webhook posts but 149/150 website alerts,
a different loss not understood yet. It stays out of `make test` until it passes reliably, so
CI is not made green or red by chance; run it by hand:

    .venv/bin/pytest -m cluster tests/repro_worker_restart.py
"""

from __future__ import annotations

import pytest
from cluster_support import kill, submit_burst
from conftest import wait_for
from test_cluster import BURST, DRAIN_S, Setup, cluster, setup  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]


def test_a_worker_killed_and_a_rolling_restart_lose_nothing_and_repeat_nothing(setup: Setup) -> None:  # noqa: F811
    first = submit_burst(setup.cluster.bootstrap, setup.prefix, setup.prefix + "a", BURST)
    wait_for(lambda: setup.receiver.count() >= BURST // 5, DRAIN_S, setup.logs)
    kill(setup.workers[0])
    assert setup.receiver.count() < BURST, "the burst was over before the worker died: not a test"
    setup.ready(setup.start())
    # A second burst, so the rolling restart happens with work in flight whatever the first left.
    second = submit_burst(setup.cluster.bootstrap, setup.prefix, setup.prefix + "b", BURST // 2)
    for old in [w for w in setup.workers if w.process is not None and w.process.poll() is None]:
        setup.stop(old)  # SIGTERM: a clean leave, as in a deployment
        setup.ready(setup.start())
    setup.wait_delivered(first, (second,))
    setup.assert_exactly_once(first, second)
