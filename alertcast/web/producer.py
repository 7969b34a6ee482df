"""The web process's Kafka clients: the producer it writes with, and the consumer of its read model.

The producer is idempotent with acks=all and every send is awaited before the API answers,
so a 202 means the broker's in-sync replicas hold the incident. The intake takes a
`Producer` (a protocol), so the pure fuzz tier can pass an in-memory one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from alertcast.errors import ServiceError

log = logging.getLogger(__name__)


class ProduceError(ServiceError, RuntimeError):
    """Kafka did not take the messages: the caller answers 503 and the sender retries."""


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes | None  # None: a tombstone, erasing the key of a compacted topic
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class Producer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_all(self, messages: list[Message]) -> None:
        """Return once every message is acknowledged; raise ProduceError otherwise."""


class KafkaProducer:
    """aiokafka, acks=all, idempotent: a retry inside the client never duplicates a message."""

    def __init__(self, bootstrap: str, client_id: str = "alertcast-web", timeout_s: float = 30.0) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap.split(","),
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=int(timeout_s * 1000),
        )
        self._timeout_s = timeout_s

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send_all(self, messages: list[Message]) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                deliveries = [
                    await self._producer.send(m.topic, value=m.value, key=m.key, headers=m.headers)
                    for m in messages
                ]
                await asyncio.gather(*deliveries)
        except (KafkaError, TimeoutError) as error:
            raise ProduceError(f"Kafka did not acknowledge: {error!r}") from error


async def follow(
    bootstrap: str,
    topics: list[str],
    on_message: Callable[[str, bytes | None, bytes], None],
    ready: asyncio.Event | None = None,
) -> None:
    """Feed every message of `topics`, from the earliest, to `on_message`, until cancelled.

    No consumer group: each web process rebuilds its whole read model on start, and no
    offsets are committed, so two web processes never share (and split) the topics.
    """
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap.split(","),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        client_id="alertcast-web-read-model",
        metadata_max_age_ms=5_000,  # see topics created after the start (a fresh deployment)
    )
    await consumer.start()
    try:
        if ready is not None:
            ready.set()
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            for records in batches.values():
                for record in records:
                    try:
                        on_message(record.topic, record.key, record.value or b"")
                    except Exception:  # one odd message must not blind the read model
                        log.exception("read model skipped a message of %s", record.topic)
    finally:
        await consumer.stop()
