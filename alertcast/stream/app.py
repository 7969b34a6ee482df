"""The Faust app and the topics every agent shares, configured from the settings."""

from __future__ import annotations

# Before faust: importing it sets NO_CYTHON (the Python stream); the pins are checked by transport.
from alertcast.stream.versions import require_attributes, require_python_stream

# isort: split
import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner, murmur2
from faust.transport.drivers import TRANSPORTS
from mode.utils.logging import level_number
from mode.utils.objects import cached_property

from alertcast import topics
from alertcast.settings import get_settings
from alertcast.stream.transport import CALLS, FlowControl

TRANSPORTS.aliases["alertcast"] = "alertcast.stream.transport:Transport"

settings = get_settings()


require_attributes(faust.App, ["flow_control"], "faust.App")


class App(faust.App):
    @cached_property
    def flow_control(self) -> FlowControl:
        """Faust's own, but whose resume keeps the queues of a flowing stream (transport.py)."""
        CALLS["App.flow_control"] += 1
        return FlowControl(loop=self.loop)

    async def on_first_start(self) -> None:
        """Refuse to run on Faust's compiled stream: the commit fixes would be bypassed."""
        require_python_stream()
        await super().on_first_start()


@functools.lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def partition_of(key: bytes, partitions: int) -> int:
    """The partition a key goes to among `partitions`, with every client's default partitioner."""
    return _key_hash(key) % partitions


def partition_for(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """aiokafka's default partitioner (Java's murmur2, so every client puts a key where the
    others do), with each key's hash kept: aiokafka computes it in pure Python, byte by byte,
    for every message, and an incident's key is sent five times or more (1 % of a busy worker)."""
    if key is None:
        return int(DefaultPartitioner()(key, all_partitions, available))
    return all_partitions[partition_of(key, len(all_partitions))]


#: Faust's names for the levels that differ from Python's.
LEVELS = {"warning": "warn", "critical": "crit"}


app = App(
    settings.app_id,
    broker=[f"alertcast://{server}" for server in settings.bootstrap.split(",")],
    store="memory://",
    datadir=str(settings.worker_data_dir / "{conf.id}-data"),
    web_bind=settings.worker_web_bind,
    web_router_enabled=False,
    web_tables_enabled=False,
    web_port=settings.worker_web_port,
    web_host="127.0.0.1",
    topic_partitions=6,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    producer_partitioner=partition_for,
    broker_commit_every=100,
    broker_commit_interval=0.5,
    # A worker killed outright is noticed after this long (Faust's default is 60 s): its
    # partitions, and the alerts in them, move to the others sooner.
    broker_session_timeout=15.0,
    stream_buffer_maxsize=4096,
    consumer_max_fetch_size=4 * 1024 * 1024,
    autodiscover=False,
    origin="alertcast.stream",
)


async def quiet_root_logger() -> None:
    """mode leaves the root logger at DEBUG (only its handler filters), so every library's
    debug record was still built and dropped: about 7% of a busy worker's CPU, measured (and
    9 % of a relay's, bench/hop.py: aiokafka logs each message it sends)."""
    logging.root.setLevel(level_number(LEVELS.get(settings.log_level, settings.log_level)))


app.task(quiet_root_logger)


async def produce(
    channel: Any,
    key: bytes | None,
    value: bytes | None,
    headers: dict[str, bytes] | None = None,
    partition: int | None = None,
) -> asyncio.Future[Any]:
    """Hand one message to the producer; returns the future of the brokers' acknowledgement.

    Straight to Faust's producer: `Topic.send` wraps each message in a pending and a future
    message, sensors and callbacks, for about half the cost of sending it (py-spy on a busy
    worker: 3 % of its CPU, for 8 messages an incident). `partition` None: by key."""
    producer = await app.maybe_start_producer()
    name = channel.get_topic_name()
    listed = list(headers.items()) if headers else None
    return await producer.send(name, key, value, partition=partition, timestamp=None, headers=listed)  # type: ignore[no-any-return]


async def send_durably(*messages: tuple[Any, bytes, bytes]) -> None:
    """Send (topic, key, value) messages in order and wait until the brokers hold them all.

    An agent that keeps a table sends its outputs this way *before* writing the table: a
    worker killed in between then handles the input again and sends them again (every
    consumer downstream takes a repeat), whereas a table written first would say "done" for
    an output still in the producer's buffer, and the replay would skip it for good.
    """
    pending = [await produce(channel, key, value) for channel, key, value in messages]
    await asyncio.gather(*pending)


async def for_each_event(stream: Any, handle: Callable[[Any], Awaitable[None]]) -> None:
    """Hand each event of an agent's stream to `handle`; acknowledge it once `handle` returned.

    Faust acknowledges the event an agent holds when the agent's stream is closed, which is
    also what happens when the agent raises or is cancelled (a worker stopping): its offset
    was then committed with the work half done, and the message lost. Here an event whose
    handling did not finish is not acknowledged, only forgotten (a stopping worker does not
    wait for it); the commit stops short of it and whoever owns the partition next reads it
    again.
    """
    async for event in stream.noack().events():
        try:
            await handle(event)
        except BaseException:
            app.consumer.unacked.discard(event.message)
            raise
        await stream.ack(event)


def topic(name: str) -> Any:
    return app.topic(
        settings.topic(name), key_serializer="raw", value_serializer="raw", partitions=None, internal=False
    )


submitted = topic("incidents.submitted")
rejected = topic("incidents.rejected")
accepted = topic("incidents.accepted")
drafted = topic("alerts.drafted")
approved = topic("alerts.approved")
requests = topic("deliveries.requests")
receipts = topic("deliveries.receipts")
dead = topic("deliveries.dead")


class Table(faust.Table[str, Any]):
    """A Faust table whose writes are awaited: `await table.put(key, value)`.

    `table[key] = value` hands the changelog record to Faust's send buffer (a future message,
    a background task, sensors, callbacks): 0.19 ms of CPU a write, against 0.035 ms with `put`
    (bench/hop.py --writes), and an incident makes four writes. `put` sends the record with
    `produce`, before the handler returns, so the commit of the event being handled (which
    flushes the producer first) comes after it, as with Faust's buffer.
    Faust's callback on a sent record only keeps a RocksDB store's offset; the store here is
    memory, rebuilt from the changelog.
    """

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError(f"table {self.name}: write with `await table.put(key, value)`")

    async def put(self, key: str, value: Any) -> asyncio.Future[Any]:
        """Send the changelog record, then set the key; returns the brokers' acknowledgement,
        for a write that must be held before going on (the delivery ledger's in-flight mark).

        On the partition of the event being handled, as Faust's own writes: a table is
        co-partitioned with the topic its agent reads, so the owner of that partition owns the
        key, and recovers it from that changelog partition."""
        topic = self.changelog_topic
        partition = self.partition_for_key(key)
        key_bytes, _ = topic.prepare_key(key, self.key_serializer)
        value_bytes, _ = topic.prepare_value(value, self.value_serializer)
        sent = await produce(topic, key_bytes, value_bytes, partition=partition)
        self.data[key] = value
        return sent


require_attributes(Table, ["partition_for_key", "changelog_topic", "data"], "faust.Table")


def table(name: str, partitions: int = 6) -> Table:
    """A table of this app (keys str; values JSON-serialised by Faust, as before)."""
    made = Table(app, name=name, default=None, partitions=partitions, beacon=app.tables.beacon)
    app.tables.add(made)
    return made


# Per incident key: the last version number and which messages (sender/identifier) it has seen.
versions = table("incident_versions")
# Per delivery key (alert:version:channel:account): a LedgerEntry as JSON (alertcast.delivery.ledger).
ledger = table("delivery_ledger")


def internal_specs() -> list[topics.TopicSpec]:
    """Faust's own topics, created before Faust starts and with the pipeline's replication.

    The tables' changelogs: when Faust creates them itself, its first writes can race its own
    metadata ("changelog has 0 partitions") and fail. The assignor's leader topic: Faust creates
    it with one replica, so the broker holding it was a single point of failure for rebalances.
    """
    changelogs = [
        topics.TopicSpec(
            name=each.changelog_topic.get_topic_name(),
            description=f"changelog of the {each.name} table",
            partitions=each.partitions or 6,
            config={"cleanup.policy": "compact"},
        )
        for each in app.tables.values()
    ]
    leader = topics.TopicSpec(
        name=f"{app.conf.id}-__assignor-__leader", description="Faust's partition assignor", partitions=1
    )
    return [*changelogs, leader]
