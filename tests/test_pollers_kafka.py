"""Pollers end to end: a local feed server, the poller runner with the real httpx fetch, the real
aiokafka producer, and what lands in `incidents.submitted` on the real broker."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from kafka import KafkaConsumer, TopicPartition
from test_pollers import FAST, SAMPLES, FeedServer, Resource, bibus, server  # noqa: F401 (fixture)

from alertcast import topics
from alertcast.ingest.detect import parse_document
from alertcast.ingest.pollers import PollerSource
from alertcast.stream.pollers import HttpFetch, PollerRunner
from alertcast.web.producer import KafkaProducer, Message

pytestmark = pytest.mark.kafka
T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T] | T], within_s: float, what: str) -> T:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        value = check()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {within_s:.0f} s waiting for {what}")


def everything(broker: str, topic: str) -> list[tuple[bytes, dict[str, bytes], dict[str, object]]]:
    """Every record now in `topic` (up to its end offsets): key, headers, JSON value."""
    consumer = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        found = []
        while any(consumer.position(p) < ends[p] for p in partitions):
            for batch in consumer.poll(timeout_ms=500).values():
                found += [(r.key, dict(r.headers), json.loads(r.value)) for r in batch]
        return found
    finally:
        consumer.close()


async def test_pollers_produce_only_what_is_new_to_incidents_submitted(
    broker: str,
    prefix: str,
    server: FeedServer,  # noqa: F811 (fixture)
) -> None:
    topics.apply(broker, prefix)
    index = SAMPLES / "feeds" / "nyalert-cap-index.rss"
    cap_docs = [
        SAMPLES / "cap" / "oasis-example2-thunderstorm-warning-polygon.xml",
        SAMPLES / "cap" / "oasis-example4-amber-alert-en-es.xml",
    ]
    server.serve_index(index, cap_docs)
    server.resources["/alerts.pb"] = Resource(
        bibus(), "application/x-protobuf", '"b1"', fail=4
    )  # first poll fails
    sources = [
        PollerSource(name="ny-index", url=f"{server.base}/{index.name}", kind="cap-index", interval_s=0.2),
        PollerSource(name="bibus", url=f"{server.base}/alerts.pb", kind="gtfs-rt", interval_s=0.2),
    ]
    producer = KafkaProducer(broker)
    await producer.start()

    async def send(topic: str, key: bytes | None, value: bytes, headers: dict[str, bytes]) -> None:
        await producer.send_all([Message(prefix + topic, key, value, list(headers.items()))])

    fetch = HttpFetch(timeout_s=5)
    runner = PollerRunner(sources, send, fetch, FAST)
    task = asyncio.create_task(runner.run(tick_s=0.05))
    try:
        expected = {i.key for d in cap_docs for i in parse_document(d.read_bytes()).incidents}
        expected |= {i.key for i in parse_document(bibus()).incidents}
        topic = prefix + "incidents.submitted"
        await eventually(
            lambda: asyncio.to_thread(lambda: len(everything(broker, topic)) >= len(expected)),
            60,
            "the polled incidents in incidents.submitted",
        )
        # The GTFS-RT source failed its first poll (3 x 503), then recovered at the next one.
        assert len(server.hits("/alerts.pb")) >= 5 and runner.last["bibus"].state.failures == 0
        # Several more polls of each source (304s), and still each incident exactly once.
        polls = {path: len(server.hits(path)) for path in (f"/{index.name}", "/alerts.pb")}
        await eventually(
            lambda: all(len(server.hits(path)) >= count + 3 for path, count in polls.items()),
            30,
            "more polls",
        )
        records = await asyncio.to_thread(everything, broker, topic)
        assert sorted(key.decode() for key, _, _ in records) == sorted(expected)
        for _key, headers, value in records:
            assert headers["alertcast-source"] in (b"ny-index", b"bibus")
            assert headers["content-type"] == b"application/json"
            assert value["source"] == headers["alertcast-source"].decode()
        assert server.hits("/alerts.pb")[-1].get("If-None-Match") == '"b1"'
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await fetch.aclose()
        await producer.stop()
