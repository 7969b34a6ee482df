"""One-click links: they round-trip, refuse anything changed or signed elsewhere, expire only
when they confirm, and answer any input from the Internet with a Problem, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertcast.models.problem import Problem
from alertcast.subscriptions.tokens import CONFIRM_MAX_AGE, TokenError, Verified, sign, verify

SECRET = b"k" * 32
OTHER = b"o" * 32
T0 = datetime(2030, 3, 1, 8, 0, tzinfo=UTC)
ID = "Zq3-x_Y7pLm2Qw8RtU4vBw"


def problem(result: Verified | Problem) -> Problem:
    assert isinstance(result, Problem), result
    assert SECRET.decode() not in result.model_dump_json()
    return result


def test_a_token_round_trips_and_is_url_safe() -> None:
    for action in ("confirm", "unsubscribe"):
        token = sign(ID, action, SECRET, T0)
        assert token.startswith(f"{action}.{ID}.")
        assert all(c.isalnum() or c in "._-" for c in token)
        assert verify(token, SECRET, T0 + timedelta(minutes=5)) == (ID, action)
        assert verify(token.encode(), SECRET, T0) == Verified(ID, action)


def test_a_changed_token_is_refused_as_a_bad_signature() -> None:
    token = sign(ID, "unsubscribe", SECRET, T0)
    action, subscription_id, issued, mac = token.split(".")
    other_id = "A" + subscription_id[1:]
    changed = [
        f"confirm.{subscription_id}.{issued}.{mac}",
        f"{action}.{other_id}.{issued}.{mac}",
        f"{action}.{subscription_id}.{int(issued) + 1}.{mac}",
        f"{action}.{subscription_id}.{issued}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
        f"{action}.{subscription_id}.{issued}.",
    ]
    for token in changed:
        assert problem(verify(token, SECRET, T0)).rule == "token_signature", token


def test_a_token_signed_with_another_secret_is_refused() -> None:
    found = problem(verify(sign(ID, "unsubscribe", OTHER, T0), SECRET, T0))
    assert (found.path, found.rule, found.value) == ("token", "token_signature", None)
    assert found.hint


def test_confirm_links_expire_and_unsubscribe_links_do_not() -> None:
    confirm = sign(ID, "confirm", SECRET, T0)
    assert verify(confirm, SECRET, T0 + CONFIRM_MAX_AGE) == (ID, "confirm")
    late = problem(verify(confirm, SECRET, T0 + CONFIRM_MAX_AGE + timedelta(seconds=1)))
    assert late.rule == "token_expired" and "48 hours" in late.message
    assert (
        problem(verify(confirm, SECRET, T0 + timedelta(hours=2), timedelta(hours=1))).rule == "token_expired"
    )
    unsubscribe = sign(ID, "unsubscribe", SECRET, T0)
    assert verify(unsubscribe, SECRET, T0 + timedelta(days=3650)) == (ID, "unsubscribe")


def test_a_confirm_link_from_the_future_is_refused_beyond_clock_skew() -> None:
    confirm = sign(ID, "confirm", SECRET, T0)
    assert verify(confirm, SECRET, T0 - timedelta(minutes=4)) == (ID, "confirm")
    assert problem(verify(confirm, SECRET, T0 - timedelta(hours=1))).rule == "token_from_future"


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "...",
        "confirm",
        f"delete.{ID}.1900000000.abc",
        "confirm.short.1900000000.abc",
        f"confirm.{ID}.-1.abc",
        f"confirm.{ID}.999999999999.abc",
        f"confirm.{ID}.1900000000.abc.extra",
        f"confirm.{ID}.1900000000.ab\u00e9",
        "x" * 1000,
        b"\xff\xfe\x00",
        "\ud800",
    ],
)
def test_malformed_tokens_are_refused_plainly(token: str | bytes) -> None:
    assert problem(verify(token, SECRET, T0)).rule == "token_malformed"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary(), st.text(alphabet="confirmunsubscribe.0123456789-_AZaz")))
def test_no_input_makes_verify_raise(token: str | bytes) -> None:
    assert isinstance(verify(token, SECRET, T0), Problem)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1))
def test_any_change_to_a_valid_signature_is_refused(tail: str) -> None:
    token = sign(ID, "unsubscribe", SECRET, T0)
    forged = token.rsplit(".", 1)[0] + "." + tail
    if forged != token:
        assert isinstance(verify(forged, SECRET, T0), Problem)


def test_only_configuration_mistakes_raise_and_never_show_the_secret() -> None:
    weak = b"short secret"
    with pytest.raises(TokenError) as error:
        verify("confirm.x.1.y", weak, T0)
    assert weak.decode() not in str(error.value)
    with pytest.raises(TokenError):
        sign(ID, "delete", SECRET, T0)  # type: ignore[arg-type]
    with pytest.raises(TokenError):
        sign("not an id", "confirm", SECRET, T0)
