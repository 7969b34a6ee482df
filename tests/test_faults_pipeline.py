"""Faults through the real pipeline: a network down for a while does not delay the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Receiver
from kafka_io import read_until
from test_pipeline_kafka import cli

pytestmark = pytest.mark.faults


def test_a_channel_down_for_a_while_is_delivered_after_recovery_and_the_others_are_not_delayed(
    broker: str,
    prefix: str,
    start_worker,
    worker_env: dict[str, str],
    receiver: Receiver,
    current_examples: Path,
) -> None:
    healthy = Receiver()
    try:
        receiver.failures = 3  # 503, 503, 503, then it is back
        env = {
            **worker_env,
            "ALERTCAST_CHANNELS": json.dumps(["webhook"]),
            "ALERTCAST_WEBHOOK_URLS": json.dumps(
                [{"name": "down", "url": receiver.url}, {"name": "healthy", "url": healthy.url}]
            ),
            "ALERTCAST_WEBHOOK_SECRET": "test-webhook-secret",
        }
        start_worker(**env)
        assert cli("submit", str(current_examples / "01-road-closure-d934.json"), env=env).returncode == 0
        receipts = read_until(broker, prefix + "deliveries.receipts", 2, what="both receipts")
        by_account = {r["account"]: r for r in receipts}
        assert by_account["down"]["status"] == "sent" and by_account["down"]["attempts"] == 4
        assert by_account["healthy"]["status"] == "sent" and by_account["healthy"]["attempts"] == 1
        assert receiver.refused == 3 and len(receiver.bodies()) == 1 and len(healthy.bodies()) == 1
        # The healthy network had its post before the other came back: it did not wait for
        # the other's three refusals and backoffs.
        assert healthy.requests[0]["at"] < receiver.requests[0]["at"]
    finally:
        healthy.server.shutdown()
