"""Reading and writing topics from tests with kafka-python (a real client on the real broker)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer


def produce(
    bootstrap: str, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None
) -> None:
    """`partition` None: by key, as every client does by default (murmur2)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(topic, key=key, value=value, partition=partition).get(timeout=30)
    finally:
        producer.close()


def read_until(
    bootstrap: str, topic: str, count: int, timeout: float = 90.0, what: str = ""
) -> list[dict[str, Any]]:
    """At least `count` JSON messages of `topic` (all those read), waiting at most `timeout` s."""
    return read_until_found(bootstrap, topic, lambda got: len(got) >= count, timeout, what)


def read_until_found(
    bootstrap: str,
    topic: str,
    found: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 90.0,
    what: Callable[[], str] | str = "",
) -> list[dict[str, Any]]:
    """Every JSON message of `topic` from its start, read until `found(messages)` holds (or an
    AssertionError saying what was awaited and the last messages read)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=500,
    )
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while not found(messages):
            if time.monotonic() > deadline:
                said = what() if callable(what) else what
                raise AssertionError(
                    f"{topic}: {len(messages)} messages, not what was awaited after {timeout:.0f} s "
                    f"{said}: {messages[-5:]}"
                )
            for batch in consumer.poll(timeout_ms=300).values():
                messages += [json.loads(record.value) for record in batch]
    finally:
        consumer.close()
    return messages
