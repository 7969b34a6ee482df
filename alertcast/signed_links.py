"""The one way alertcast signs a link: fields joined by dots, then an HMAC-SHA256 over a label.

A token is `<field>.<field>…<HMAC, base64url>`, url-safe as is. The MAC covers a label of the
link's own kind with the fields, so a signature made with the same key for another kind of link
(or a webhook) is never valid for this one. Each kind of link (a subscriber's confirm or
unsubscribe, a duty call's acknowledgement) checks its own fields and words its own refusals;
what they share is here: the key's minimum, the MAC, its constant-time check, and the age of a
link signed at an `issued` Unix second.

No alertcast import here: the settings check keys against `MIN_SECRET_BYTES`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

MIN_SECRET_BYTES = 32
# A link signed "a little" in the future is clock skew between processes; more is forged or broken.
CLOCK_SKEW = timedelta(minutes=5)


def secret_ok(secret: object) -> bool:
    return isinstance(secret, bytes) and len(secret) >= MIN_SECRET_BYTES


def mac(label: bytes, secret: bytes, fields: Sequence[str]) -> bytes:
    message = b"\x00".join((label, *(field.encode() for field in fields)))
    return base64.urlsafe_b64encode(hmac.new(secret, message, hashlib.sha256).digest()).rstrip(b"=")


def signed(label: bytes, secret: bytes, fields: Sequence[str]) -> str:
    return ".".join((*fields, mac(label, secret, fields).decode()))


def signature_matches(label: bytes, secret: bytes, fields: Sequence[str], signature: str) -> bool:
    """Checked before anything about the link's age: a forgery learns nothing more."""
    return hmac.compare_digest(mac(label, secret, fields), signature.encode("ascii"))


def age_refusal(
    issued: str, now: datetime, max_age: timedelta
) -> Literal["token_from_future", "token_expired"] | None:
    """Why a link signed at `issued` (Unix seconds, digits) is refused at `now`, or None."""
    issued_at = issued_time(issued)
    if issued_at > now + CLOCK_SKEW:
        return "token_from_future"
    if now - issued_at > max_age:
        return "token_expired"
    return None


def issued_time(issued: str) -> datetime:
    return datetime.fromtimestamp(int(issued), UTC)
