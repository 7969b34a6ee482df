"""A subscription: what is accepted (and why not, in the one error shape), how it changes state,
when it falls silent, and what a subscriber gets when asking for their data."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alertcast.models.problem import Problem
from alertcast.subscriptions.codes import departement_of
from alertcast.subscriptions.export import erase, export
from alertcast.subscriptions.model import (
    PENDING_LIFETIME,
    EndReason,
    Subscription,
    create,
    expired,
    validate,
)

T0 = datetime(2030, 3, 1, 8, 0, tzinfo=UTC)
SILENCE = timedelta(days=90)
P256DH = base64.urlsafe_b64encode(b"\x04" + bytes(range(64))).rstrip(b"=").decode()
AUTH = base64.urlsafe_b64encode(bytes(range(16))).rstrip(b"=").decode()
PUSH = {"endpoint": "https://push.example.net/wpush/v2/abc", "p256dh": P256DH, "auth": AUTH}


def made(**fields: Any) -> Subscription:
    defaults: dict[str, Any] = {"areas": ["62041"], "channel": "feed", "now": T0}
    created = create(**(defaults | fields))
    assert isinstance(created, Subscription), created
    return created


def problems(**fields: Any) -> list[Problem]:
    defaults: dict[str, Any] = {"areas": ["62041"], "channel": "feed", "now": T0}
    refused = create(**(defaults | fields))
    assert isinstance(refused, list), refused
    return refused


def refused(result: Subscription | Problem) -> Problem:
    assert isinstance(result, Problem), result
    return result


def test_an_email_waits_for_confirmation_while_push_and_feed_start_active() -> None:
    mail = made(channel="email", email="Jeanne.Martin@Exemple.FR", digest="daily")
    assert mail.status(T0, SILENCE) == "pending"
    assert mail.email == "Jeanne.Martin@exemple.fr"  # the domain is case-insensitive, the local part not
    push = made(channel="webpush", push=PUSH, language="en")
    assert push.status(T0, SILENCE) == "active"
    assert made().status(T0, SILENCE) == "active"
    assert len({made().id for _ in range(20)}) == 20


@pytest.mark.parametrize("code", ["62041", "2A004", "2b033", "97105", "62", "2A", "971", " 59 "])
def test_commune_and_departement_codes_are_accepted(code: str) -> None:
    assert made(areas=[code]).areas == [code.strip().upper()]


@pytest.mark.parametrize(
    "code", ["6204", "620411", "20123", "00", "20", "96", "979", "9710", "2C", "Arras", ""]
)
def test_other_area_codes_say_which_value_and_which_rule(code: str) -> None:
    [problem] = problems(areas=["62041", code])
    assert (problem.path, problem.value, problem.rule) == ("areas.1", code, "area_code")
    assert "INSEE commune code" in problem.message and problem.hint


def test_areas_are_kept_once_each_and_at_least_one() -> None:
    assert made(areas=["62041", "62", "62041"]).areas == ["62041", "62"]
    [problem] = problems(areas=[])
    assert (problem.path, problem.rule) == ("areas", "too_short")


def test_each_channel_holds_its_contact_and_nothing_more() -> None:
    [missing] = problems(channel="email")
    assert (missing.path, missing.rule) == ("email", "channel_contact")
    assert "needs email" in missing.message
    found = {(p.path, p.rule) for p in problems(channel="feed", email="a@b.fr", push=PUSH, digest="daily")}
    assert found == {
        ("email", "channel_contact"),
        ("push", "channel_contact"),
        ("digest", "digest_email_only"),
    }
    [missing_push] = problems(channel="webpush")
    assert (missing_push.path, missing_push.rule) == ("push", "channel_contact")


@pytest.mark.parametrize(
    "address", ["jeanne", "jeanne@", "@exemple.fr", "jeanne@exemple", "a b@c.fr", "x@y@z.fr"]
)
def test_a_bad_email_is_refused(address: str) -> None:
    [problem] = problems(channel="email", email=address)
    assert (problem.path, problem.value, problem.rule) == ("email", address, "email_format")


@pytest.mark.parametrize(
    ("change", "path", "rule"),
    [
        ({"endpoint": "http://push.example.net/x"}, "push.endpoint", "push_endpoint"),
        ({"endpoint": "https://user:pw@push.example.net/x"}, "push.endpoint", "push_endpoint"),
        ({"endpoint": "https://[::1"}, "push.endpoint", "push_endpoint"),
        ({"p256dh": AUTH}, "push.p256dh", "push_key"),
        ({"auth": "not base64!"}, "push.auth", "push_key"),
        ({"extra": "x"}, "push.extra", "extra_forbidden"),
    ],
)
def test_a_bad_push_endpoint_is_refused(change: dict[str, str], path: str, rule: str) -> None:
    [problem] = problems(channel="webpush", push=PUSH | change)
    assert (problem.path, problem.rule) == (path, rule)
    assert problem.hint


def test_a_stored_value_is_checked_whole() -> None:
    stored = made(channel="email", email="a@b.fr").model_dump(mode="json")
    assert validate(stored) == Subscription.model_validate(stored)
    bad = validate(
        stored | {"created_at": "2030-03-01T08:00:00", "colour": "red", "ended_at": T0.isoformat()}
    )
    assert isinstance(bad, list)
    assert {(p.path, p.rule) for p in bad} >= {
        ("created_at", "timezone_aware"),
        ("colour", "extra_forbidden"),
        ("end_reason", "end_reason"),
    }


def test_confirmation_is_the_way_out_of_pending_once_and_within_48_hours() -> None:
    mail = made(channel="email", email="a@b.fr")
    active = mail.confirmed(T0 + timedelta(hours=3))
    assert isinstance(active, Subscription)
    assert (active.confirmed_at, active.last_seen_at) == (T0 + timedelta(hours=3),) * 2
    assert mail.confirmed_at is None  # a new value; the old one is untouched
    assert active.status(T0 + timedelta(hours=3), SILENCE) == "active"
    again = refused(active.confirmed(T0 + timedelta(hours=4)))
    assert (again.path, again.rule) == ("confirmed_at", "already_confirmed")
    late = refused(mail.confirmed(T0 + PENDING_LIFETIME))
    assert late.rule == "confirmation_expired" and late.hint


def test_a_pending_email_never_confirmed_expires_after_48_hours() -> None:
    mail = made(channel="email", email="a@b.fr")
    assert mail.status(T0 + PENDING_LIFETIME - timedelta(seconds=1), SILENCE) == "pending"
    assert mail.status(T0 + PENDING_LIFETIME, SILENCE) == "expired"


def test_an_active_subscription_expires_after_the_silence_unless_seen() -> None:
    feed = made()
    assert feed.status(T0 + SILENCE - timedelta(seconds=1), SILENCE) == "active"
    assert feed.status(T0 + SILENCE, SILENCE) == "expired"
    seen = feed.seen(T0 + timedelta(days=60))
    assert isinstance(seen, Subscription)
    assert seen.status(T0 + SILENCE, SILENCE) == "active"
    assert seen.status(T0 + timedelta(days=150), SILENCE) == "expired"
    late_news = seen.seen(T0 + timedelta(days=10))  # an older sign arriving late
    assert isinstance(late_news, Subscription) and late_news.last_seen_at == T0 + timedelta(days=60)
    assert feed.status(T0 + SILENCE, timedelta(days=365)) == "active"  # the silence is a setting


def test_ending_is_final_and_refuses_other_changes() -> None:
    feed = made()
    ended = feed.ended(T0 + timedelta(days=1), EndReason.UNSUBSCRIBED)
    assert isinstance(ended, Subscription)
    assert (ended.end_reason, ended.status(T0 + timedelta(days=1), SILENCE)) == ("unsubscribed", "ended")
    assert refused(ended.ended(T0 + timedelta(days=2), "unsubscribed")).rule == "already_ended"
    assert refused(ended.seen(T0 + timedelta(days=2))).rule == "subscription_ended"
    mail = made(channel="email", email="a@b.fr").ended(T0, "bounced")
    assert isinstance(mail, Subscription)
    assert refused(mail.confirmed(T0 + timedelta(hours=1))).rule == "subscription_ended"


def test_transitions_answer_bad_input_with_a_problem_not_an_exception() -> None:
    feed = made()
    naive = refused(feed.seen(datetime(2030, 3, 2)))
    assert (naive.path, naive.rule) == ("last_seen_at", "timezone_aware")
    assert refused(feed.ended(T0, "bored")).path == "end_reason"
    assert refused(feed.ended(T0 - timedelta(days=1), "unsubscribed")).rule == "before_creation"
    assert refused(made(channel="email", email="a@b.fr").seen(T0)).rule == "not_confirmed"


def test_the_sweep_ends_what_fell_silent_and_only_that() -> None:
    silent, lively, pending = made(), made(), made(channel="email", email="a@b.fr")
    lively_seen = lively.seen(T0 + timedelta(days=80))
    assert isinstance(lively_seen, Subscription)
    now = T0 + timedelta(days=100)
    swept = expired([silent, lively_seen, pending], now, SILENCE)
    assert [(s.id, s.ended_at, s.end_reason) for s in swept] == [
        (silent.id, now, "expired"),
        (pending.id, now, "expired"),
    ]


def test_a_subscriber_gets_everything_held_about_them_and_erasure_names_every_key() -> None:
    first = made(channel="email", email="jeanne@exemple.fr", areas=["62041"])
    ended = made(channel="email", email="Jeanne@EXEMPLE.fr", areas=["59"]).ended(T0, "unsubscribed")
    assert isinstance(ended, Subscription)
    other = made(channel="email", email="paul@exemple.fr")
    push = made(channel="webpush", push=PUSH)
    held = [first, ended, other, push, made()]
    data = export(held, " JEANNE@exemple.fr ")
    assert [s["id"] for s in data["subscriptions"]] == sorted([first.id, ended.id])
    assert data["subscriptions"][0]["areas"] in (["62041"], ["59"])
    assert erase(held, "jeanne@exemple.fr") == sorted([first.id, ended.id])  # ended ones still hold it
    assert erase(held, PUSH["endpoint"]) == [push.id]
    assert export(held, PUSH["endpoint"].upper())["subscriptions"] == []  # URLs are case-sensitive
    assert erase(held, "") == []


def test_departement_of_a_commune() -> None:
    assert [departement_of(c) for c in ("62041", "2A004", "97105", "01001")] == ["62", "2A", "971", "01"]


def test_a_logged_subscription_does_not_show_its_contact() -> None:
    mail, push = made(channel="email", email="jeanne@exemple.fr"), made(channel="webpush", push=PUSH)
    assert "jeanne" not in repr(mail) and "push.example.net" not in repr(push)
    assert mail.model_dump()["email"] == "jeanne@exemple.fr"  # still in the topic's value
