"""A small Graph API server (Pages API) written from Meta's documentation, for the Facebook tests.

Endpoints, as documented (every path under a version prefix such as `/v24.0`):
- `POST /{page-id}/feed` with `message` → `{"id": "<page-id>_<post-id>"}`;
- `POST /{page-post-id}` with `message` (an edit) → `{"success": true}`;
- `DELETE /{page-post-id}` → `{"success": true}`;
- `GET /{page-post-id}?fields=...`, `GET /{page-id}/feed?fields=id,message,from,created_time&limit=&after=`
  (newest first, cursor paging: `paging.cursors.after` and a `paging.next` URL);
- `GET /me?fields=id,name` (a Page token: the Page);
- comments: `GET /{object-id}/comments?fields=id,message,from,is_hidden,created_time,parent`
  (`filter=toplevel`, the default, for the object's own comments, `filter=stream` for every
  comment of a post, answers included; `order=chronological`, the default, or
  `reverse_chronological`; `limit` and cursor paging; `parent` is `{"id"}` of the comment an
  answer is under, absent on a comment under the post), `POST /{object-id}/comments`
  with `message` (the Page replying to a post or a comment) → `{"id": "<post>_<comment>"}`;
  `POST /{comment-id}` with `is_hidden=true|false` (the Page the comment is under) →
  `{"success": true}`. `FacebookState.comments` holds them, `visitor_comment` adds a citizen's.
The token is the `access_token` parameter: form field of a POST (form-urlencoded or multipart),
query parameter of a GET or DELETE; a token sent any other way is not seen.

Errors have Graph's shape `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`:
no token → code 2500; unknown or revoked token → code 190 (subcode 460 when revoked), HTTP 400;
no such post → code 100, subcode 33; a message over 63,206 UTF-16 units → code 100; the same
message posted twice in a row → code 506 (duplicate status message).

Switches on `FacebookState`: `revoke(token)`; `rate_limited` requests answered code 32 "Page
request limit reached" (HTTP `rate_status`, 400 by default as Graph does) with
`X-Business-Use-Case-Usage` carrying `estimated_time_to_regain_access` = `regain_minutes`;
`unavailable` requests answered 503 (code 2, `is_transient`); `slow` requests processed and then
answered after `slow_s` seconds; `hold_posts`: a feed post is stored, then its answer waits while
the switch stays on (a worker killed in that window posted without learning it).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alertcast.render.length import utf16_units
from servers.asgi import SlowAnswers, ThreadedServer

LIMIT = 63_206


def graph_error(
    status: int,
    code: int,
    message: str,
    subcode: int | None = None,
    kind: str = "OAuthException",
    **extra: Any,
) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = secrets.token_urlsafe(8)
    error.update(extra)
    return JSONResponse({"error": error}, status)


@dataclass
class FacebookState:
    rate_limited: int = 0
    rate_status: int = 400
    regain_minutes: int = 3
    unavailable: int = 0
    slow: int = 0
    slow_s: float = 1.0
    hold_posts: bool = False
    pages: dict[str, str] = field(default_factory=dict)  # page id -> name
    tokens: dict[str, str] = field(default_factory=dict)  # token -> page id
    revoked: set[str] = field(default_factory=set)
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)  # by comment id
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100_000_000_000_001))

    def add_page(self, name: str) -> tuple[str, str]:
        """(page id, Page access token) of a new Page."""
        with self.lock:
            page_id = str(next(self._ids))
            token = f"EAAB{secrets.token_urlsafe(24)}"
            self.pages[page_id] = name
            self.tokens[token] = page_id
        return page_id, token

    def revoke(self, token: str) -> None:
        with self.lock:
            self.revoked.add(token)

    def posts_of(self, page_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(post) for post in self.posts.values() if post["page_id"] == page_id]

    def visitor_post(self, page_id: str, name: str, message: str) -> str:
        """A post by someone else on the Page's feed (what `GET /{page-id}/feed` also returns)."""
        with self.lock:
            post_id = f"{page_id}_{next(self._ids)}"
            self.posts[post_id] = {
                "id": post_id,
                "seq": len(self.posts),
                "page_id": page_id,
                "page_name": self.pages[page_id],
                "from": {"name": name, "id": str(next(self._ids))},
                "message": message,
                "created_time": "",
                "updated_time": "",
                "edits": 0,
            }
        return post_id

    def visitor_comment(self, parent_id: str, name: str, message: str) -> str:
        """A visitor's comment under a post (or a reply under a comment); its id `<post>_<n>`."""
        with self.lock:
            return self._comment(parent_id, {"name": name, "id": str(next(self._ids))}, message)

    def _comment(self, parent_id: str, author: dict[str, str], message: str) -> str:
        """(Under the lock.) Facebook's comment ids are `<object id>_<comment id>`."""
        parent = self.posts.get(parent_id) or self.comments[parent_id]
        post_id = parent["id"] if parent_id in self.posts else parent["post_id"]
        comment_id = f"{post_id.split('_')[-1]}_{next(self._ids)}"
        self.comments[comment_id] = {
            "id": comment_id,
            "post_id": post_id,
            "page_id": self.posts[post_id]["page_id"],
            "parent": parent_id,
            "from": author,
            "message": message,
            "is_hidden": False,
            "created_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        }
        return comment_id

    def replies_to(self, parent_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(c) for c in self.comments.values() if c["parent"] == parent_id]

    def feed_posts(self) -> int:
        with self.lock:
            return sum(1 for method, path in self.requests if method == "POST" and path.endswith("/feed"))


class FacebookApp:
    def __init__(self, state: FacebookState) -> None:
        self.state = state
        self.base_url = ""
        routes = [
            Route("/{version:str}/me", self.me),
            Route("/{version:str}/{node:str}/feed", self.feed, methods=["GET", "POST"]),
            Route("/{version:str}/{node:str}/comments", self.comments, methods=["GET", "POST"]),
            Route("/{version:str}/{node:str}", self.node, methods=["GET", "POST", "DELETE"]),
        ]
        self.app = Starlette(routes=routes)

    async def _parameters(self, request: Request) -> dict[str, str]:
        """Query parameters, plus the form fields of a POST (where Graph reads them)."""
        parameters = dict(request.query_params)
        if request.method == "POST":
            form = await request.form()
            parameters.update({key: value for key, value in form.items() if isinstance(value, str)})
        return parameters

    async def _gate(self, request: Request) -> tuple[str, dict[str, str], Response | None]:
        """(the token's page id, the parameters, or the refusal)."""
        state = self.state
        parameters = await self._parameters(request)
        with state.lock:
            state.requests.append((request.method, request.url.path))
            if state.unavailable > 0:
                state.unavailable -= 1
                refusal = graph_error(
                    503,
                    2,
                    "An unexpected error has occurred. Please retry your request later.",
                    is_transient=True,
                )
                return "", parameters, refusal
            if state.rate_limited > 0:
                state.rate_limited -= 1
                refusal = graph_error(state.rate_status, 32, "(#32) Page request limit reached")
                usage = {
                    "type": "pages",
                    "call_count": 100,
                    "total_cputime": 12,
                    "total_time": 14,
                    "estimated_time_to_regain_access": state.regain_minutes,
                }
                page = next(iter(state.pages), "0")
                refusal.headers["X-Business-Use-Case-Usage"] = json.dumps({page: [usage]})
                return "", parameters, refusal
        token = parameters.get("access_token", "")
        if not token:
            return (
                "",
                parameters,
                graph_error(
                    400,
                    2500,
                    "An active access token must be used to query information about the current user.",
                ),
            )
        with state.lock:
            if token in state.revoked:
                return (
                    "",
                    parameters,
                    graph_error(
                        400,
                        190,
                        "Error validating access token: The session has been invalidated because the user "
                        "changed their password or Facebook has changed the session for security reasons.",
                        460,
                    ),
                )
            page_id = state.tokens.get(token)
        if page_id is None:
            return (
                "",
                parameters,
                graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token"),
            )
        return page_id, parameters, None

    @staticmethod
    def _missing(node: str) -> JSONResponse:
        return graph_error(
            400,
            100,
            f"Unsupported post request. Object with ID '{node}' does not exist, cannot be loaded due to "
            "missing permissions, or does not support this operation.",
            33,
            "GraphMethodException",
        )

    @staticmethod
    def _view(post: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        view = {
            "id": post["id"],
            "message": post["message"],
            "created_time": post["created_time"],
            "updated_time": post["updated_time"],
            "from": post.get("from") or {"name": post["page_name"], "id": post["page_id"]},
        }
        return {key: value for key, value in view.items() if key in fields or key == "id"}

    def _message_refused(self, message: str) -> JSONResponse | None:
        if not message.strip():
            return graph_error(400, 100, "(#100) Missing message or attachment")
        if utf16_units(message) > LIMIT:
            return graph_error(
                400, 100, f"(#100) The message is too long: posts hold at most {LIMIT} characters"
            )
        return None

    async def me(self, request: Request) -> Response:
        page_id, _, refused = await self._gate(request)
        if refused is not None:
            return refused
        return JSONResponse({"id": page_id, "name": self.state.pages[page_id]})

    async def feed(self, request: Request) -> Response:
        page_id, parameters, refused = await self._gate(request)
        if refused is not None:
            return refused
        node = request.path_params["node"]
        if node not in self.state.pages:
            return self._missing(node)
        if request.method == "GET":
            return self._read_feed(request, node, parameters)
        if node != page_id:
            return graph_error(
                403, 200, "(#200) The user hasn't authorized the application to perform this action"
            )
        message = parameters.get("message", "")
        if (refusal := self._message_refused(message)) is not None:
            return refusal
        state = self.state
        with state.lock:
            own = [post for post in state.posts.values() if post["page_id"] == node]
            if own and max(own, key=lambda post: post["seq"])["message"] == message:
                return graph_error(400, 506, "(#506) Duplicate status message")
            post_id = f"{node}_{next(state._ids)}"
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
            state.posts[post_id] = {
                "id": post_id,
                "seq": len(state.posts),
                "page_id": node,
                "page_name": state.pages[node],
                "message": message,
                "created_time": now,
                "updated_time": now,
                "edits": 0,
            }
        # Stored, not yet answered: the window a crash falls into. The switch is flipped from the
        # test's thread, so a poll, not an asyncio.Event of this loop.
        while state.hold_posts:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return JSONResponse({"id": post_id})

    def _read_feed(self, request: Request, page_id: str, parameters: dict[str, str]) -> Response:
        fields = parameters.get("fields", "id,message,created_time").split(",")
        size = min(int(parameters.get("limit", "25")), 100)
        posts = sorted(self.state.posts_of(page_id), key=lambda post: -post["seq"])
        start = int(parameters.get("after", "0") or 0)
        page = posts[start : start + size]
        body: dict[str, Any] = {"data": [self._view(post, fields) for post in page]}
        if page:
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
            if start + size < len(posts):
                query = {**parameters, "after": str(start + len(page))}
                body["paging"]["next"] = f"{self.base_url}{request.url.path}?{urlencode(query)}"
        return JSONResponse(body)

    async def comments(self, request: Request) -> Response:
        """`GET /{object}/comments` (oldest first) and `POST /{object}/comments` (`message`), the
        Page commenting as itself; `{"id": comment id}`."""
        page_id, parameters, refused = await self._gate(request)
        if refused is not None:
            return refused
        node = request.path_params["node"]
        state = self.state
        with state.lock:
            known = node in state.posts or node in state.comments
        if not known:
            return self._missing(node)
        if request.method == "GET":
            return self._read_comments(request, node, parameters)
        message = parameters.get("message", "")
        if (refusal := self._message_refused(message)) is not None:
            return refusal
        with state.lock:
            comment_id = state._comment(node, {"name": state.pages[page_id], "id": page_id}, message)
        while state.hold_posts:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return JSONResponse({"id": comment_id})

    def _read_comments(self, request: Request, node: str, parameters: dict[str, str]) -> Response:
        fields = parameters.get("fields", "id,message,created_time").split(",")
        state = self.state
        with state.lock:
            if parameters.get("filter") == "stream" and node in state.posts:
                found = [dict(c) for c in state.comments.values() if c["post_id"] == node]
            else:
                found = [dict(c) for c in state.comments.values() if c["parent"] == node]
        if parameters.get("order") == "reverse_chronological":
            found.reverse()
        size = min(int(parameters.get("limit", "25")), 100)
        start = int(parameters.get("after", "0") or 0)
        page = found[start : start + size]
        views = []
        for comment in page:
            parent = comment["parent"]
            comment["parent"] = {"id": parent} if parent in state.comments else None
            views.append({k: v for k, v in comment.items() if (k in fields or k == "id") and v is not None})
        body: dict[str, Any] = {"data": views}
        if page:
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
            if start + size < len(found):
                query = {**parameters, "after": str(start + len(page))}
                body["paging"]["next"] = f"{self.base_url}{request.url.path}?{urlencode(query)}"
        return JSONResponse(body)

    def _comment_node(self, request: Request, page_id: str, parameters: dict[str, str]) -> Response:
        """A comment node: read, or `is_hidden` set by the Page the comment is under."""
        node = request.path_params["node"]
        state = self.state
        with state.lock:
            comment = state.comments[node]
            if request.method == "GET":
                fields = parameters.get("fields", "id,message").split(",")
                return JSONResponse({k: v for k, v in comment.items() if k in fields or k == "id"})
            if comment["page_id"] != page_id:
                return graph_error(403, 200, "(#200) Permissions error")
            if request.method == "POST" and "is_hidden" in parameters:
                comment["is_hidden"] = parameters["is_hidden"] == "true"
                return JSONResponse({"success": True})
            if request.method == "DELETE":
                del state.comments[node]
                return JSONResponse({"success": True})
        return graph_error(400, 100, "(#100) Comments can only be hidden, edited by their author or deleted")

    async def node(self, request: Request) -> Response:
        page_id, parameters, refused = await self._gate(request)
        if refused is not None:
            return refused
        node = request.path_params["node"]
        state = self.state
        with state.lock:
            is_comment = node in state.comments
        if is_comment:
            return self._comment_node(request, page_id, parameters)
        with state.lock:
            post = state.posts.get(node)
        if post is None:
            return self._missing(node)
        if request.method == "GET":
            return JSONResponse(self._view(post, parameters.get("fields", "id,message").split(",")))
        if post["page_id"] != page_id:
            return graph_error(403, 200, "(#200) Permissions error")
        if request.method == "DELETE":
            with state.lock:
                state.posts.pop(node, None)
            return JSONResponse({"success": True})
        message = parameters.get("message", "")
        if (refusal := self._message_refused(message)) is not None:
            return refusal
        with state.lock:
            post["message"] = message
            post["edits"] += 1
            post["updated_time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
        return JSONResponse({"success": True})


class FacebookServer(ThreadedServer):
    def __init__(self) -> None:
        self.state = FacebookState()
        contract = FacebookApp(self.state)
        super().__init__(SlowAnswers(contract.app, self.state))
        contract.base_url = self.url
