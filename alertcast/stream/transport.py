"""A Faust transport whose consumer waits 10 ms, not 1.5 s, for an empty fetch.

Faust hard-codes aiokafka's `fetch_max_wait_ms=1500`, and every worker owns an always-idle
assignor partition: after any pause (a burst, a GC), aiokafka fetches that idle partition
alone, the broker holds the fetch 1.5 s, and the backlog it leaves re-triggers the stall, for
good (see shared/FACTS.md). No Faust setting reaches it, hence this subclass.

The same subclass shortens aiokafka's prefetch backoff (100 ms): while any partition of a broker
holds fetched records Faust has not taken (the table's changelog partitions do, after every
write), aiokafka sends no fetch to that broker for up to that long, which measured as ~100 ms
added to every hop of the pipeline.

And its consumer does not commit past a message that was never acknowledged. Faust keeps the
committed offset as Kafka does, the next offset to read, but lets a commit through when the
lowest acknowledged offset is `committed + 1`: the message at `committed` (still being
processed by a concurrent agent, or never handed over around a rebalance) was then committed
past, and a worker killed or restarted at that moment lost it for good. The cluster tier's
rolling restart lost one incident of 1,500 that way (tests/repro_worker_restart.py).

Nor does it count as done a message a stream skipped without handing it to an agent. Around a
rebalance or a stop Faust's stream skips messages fetched in an earlier generation, or taken
while the flow is suspended, and acknowledges them: once the partition was assigned again,
that acknowledgement let the commit pass over the same offset fetched anew and not yet
processed. The reproducer lost one draft of 1,500 that way (never approved, committed past).

And it does not let a record fetched before a seek through after it. A rebalance seeks each
partition back to its committed offset, but records of a batch fetched earlier, from further
on, could still arrive: Faust then took the offsets between as a "gap" (counted as done) and
dropped the same records when they were fetched again, as already read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

from faust.transport.drivers import aiokafka as driver

log = logging.getLogger(__name__)

FETCH_MAX_WAIT_MS = 10
PREFETCH_BACKOFF_S = 0.005
POSITION_WAIT_S = 10.0


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    async def on_start(self) -> None:
        await super().on_start()
        fetcher = getattr(self._consumer, "_fetcher", None)
        if fetcher is not None:
            fetcher._prefetch_backoff = PREFETCH_BACKOFF_S


class Interval(Protocol):
    begin: int
    end: int


def head_is_done(committed: int | None, acked: Iterable[int], gaps: Iterable[Interval]) -> bool:
    """Whether every offset from `committed` (the next to read) up to the lowest acknowledged
    one is acknowledged or a known gap (offsets the log does not hold): only then may the
    consumer commit past them. Unknown `committed` (nothing committed yet): Faust's own rule."""
    acked = list(acked)
    if committed is None or not acked:
        return True
    head = min(acked)
    covered: set[int] = set()
    for gap in gaps:
        covered.update(range(max(gap.begin, committed), min(gap.end, head)))
    return len(covered) == head - committed if head > committed else True


class Consumer(driver.Consumer):
    # Per partition, the first offset read since it was assigned: where the head is when no
    # committed offset is known (a position the consumer could not tell at assignment).
    first_read: dict[Any, int]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.first_read = {}

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        for tp in revoked:
            self.first_read.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        """A partition nothing was ever committed for starts where the consumer starts reading
        it: Faust leaves that unknown, and then let commits pass over unfinished head messages."""
        await super().perform_seek()
        for tp in self.assignment():
            if self._committed_offset[tp] is None:
                self._committed_offset[tp] = position = await self.known_position(tp)
                if position is None:  # the first offset read stands in (see _new_offset)
                    log.warning("%s: position unknown at assignment", tp)

    async def known_position(self, tp: Any) -> int | None:
        """The next offset the consumer will read, or None if it cannot tell in time."""
        with contextlib.suppress(Exception):
            position: int | None = await asyncio.wait_for(self.position(tp), POSITION_WAIT_S)
            return position
        return None

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:  # noqa: ASYNC109 (Faust's signature)
        """Records in offset order only. One that jumps ahead of the last read (or of a seek),
        on a topic whose messages are acknowledged, while the consumer's position has not
        reached it, was fetched before that seek: it is left out, and comes again when the
        position gets there. A jump the position agrees with (records removed by retention)
        goes through as Faust would take it."""
        async for tp, message in super().getmany(timeout):
            read = self._read_offset.get(tp)
            if read is not None and message.offset > read + 1 and self.app.topics.acks_enabled_for(tp.topic):
                position = await self.known_position(tp)  # not known: Faust's own rule
                if position is not None and position <= message.offset:
                    log.warning(
                        "%s: offset %d fetched before a seek to %d: left for later", tp, message.offset, read
                    )
                    continue
            # After the check: a record left out is not where the partition's head is.
            self.first_read.setdefault(tp, message.offset)
            yield tp, message

    def ack(self, message: Any) -> bool:
        """A stream tracks every message it hands to an agent before anything else; one never
        tracked was skipped, is not done, and its offset is read again by whoever owns it."""
        if not message.tracked:
            return False
        done: bool = super().ack(message)
        return done

    def _new_offset(self, tp: Any) -> int | None:
        committed = self._committed_offset[tp]
        if committed is None:
            committed = self.first_read.get(tp)
        if not head_is_done(committed, self._acked[tp], self._gap[tp]):
            return None  # the oldest message is not done: commit nothing yet
        new: int | None = super()._new_offset(tp)
        return new


class Transport(driver.Transport):
    Consumer = Consumer
