"""Console sessions and CSRF tokens, signed with one secret key (HMAC-SHA256), stored nowhere.

The cookie holds `user.session-id.expiry.password-fingerprint`, signed: it expires on its own
(`session_ttl_s`), and changing a user's password (or removing the user) ends their sessions.
It is HttpOnly and SameSite=Strict. Each form carries a CSRF token derived from the session
id, so a token is worthless in another session; the login form's token is tied to a
pre-session cookie instead (no login CSRF either).
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


@dataclass(frozen=True)
class Session:
    user: str
    sid: str
    expires: int
    fingerprint: str


class Signer:
    def __init__(self, key: bytes, ttl_s: int, now: Callable[[], float] = time.time) -> None:
        if len(key) < 32:
            raise ValueError("the session key needs at least 32 bytes")
        self._key = key
        self.ttl_s = ttl_s
        self._now = now

    def _mac(self, purpose: str, message: str) -> str:
        digest = hmac.new(self._key, f"{purpose}\n{message}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def fingerprint(self, password_hash: str) -> str:
        return self._mac("password", password_hash)[:16]

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
        if not cookie or cookie.count(".") != 4:
            return None
        body, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        user, sid, expires, fingerprint = body.split(".")
        if not expires.isdigit() or int(expires) <= self._now():
            return None
        return Session(user=user, sid=sid, expires=int(expires), fingerprint=fingerprint)

    def csrf(self, sid: str) -> str:
        return self._mac("csrf", sid)

    def csrf_ok(self, sid: str | None, token: str | None) -> bool:
        return bool(sid and token) and hmac.compare_digest(self.csrf(sid or ""), token or "")
