"""Signed one-click links: confirm a subscription, or end it, with nothing but the link.

A token is `<action>.<subscription id>.<issued, Unix seconds>.<HMAC-SHA256, base64url>`: all
url-safe, so it sits in a path or a query as is. The MAC covers a fixed label too, so a
signature made with the same secret for something else (a webhook) is never a valid token.
Unsubscribe links never expire: RFC 8058's one-click List-Unsubscribe link lives in mails read
months later, and ending a subscription must always work. Confirm links expire (48 hours by
default), like the pending subscription they confirm.

`verify` reads whatever arrives from the Internet (any bytes, any text), so it never raises:
a bad token is a `Problem` that says which way it is bad, never quoting the token's signature
nor, of course, the secret. Only a programming or configuration mistake (an empty secret, an
unknown action to sign) raises, and then only `TokenError`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

from alertcast import signed_links
from alertcast.clock import clock
from alertcast.errors import ConfigurationError
from alertcast.i18n import N_
from alertcast.models.problem import Problem
from alertcast.signed_links import MIN_SECRET_BYTES
from alertcast.subscriptions.model import ID_PATTERN

Action = Literal["confirm", "unsubscribe"]
ACTIONS: tuple[Action, ...] = ("confirm", "unsubscribe")
CONFIRM_MAX_AGE = timedelta(hours=48)

_LABEL = b"alertcast.subscription-link.v1"
_ID = re.compile(ID_PATTERN)
_ISSUED = re.compile(r"^[0-9]{1,11}$")  # until the year 5138: datetime cannot go past 9999
_MAX_LENGTH = 200


class TokenError(ConfigurationError, ValueError):
    """A mistake in the caller's code or settings, never in a token received."""


class Verified(NamedTuple):
    subscription_id: str
    action: Action


def _check_secret(secret: bytes) -> None:
    if not signed_links.secret_ok(secret):
        raise TokenError(f"the subscription secret must be at least {MIN_SECRET_BYTES} bytes")


def sign(subscription_id: str, action: Action, secret: bytes, now: datetime | None = None) -> str:
    """A token for a link; `now` is when it was issued (only confirm links ever look at it)."""
    _check_secret(secret)
    if action not in ACTIONS:
        raise TokenError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
    if not isinstance(subscription_id, str) or not _ID.match(subscription_id):
        raise TokenError("a subscription id is 16 to 64 url-safe characters")
    issued = str(int((now or clock.now()).timestamp()))
    return signed_links.signed(_LABEL, secret, (action, subscription_id, issued))


def link(
    base_url: str, subscription_id: str, action: Action, secret: bytes, now: datetime | None = None
) -> str:
    """The page `alertcast web` answers for this action (`base_url`: where /subscribe is served)."""
    return f"{base_url.rstrip('/')}/subscribe/{action}?token={sign(subscription_id, action, secret, now)}"


def verify(
    token: str | bytes, secret: bytes, now: datetime, max_age: timedelta = CONFIRM_MAX_AGE
) -> Verified | Problem:
    """The subscription and action a token was signed for, or why it is refused."""
    _check_secret(secret)
    text = _ascii(token)
    if text is None or len(text) > _MAX_LENGTH:
        return _refused("token_malformed", N_("this link is not one of ours, or was cut short"))
    parts = text.split(".")
    if len(parts) != 4:
        return _refused("token_malformed", N_("this link is not one of ours, or was cut short"))
    action, subscription_id, issued, signature = parts
    if action not in ACTIONS or not _ID.match(subscription_id) or not _ISSUED.match(issued):
        return _refused("token_malformed", N_("this link is not one of ours, or was cut short"))
    if not signed_links.signature_matches(_LABEL, secret, (action, subscription_id, issued), signature):
        return _refused(
            "token_signature", N_("this link's signature does not match: it was changed or mistyped")
        )
    if action == "unsubscribe":
        return Verified(subscription_id, "unsubscribe")
    refusal = signed_links.age_refusal(issued, now, max_age)
    if refusal == "token_from_future":
        return _refused(refusal, N_("this link was signed in the future"))
    if refusal == "token_expired":
        return _refused(
            refusal,
            N_("this confirmation link is older than %(hours)s hours"),
            hours=f"{max_age.total_seconds() / 3600:g}",
        )
    return Verified(subscription_id, "confirm")


_HINTS = {
    "token_malformed": N_("copy the whole link from the message, or open it from the message itself"),
    "token_signature": N_("open the link from the message itself"),
    "token_from_future": N_("check the server clock"),
    "token_expired": N_("subscribe again: a new confirmation message will be sent"),
}


def _ascii(token: object) -> str | None:
    """The token as ASCII text, or None for anything else (other types, bytes, non-ASCII)."""
    if isinstance(token, bytes | bytearray):
        try:
            return bytes(token).decode("ascii")
        except UnicodeDecodeError:
            return None
    if isinstance(token, str) and token.isascii():
        return token
    return None


def _refused(rule: str, message: str, **params: str) -> Problem:
    # The token itself is withheld: a link is a capability, and logs are read by others.
    return Problem.said("token", rule, message, _HINTS[rule], **params)
