"""A reproducer, not yet part of the cluster tier: a worker SIGKILLed mid-burst, then a rolling
restart of every worker, 1,500 incidents, each counted at the receivers.

What it found, each fixed and kept (alertcast.stream.transport, alertcast.stream.app):
- Faust's commit check was off by one and let a commit pass an unfinished head message;
- a partition never committed left Faust's check off altogether;
- ingest and approval wrote their table before their output was in Kafka: a worker killed in
  between left a state saying "approved" for an approval never sent (outputs now first);
- a stream skipping a message fetched in an earlier generation acknowledged it, and the commit
  passed over the same offset fetched anew;
- after a rebalance, records fetched before the seek arrived ahead of the position: Faust took
  the offsets between as a gap (done) and dropped them when fetched again (seen: 816 such
  records in one run).
With all of these, most runs still lose one or two incidents of 1,500 (the last two: a
submission never ingested and a draft never approved, both early in the burst near the first
worker's SIGKILL, their offsets committed past; nothing above logged). On a timeout the
message says where each missing incident stopped and which committed offsets fall short. It
stays out of `make test` until it passes reliably, so CI is
not made green or red by chance; run it by hand:

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
