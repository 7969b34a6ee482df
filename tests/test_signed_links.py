"""The one signing of links (alertcast.signed_links): a label binds a signature to its kind of
link, any changed field breaks it, and age is judged against the clock given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alertcast import signed_links

KEY = b"k" * signed_links.MIN_SECRET_BYTES
NOW = datetime(2030, 1, 1, tzinfo=UTC)  # pure code: the clock is given


def test_a_signature_holds_for_its_label_and_fields_only() -> None:
    token = signed_links.signed(b"kind-a", KEY, ("x", "y"))
    *fields, signature = token.split(".")
    assert fields == ["x", "y"]
    assert signed_links.signature_matches(b"kind-a", KEY, fields, signature)
    assert not signed_links.signature_matches(b"kind-b", KEY, fields, signature)
    assert not signed_links.signature_matches(b"kind-a", KEY, ["x", "z"], signature)
    assert not signed_links.signature_matches(b"kind-a", b"o" * 32, fields, signature)


def test_age_is_judged_with_the_skew_allowed() -> None:
    at = str(int(NOW.timestamp()))
    assert signed_links.age_refusal(at, NOW + timedelta(hours=1), timedelta(hours=2)) is None
    assert signed_links.age_refusal(at, NOW + timedelta(hours=3), timedelta(hours=2)) == "token_expired"
    assert signed_links.age_refusal(at, NOW - timedelta(minutes=4), timedelta(hours=2)) is None
    assert signed_links.age_refusal(at, NOW - timedelta(minutes=6), timedelta(hours=2)) == "token_from_future"


def test_short_or_non_bytes_keys_are_refused() -> None:
    assert signed_links.secret_ok(KEY)
    assert not signed_links.secret_ok(KEY[:-1]) and not signed_links.secret_ok("k" * 40)
