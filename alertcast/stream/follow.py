"""Reading a whole topic on every worker, then following it: for what every worker must know.

A pause switch or a citizen's subscription must reach every worker, not the one a consumer group
would give its partition to: each worker reads the topic without a group, from its start, and
keeps reading. `loaded` is set once it has read what the topic held when it started, so a worker
never acts (posts, matches) before it knows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from alertcast.stream.app import settings

log = logging.getLogger(__name__)

Apply = Callable[[bytes | None, bytes | None], None]


async def follow(topic: str, apply: Apply, loaded: asyncio.Event) -> None:
    """Hand every record (key, value; None for a tombstone) of `topic` to `apply`, for good."""
    name = settings.topic(topic)
    # Subscribed without a group: every partition is assigned to this consumer, once the
    # topic's metadata is known (assigning them by hand needs the partition count first, and
    # `partitions_for_topic` only knows topics the client already tracks).
    consumer = AIOKafkaConsumer(
        name,
        bootstrap_servers=settings.bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        while not consumer.assignment():
            await _read(consumer, apply)
        partitions = sorted(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            await _read(consumer, apply)
        loaded.set()
        log.info("%s read to its end: following it", name)
        while True:
            await _read(consumer, apply)
    finally:
        await consumer.stop()


async def _read(consumer: AIOKafkaConsumer, apply: Apply) -> None:
    for records in (await consumer.getmany(timeout_ms=500)).values():
        for record in records:
            apply(record.key, record.value)
