"""The guard every console page goes through, and what every area of the console shares.

One place decides who is asking, so no area can forget it: no session → the login page
(HTML) or 401 (JSON, fragments); a role without the permission → 403; a form without this
session's CSRF token → 403. A session counts only while its cookie is ours and unexpired, it
was not logged out (in any web process, see the read model), and its user still exists with
the same password. The areas (login, drafts, deliveries, pauses, incidents, audit, admin)
each get this one `Guard`: the services they share (users, signer, producer, topics, read
model, pages) and the helpers that keep their answers alike (pages in the person's language,
errors, redirects, cookies, producing to Kafka).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from alertcast.duty.rota_file import RotaFile
from alertcast.i18n import DEFAULT_LANGUAGE, N_, negotiate
from alertcast.models.problem import Problem
from alertcast.web.console.auth import Permission, User, Users
from alertcast.web.console.config import ConsoleConfig
from alertcast.web.console.pages import SECURITY_HEADERS, Pages
from alertcast.web.console.readmodel import ConsoleReadModel, Topics
from alertcast.web.console.sessions import SESSION_COOKIE, Session, Signer
from alertcast.web.producer import Message, ProduceError, Producer

log = logging.getLogger(__name__)

PREFIX = "/console"
MAX_FORM_BYTES = 64 * 1024
LANGUAGE_COOKIE = "alertcast_language"  # the language switch's choice (login.py)


@dataclass(frozen=True)
class Who:
    user: User
    session: Session
    csrf: str
    language: str = DEFAULT_LANGUAGE  # the console's words: the person's choice, else their browser's


Form = dict[str, str]
Handler = Callable[[Request, Who, Form], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


class Guard:
    """The session, role and CSRF checks, and the services every area shares."""

    def __init__(self, config: ConsoleConfig, producer: Producer, topic: Callable[[str], str]) -> None:
        self.config = config
        self.users = Users(config.users)
        self.signer = Signer(config.session_key, config.session_ttl_s)
        self.producer = producer
        self.topic = topic
        self.topics = Topics.with_prefix(topic)
        self.read_model = ConsoleReadModel(self.topics)
        self.pages = Pages(config.timezone)
        # The duty rota, for the queue page (the worker reads the same file to call people).
        self.rota = RotaFile(config.rota_file, config.timezone, {user.name for user in config.users} or None)

    def who(self, request: Request) -> Who | None:
        session = self.signer.read(request.cookies.get(SESSION_COOKIE))
        if session is None or self.read_model.is_revoked(self.signer.revocation(session.sid)):
            return None
        user = self.users.get(session.user)
        if user is None or self.signer.fingerprint(user.password_argon2) != session.fingerprint:
            return None
        return Who(
            user=user, session=session, csrf=self.signer.csrf(session.sid), language=self.language(request)
        )

    def language(self, request: Request) -> str:
        """The console's language for this request: the one chosen with the switch (a cookie),
        else the browser's `Accept-Language`, else French."""
        return negotiate(request.headers.get("accept-language"), request.cookies.get(LANGUAGE_COOKIE))

    def gettext(self, message: str, language: str, **values: object) -> str:
        """A message of the Python side (a refusal, a notice) in `language`."""
        return self.pages.gettext(message, language, **values)

    def protect(self, permission: Permission | None, handler: Handler, *, post: bool = False) -> Endpoint:
        """`handler` behind the session check, then (a form) the CSRF check, then the role check."""

        async def endpoint(request: Request) -> Response:
            who = self.who(request)
            if who is None:
                return self.unauthenticated(request)
            form: Form = {}
            if post:
                form = await read_form(request)
                if not self.signer.csrf_ok(who.session.sid, form.get("csrf")):
                    return self.forbidden(
                        request,
                        who,
                        self.gettext("missing or invalid CSRF token: reload the page", who.language),
                    )
            if permission is not None and not who.user.can(permission):
                return self.forbidden(
                    request, who, self.gettext("your role does not allow this action", who.language)
                )
            return await handler(request, who, form)

        return endpoint

    def get(self, path: str, permission: Permission | None, handler: Handler) -> Route:
        """A guarded page, fragment or JSON answer at PREFIX + `path`."""
        return Route(f"{PREFIX}{path}", self.protect(permission, handler), methods=["GET"])

    def post(self, path: str, permission: Permission | None, handler: Handler) -> Route:
        """A guarded form at PREFIX + `path`: its CSRF token is checked before its role."""
        return Route(f"{PREFIX}{path}", self.protect(permission, handler, post=True), methods=["POST"])

    def unauthenticated(self, request: Request) -> Response:
        if wants_json(request):
            return JSONResponse(
                {
                    "error": "unauthenticated",
                    "problems": [
                        Problem.said(
                            "session",
                            "unauthenticated",
                            N_("no valid console session"),
                            N_("log in at %(login)s"),
                            login=f"{PREFIX}/login",
                        ).model_dump()
                    ],
                },
                status_code=401,
                headers=SECURITY_HEADERS,
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)

    def forbidden(self, request: Request, who: Who, message: str) -> Response:
        if wants_json(request):
            problem = Problem.said(
                request.url.path, "forbidden", "%(reason)s", reason=message
            )  # in their words
            return JSONResponse({"error": "forbidden", "problems": [problem.model_dump()]}, status_code=403)
        title = self.gettext("Access denied", who.language)
        return self.page("error.html", who, 403, title=title, message=message)

    def not_found(self, who: Who, message: str) -> Response:
        return self.page(
            "error.html", who, 404, title=self.gettext("Not found", who.language), message=message
        )

    def page(
        self, name: str, who: Who | None, status_code: int = 200, *, language: str = "", **context: Any
    ) -> Response:
        """A full page in the person's language (`language` before they log in): every template
        gets who is asking, the permissions and the read model's revision (the pages poll for
        changes since it)."""
        return self.pages.render(
            name,
            status_code,
            language or (who.language if who else DEFAULT_LANGUAGE),
            who=who,
            Permission=Permission,
            revision=self.read_model.revision,
            **context,
        )

    def fragment(self, name: str, who: Who, /, **context: Any) -> Response:
        """A part of a page the page polls, in the person's language."""
        return self.pages.fragment(name, who.language, **context)

    def redirect(self, path: str) -> Response:
        """After a form or to another page: 303, so the browser follows it with a GET."""
        return RedirectResponse(f"{PREFIX}{path}", status_code=303)

    async def send(self, messages: list[Message], what: str = "") -> bool:
        """`messages` produced together; False when Kafka refused them, logged as `what` if given
        (the caller says so to the person: a page's error or a notice)."""
        try:
            await self.producer.send_all(messages)
        except ProduceError as failure:
            if what:
                log.error("console: %s not produced: %s", what, failure)
            return False
        return True

    def cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=self.config.cookie_secure,
        )


class Area:
    """One area of the console: its pages and forms, each behind the shared guard."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    def routes(self) -> list[BaseRoute]:
        """The area's routes, in the order they are tried."""
        raise NotImplementedError


async def read_form(request: Request) -> Form:
    """An urlencoded form (the console sends nothing else), first value of each field."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def wants_json(request: Request) -> bool:
    """Whether a refusal should be JSON: the API, the fragments the pages poll (a login page
    would land inside a page), and clients that ask for JSON rather than HTML."""
    accept = request.headers.get("accept", "")
    return (
        request.url.path.startswith(f"{PREFIX}/api/")
        or request.url.path.endswith(".part")
        or ("application/json" in accept and "text/html" not in accept)
    )
