"""The worker's consumer commits past a message only once it is done (alertcast.stream.transport)."""

from __future__ import annotations

from collections.abc import Iterator

import faust
import pytest
from faust.transport.drivers import TRANSPORTS
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from intervaltree import Interval

from alertcast.stream.transport import Consumer, head_is_done


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


def message(offset: int) -> ConsumerMessage:
    return ConsumerMessage("requests", 0, offset, 0.0, 0, [], b"k", b"v", None, 1, 1, TP("requests", 0))


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
