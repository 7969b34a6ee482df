"""The ledger decides what a delivery does after a restart: post, look up, repeat, or wait."""

from __future__ import annotations

from datetime import UTC, datetime

from alertcast.channels.base import PostResult
from alertcast.delivery.ledger import Action, LedgerEntry, LedgerState, Resolution, next_action, previous_post

NOW = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)


def entry(state: LedgerState, post_id: str | None = None, version: int = 1) -> LedgerEntry:
    return LedgerEntry(
        delivery_key=f"a:{version}:mastodon:main",
        state=state,
        post=PostResult(post_id=post_id, url=f"https://m.example/{post_id}") if post_id else None,
        updated_at=NOW,
    )


def test_first_delivery_posts() -> None:
    assert next_action(None) is Action.POST


def test_a_delivery_interrupted_in_flight_is_looked_up_not_posted_again() -> None:
    assert next_action(entry(LedgerState.IN_FLIGHT)) is Action.LOOK_UP


def test_a_sent_delivery_is_not_posted_again() -> None:
    assert next_action(entry(LedgerState.SENT, "1")) is Action.DONE


def test_dead_and_unknown_wait_for_a_person() -> None:
    assert next_action(entry(LedgerState.DEAD)) is Action.WAIT
    assert next_action(entry(LedgerState.UNKNOWN)) is Action.WAIT


def test_previous_post_is_the_thread_root_with_the_latest_reply() -> None:
    entries = {1: entry(LedgerState.SENT, "root"), 2: entry(LedgerState.SENT, "reply", version=2)}
    previous = previous_post(entries)
    assert previous is not None
    assert previous.post_id == "root"
    assert previous.details["latest"]["post_id"] == "reply"


def test_no_previous_post_when_nothing_was_sent() -> None:
    assert previous_post({}) is None
    assert previous_post({1: entry(LedgerState.DEAD)}) is None


def test_a_person_may_post_again_or_settle_a_dead_or_unknown_delivery() -> None:
    for state in (LedgerState.DEAD, LedgerState.UNKNOWN):
        assert next_action(entry(state), Resolution.POST_AGAIN) is Action.POST
        assert next_action(entry(state), Resolution.WAS_POSTED) is Action.DONE


def test_a_resolution_never_reposts_what_was_sent_or_is_in_flight() -> None:
    assert next_action(entry(LedgerState.SENT, "1"), Resolution.POST_AGAIN) is Action.DONE
    assert next_action(entry(LedgerState.IN_FLIGHT), Resolution.POST_AGAIN) is Action.LOOK_UP


def test_a_paused_delivery_is_posted_when_sent_again_and_a_person_may_drop_it() -> None:
    # The pause check comes before posting, in the delivery agent: here only what follows.
    assert next_action(entry(LedgerState.PAUSED)) is Action.POST
    assert next_action(entry(LedgerState.PAUSED), Resolution.DROP) is Action.DROP
    assert next_action(entry(LedgerState.DEAD), Resolution.DROP) is Action.DROP


def test_a_dropped_delivery_stays_dropped() -> None:
    assert next_action(entry(LedgerState.DROPPED)) is Action.DONE
    assert next_action(entry(LedgerState.DROPPED), Resolution.POST_AGAIN) is Action.DONE
