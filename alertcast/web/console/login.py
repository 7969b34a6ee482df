"""Logging in and out of the console, and the landing page that sends each role where it works.

Logins are throttled per account and per client address (`throttle.py`): during a delay the
attempt answers 429 with the wait, unread. Logins, failures, throttled attempts and logouts
are audited (never the password; a typed name only when it is a user's). Every web process
counts the failures the others saw, through their audit events (`origin` tells ours apart).
A logout revokes the session in every web process through its audit event (see the read model).
The login form has no session yet: its CSRF token is tied to a pre-session cookie instead.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from alertcast.clock import clock
from alertcast.i18n import N_, language_of, said
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.web.console.auth import Permission
from alertcast.web.console.guard import LANGUAGE_COOKIE, PREFIX, Area, Form, Guard, Who, read_form
from alertcast.web.console.sessions import DEVICE_COOKIE, DEVICE_TTL_S, LOGIN_COOKIE, SESSION_COOKIE
from alertcast.web.console.throttle import LoginThrottle, wait_text
from alertcast.web.producer import Message

log = logging.getLogger(__name__)
LANGUAGE_TTL_S = 365 * 24 * 3600


@dataclass(frozen=True)
class LoginAttempt:
    actor: str  # the typed name if it is a user's, else "?" (a mistyped password is never logged)
    client: str  # the client's address
    account: str  # throttle key: the account, or this browser's own for that account
    address: str  # throttle key: the address


class Login(Area):
    def __init__(self, guard: Guard) -> None:
        super().__init__(guard)
        self.origin = secrets.token_hex(8)  # this process, in its login events (see _login_elsewhere)
        self.throttle = LoginThrottle(now=lambda: clock.now().timestamp())
        guard.read_model.on_login = self._login_elsewhere

    def routes(self) -> list[BaseRoute]:
        return [
            Route(PREFIX, self.home, methods=["GET"]),
            Route(f"{PREFIX}/", self.home, methods=["GET"]),
            Route(f"{PREFIX}/login", self.login_page, methods=["GET"]),
            Route(f"{PREFIX}/login", self.login, methods=["POST"]),
            Route(f"{PREFIX}/language/{{language}}", self.switch_language, methods=["GET"]),
            self.guard.post("/logout", None, self.logout),
        ]

    async def home(self, request: Request) -> Response:
        """Where a role works: the queue, one's own alerts, the audit log, or administration."""
        who = self.guard.who(request)
        if who is None:
            return self.guard.unauthenticated(request)
        if who.user.can(Permission.READ):
            return self.guard.redirect("/queue")
        if who.user.can(Permission.SUBMIT):
            return self.guard.redirect("/mine")
        if who.user.can(Permission.AUDIT):
            return self.guard.redirect("/audit")
        return self.guard.redirect("/admin")

    async def switch_language(self, request: Request) -> Response:
        """The language switch of every page: the choice kept a year in a cookie (before and after
        logging in), then back to the page it was made on."""
        language = language_of(request.path_params["language"])
        back = safe_next(urlsplit(request.headers.get("referer", "")).path) or f"{PREFIX}/"
        response = RedirectResponse(back, status_code=303)
        if language:
            self.guard.cookie(response, LANGUAGE_COOKIE, language, max_age=LANGUAGE_TTL_S)
        return response

    async def login_page(self, request: Request, error: str = "", status_code: int = 200) -> Response:
        pre = secrets.token_urlsafe(16)
        response = self.guard.page(
            "login.html",
            None,
            status_code,
            language=self.guard.language(request),
            csrf=self.guard.signer.csrf("login:" + pre),
            next=safe_next(request.query_params.get("next", "")),
            error=error,
        )
        self.guard.cookie(response, LOGIN_COOKIE, pre, max_age=3600)
        return response

    async def login(self, request: Request) -> Response:
        form = await read_form(request)
        pre = request.cookies.get(LOGIN_COOKIE)
        if not pre or not self.guard.signer.csrf_ok("login:" + pre, form.get("csrf")):
            language = self.guard.language(request)
            return self.guard.page(
                "error.html",
                None,
                403,
                language=language,
                title=self.guard.gettext("Access denied", language),
                message=self.guard.gettext("missing or invalid CSRF token", language),
            )
        name = form.get("name", "").strip().lower()
        attempt = self._attempt(request, name)
        verdict = self.throttle.check(attempt.account, attempt.address)
        if not verdict.allowed:  # refused unread: the password is not even checked
            if verdict.audit:
                await self._audit_login(attempt, AuditAction.LOGIN_THROTTLED, wait_s=verdict.wait_s)
            message = self.guard.gettext(
                "Too many login attempts: try again in %(wait)s.",
                self.guard.language(request),
                wait=wait_text(verdict.wait_s),
            )
            response = await self.login_page(request, message, 429)
            response.headers["Retry-After"] = str(verdict.retry_after)
            return response
        # counted before the (slow) check, so parallel guesses cannot slip through the same gap
        wait_s = self.throttle.failed(attempt.account, attempt.address)
        user = await self.guard.users.verify(name, form.get("password", ""))
        if user is None:
            log.warning("console: failed login for %s from %s", attempt.actor, attempt.client)
            await self._audit_login(attempt, AuditAction.LOGIN_FAILED, wait_s=wait_s)
            language = self.guard.language(request)
            message = self.guard.gettext("Wrong user name or password.", language)
            if wait_s > 0:
                message += " " + self.guard.gettext(
                    "Next attempt possible in %(wait)s.", language, wait=wait_text(wait_s)
                )
            return await self.login_page(request, message, 401)
        earlier = self.throttle.accounts.failures(attempt.account) - 1  # this attempt was counted
        self.throttle.succeeded(attempt.account, attempt.address)
        if earlier > 0:  # maybe a guess that worked: audited, and other processes forget the failures
            await self._audit_login(attempt, AuditAction.LOGIN, failures=earlier)
        signer = self.guard.signer
        cookie, _ = signer.issue(user.name, user.password_argon2)
        log.info("console: %s logged in from %s", user.name, attempt.client)
        response = RedirectResponse(safe_next(form.get("next", "")) or f"{PREFIX}/", status_code=303)
        self.guard.cookie(response, SESSION_COOKIE, cookie, max_age=signer.ttl_s)
        self.guard.cookie(response, DEVICE_COOKIE, signer.issue_device(user.name), max_age=DEVICE_TTL_S)
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    def _attempt(self, request: Request, name: str) -> LoginAttempt:
        """The throttle keys of a login attempt: its account (or, from a browser that logged in
        as that account before, that browser alone) and its client address."""
        signer = self.guard.signer
        client = request.client.host if request.client else ""
        device = signer.read_device(request.cookies.get(DEVICE_COOKIE))
        account = (
            signer.key("device", f"{name}.{device.nonce}")
            if device is not None and device.user == name
            else signer.key("account", name)
        )
        return LoginAttempt(
            actor=name if self.guard.users.known(name) else "?",
            client=client,
            account=account,
            address=signer.key("address", client),
        )

    async def _audit_login(
        self, attempt: LoginAttempt, action: AuditAction, wait_s: float = 0.0, failures: int = 0
    ) -> None:
        """The audit event of a login attempt; Kafka refusing it is logged, the answer goes on."""
        messages = {
            AuditAction.LOGIN: N_("login after %(failures)s failure(s)"),
            AuditAction.LOGIN_FAILED: N_("wrong user name or password"),
            AuditAction.LOGIN_THROTTLED: N_("attempts refused unchecked during the delay"),
        }
        event = AuditEvent(
            at=clock.now(),
            actor=attempt.actor,
            action=action,
            accepted=action is AuditAction.LOGIN,
            **said(messages[action], failures=failures),
            details={
                "address": attempt.client,
                "wait_s": round(wait_s, 3),
                **({"failures": failures} if failures else {}),
                "throttle": {"account": attempt.account, "address": attempt.address},
                "origin": self.origin,
            },
        )
        await self._produce_audit(event, f"login:{attempt.account}")

    async def _produce_audit(self, event: AuditEvent, key: str) -> bool:
        message = Message(
            topic=self.guard.topics.audit, key=key.encode(), value=event.model_dump_json().encode()
        )
        return await self.guard.send([message], f"audit event {event.action} ({event.actor})")

    def _login_elsewhere(self, event: AuditEvent) -> None:
        """Another web process's login event, counted here too (ours were counted at once)."""
        keys = event.details.get("throttle")
        if event.details.get("origin") == self.origin or not isinstance(keys, dict):
            return
        account, address = keys.get("account"), keys.get("address")
        if not isinstance(account, str) or not isinstance(address, str):
            return
        if event.action is AuditAction.LOGIN_FAILED:
            self.throttle.failed(account, address, at=event.at.timestamp())
        elif event.action is AuditAction.LOGIN:
            self.throttle.succeeded(account, address, at=event.at.timestamp())

    async def logout(self, request: Request, who: Who, form: Form) -> Response:
        """Ends the session here at once, and in every web process when its event arrives there."""
        revocation = self.guard.signer.revocation(who.session.sid)
        self.guard.read_model.revoke(revocation, who.session.expires)
        event = AuditEvent(
            at=clock.now(),
            actor=who.user.name,
            action=AuditAction.LOGOUT,
            **said(N_("logout: the session is revoked")),
            details={"session": revocation, "expires": who.session.expires, "origin": self.origin},
        )
        if not await self._produce_audit(event, f"logout:{who.user.name}"):
            log.error("console: other web processes accept %s's session until it expires", who.user.name)
        log.info("console: %s logged out", who.user.name)
        response = self.guard.redirect("/login")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response


def safe_next(target: str) -> str:
    """Only a console path: never another site (no open redirect)."""
    if target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""
