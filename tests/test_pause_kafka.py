"""Pause and resume on the real pipeline: held deliveries wait, counted, and go out on resume,
once; a person may drop one; the switch and its author are in the audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Receiver
from kafka_io import read_until_found
from test_pipeline_kafka import cli

pytestmark = pytest.mark.kafka

ROAD = "01-road-closure-d934.json"


def statuses(receipts: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each channel's receipt statuses, in order."""
    seen: dict[str, list[str]] = {}
    for receipt in receipts:
        seen.setdefault(receipt["channel"], []).append(receipt["status"])
    return seen


def run(env: dict[str, str], *args: str) -> str:
    done = cli(*args, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_paused_channel_waits_counted_and_goes_out_once_on_resume(
    broker: str,
    prefix: str,
    start_worker,
    worker_env: dict[str, str],
    receiver: Receiver,
    current_examples: Path,
) -> None:
    env = {
        **worker_env,
        "ALERTCAST_CHANNELS": json.dumps(["website", "webhook"]),
        "ALERTCAST_WEBHOOK_URLS": json.dumps([receiver.url]),
        "ALERTCAST_WEBHOOK_SECRET": "test-webhook-secret",
    }
    said = run(env, "deliveries", "pause", "--channel", "webhook", "--by", "duty", "--reason", "token leak")
    assert "paused webhook by duty" in said
    start_worker(**env)  # started after the pause: it must know of it before its first delivery
    run(env, "submit", str(current_examples / ROAD))
    topic = prefix + "deliveries.receipts"
    read_until_found(
        broker, topic, lambda r: statuses(r) == {"website": ["sent"], "webhook": ["paused"]}, what="held"
    )
    assert receiver.bodies() == []
    listed = run(env, "deliveries", "paused")
    assert "paused webhook by duty" in listed and "token leak" in listed
    assert "held webhook: 1 deliveries" in listed

    run(env, "deliveries", "resume", "--channel", "webhook", "--by", "duty")
    read_until_found(
        broker, topic, lambda r: statuses(r).get("webhook") == ["paused", "sent"], what="resumed"
    )
    assert len(receiver.bodies()) == 1
    assert "no pause" in run(env, "deliveries", "paused")

    audit = read_until_found(
        broker,
        prefix + "audit.events",
        lambda e: [x["action"] for x in e if x["actor"] == "duty"] == ["pause", "resume"],
    )
    pause = next(event for event in audit if event["action"] == "pause")
    assert pause["channel"] == "webhook" and pause["message"] == "token leak"


def test_a_held_delivery_a_person_drops_never_goes_out(
    broker: str,
    prefix: str,
    start_worker,
    worker_env: dict[str, str],
    receiver: Receiver,
    current_examples: Path,
) -> None:
    env = {
        **worker_env,
        "ALERTCAST_CHANNELS": json.dumps(["website", "webhook"]),
        "ALERTCAST_WEBHOOK_URLS": json.dumps([receiver.url]),
        "ALERTCAST_WEBHOOK_SECRET": "test-webhook-secret",
    }
    start_worker(**env)
    run(env, "deliveries", "pause", "--by", "duty")  # everything
    run(env, "submit", str(current_examples / ROAD))
    topic = prefix + "deliveries.receipts"
    receipts = read_until_found(
        broker, topic, lambda r: statuses(r) == {"website": ["paused"], "webhook": ["paused"]}, what="held"
    )
    webhook_key = next(r["delivery_key"] for r in receipts if r["channel"] == "webhook")
    run(env, "deliveries", "resolve", webhook_key, "--drop", "--by", "duty")
    read_until_found(
        broker, topic, lambda r: statuses(r).get("webhook") == ["paused", "dropped"], what="dropped"
    )

    run(env, "deliveries", "resume", "--by", "duty")
    receipts = read_until_found(broker, topic, lambda r: statuses(r).get("website") == ["paused", "sent"])
    assert statuses(receipts)["webhook"] == ["paused", "dropped"]
    assert receiver.bodies() == []
