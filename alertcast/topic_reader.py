"""Reading a topic from its start to its current end, once: what the CLI's commands need to
answer "what is there now" (a request to settle, the pause switches, the held deliveries)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from alertcast.settings import Settings


def read_to_end(settings: Settings, topic: str, timeout_s: float = 30.0) -> Iterator[Any]:
    """Every record of `topic` (a name without the prefix) present when called, in order per
    partition; a TimeoutError if the broker does not deliver them within `timeout_s`."""
    from kafka import KafkaConsumer, TopicPartition

    name = settings.topic(topic)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap.split(","), enable_auto_commit=False, group_id=None
    )
    try:
        partitions = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or ())]
        if not partitions:
            return
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: not read to its end within {timeout_s:.0f} s")
            for records in consumer.poll(timeout_ms=500).values():
                yield from records
    finally:
        consumer.close()
