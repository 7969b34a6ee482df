"""A Faust transport whose consumer waits 50 ms, not 1.5 s, for an empty fetch.

Faust hard-codes aiokafka's `fetch_max_wait_ms=1500`, and every worker owns an always-idle
assignor partition: after any pause (a burst, a GC), aiokafka fetches that idle partition
alone, the broker holds the fetch 1.5 s, and the backlog it leaves re-triggers the stall, for
good (see shared/FACTS.md). No Faust setting reaches it, hence this subclass. Not shorter than
50 ms: a fetch encodes and decodes every assigned partition (a worker holds dozens),
and at 10 ms an idle worker spent 80 to 110 ms of CPU a second on empty fetches, a busy one
about 2 ms per incident; 50 ms cut that to about 30 ms a second (a warmed-up worker of
bench/pipeline.py, measured), and still bounds such a stall to 50 ms per hop.

The same subclass shortens aiokafka's prefetch backoff (100 ms): while any partition of a broker
holds fetched records Faust has not taken (the table's changelog partitions do, after every
write), aiokafka sends no fetch to that broker for up to that long, which measured as ~100 ms
added to every hop of the pipeline.

And its consumer does not commit past a message that was never acknowledged. Faust keeps the
committed offset as Kafka does, the next offset to read, but lets a commit through when the
lowest acknowledged offset is `committed + 1`: the message at `committed` (still being
processed by a concurrent agent, or never handed over around a rebalance) was then committed
past, and a worker killed or restarted at that moment lost it for good. The cluster tier's
rolling restart lost one incident of 1,500 that way (tests/test_cluster.py).

Nor does it count as done a message a stream skipped without handing it to an agent. Around a
rebalance or a stop Faust's pure-Python stream (the one used without its compiled extension)
skips messages fetched in an earlier generation, or taken while the flow is suspended, and
acknowledges them: once the partition was assigned again, that acknowledgement let the commit
pass over the same offset fetched anew and not yet processed.

And it never takes a jump in offsets as a gap in the log. Faust counted the offsets between
as done; on our topics (neither compacted nor transactional) a jump only ever meant records
fetched before a seek arriving after it, or the rest of a batch dropped around a rebalance
after the fetch position had moved past it. Only offsets retention removed count as done
(`_add_gap`); otherwise the partition is read again from where it was (`getmany`).

And it keeps a revoked partition's head for the revocation's last commits: Faust forgets the
committed offset first, then waits for the messages in flight and commits them, and with no
head to check it committed 83 over a message at 70 never handed over (the reproducer's
worker2).

And the flow of messages into the stream queues is not emptied when it resumes while flowing
(`FlowControl`), which dropped messages queued after a seek.

And a partition's oldest message that never reached its agent while later ones are done is read
again, rather than holding the partition's commits for good (see `reread_skipped_heads`).

All of it rests on private names of exactly faust-streaming 0.15.3, aiokafka 0.14.0 and
mode-streaming 0.7.1 (`PRIVATE_NAMES` below: what each carries, and where the fix belongs
upstream; the commit off-by-one is faust-streaming/faust#606, fixed by its open PR #707) and on
Faust's pure-Python stream. `alertcast.stream.versions` refuses other versions and forces that
stream; `check_overrides` refuses to import if an overridden method is gone or changed shape.
"""

from __future__ import annotations

from alertcast.stream import versions  # before faust: the pins, and NO_CYTHON (the Python stream)

# isort: split
import asyncio
import contextlib
import inspect
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from typing import Any, NamedTuple, Protocol

from faust.transport.drivers import aiokafka as driver
from mode.utils.queues import FlowControlEvent

versions.require_pinned_versions()

log = logging.getLogger(__name__)


class PrivateName(NamedTuple):
    owner: str
    name: str
    use: str
    fix: str
    upstream: str


FAUST_606 = "faust-streaming/faust#606, open PR #707 (never commit past an in-flight message)"
# Every private name of faust-streaming 0.15.3, aiokafka 0.14.0 and mode-streaming 0.7.1 this
# module touches, what it carries, and where that fix belongs. Each is checked: methods at import
# (`check_overrides`), instance attributes where the instance is made (`versions.require_attributes`).
PRIVATE_NAMES = (
    PrivateName(
        "faust AIOKafkaConsumerThread",
        "_create_worker_consumer",
        "method overridden",
        "fetch wait 10 ms, not the hard-coded 1500 (FACTS.md: a worker behind never catches up)",
        "faust: pass a `consumer_fetch_max_wait_ms` setting to aiokafka (none exists)",
    ),
    PrivateName(
        "aiokafka AIOKafkaConsumer",
        "_fetch_max_wait_ms",
        "attribute written before start()",
        "the same fetch wait: start() builds its Fetcher from it",
        "faust (the public `fetch_max_wait_ms` argument exists; Faust passes 1500)",
    ),
    PrivateName(
        "faust AIOKafkaConsumerThread",
        "_consumer",
        "attribute read",
        "prefetch backoff 5 ms: reaches the aiokafka consumer",
        "aiokafka: a consumer argument for the prefetch backoff",
    ),
    PrivateName(
        "aiokafka AIOKafkaConsumer", "_fetcher", "attribute read", "prefetch backoff", "aiokafka, as above"
    ),
    PrivateName(
        "aiokafka Fetcher",
        "_prefetch_backoff",
        "attribute written",
        "prefetch backoff 5 ms, not 100 ms (~100 ms added to every hop)",
        "aiokafka: aio-libs/aiokafka#534 added it without a consumer argument",
    ),
    PrivateName(
        "faust Consumer",
        "_committed_offset",
        "read and written",
        f"no commit past an unacknowledged head ({FAUST_606}); a revoked partition's head",
        f"upstream: {FAUST_606}; the revocation order is ours (not reported)",
    ),
    PrivateName(
        "faust Consumer",
        "_acked",
        "read and cleared",
        "head checks; acknowledgements of a revoked partition dropped at re-assignment",
        "upstream (not reported)",
    ),
    PrivateName(
        "faust Consumer",
        "_acked_index",
        "cleared",
        "as _acked",
        "upstream (not reported)",
    ),
    PrivateName(
        "faust Consumer",
        "_gap",
        "read and cleared",
        "head checks count only offsets the log does not hold",
        "upstream: gaps are assumed to be compaction (faust-streaming/faust#378)",
    ),
    PrivateName(
        "faust Consumer",
        "_read_offset",
        "written",
        "a record a seek back brought again is not dropped as read",
        "upstream (not reported)",
    ),
    PrivateName(
        "faust Consumer",
        "_unacked_messages",
        "read",
        "a head message in flight is not read again",
        "ours (the public `unacked` is the same set)",
    ),
    PrivateName(
        "faust Consumer",
        "_new_consumer_thread",
        "method overridden",
        "installs ConsumerThread (fetch wait, prefetch backoff)",
        "not needed once the two settings above exist",
    ),
    PrivateName(
        "faust Consumer",
        "_add_gap",
        "method overridden",
        "only offsets retention removed count as done, not records skipped on the way",
        "upstream: Faust takes any jump as a gap in the log (faust-streaming/faust#378, #401)",
    ),
    PrivateName(
        "faust Consumer",
        "_new_offset",
        "method overridden",
        f"the commit off-by-one: committed past a message still in flight ({FAUST_606})",
        f"upstream: {FAUST_606}; drop this override once #707 is released",
    ),
)

# How many times each override ran in this process: the worker's /metrics shows them
# (`alertcast_stream_override_calls_total`), so a test on a real broker proves each is wired.
CALLS: Counter[str] = Counter()

FETCH_MAX_WAIT_MS = 50
PREFETCH_BACKOFF_S = 0.005
POSITION_WAIT_S = 10.0
REREAD_LIMIT = 3


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        CALLS["ConsumerThread._create_worker_consumer"] += 1
        consumer = super()._create_worker_consumer(transport)
        # Written before start(), which builds the Fetcher from it; a new attribute would be ignored.
        versions.require_attributes(consumer, ["_fetch_max_wait_ms"], "aiokafka's consumer")
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    async def on_start(self) -> None:
        CALLS["ConsumerThread.on_start"] += 1
        await super().on_start()
        versions.require_attributes(self, ["_consumer"], "Faust's consumer thread")
        consumer: Any = self._consumer  # made and started by Faust's on_start
        versions.require_attributes(consumer, ["_fetcher"], "aiokafka's consumer")
        fetcher = consumer._fetcher
        versions.require_attributes(fetcher, ["_prefetch_backoff"], "aiokafka's fetcher")
        fetcher._prefetch_backoff = PREFETCH_BACKOFF_S


class FlowControl(FlowControlEvent):
    """Resuming a flow that is not suspended leaves the stream queues as they are.

    Mode's resume empties every stream queue, to drop what was fetched before a rebalance;
    but Faust resumes more than once per rebalance (when recovery starts, and again once the
    partitions are seeked), and what was queued in between, after the seek, was dropped with
    nothing to read it again. The cluster tier saw it as a message queued, then never handed
    to its agent, a millisecond before "Worker ready"."""

    def resume(self) -> None:
        CALLS["FlowControl.resume"] += 1
        if not self.is_active():
            super().resume()


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
    # Per partition, where its head is while Faust does not know its committed offset: the
    # committed offset when it was revoked (Faust forgets it before a revocation's last
    # commits, and then committed past messages never done), or else the first offset read
    # since it was assigned (a position the consumer could not tell).
    heads: dict[Any, int]
    # Per partition, the next offset to hand over: set by every seek, moved on by every record.
    expected: dict[Any, int]
    # Per partition, the head offset read again and how many times; the one awaited since; and
    # the head seen stuck at the last commit.
    rereads: dict[Any, tuple[int, int]]
    reread_pending: dict[Any, int]
    suspects: dict[Any, int]

    def __post_init__(self) -> None:
        CALLS["Consumer.__post_init__"] += 1
        super().__post_init__()
        versions.require_attributes(self, CONSUMER_ATTRIBUTES, "Faust's consumer")
        self.heads = {}
        self.expected = {}
        self.rereads = {}
        self.reread_pending = {}
        self.suspects = {}

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        CALLS["Consumer.on_partitions_revoked"] += 1
        await self.commit()  # what is done, while Faust still knows each partition's head
        for tp in revoked:
            self.expected.pop(tp, None)
            self.reread_pending.pop(tp, None)
            self.suspects.pop(tp, None)
            committed = self._committed_offset.get(tp)
            if committed is not None:
                self.heads[tp] = committed
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[Any], generation_id: int = 0) -> None:
        CALLS["Consumer.on_partitions_assigned"] += 1
        for tp in assigned:
            self.heads.pop(tp, None)
            # Acknowledged after Faust forgot the partition (messages finishing while it was
            # revoked): it is read again from its committed offset, they will come again.
            self._acked.pop(tp, None)
            self._acked_index.pop(tp, None)
            self._gap.pop(tp, None)
        await super().on_partitions_assigned(assigned, generation_id)

    def _new_consumer_thread(self) -> ConsumerThread:
        CALLS["Consumer._new_consumer_thread"] += 1
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        """A partition nothing was ever committed for starts where the consumer starts reading
        it: Faust leaves that unknown, and then let commits pass over unfinished head messages."""
        CALLS["Consumer.perform_seek"] += 1
        await super().perform_seek()
        unknown = []
        for tp in self.assignment():
            committed = self._committed_offset[tp]
            if committed is None:
                unknown.append(tp)
                self.expected.pop(tp, None)
            else:
                self.expected[tp] = committed
        for tp in unknown:
            position = self._committed_offset[tp] = await self.known_position(tp)
            if position is None:  # the first offset read stands in (see heads)
                log.warning("%s: position unknown at assignment", tp)

    async def known_position(self, tp: Any) -> int | None:
        """The next offset the consumer will read, or None if it cannot tell in time."""
        with contextlib.suppress(Exception):
            position: int | None = await asyncio.wait_for(self.position(tp), POSITION_WAIT_S)
            return position
        return None

    async def log_start(self, tp: Any) -> int | None:
        """The first offset the log still holds, or None if it cannot tell in time."""
        with contextlib.suppress(Exception):
            starts = await asyncio.wait_for(self.earliest_offsets(tp), POSITION_WAIT_S)
            return int(starts[tp])
        return None

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:  # noqa: ASYNC109 (Faust's signature)
        """Records in offset order, each once, on the topics whose messages are acknowledged.

        Faust takes a record that jumps ahead of the last one read as the end of a gap in the
        log; our topics have no such gaps (not compacted, not transactional), so a jump only
        ever meant records fetched before a seek arriving after it, or the rest of a batch
        dropped around a rebalance after the fetch position had moved past it. Such a record
        is left out and, when the fetch position has moved past the expected offset, the
        partition is read again from there; only offsets retention removed are passed over.
        And Faust's reader drops a record below its own read offset, which a seek back can
        race with: the expected record goes through."""
        CALLS["Consumer.getmany"] += 1
        async for tp, message in super().getmany(timeout):
            if self.app.topics.acks_enabled_for(tp.topic) and not await self.in_order(tp, message.offset):
                continue
            # After the check: a record left out is not where the partition's head is.
            self.heads.setdefault(tp, message.offset)
            if self.reread_pending.get(tp) == message.offset:
                del self.reread_pending[tp]
            yield tp, message

    async def in_order(self, tp: Any, offset: int) -> bool:
        """Whether this record is the next one of its partition (then it is handed over)."""
        expected = self.expected.get(tp)
        if expected is not None and offset < expected:
            return False  # handed over already: a copy fetched again
        if expected is not None and offset > expected and await self.left_out(tp, offset):
            return False
        self.expected[tp] = offset + 1
        read = self._read_offset.get(tp)
        if read is not None and read > offset:
            self._read_offset[tp] = offset  # Faust would drop it as read already
        return True

    async def left_out(self, tp: Any, offset: int) -> bool:
        """Whether a record ahead of the expected offset waits (and the partition is read
        again from that offset when nothing else would bring it), or goes (retention)."""
        expected = self.expected[tp]
        position = await self.known_position(tp)
        if position is not None and position <= expected:
            return True  # fetched before a seek: the records from `expected` on are coming
        start = await self.log_start(tp)
        if start is not None and start > expected:
            return False  # removed by retention: nothing else will come
        log.warning(
            "%s: offset %d read where %d was expected: reading again from there", tp, offset, expected
        )
        with contextlib.suppress(Exception):
            await self.seek_wait({tp: expected})
        return True

    async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
        """Faust counts offsets it did not see between two records as done. Only those the log
        no longer holds (removed by retention) are: any other was skipped on its way here."""
        CALLS["Consumer._add_gap"] += 1
        start = await self.log_start(tp)
        if start is not None and offset_from < start:
            await super()._add_gap(tp, offset_from, min(offset_to, start - 1))

    async def force_commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        CALLS["Consumer.force_commit"] += 1
        await self.reread_skipped_heads()
        done: bool = await super().force_commit(topics, start_new_transaction)
        return done

    def head_of(self, tp: Any) -> int | None:
        committed: int | None = self._committed_offset[tp]
        return committed if committed is not None else self.heads.get(tp)

    async def reread_skipped_heads(self) -> None:
        """A partition's oldest message that is neither done nor in flight while later ones are
        done, at two commits in a row, never reached its agent (a stream takes a partition's
        messages in offset order), and the commit would wait for it for good: the partition is
        read again from it. (Once is not enough: right after a seek the head is on its way.)

        Not more than REREAD_LIMIT times for one message (an agent failing on it each time):
        then the commits of that partition wait, and the worker's log says why."""
        if self.app.rebalancing:  # what is done and committed is being forgotten and re-read
            self.suspects.clear()
            return
        in_flight = {(message.tp, message.offset) for message in self._unacked_messages}
        for tp in list(self._acked):
            # Only against a known committed offset: while a partition is revoked, Faust has
            # already dropped what was done and not committed (heads would see holes there).
            head = self._committed_offset[tp]
            stuck = (
                head is not None
                and not head_is_done(head, self._acked[tp], self._gap[tp])
                and (tp, head) not in in_flight
                and self.reread_pending.get(tp) != head
                and tp in self.assignment()
            )
            if not stuck or head is None:
                self.suspects.pop(tp, None)
                continue
            if self.suspects.get(tp) != head:
                self.suspects[tp] = head
                continue
            earlier, times = self.rereads.get(tp, (head, 0))
            times = times + 1 if earlier == head else 1
            self.rereads[tp] = (head, times)
            if times > REREAD_LIMIT:
                if times == REREAD_LIMIT + 1:
                    log.error(
                        "%s: offset %d read %d times and never done: its commits wait for it",
                        tp,
                        head,
                        REREAD_LIMIT,
                    )
                continue
            log.warning(
                "%s: offset %d neither done nor in flight while later ones are done: reading it again",
                tp,
                head,
            )
            self.reread_pending[tp] = head
            self.expected[tp] = head
            with contextlib.suppress(Exception):
                await self.seek_wait({tp: head})

    def ack(self, message: Any) -> bool:
        """A stream tracks every message it hands to an agent before anything else; one never
        tracked was skipped, is not done, and its offset is read again by whoever owns it."""
        CALLS["Consumer.ack"] += 1
        if not message.tracked:
            return False
        done: bool = super().ack(message)
        return done

    def _new_offset(self, tp: Any) -> int | None:
        """Upstream bug faust-streaming/faust#606 (fixed by the open PR #707): Faust lets a commit
        pass when the lowest acknowledged offset is `committed + 1`, over the message at
        `committed` still in flight. Drop this override once a release carries #707."""
        CALLS["Consumer._new_offset"] += 1
        committed = self.head_of(tp)
        if not head_is_done(committed, self._acked[tp], self._gap[tp]):
            return None  # the oldest message is not done: commit nothing yet
        new: int | None = super()._new_offset(tp)
        return new


class Transport(driver.Transport):
    Consumer = Consumer


# Set by Faust's Consumer.__init__ (checked once the instance exists).
CONSUMER_ATTRIBUTES = (
    "_committed_offset",
    "_acked",
    "_acked_index",
    "_gap",
    "_read_offset",
    "_unacked_messages",
)

# The methods overridden here, by the class they override; public ones too: a renamed one is a
# silent no-op just the same.
OVERRIDES: dict[type, tuple[str, ...]] = {
    ConsumerThread: ("_create_worker_consumer", "on_start"),
    Consumer: (
        "__post_init__",
        "on_partitions_revoked",
        "on_partitions_assigned",
        "_new_consumer_thread",
        "perform_seek",
        "getmany",
        "_add_gap",
        "force_commit",
        "ack",
        "_new_offset",
    ),
    FlowControl: ("resume",),
}


def _shape(function: Any) -> tuple[list[tuple[str, Any]], bool, bool]:
    parameters = inspect.signature(function).parameters.values()
    return (
        [(p.name, p.kind) for p in parameters],
        inspect.iscoroutinefunction(function),
        inspect.isasyncgenfunction(function),
    )


def override_problems(overrides: dict[type, tuple[str, ...]] = OVERRIDES) -> list[str]:
    """Each overridden method still exists in the class it overrides, with the same parameters
    and the same kind (plain, coroutine, async generator): else the override is never called."""
    problems = []
    for cls, names in overrides.items():
        base = cls.__mro__[1]
        for name in names:
            theirs = getattr(base, name, None)
            if theirs is None or not callable(theirs):
                problems.append(f"{base.__module__}.{base.__qualname__}.{name} is gone")
            elif _shape(theirs) != _shape(cls.__dict__[name]):
                problems.append(f"{base.__module__}.{base.__qualname__}.{name} changed its signature")
    return problems


def check_overrides() -> None:
    problems = override_problems()
    if problems:
        raise versions.StreamGuardError(f"{'; '.join(problems)}: {versions.WHY}")


check_overrides()
