"""Every override of Faust's consumer (alertcast/stream/transport.py) is called by a real worker
on a real broker: a private name renamed upstream would leave its count at 0, not fail."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port, wait_for
from prometheus_client.parser import text_string_to_metric_families

from alertcast.settings import ROOT

pytestmark = pytest.mark.kafka

SOURCES = [ROOT / "alertcast" / "stream" / "transport.py", ROOT / "alertcast" / "stream" / "app.py"]
# Run at the first join too (with nothing to revoke), then again on each rebalance: the test
# makes one with a second worker, so the revocation of partitions really held is exercised.
REBALANCE = {"Consumer.on_partitions_revoked", "Consumer.on_partitions_assigned"}
# Runs only when the log lost offsets to retention: Faust calls it on a jump in offsets, which
# getmany no longer lets through otherwise. Covered by tests/test_stream_commit.py and by the
# name and signature guard at import (tests/test_stream_guard.py).
RETENTION_ONLY = {"Consumer._add_gap"}
OVERRIDES = {name for source in SOURCES for name in re.findall(r'CALLS\["([^"]+)"\]', source.read_text())}
NORMAL = OVERRIDES - RETENTION_ONLY


def calls(port: str) -> dict[str, float] | None:
    """alertcast_stream_override_calls_total by name, or None while nothing listens yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    except (ConnectionError, urllib.error.URLError):
        return None
    return {
        sample.labels["name"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "alertcast_stream_override_calls"
        for sample in family.samples
    }


def called(port: str, names: set[str], more_than: dict[str, float] | None = None) -> Callable[[], Any]:
    """A condition: every name counted more than before (0 by default) on the worker at port."""
    before = more_than or {}

    def check() -> dict[str, float] | None:
        now = calls(port)
        if now is not None and all(now.get(name, 0) > before.get(name, 0) for name in names):
            return now
        return None

    return check


def test_every_override_runs_in_a_real_worker(
    broker: str, start_worker: Any, worker_env: dict[str, str], current_examples: Path
) -> None:
    assert len(OVERRIDES) == 14 and OVERRIDES >= REBALANCE | RETENTION_ONLY
    port = worker_env["ALERTCAST_WORKER_WEB_PORT"]
    first = start_worker()
    submitted = subprocess.run(
        [sys.executable, "-m", "alertcast", "submit", str(current_examples / "01-road-closure-d934.json")],
        env=worker_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert submitted.returncode == 0, submitted.stderr
    alone = wait_for(
        called(port, NORMAL),
        90,
        lambda: f"every override called: {NORMAL}\n{calls(port)}\n{first.log_tail()}",
    )

    # A second worker in the same group: the first gives partitions up, and takes them back.
    second_port = str(free_port())
    second = start_worker(ALERTCAST_WORKER_WEB_PORT=second_port)
    startup = NORMAL - {"Consumer.ack", "Consumer._new_offset"}  # it may get no message to ack
    wait_for(called(second_port, startup), 90, lambda: f"{calls(second_port)}\n{second.log_tail()}")
    shared = wait_for(
        called(port, REBALANCE, alone),
        90,
        lambda: f"a revocation on the first worker\n{calls(port)}\n{first.log_tail()}",
    )
    second.stop()
    wait_for(
        called(port, {"Consumer.on_partitions_assigned"}, shared),
        90,
        lambda: f"the partitions back on the first worker\n{calls(port)}\n{first.log_tail()}",
    )
