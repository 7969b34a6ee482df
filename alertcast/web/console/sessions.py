"""Console sessions and CSRF tokens, signed with one secret key (HMAC-SHA256).

The cookie holds `user.session-id.expiry.password-fingerprint`, signed: it expires on its own
(`session_ttl_s`), and changing a user's password (or removing the user) ends their sessions.
Logging out ends one at once: its revocation id (a MAC of its id, worthless as a cookie) goes
to `audit.events`, and every web process refuses it from then on (see the read model).
It is HttpOnly and SameSite=Strict. Each form carries a CSRF token derived from the session
id, so a token is worthless in another session; the login form's token is tied to a
pre-session cookie instead (no login CSRF either).

Everything here reads what a visitor sends: cookies and form fields may hold any character,
so a value is compared as bytes (`hmac.compare_digest` refuses non-ASCII `str`) and refused
when it is not one of ours, never raising.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

SESSION_COOKIE = "alertcast_session"
LOGIN_COOKIE = "alertcast_login"
DEVICE_COOKIE = "alertcast_device"
DEVICE_TTL_S = 180 * 24 * 3600
MAX_COOKIE = 1024  # ours are far shorter: anything longer is not ours


@dataclass(frozen=True)
class Session:
    user: str
    sid: str
    expires: int
    fingerprint: str


@dataclass(frozen=True)
class Device:
    """A browser that logged in as `user` before: its failed logins are counted on their own,
    so someone guessing that user's password elsewhere does not keep it out."""

    user: str
    nonce: str


class Signer:
    def __init__(self, key: bytes, ttl_s: int, now: Callable[[], float] = time.time) -> None:
        if len(key) < 32:
            raise ValueError("the session key needs at least 32 bytes")
        self._key = key
        self.ttl_s = ttl_s
        self._now = now

    def _mac(self, purpose: str, message: str) -> str:
        data = f"{purpose}\n{message}".encode("utf-8", "surrogatepass")
        digest = hmac.new(self._key, data, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def fingerprint(self, password_hash: str) -> str:
        return self._mac("password", password_hash)[:16]

    def key(self, purpose: str, value: str) -> str:
        """An opaque name for `value` (a typed account name, an address), the same in every web
        process sharing the session key: throttle keys and audit details without the raw text."""
        return self._mac(f"key:{purpose}", value)[:22]

    def issue(self, user: str, password_hash: str) -> tuple[str, Session]:
        session = Session(
            user=user,
            sid=secrets.token_urlsafe(16),
            expires=int(self._now()) + self.ttl_s,
            fingerprint=self.fingerprint(password_hash),
        )
        body = f"{session.user}.{session.sid}.{session.expires}.{session.fingerprint}"
        return f"{body}.{self._mac('session', body)}", session

    def read(self, cookie: str | None) -> Session | None:
        """The session, if the cookie is ours, intact and not expired."""
        fields = self._signed("session", cookie, 5)
        if fields is None:
            return None
        user, sid, expires, fingerprint = fields
        if not _epoch(expires) or int(expires) <= self._now():
            return None
        return Session(user=user, sid=sid, expires=int(expires), fingerprint=fingerprint)

    def revocation(self, sid: str) -> str:
        """What a logout publishes about a session: enough to refuse it, useless to replay it."""
        return self._mac("revoked", sid)[:22]

    def issue_device(self, user: str) -> str:
        body = f"{user}.{secrets.token_urlsafe(12)}.{int(self._now()) + DEVICE_TTL_S}"
        return f"{body}.{self._mac('device', body)}"

    def read_device(self, cookie: str | None) -> Device | None:
        fields = self._signed("device", cookie, 4)
        if fields is None:
            return None
        user, nonce, expires = fields
        if not _epoch(expires) or int(expires) <= self._now():
            return None
        return Device(user=user, nonce=nonce)

    def csrf(self, sid: str) -> str:
        return self._mac("csrf", sid)

    def csrf_ok(self, sid: str | None, token: str | None) -> bool:
        return bool(sid and token) and _same(self.csrf(sid or ""), token or "")

    def _signed(self, purpose: str, cookie: str | None, parts: int) -> list[str] | None:
        """The fields of a signed value of ours, or None (absent, foreign, tampered, odd characters)."""
        if not cookie or len(cookie) > MAX_COOKIE or not cookie.isascii() or cookie.count(".") != parts - 1:
            return None
        body, _, mac = cookie.rpartition(".")
        if not _same(self._mac(purpose, body), mac):
            return None
        return body.split(".")


def _same(expected: str, given: str) -> bool:
    """Constant-time equality of what we computed and what a visitor sent, whatever it holds."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


def _epoch(text: str) -> bool:
    return text.isascii() and text.isdigit()
