"""The worker's consumer commits past a message only once it is done (alertcast.stream.transport)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import faust
import pytest
from faust.transport.drivers import TRANSPORTS
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from intervaltree import Interval

from alertcast.stream.transport import REREAD_LIMIT, Consumer, head_is_done


def test_a_hole_of_one_at_the_head_is_not_committed_past() -> None:
    # Committed 208 = the next to read. 209 and 210 are done, 208 is not (Faust committed 211).
    assert not head_is_done(208, [209, 210], [])


def test_a_done_head_is_committed() -> None:
    assert head_is_done(208, [208, 209, 210], [])
    assert head_is_done(208, [210, 209, 208], [])


def test_offsets_the_log_does_not_hold_are_not_waited_for() -> None:
    assert head_is_done(208, [211], [Interval(208, 211)])
    assert not head_is_done(208, [211], [Interval(209, 211)])


def test_nothing_committed_or_nothing_done_is_faust_s_own_rule() -> None:
    assert head_is_done(None, [5], [])
    assert head_is_done(208, [], [])


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    """The worker's consumer class, built by a Faust app that is never started (no broker)."""
    TRANSPORTS.aliases["alertcast"] = "alertcast.stream.transport:Transport"
    app = faust.App("commit-test", broker="alertcast://127.0.0.1:1", store="memory://")
    app.finalize()
    built = app.consumer
    assert isinstance(built, Consumer)
    app.topics.acking_topics.add("requests")
    yield built


def message(offset: int, topic: str = "requests", generation_id: int = 0) -> ConsumerMessage:
    tp = TP(topic, 0)
    return ConsumerMessage(
        topic, 0, offset, 0.0, 0, [], b"k", b"v", None, 1, 1, tp, generation_id=generation_id
    )


def test_a_message_handed_to_an_agent_and_done_counts(consumer: Consumer) -> None:
    done = message(88)
    done.tracked = True  # what a stream does before it yields the message to the agent
    assert consumer.ack(done)
    assert list(consumer._acked[TP("requests", 0)]) == [88]


def test_a_message_a_stream_skipped_does_not_count(consumer: Consumer) -> None:
    # Fetched in an earlier generation (or taken while the flow was suspended): the stream
    # acknowledges it without handing it over; the same offset fetched anew is not done.
    skipped = message(88)
    assert not consumer.ack(skipped)
    assert list(consumer._acked[TP("requests", 0)]) == []


def test_an_agent_acknowledges_an_event_only_once_it_is_handled() -> None:
    """A handler that raises or is cancelled (a worker stopping) leaves its event unacknowledged
    and out of the messages a stop waits for; Faust's own stream would acknowledge it."""
    from faust.events import Event

    from alertcast.stream.app import app, for_each_event

    app.flow_control.resume()
    app.topics.acking_topics.add("each-event")
    tp = TP("each-event", 0)
    messages = [message(offset, "each-event", app.consumer_generation_id) for offset in (5, 6, 7, 8)]

    async def source() -> AsyncIterator[Event]:
        for item in messages:
            item.incref()
            yield Event(app, item.key, item.value, item.headers, item)

    async def handle(event: Event) -> None:
        if event.message.offset == 6:
            raise RuntimeError("a bug in the agent")
        if event.message.offset == 7:
            raise asyncio.CancelledError

    with pytest.raises(RuntimeError):
        asyncio.run(for_each_event(app.stream(source()), handle))
    assert [m.acked for m in messages[:2]] == [True, False]
    assert messages[1] not in app.consumer.unacked

    del messages[:2]
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(for_each_event(app.stream(source()), handle))
    assert not messages[0].acked and messages[0] not in app.consumer.unacked
    assert list(app.consumer._acked[tp]) == [5]


@pytest.mark.parametrize(
    ("position", "log_start", "left_out", "reread"),
    [
        (50, 0, True, False),  # fetched before the seek to 50: 50 and on are coming
        (121, 0, True, True),  # the position moved past 50 and 50..119 never came: read again
        (121, 100, False, False),  # retention removed 50..99: nothing else will come
        (None, None, True, True),  # cannot tell: read again rather than count 50..119 done
    ],
)
def test_a_record_jumping_ahead_is_never_taken_as_a_gap_the_log_holds(
    consumer: Consumer, position: int | None, log_start: int | None, left_out: bool, reread: bool
) -> None:
    tp = TP("requests", 0)
    consumer.expected[tp] = 50
    seeks: list[dict[TP, int]] = []

    async def known_position(_: TP) -> int | None:
        return position

    async def first_offset(_: TP) -> int | None:
        return log_start

    async def seek_wait(partitions: dict[TP, int]) -> None:
        seeks.append(partitions)

    consumer.known_position = known_position  # type: ignore[method-assign]
    consumer.log_start = first_offset  # type: ignore[method-assign]
    consumer.seek_wait = seek_wait  # type: ignore[method-assign]
    assert asyncio.run(consumer.left_out(tp, 120)) is left_out
    assert seeks == ([{tp: 50}] if reread else [])


def test_a_revocation_s_last_commits_keep_the_partition_s_head(consumer: Consumer) -> None:
    """Faust forgets a revoked partition's committed offset before the revocation waits for
    the messages in flight and commits them: it then committed 83 over a message at 70 that
    was never handed over (the reproducer's worker2, gen 4)."""
    tp = TP("requests", 0)
    consumer._committed_offset[tp] = 70
    offsets: list[int | None] = []

    async def revocation(_: set[TP]) -> None:  # the app's: wait for messages in flight, commit
        consumer._acked[tp].extend(range(71, 83))
        offsets.append(consumer._new_offset(tp))
        consumer._acked[tp].append(70)
        offsets.append(consumer._new_offset(tp))

    consumer._on_partitions_revoked = revocation  # type: ignore[method-assign]
    asyncio.run(consumer.on_partitions_revoked({tp}))
    assert offsets == [None, 83]


def test_a_head_message_that_never_reached_its_agent_is_read_again(consumer: Consumer) -> None:
    """Later messages done, the head neither done nor in flight at two commits in a row: the
    partition is read again from the head, once per hand-over, not more than REREAD_LIMIT times."""
    tp = TP("requests", 0)
    consumer._committed_offset[tp] = 70
    consumer._acked[tp].extend(range(71, 76))
    seeks: list[dict[TP, int]] = []

    async def seek_wait(partitions: dict[TP, int]) -> None:
        seeks.append(partitions)

    consumer.seek_wait = seek_wait  # type: ignore[method-assign]
    consumer.assignment = lambda: {tp}  # type: ignore[method-assign]
    in_flight = message(70)
    consumer._unacked_messages.add(in_flight)
    asyncio.run(consumer.reread_skipped_heads())
    assert seeks == []  # the head is being handled

    consumer._unacked_messages.discard(in_flight)
    asyncio.run(consumer.reread_skipped_heads())
    assert seeks == []  # seen stuck once: right after a seek it may be on its way
    for _ in range(2):
        asyncio.run(consumer.reread_skipped_heads())
    assert seeks == [{tp: 70}]  # asked once, then awaited until handed over again

    for _ in range(REREAD_LIMIT + 2):
        del consumer.reread_pending[tp]  # what handing it over again does (getmany)
        asyncio.run(consumer.reread_skipped_heads())
        asyncio.run(consumer.reread_skipped_heads())
        consumer.reread_pending.setdefault(tp, 70)
    assert len(seeks) == REREAD_LIMIT


def test_a_done_head_is_not_read_again(consumer: Consumer) -> None:
    tp = TP("requests", 0)
    consumer._committed_offset[tp] = 70
    consumer._acked[tp].extend(range(70, 76))
    consumer.assignment = lambda: {tp}  # type: ignore[method-assign]
    asyncio.run(consumer.reread_skipped_heads())
    assert tp not in consumer.reread_pending


@pytest.mark.parametrize(
    ("log_start", "counted_done"),
    [(0, []), (None, []), (100, [(50, 100)]), (200, [(50, 121)])],
)
def test_only_offsets_the_log_no_longer_holds_are_counted_done(
    consumer: Consumer, log_start: int | None, counted_done: list[tuple[int, int]]
) -> None:
    tp = TP("requests", 0)

    async def first_offset(_: TP) -> int | None:
        return log_start

    consumer.log_start = first_offset  # type: ignore[method-assign]
    asyncio.run(consumer._add_gap(tp, 50, 120))
    assert sorted((gap.begin, gap.end) for gap in consumer._gap[tp]) == counted_done


def test_records_are_handed_over_once_and_in_offset_order(consumer: Consumer) -> None:
    """A copy of a record handed over already is left out; the next one is handed over even
    where Faust's own read offset says it was read (a seek back raced with Faust's reader)."""
    tp = TP("requests", 0)
    consumer.expected[tp] = 64
    consumer._read_offset[tp] = 66
    assert not asyncio.run(consumer.in_order(tp, 63))
    assert asyncio.run(consumer.in_order(tp, 64))
    assert consumer.expected[tp] == 65 and consumer._read_offset[tp] == 64
    assert not asyncio.run(consumer.in_order(tp, 64))


def test_a_partition_being_revoked_is_not_read_again(consumer: Consumer) -> None:
    """During a revocation Faust has forgotten what was done and not committed: the holes it
    leaves are not skipped messages."""
    tp = TP("requests", 0)
    consumer._committed_offset[tp] = 96
    consumer.assignment = lambda: {tp}  # type: ignore[method-assign]

    async def revocation(_: set[TP]) -> None:
        consumer.app.on_rebalance_start()
        consumer._committed_offset[tp] = 96  # what a commit during the revocation writes back
        consumer._acked[tp].append(97)
        for _ in range(2):
            await consumer.reread_skipped_heads()

    consumer._on_partitions_revoked = revocation  # type: ignore[method-assign]
    asyncio.run(consumer.on_partitions_revoked({tp}))
    assert tp not in consumer.reread_pending


def test_resuming_a_flowing_stream_keeps_its_queue() -> None:
    """Faust resumes more than once per rebalance; only the first, after a suspension, may
    empty the queues (what was fetched before the rebalance)."""
    from mode.utils.queues import FlowControlQueue

    from alertcast.stream.transport import FlowControl

    async def queued_after(*steps: str) -> int:
        flow = FlowControl()
        queue: FlowControlQueue[int] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
        for step in steps:
            if step == "put":
                queue.put_nowait(1)
            else:
                getattr(flow, step)()
        return queue.qsize()

    assert asyncio.run(queued_after("resume", "put", "resume")) == 1
    assert asyncio.run(queued_after("resume", "put", "suspend", "resume")) == 0


def test_a_partition_assigned_again_starts_from_what_is_committed(consumer: Consumer) -> None:
    """Messages finishing while their partition was revoked leave acknowledgements Faust keeps:
    assigned again, the partition is read from its committed offset, and those offsets come
    again; kept, they showed holes at its head that were no skipped messages."""
    tp = TP("requests", 0)
    consumer._acked[tp].extend([77, 78])
    consumer._acked_index[tp].update({77, 78})

    async def assignment(_: set[TP], generation_id: int = 0) -> None:
        pass

    consumer._on_partitions_assigned = assignment  # type: ignore[method-assign]
    asyncio.run(consumer.on_partitions_assigned({tp}))
    assert not consumer._acked.get(tp) and not consumer._acked_index.get(tp)
