"""Signed acknowledgement links of duty calls: "I have it", from the call itself.

A token is `<alert id>.<version>.<person>.<stage>.<issued, Unix seconds>.<HMAC-SHA256, base64url>`,
url-safe as is. It is made as every signed link is (`alertcast.signed_links`): the MAC
covers a label of its own, so a signature made with the same key for anything else (a subscriber's
link, a webhook) is never a valid token here; the key is `ALERTCAST_DUTY_SECRET`, a separate one,
so the worker that signs calls holds no key that forges subscribers' links. Tokens expire
(`MAX_AGE`): a call is about a draft waiting now, not last week's.

The link is not a login: the console asks for one before it records anything, and records the
person logged in (who may answer for a colleague). The token only proves which call is answered.
`verify` reads whatever arrives (any text), so it never raises on a bad token: it returns a
`Problem` that never quotes the token nor the key.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import NamedTuple

from alertcast import signed_links
from alertcast.errors import ConfigurationError
from alertcast.i18n import N_
from alertcast.models.problem import Problem
from alertcast.signed_links import MIN_SECRET_BYTES

MAX_AGE = timedelta(hours=24)
STAGES = ("primary", "backup", "supervisor")

_LABEL = b"alertcast.duty-ack.v1"
_ALERT = re.compile(r"^[0-9a-f]{16}$")  # alertcast.models.alert.alert_id_for
_VERSION = re.compile(r"^[1-9][0-9]{0,8}$")
_PERSON = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # console user names
_ISSUED = re.compile(r"^[0-9]{1,11}$")
_MAX_LENGTH = 300


class TokenError(ConfigurationError, ValueError):
    """A mistake in the caller's code or settings, never in a token received."""


class Acknowledgeable(NamedTuple):
    """The call a valid token answers."""

    alert_id: str
    version: int
    person: str
    stage: str
    issued_at: datetime


def _check_secret(secret: bytes) -> None:
    if not signed_links.secret_ok(secret):
        raise TokenError(f"the duty secret must be at least {MIN_SECRET_BYTES} bytes")


def sign(alert_id: str, version: int, person: str, stage: str, secret: bytes, now: datetime) -> str:
    _check_secret(secret)
    fields = (alert_id, str(version), person, stage, str(int(now.timestamp())))
    if not (_ALERT.match(alert_id) and _VERSION.match(fields[1]) and _PERSON.match(person)):
        raise TokenError("an alert id (16 hex digits), a version and a console user name are needed")
    if stage not in STAGES:
        raise TokenError(f"unknown stage {stage!r}: one of {', '.join(STAGES)}")
    return signed_links.signed(_LABEL, secret, fields)


def verify(
    token: object, secret: bytes, now: datetime, max_age: timedelta = MAX_AGE
) -> Acknowledgeable | Problem:
    """The call a token answers, or why it is refused (malformed, changed, expired)."""
    _check_secret(secret)
    if not isinstance(token, str) or not token.isascii() or len(token) > _MAX_LENGTH:
        return _refused("token_malformed")
    parts = token.split(".")
    if len(parts) != 6:
        return _refused("token_malformed")
    alert_id, version, person, stage, issued, signature = parts
    if not (
        _ALERT.match(alert_id)
        and _VERSION.match(version)
        and _PERSON.match(person)
        and stage in STAGES
        and _ISSUED.match(issued)
    ):
        return _refused("token_malformed")
    if not signed_links.signature_matches(
        _LABEL, secret, (alert_id, version, person, stage, issued), signature
    ):
        return _refused("token_signature")
    refusal = signed_links.age_refusal(issued, now, max_age)
    if refusal is not None:
        return _refused(refusal)
    return Acknowledgeable(alert_id, int(version), person, stage, signed_links.issued_time(issued))


_WHY = {
    "token_malformed": (
        N_("this link is not one of ours, or was cut short"),
        N_("open the link from the call itself, or the draft from the console's queue"),
    ),
    "token_signature": (
        N_("this link's signature does not match: it was changed, or signed with another key"),
        N_("open the link from the call itself, or the draft from the console's queue"),
    ),
    "token_from_future": (N_("this link was signed in the future"), N_("check the servers' clocks")),
    "token_expired": (
        N_("this call is more than %(hours)s hours old"),
        N_("open the draft from the console's queue"),
    ),
}


def _refused(rule: str) -> Problem:
    message, hint = _WHY[rule]
    return Problem.said("token", rule, message, hint, hours=f"{MAX_AGE.total_seconds() / 3600:g}")
