"""Acting on a citizen's reply (alertcast.replies.actions), pure: what each network allows, with
the refusal a person reads, and the steps of one request through its ledger entry: a hide whose
answer was lost is made again (a state), an answer is looked up first and never posted blind."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from alertcast.delivery.ledger import LedgerEntry, LedgerState
from alertcast.delivery.retry import OutcomeUnknown, PermanentError, TransientError
from alertcast.models.post import PostResult
from alertcast.replies.actions import (
    UNSUPPORTED,
    Call,
    Finish,
    Kind,
    LookUp,
    ReplyAction,
    allowed,
    arrive,
    called,
    failed,
    looked_up,
    outcome,
    refusal,
    repeatable,
)
from alertcast.replies.model import Network

NOW = datetime(2031, 3, 3, 10, 0, tzinfo=UTC)


def action(
    kind: Kind = "hide",
    network: Network = "bluesky",
    alert_id: str | None = "alert-1",
    text: str | None = None,
    confirmed_by: str | None = None,
) -> ReplyAction:
    return ReplyAction(
        action_id="a1b2c3d4e5",
        kind=kind,
        network=network,
        target="reply-9",
        reply_id=f"{network}:reply-9",
        conversation="root-1",
        ref="ref-1",
        alert_id=alert_id,
        text=text if kind != "answer" or text else "La route rouvre à 18 h.",
        confirmed_by=confirmed_by,
        by="carole",
        at=NOW,
    )


def entry(state: LedgerState, attempts: int = 1, post: PostResult | None = None) -> LedgerEntry:
    return LedgerEntry(delivery_key="a1b2c3d4e5", state=state, attempts=attempts, updated_at=NOW, post=post)


@pytest.mark.parametrize("network", ["bluesky", "x", "facebook"])
def test_hiding_is_allowed_under_our_alerts_where_the_network_lets_us(network: Network) -> None:
    assert refusal(action("hide", network)) is None
    assert refusal(action("unhide", network)) is None
    assert allowed(network, "hide") and allowed(network, "unhide")


@pytest.mark.parametrize("network", ["bluesky", "x", "facebook", "matrix"])
def test_a_mention_under_no_alert_of_ours_cannot_be_hidden(network: Network) -> None:
    why = refusal(action("hide", network, alert_id=None, confirmed_by="carole"))
    assert why is not None and "one of our posts" in why  # a msgid: French in a French console


def test_mastodon_cannot_hide_and_says_the_reply_stays_flagged() -> None:
    why = refusal(action("hide", "mastodon"))
    assert why is not None and "Mastodon" in why and "flagged" in why
    assert not allowed("mastodon", "hide")
    assert refusal(action("answer", "mastodon")) is None


def test_a_matrix_redaction_needs_a_person_s_confirmation_and_is_final() -> None:
    unconfirmed = refusal(action("hide", "matrix"))
    assert unconfirmed is not None and "confirm" in unconfirmed
    assert refusal(action("hide", "matrix", confirmed_by="carole")) is None
    final = refusal(action("unhide", "matrix"))
    assert final is not None and "final" in final


@pytest.mark.parametrize("network", ["mastodon", "bluesky", "x", "facebook", "matrix", "email"])
def test_answers_are_allowed_where_the_network_has_threads(network: Network) -> None:
    assert refusal(action("answer", network)) is None


def test_an_answer_needs_text_and_a_hide_carries_none() -> None:
    with pytest.raises(ValidationError, match="needs its text"):
        ReplyAction.model_validate({**action("answer").model_dump(), "text": "  "})
    with pytest.raises(ValidationError, match="only an answer"):
        ReplyAction.model_validate({**action("hide").model_dump(), "text": "x"})


def test_a_new_request_goes_in_flight_first() -> None:
    step = arrive(action("answer"), None, supported=True, now=NOW)
    assert isinstance(step, Call)
    assert step.entry.state is LedgerState.IN_FLIGHT and step.entry.attempts == 1
    assert step.entry.delivery_key == "a1b2c3d4e5"


def test_an_interrupted_hide_is_made_again_and_an_interrupted_answer_is_looked_up() -> None:
    assert repeatable("hide") and not repeatable("answer")
    again = arrive(action("hide"), entry(LedgerState.IN_FLIGHT), supported=True, now=NOW)
    assert isinstance(again, Call) and again.entry.attempts == 2
    ask = arrive(action("answer"), entry(LedgerState.IN_FLIGHT), supported=True, now=NOW)
    assert isinstance(ask, LookUp)


def test_a_done_or_unknown_request_is_only_repeated() -> None:
    posted = PostResult(post_id="p-1", url="https://example.test/p-1")
    done = arrive(action("answer"), entry(LedgerState.SENT, post=posted), supported=True, now=NOW)
    assert isinstance(done, Finish) and done.state == "done" and not done.write
    assert outcome(action("answer"), done, NOW).post_id == "p-1"
    unsure = arrive(action("answer"), entry(LedgerState.UNKNOWN), supported=True, now=NOW)
    assert isinstance(unsure, Finish) and unsure.state == "unknown" and not unsure.write


def test_refused_or_unsupported_requests_finish_with_the_reason_and_touch_nothing() -> None:
    refused = arrive(action("hide", "mastodon"), None, supported=True, now=NOW)
    assert isinstance(refused, Finish) and refused.state == "refused" and not refused.write
    assert refused.error is not None and "Mastodon" in refused.error
    missing = arrive(action("answer", "email"), None, supported=False, now=NOW)
    assert isinstance(missing, Finish) and missing.state == "refused"
    assert missing.error == UNSUPPORTED  # a msgid: said in the reader's language on the conversation's page


def test_what_the_lookup_says() -> None:
    interrupted = entry(LedgerState.IN_FLIGHT)
    found = looked_up(action("answer"), interrupted, PostResult(post_id="p-2"), supported=True, now=NOW)
    assert isinstance(found, Finish) and found.state == "done" and found.write
    assert found.entry is not None and found.entry.state is LedgerState.SENT
    absent = looked_up(action("answer"), interrupted, None, supported=True, now=NOW)
    assert isinstance(absent, Call) and absent.entry.attempts == 2
    blind = looked_up(action("answer"), interrupted, None, supported=False, now=NOW)
    assert isinstance(blind, Finish) and blind.state == "unknown"
    assert blind.entry is not None and blind.entry.state is LedgerState.UNKNOWN


def test_how_a_call_ends() -> None:
    in_flight = entry(LedgerState.IN_FLIGHT)
    ok = called(in_flight, PostResult(post_id="p-3"), 2, NOW)
    assert ok.state == "done" and ok.entry is not None and ok.entry.attempts == 2
    lost = failed(in_flight, OutcomeUnknown("timed out after sending"), 5, NOW)
    assert lost.state == "unknown" and lost.entry is not None and lost.entry.state is LedgerState.UNKNOWN
    refused = failed(in_flight, PermanentError("403 not your conversation"), 5, NOW)
    assert refused.state == "failed" and refused.error == "403 not your conversation"
    tired = failed(in_flight, TransientError("503"), 5, NOW, "hide")
    assert tired.state == "failed" and tired.entry is not None and tired.entry.attempts == 5
    # An answer whose tries all failed may still have been stored: a person checks, no new post.
    unsure = failed(in_flight, TransientError("503"), 5, NOW, "answer")
    assert unsure.state == "unknown" and unsure.entry is not None
    assert unsure.entry.state is LedgerState.UNKNOWN
    refused_answer = failed(in_flight, PermanentError("422 too long"), 5, NOW, "answer")
    assert refused_answer.state == "failed"
    with pytest.raises(TypeError):
        failed(in_flight, ValueError("?"), 5, NOW)
