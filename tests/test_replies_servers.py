"""Replies read by the worker (alertcast/stream/replies.py), on a real broker with Mastodon's
contract server: a citizen's answer under the alert's status reaches `replies.received` tied to
that alert, once, and the leader's cursor is kept on `replies.cursors` (a second worker started
later reads nothing again)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import wait_for
from kafka import KafkaConsumer, TopicPartition
from kafka_io import read_until, read_until_found
from servers.mastodon_contract import ContractServer
from test_pipeline_kafka import cli

pytestmark = pytest.mark.servers


@pytest.fixture
def contract() -> Iterator[ContractServer]:
    server = ContractServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_a_citizen_s_answer_under_our_status_reaches_the_inbox_tied_to_its_alert_once(
    broker: str,
    prefix: str,
    start_worker: Any,
    worker_env: dict[str, str],
    contract: ContractServer,
    current_examples: Path,
) -> None:
    our_id, token = contract.state.add_account("prefecture")
    env = {
        **worker_env,
        "ALERTCAST_CHANNELS": json.dumps(["mastodon"]),
        "ALERTCAST_MASTODON_ACCOUNTS": json.dumps(
            [{"name": "main", "base_url": contract.url, "access_token_env": "ALERTCAST_TEST_REPLIES_TOKEN"}]
        ),
        "ALERTCAST_TEST_REPLIES_TOKEN": token,
        "ALERTCAST_REPLIES_POLL_S": "1",
    }
    worker = start_worker(**env)
    assert cli("submit", str(current_examples / "03-storm-warning.json"), env=env).returncode == 0
    receipt = read_until(broker, prefix + "deliveries.receipts", 1, what=worker.log_tail())[0]
    assert receipt["status"] == "sent", receipt["error"]

    _, citizen = contract.state.add_account("citoyen")
    answer = httpx.post(
        f"{contract.url}/api/v1/statuses",
        json={
            "status": f"@u{our_id} les arbres sont tombés rue Pasteur",
            "in_reply_to_id": receipt["post_id"],
        },
        headers={"Authorization": f"Bearer {citizen}"},
        timeout=10,
    )
    answer.raise_for_status()

    replies = read_until(broker, prefix + "replies.received", 1, what=lambda: worker.log_tail())
    (reply,) = replies
    assert reply["id"] == f"mastodon:{answer.json()['id']}"
    assert reply["alert_id"] == receipt["alert_id"] and reply["in_reply_to"] == receipt["post_id"]
    assert reply["text"].endswith("les arbres sont tombés rue Pasteur")
    cursors = read_until_found(
        broker, prefix + "replies.cursors", lambda got: any(c.get("last_id") for c in got), 60
    )
    assert cursors[-1]["account"] == "main"

    # A new leader, later, continues from the kept cursor: it polls and reads nothing again.
    worker.stop()
    before = notification_gets(contract)
    again = start_worker(**env)
    wait_for(lambda: notification_gets(contract) >= before + 2, 120, lambda: again.log_tail())
    assert messages_in(broker, prefix + "replies.received") == 1


def notification_gets(contract: ContractServer) -> int:
    with contract.state.lock:
        return sum(1 for _, path in contract.state.requests if path == "/api/v1/notifications")


def messages_in(broker: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=broker)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()
