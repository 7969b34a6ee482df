"""A small Mastodon client-API server written from Mastodon's documentation, for what
`mastodon-mock` does not do: refusals and failures, and GoToSocial's ways.

Endpoints: GET /api/v2/instance and /api/v1/instance (`configuration.statuses`),
GET /api/v1/accounts/verify_credentials, GET /api/v1/apps/verify_credentials,
GET /api/v1/accounts/:id/statuses (newest first, `limit` <= 40, `max_id`),
POST /api/v1/statuses (form or JSON; `Idempotency-Key`, `in_reply_to_id`, `visibility`,
`spoiler_text`), GET/PUT/DELETE /api/v1/statuses/:id, GET /api/v1/statuses/:id/context
(ancestors root first, descendants in id order), GET /api/v1/notifications.

Mentions and notifications, as Mastodon does them (tests/servers/mastodon_notifications.py): a
status's `@u<id>` of an account of this server is a mention (an h-card link in `content`) and gives
that account a `mention` notification; `private_mentions` is the accounts' policy for direct
ones ("filter", Mastodon 4.3's default, "accept" or "drop"). GET /api/v1/notifications pages
them newest first with `min_id`/`max_id`/`since_id`, `types[]`, `include_filtered` and a `Link`.

Behaviours a test switches on through `ContractState` (the server runs in the test's process):
- `max_characters` / `url_weight`: what the instance reports and enforces (422 when too long,
  or 400 in `gotosocial` mode, as GoToSocial answers);
- `ignore_idempotency` (GoToSocial: a repeated POST creates a second status);
- `rate_limited`: that many requests answered 429 with `Retry-After` and `X-RateLimit-Reset`;
- `unavailable`: that many requests answered 503, then recovery;
- `revoke(token)`: the token gets 401 `{"error": "The access token was revoked"}`;
- `edits`: False answers PUT with 404 like a server without the route (an HTML page);
- `hold_posts`: a created status is stored, then its answer waits while the switch stays on
  (a worker killed in that window posted without learning it; the fault tests use it).

Content is rendered as Mastodon does: escaped, paragraphs and line breaks, links wrapped in
`<a href>` with the displayed text shortened (`<span class="invisible">` parts), so a marker
has to survive the `href`, not the display.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import regex
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from servers.asgi import ThreadedServer
from servers.mastodon_notifications import MENTION, mention_notifications, mentioned, page_of

_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_GRAPHEME = regex.compile(r"\X")


@dataclass
class ContractState:
    max_characters: int = 1000
    url_weight: int = 23
    gotosocial: bool = False
    ignore_idempotency: bool = False
    rate_limited: int = 0
    retry_after_s: int = 7
    unavailable: int = 0
    edits: bool = True
    hold_posts: bool = False
    v2_instance: bool = True
    private_mentions: str = "filter"  # the accounts' notification policy for private mentions
    notifications: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> account id
    revoked: set[str] = field(default_factory=set)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], str] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(110_000_000_000_000_000))

    def new_id(self) -> str:
        return str(next(self._ids))

    def add_account(self, username: str) -> tuple[str, str]:
        """(account id, token) of a new account."""
        with self.lock:
            account_id = self.new_id()
            token = f"token-{account_id}-{username}"
            self.tokens[token] = account_id
        return account_id, token

    def revoke(self, token: str) -> None:
        with self.lock:
            self.revoked.add(token)

    def statuses_of(self, account_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.statuses.values() if s["account"]["id"] == account_id]


def mastodon_length(text: str, url_weight: int) -> int:
    """Mastodon's StatusLengthValidator: graphemes, every link counted as `url_weight`."""
    return len(_GRAPHEME.findall(_URL.sub("x" * url_weight, text)))


def render(text: str, base_url: str = "") -> str:
    """Plain text to Mastodon's HTML: escaped, <p> per paragraph, <br> per line, links shortened,
    mentions of this server's accounts as h-card links."""

    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        scheme, rest = url.split("://", 1)
        shown, hidden = rest[:30], rest[30:]
        ellipsis = ' class="ellipsis"' if hidden else ""
        return (
            f'<a href="{html.escape(url)}" rel="nofollow noopener" target="_blank">'
            f'<span class="invisible">{scheme}://</span><span{ellipsis}>{html.escape(shown)}</span>'
            f'<span class="invisible">{html.escape(hidden)}</span></a>'
        )

    paragraphs = []
    for paragraph in re.split(r"\n{2,}", text.strip()):
        lines = []
        for line in paragraph.split("\n"):
            parts, last = [], 0
            for match in _URL.finditer(line):
                parts.append(html.escape(line[last : match.start()]))
                parts.append(link(match))
                last = match.end()
            parts.append(html.escape(line[last:]))
            lines.append(MENTION.sub(lambda m: _h_card(m.group(1), base_url), "".join(parts)))
        paragraphs.append("<p>" + "<br />".join(lines) + "</p>")
    return "".join(paragraphs)


def _h_card(username: str, base_url: str) -> str:
    return (
        f'<span class="h-card" translate="no"><a href="{base_url}/@{username}" class="u-url mention">'
        f"@<span>{username}</span></a></span>"
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class ContractApp:
    def __init__(self, state: ContractState) -> None:
        self.state = state
        self.base_url = ""
        routes = [
            Route("/api/v2/instance", self.instance_v2),
            Route("/api/v1/instance", self.instance_v1),
            Route("/api/v1/accounts/verify_credentials", self.verify_credentials),
            Route("/api/v1/apps/verify_credentials", self.app_credentials),
            Route("/api/v1/accounts/{id}/statuses", self.account_statuses),
            Route("/api/v1/statuses", self.create, methods=["POST"]),
            Route("/api/v1/statuses/{id}", self.one, methods=["GET", "PUT", "DELETE"]),
            Route("/api/v1/statuses/{id}/context", self.context),
            Route("/api/v1/notifications", self.notifications),
        ]
        self.app = Starlette(routes=routes)

    # --- cross-cutting behaviours ----------------------------------------------------------------

    def _gate(self, request: Request) -> Response | None:
        """The failures a test asked for, in the order a real deployment shows them."""
        state = self.state
        with state.lock:
            state.requests.append((request.method, request.url.path))
            if state.unavailable > 0:
                state.unavailable -= 1
                return HTMLResponse("<h1>503 Service Unavailable</h1>", status_code=503)
            if state.rate_limited > 0:
                state.rate_limited -= 1
                reset = datetime.now(UTC) + timedelta(seconds=state.retry_after_s)
                return _error(
                    429,
                    "Too many requests",
                    {
                        "Retry-After": str(state.retry_after_s),
                        "X-RateLimit-Limit": "300",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": reset.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    },
                )
        return None

    def _account(self, request: Request) -> str | Response:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        with self.state.lock:
            if token in self.state.revoked:
                return _error(401, "The access token was revoked")
            account_id = self.state.tokens.get(token)
        if account_id is None:
            return _error(401, "The access token is invalid")
        return account_id

    def _account_json(self, account_id: str) -> dict[str, Any]:
        return {
            "id": account_id,
            "username": f"u{account_id}",
            "acct": f"u{account_id}",
            "url": f"{self.base_url}/@u{account_id}",
        }

    # --- endpoints -------------------------------------------------------------------------------

    async def instance_v2(self, request: Request) -> Response:
        if (gate := self._gate(request)) is not None:
            return gate
        if not self.state.v2_instance:
            return HTMLResponse("<h1>Not found</h1>", status_code=404)
        return JSONResponse({"domain": "contract.test", "version": "4.3.0", **self._configuration()})

    async def instance_v1(self, request: Request) -> Response:
        if (gate := self._gate(request)) is not None:
            return gate
        return JSONResponse({"uri": "contract.test", "version": "4.0.0", **self._configuration()})

    def _configuration(self) -> dict[str, Any]:
        return {
            "configuration": {
                "statuses": {
                    "max_characters": self.state.max_characters,
                    "max_media_attachments": 4,
                    "characters_reserved_per_url": self.state.url_weight,
                }
            }
        }

    async def verify_credentials(self, request: Request) -> Response:
        if (gate := self._gate(request)) is not None:
            return gate
        account = self._account(request)
        if isinstance(account, Response):
            return account
        return JSONResponse(self._account_json(account), headers={"X-RateLimit-Remaining": "299"})

    async def app_credentials(self, request: Request) -> Response:
        if (gate := self._gate(request)) is not None:
            return gate
        account = self._account(request)
        if isinstance(account, Response):
            return account
        return JSONResponse({"name": "alertcast", "scopes": ["read", "write"]})

    async def account_statuses(self, request: Request) -> Response:
        if (gate := self._gate(request)) is not None:
            return gate
        account = self._account(request)
        if isinstance(account, Response):
            return account
        limit = min(int(request.query_params.get("limit", "20")), 40)
        max_id = request.query_params.get("max_id")
        mine = sorted(self.state.statuses_of(request.path_params["id"]), key=lambda s: -int(s["id"]))
        if max_id is not None:
            mine = [s for s in mine if int(s["id"]) < int(max_id)]
        return JSONResponse([self._public(s) for s in mine[:limit]])

    async def create(self, request: Request) -> Response:
        if (gate := self._gate(request)) is not None:
            return gate
        account = self._account(request)
        if isinstance(account, Response):
            return account
        body = await self._body(request)
        text = str(body.get("status", ""))
        refused = self._refuse_text(text)
        if refused is not None:
            return refused
        key = request.headers.get("idempotency-key")
        state = self.state
        with state.lock:
            if key and not state.ignore_idempotency and (account, key) in state.idempotency:
                return JSONResponse(self._public(state.statuses[state.idempotency[(account, key)]]))
            reply_to = body.get("in_reply_to_id")
            if reply_to is not None and str(reply_to) not in state.statuses:
                return _error(404, "Record not found")
            status_id = state.new_id()
            accounts = mentioned(text, state.tokens.values())
            state.statuses[status_id] = {
                "id": status_id,
                "created_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "in_reply_to_id": str(reply_to) if reply_to is not None else None,
                "in_reply_to_account_id": (
                    state.statuses[str(reply_to)]["account"]["id"] if reply_to is not None else None
                ),
                "spoiler_text": str(body.get("spoiler_text", "")),
                "mentions": [self._mention_json(other) for other in accounts],
                "visibility": body.get("visibility", "public"),
                "language": body.get("language"),
                "url": f"{self.base_url}/@u{account}/{status_id}",
                "uri": f"{self.base_url}/users/u{account}/statuses/{status_id}",
                "account": self._account_json(account),
                "source_text": text,
                "content": render(text, self.base_url),
                "edited_at": None,
            }
            state.notifications += mention_notifications(
                state.statuses[status_id], accounts, state.private_mentions, state.new_id
            )
            if key:
                state.idempotency[(account, key)] = status_id
            created = self._public(state.statuses[status_id])
        # Stored, not yet answered: the window a crash falls into. The switch is flipped from the
        # test's thread, so a poll, not an asyncio.Event of this loop.
        while state.hold_posts:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return JSONResponse(created)

    async def one(self, request: Request) -> Response:
        if (gate := self._gate(request)) is not None:
            return gate
        account = self._account(request)
        if isinstance(account, Response):
            return account
        status_id = request.path_params["id"]
        if request.method == "PUT" and not self.state.edits:
            return HTMLResponse("<h1>The page you were looking for doesn't exist.</h1>", status_code=404)
        with self.state.lock:
            status = self.state.statuses.get(status_id)
        if status is None:
            return _error(404, "Record not found")
        if request.method == "GET":
            return JSONResponse(self._public(status))
        if status["account"]["id"] != account:
            return _error(403, "This action is not allowed")
        if request.method == "DELETE":
            with self.state.lock:
                self.state.statuses.pop(status_id, None)
            return JSONResponse({**self._public(status), "text": status["source_text"]})
        text = str((await self._body(request)).get("status", ""))
        refused = self._refuse_text(text)
        if refused is not None:
            return refused
        with self.state.lock:
            status.update(
                source_text=text, content=render(text, self.base_url), edited_at=datetime.now(UTC).isoformat()
            )
        return JSONResponse(self._public(status))

    async def context(self, request: Request) -> Response:
        if (gate := self._gate(request)) is not None:
            return gate
        with self.state.lock:
            status = self.state.statuses.get(request.path_params["id"])
            if status is None:
                return _error(404, "Record not found")
            ancestors = []
            parent = status["in_reply_to_id"]
            while parent is not None and parent in self.state.statuses:
                ancestors.insert(0, self._public(self.state.statuses[parent]))
                parent = self.state.statuses[parent]["in_reply_to_id"]
            below, descendants = {status["id"]}, []
            for other in sorted(self.state.statuses.values(), key=lambda s: int(s["id"])):
                if other["in_reply_to_id"] in below:
                    below.add(other["id"])
                    descendants.append(self._public(other))
        return JSONResponse({"ancestors": ancestors, "descendants": descendants})

    async def notifications(self, request: Request) -> Response:
        """GET /api/v1/notifications as documented (see mastodon_notifications.page_of)."""
        if (gate := self._gate(request)) is not None:
            return gate
        account = self._account(request)
        if isinstance(account, Response):
            return account
        with self.state.lock:
            known = [
                {**n, "status": self._public(self.state.statuses[n["status_id"]])}
                for n in self.state.notifications
                if n["status_id"] in self.state.statuses  # a deleted status takes its notifications along
            ]
        try:
            page, headers = page_of(known, account, request.query_params, self.base_url)
        except ValueError:
            return _error(422, "Validation failed: limit and ids must be numbers")
        return JSONResponse(page, headers=headers)

    # --- helpers -------------------------------------------------------------------------------

    def _mention_json(self, account_id: str) -> dict[str, Any]:
        shown = self._account_json(account_id)
        return {key: shown[key] for key in ("id", "username", "url", "acct")}

    def _refuse_text(self, text: str) -> Response | None:
        if not text.strip():
            return _error(422, "Validation failed: Text can't be blank")
        length = mastodon_length(text, self.state.url_weight)
        if length <= self.state.max_characters:
            return None
        if self.state.gotosocial:
            return _error(
                400,
                f"Bad Request: status too long, {length} characters provided, "
                f"maximum allowed characters is {self.state.max_characters}",
            )
        return _error(422, f"Validation failed: Text character limit of {self.state.max_characters} exceeded")

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("application/json"):
            data = await request.json()
            return data if isinstance(data, dict) else {}
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}

    @staticmethod
    def _public(status: dict[str, Any]) -> dict[str, Any]:
        """The status as the API shows it: `content` HTML, `text` only on delete."""
        return {key: value for key, value in status.items() if key != "source_text"}


class ContractServer(ThreadedServer):
    """The contract app served by uvicorn on 127.0.0.1 (an ephemeral port) in a thread."""

    def __init__(self) -> None:
        self.state = ContractState()
        self.contract = ContractApp(self.state)
        super().__init__(self.contract.app, "the Mastodon contract server", graceful_shutdown_s=None)
        self.contract.base_url = self.url
