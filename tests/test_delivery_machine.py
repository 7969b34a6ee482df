"""The delivery state machine, step by step: what a request does given the ledger, a person's
answer, the thread, a pause and the network's outcome. Pure: no Kafka, no network."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from channel_requests import delivery_request

from alertcast.delivery import machine
from alertcast.delivery.ledger import LedgerEntry, LedgerState, Resolution
from alertcast.delivery.machine import Finish, Operation, PersonsAnswer, Post, Proceed
from alertcast.delivery.pause import Pause
from alertcast.delivery.retry import OutcomeUnknown, PermanentError, TransientError
from alertcast.models.alert import DeliveryRequest, DeliveryStatus
from alertcast.models.incident import MsgType
from alertcast.models.post import PostResult

NOW = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 3, 7, 5, tzinfo=UTC)


def request(
    version: int = 1, msg_type: MsgType = MsgType.ALERT, channel: str = "mastodon"
) -> DeliveryRequest:
    return delivery_request(channel, "Vents violents", version, msg_type, alert_id="a1", account="main")


def entry(state: LedgerState, attempts: int = 1, **changes: object) -> LedgerEntry:
    made = LedgerEntry(delivery_key="a1:1:mastodon:main", state=state, attempts=attempts, updated_at=NOW)
    return made.model_copy(update=changes)


def answer(resolution: Resolution, url: str | None = None) -> PersonsAnswer:
    return PersonsAnswer(resolution=resolution, by="duty", url=url)


def test_a_first_request_goes_to_the_network_without_a_look_up() -> None:
    assert machine.arrive(request(), None, None, NOW) == Proceed(None, look_up=False)


def test_an_attempt_interrupted_in_flight_asks_the_network_first() -> None:
    in_flight = entry(LedgerState.IN_FLIGHT)
    assert machine.arrive(request(), in_flight, None, NOW) == Proceed(in_flight, look_up=True)


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (LedgerState.SENT, DeliveryStatus.SENT),
        (LedgerState.DEAD, DeliveryStatus.DEAD),
        (LedgerState.UNKNOWN, DeliveryStatus.UNKNOWN),
        (LedgerState.DROPPED, DeliveryStatus.DROPPED),
    ],
)
def test_a_settled_delivery_only_repeats_its_receipt(state: LedgerState, status: DeliveryStatus) -> None:
    settled = entry(state)
    step = machine.arrive(request(), settled, None, NOW)
    assert step == Finish(status, settled)
    assert not step.write and not step.failed  # a repeat is neither recorded nor counted again


def test_a_paused_delivery_is_tried_again_when_it_comes_back() -> None:
    held = entry(LedgerState.PAUSED, attempts=0)
    assert machine.arrive(request(), held, None, NOW) == Proceed(held, look_up=False)


def test_was_posted_records_the_link_the_person_gives_and_posts_nothing() -> None:
    step = machine.arrive(
        request(), entry(LedgerState.UNKNOWN), answer(Resolution.WAS_POSTED, "https://m.example/1"), LATER
    )
    assert isinstance(step, Finish) and step.write and step.status is DeliveryStatus.SENT
    assert step.entry is not None
    assert (step.entry.state, step.entry.post, step.entry.resolved_by, step.entry.updated_at) == (
        LedgerState.SENT,
        PostResult(url="https://m.example/1"),
        "duty",
        LATER,
    )


def test_drop_settles_a_dead_or_paused_delivery_as_dropped() -> None:
    for state in (LedgerState.DEAD, LedgerState.PAUSED):
        held = entry(state, request=request())
        step = machine.arrive(request(), held, answer(Resolution.DROP), NOW)
        assert isinstance(step, Finish) and step.status is DeliveryStatus.DROPPED and step.entry is not None
        assert (step.entry.state, step.entry.error, step.entry.request) == (
            LedgerState.DROPPED,
            "dropped by duty",
            None,  # nothing left to send again on resume
        )
        assert not step.failed


def test_post_again_goes_back_to_the_network_with_who_asked() -> None:
    step = machine.arrive(request(), entry(LedgerState.DEAD, attempts=5), answer(Resolution.POST_AGAIN), NOW)
    assert isinstance(step, Proceed) and not step.look_up and step.entry is not None
    assert step.entry.resolved_by == "duty"
    posted = machine.before_post(request(), step, None, None, NOW)
    assert isinstance(posted, Post) and posted.entry.attempts == 6 and posted.entry.resolved_by == "duty"


def test_an_answer_for_a_delivery_already_sent_changes_nothing() -> None:
    sent = entry(LedgerState.SENT, post=PostResult(post_id="1"))
    assert machine.arrive(request(), sent, answer(Resolution.POST_AGAIN), NOW) == Finish(
        DeliveryStatus.SENT, sent
    )


def test_an_answer_without_a_ledger_entry_never_turns_into_an_unwanted_post() -> None:
    """A request sent before the upgrade may find no entry on its new partition's owner: the
    person's "drop" or "it was posted" holds anyway (before, both fell through to a post)."""
    dropped = machine.arrive(request(), None, answer(Resolution.DROP), NOW)
    assert isinstance(dropped, Finish) and dropped.status is DeliveryStatus.DROPPED and dropped.write
    was = machine.arrive(request(), None, answer(Resolution.WAS_POSTED, "https://m.example/9"), NOW)
    assert isinstance(was, Finish) and was.status is DeliveryStatus.SENT and was.entry is not None
    assert was.entry.delivery_key == "a1:1:mastodon:main" and was.entry.post == PostResult(
        url="https://m.example/9"
    )
    again = machine.arrive(request(), None, answer(Resolution.POST_AGAIN), NOW)
    assert again == Proceed(None, look_up=False, resolved_by="duty")
    posted = machine.before_post(request(), again, None, None, NOW)
    assert isinstance(posted, Post) and posted.entry.resolved_by == "duty" and posted.entry.attempts == 1


def test_the_network_s_answer_to_a_look_up() -> None:
    in_flight = entry(LedgerState.IN_FLIGHT)
    unsure = machine.looked_up(in_flight, None, supported=False, now=LATER)
    assert unsure is not None and unsure.status is DeliveryStatus.UNKNOWN and unsure.failed
    assert unsure.entry is not None and unsure.entry.error == machine.LOOKUP_UNSUPPORTED
    found = machine.looked_up(in_flight, PostResult(post_id="7"), supported=True, now=LATER)
    assert found is not None and found.status is DeliveryStatus.SENT and found.entry is not None
    assert found.entry.post == PostResult(post_id="7") and not found.failed
    assert machine.looked_up(in_flight, None, supported=True, now=LATER) is None  # not there: post


def test_the_operation_follows_the_thread_and_the_message_type() -> None:
    root = PostResult(post_id="root")
    assert machine.operation(request(), None) is Operation.PUBLISH
    assert machine.operation(request(2, MsgType.UPDATE), root) is Operation.UPDATE
    assert machine.operation(request(3, MsgType.CANCEL), root) is Operation.END
    assert machine.operation(request(2, MsgType.UPDATE), None) is Operation.PUBLISH  # nothing to edit
    assert not machine.needs_thread(request()) and machine.needs_thread(request(2, MsgType.UPDATE))


def test_an_end_with_nothing_posted_to_end_is_skipped_and_drops_held_versions() -> None:
    step = machine.before_post(request(2, MsgType.CANCEL), Proceed(None), None, None, NOW)
    assert step == Finish(DeliveryStatus.SKIPPED, error=machine.NOTHING_TO_END, drop_held=True)
    # The website shows an end even of an alert it never published (it publishes the page).
    site = machine.before_post(request(2, MsgType.CANCEL, "website"), Proceed(None), None, None, NOW)
    assert isinstance(site, Post) and site.operation is Operation.PUBLISH


def test_a_pause_holds_the_request_in_the_ledger_to_send_it_again_later() -> None:
    pause = Pause(channel="mastodon", paused=True, by="duty", at=NOW, reason="compte piraté")
    held = machine.before_post(request(), Proceed(entry(LedgerState.DEAD, attempts=2)), None, pause, LATER)
    assert isinstance(held, Finish) and held.status is DeliveryStatus.PAUSED and held.write
    assert held.entry is not None
    assert (held.entry.state, held.entry.attempts, held.entry.request) == (LedgerState.PAUSED, 2, request())
    assert held.entry.error == "paused (mastodon) by duty: compte piraté"


def test_before_the_call_the_entry_goes_in_flight_with_one_more_attempt() -> None:
    step = machine.before_post(request(), Proceed(None), None, None, NOW)
    assert isinstance(step, Post) and step.operation is Operation.PUBLISH
    assert (step.entry.state, step.entry.attempts, step.entry.delivery_key) == (
        LedgerState.IN_FLIGHT,
        1,
        "a1:1:mastodon:main",
    )


def test_how_the_call_ended() -> None:
    in_flight = entry(LedgerState.IN_FLIGHT)
    sent = machine.posted(in_flight, PostResult(post_id="1"), 3, LATER)
    assert sent.status is DeliveryStatus.SENT and sent.entry is not None and sent.entry.attempts == 3
    unsure = machine.failed(in_flight, OutcomeUnknown("timed out after sending"), 5, LATER)
    assert unsure.status is DeliveryStatus.UNKNOWN and unsure.failed
    assert unsure.entry is not None and unsure.entry.error == "timed out after sending"
    gave_up = machine.failed(in_flight, TransientError("503"), 5, LATER)
    assert gave_up.status is DeliveryStatus.DEAD and gave_up.entry is not None and gave_up.entry.attempts == 5
    refused = machine.failed(in_flight, PermanentError("400"), 5, LATER)
    assert refused.status is DeliveryStatus.DEAD and refused.entry is not None and refused.entry.attempts == 1
    with pytest.raises(TypeError):
        machine.failed(in_flight, RuntimeError("a bug"), 5, LATER)


def test_held_earlier_versions_of_an_ended_alert_are_dropped_in_version_order() -> None:
    v1, v2 = request(1), request(2, MsgType.UPDATE)
    earlier = {
        2: entry(LedgerState.PAUSED, request=v2),
        1: entry(LedgerState.PAUSED, request=v1),
        3: entry(LedgerState.SENT),
    }
    dropped = machine.held_versions_dropped(earlier, LATER)
    assert [held.version for held, _ in dropped] == [1, 2]
    assert all(e.state is LedgerState.DROPPED and e.request is None for _, e in dropped)
    assert machine.earlier_keys(request(3, MsgType.CANCEL)) == {
        1: "a1:1:mastodon:main",
        2: "a1:2:mastodon:main",
    }


def test_a_receipt_carries_the_entry_s_post_and_attempts() -> None:
    sent = entry(LedgerState.SENT, attempts=2, post=PostResult(post_id="9", url="https://m.example/9"))
    receipt = machine.receipt(request(), DeliveryStatus.SENT, 12.5, LATER, entry=sent)
    assert (receipt.delivery_key, receipt.post_id, receipt.url, receipt.attempts, receipt.at) == (
        "a1:1:mastodon:main",
        "9",
        "https://m.example/9",
        2,
        LATER,
    )
    skipped = machine.receipt(request(), DeliveryStatus.SKIPPED, 1.0, LATER, error="why")
    assert (skipped.attempts, skipped.error, skipped.post_id) == (0, "why", None)
