"""A small X API v2 server written from X's documentation (docs.x.com), for the X adapter's tests.

Endpoints, as documented:
- `POST /2/tweets` (JSON `{"text", "reply": {"in_reply_to_tweet_id"}}`) → 201 `{"data": {"id",
  "text", "edit_history_tweet_ids"}}`; links in the stored text become `https://t.co/...` with
  `entities.urls[].expanded_url` keeping the original;
- `DELETE /2/tweets/:id` → `{"data": {"deleted": true}}`;
- `PUT /2/tweets/:id/hidden` (JSON `{"hidden": bool}`) → `{"data": {"hidden": bool}}`: only a reply
  in a conversation the user started (else 403); hiding a hidden reply succeeds (as documented);
  `XState.hidden` holds what is hidden, for tests to read back;
- `GET /2/tweets/:id`, `GET /2/users/me`, `GET /2/users/:id/tweets` (newest first, `max_results`
  5..100, `pagination_token`, `tweet.fields`: conversation_id, entities, referenced_tweets,
  created_at, author_id);
- `GET /2/users/:id/mentions`: the posts of others whose text names `@username`, and the replies
  to the user's posts (X puts the handle first), newest first, with `since_id` (exclusive),
  `max_results` 5..100, `pagination_token`, `tweet.fields`, `expansions=author_id` (the authors
  in `includes.users`: id, name, username) and `meta.newest_id`/`oldest_id`/`next_token`.
Auth: `Authorization: Bearer <OAuth 2.0 user token>`; missing, unknown or revoked → 401
`{"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}`.
Every answer carries `x-rate-limit-limit/-remaining/-reset` (Unix seconds).
Refusals: a text over `max_weighted` (X's weighted count, alertcast.render.length) → 400
invalid-request; the same text twice from one user → 403 "duplicate content".

Switches a test sets on `XState` (the server runs in the test's process):
`revoke(token)`; `rate_limited` requests answered 429 with `x-rate-limit-reset` =
now + `reset_in_s`; `unavailable` requests answered 503; `slow` requests processed normally but
answered after `slow_s` seconds (a client timeout in between: the post exists, the answer is lost);
`hold_posts`: a created post is stored, then its answer waits while the switch stays on (a
worker killed in that window posted without learning it; the fault tests use it).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alertcast.render.length import count
from servers.asgi import SlowAnswers, ThreadedServer

_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_FIELDS = {"conversation_id", "entities", "referenced_tweets", "created_at", "author_id"}


def problem(status: int, title: str, detail: str, kind: str = "about:blank", **extra: Any) -> JSONResponse:
    """X's error body (an RFC 7807 problem)."""
    return JSONResponse({"title": title, "type": kind, "status": status, "detail": detail, **extra}, status)


@dataclass
class XState:
    max_weighted: int = 280
    rate_limited: int = 0
    reset_in_s: int = 7
    unavailable: int = 0
    slow: int = 0
    slow_s: float = 1.0
    hold_posts: bool = False
    users: dict[str, dict[str, str]] = field(default_factory=dict)  # token -> user
    revoked: set[str] = field(default_factory=set)
    hidden: set[str] = field(default_factory=set)  # ids of hidden replies
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_860_000_000_000_000_000))

    def new_id(self) -> str:
        return str(next(self._ids))

    def add_user(self, username: str) -> tuple[str, str]:
        """(user id, OAuth 2.0 user access token) of a new user."""
        with self.lock:
            user_id = self.new_id()
            token = f"x-user-token-{user_id}"
            self.users[token] = {"id": user_id, "name": username.title(), "username": username}
        return user_id, token

    def revoke(self, token: str) -> None:
        with self.lock:
            self.revoked.add(token)

    def posts_of(self, user_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [post for post in self.posts.values() if post["author_id"] == user_id]

    def creates(self) -> int:
        with self.lock:
            return sum(1 for method, path in self.requests if (method, path) == ("POST", "/2/tweets"))


def tco(text: str) -> tuple[str, list[dict[str, Any]]]:
    """The text as X shows it (every link a t.co link) and its `entities.urls`."""
    shown, urls, last = "", [], 0
    for index, match in enumerate(_URL.finditer(text)):
        link = f"https://t.co/{'abcdefghij'[index % 10]}{index:09d}"
        shown += text[last : match.start()]
        start = len(shown)
        shown += link
        expanded = match.group(0)
        display = expanded.split("://", 1)[1]
        urls.append(
            {
                "start": start,
                "end": start + len(link),
                "url": link,
                "expanded_url": expanded,
                "display_url": display[:25] + ("…" if len(display) > 25 else ""),
            }
        )
        last = match.end()
    return shown + text[last:], urls


class XApp:
    def __init__(self, state: XState) -> None:
        self.state = state
        routes = [
            Route("/2/users/me", self.me),
            Route("/2/users/{id}/tweets", self.timeline),
            Route("/2/users/{id}/mentions", self.mentions),
            Route("/2/tweets", self.create, methods=["POST"]),
            Route("/2/tweets/{id}", self.one, methods=["GET", "DELETE"]),
            Route("/2/tweets/{id}/hidden", self.hide, methods=["PUT"]),
        ]
        self.app = Starlette(routes=routes)

    # --- cross-cutting -------------------------------------------------------------------------

    def _limits(self, remaining: int = 99) -> dict[str, str]:
        reset = int(time.time()) + self.state.reset_in_s
        return {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(reset),
        }

    async def _gate(self, request: Request) -> tuple[dict[str, str] | None, Response | None]:
        """(the authenticated user, or the failure a test asked for / the auth refusal)."""
        state = self.state
        with state.lock:
            state.requests.append((request.method, request.url.path))
            if state.unavailable > 0:
                state.unavailable -= 1
                return None, problem(503, "Service Unavailable", "Service Unavailable")
            if state.rate_limited > 0:
                state.rate_limited -= 1
                response = problem(429, "Too Many Requests", "Too Many Requests")
                response.headers.update(self._limits(remaining=0))
                return None, response
        header = request.headers.get("authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        with state.lock:
            user = state.users.get(token) if token not in state.revoked else None
        if user is None:
            return None, problem(401, "Unauthorized", "Unauthorized")
        return user, None

    def _json(self, body: dict[str, Any], status: int = 200) -> JSONResponse:
        return JSONResponse(body, status, headers=self._limits())

    def _view(self, post: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        shown, urls = tco(post["text"])
        view: dict[str, Any] = {"id": post["id"], "text": shown, "edit_history_tweet_ids": [post["id"]]}
        extra = {
            "conversation_id": post["conversation_id"],
            "author_id": post["author_id"],
            "created_at": post["created_at"],
            "entities": {"urls": urls} if urls else None,
            "referenced_tweets": (
                [{"type": "replied_to", "id": post["in_reply_to"]}] if post["in_reply_to"] else None
            ),
        }
        view.update({key: value for key, value in extra.items() if key in fields and value is not None})
        return view

    # --- endpoints -----------------------------------------------------------------------------

    async def me(self, request: Request) -> Response:
        user, refused = await self._gate(request)
        if refused is not None:
            return refused
        assert user is not None
        return self._json({"data": user})

    async def create(self, request: Request) -> Response:
        user, refused = await self._gate(request)
        if refused is not None:
            return refused
        assert user is not None
        if not request.headers.get("content-type", "").startswith("application/json"):
            return problem(400, "Invalid Request", "The request body must be JSON.")
        body = await request.json()
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return self._invalid("text", "Post text is required.")
        weighted = count("x", text, limit=self.state.max_weighted)
        if not weighted.fits:
            return self._invalid(
                "text", f"Tweet needs to be a bit shorter. (weighted length {weighted.length})"
            )
        reply = body.get("reply") or {}
        parent_id = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        state = self.state
        with state.lock:
            if any(p["author_id"] == user["id"] and p["text"] == text for p in state.posts.values()):
                return problem(
                    403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."
                )
            parent = state.posts.get(str(parent_id)) if parent_id is not None else None
            if parent_id is not None and parent is None:
                return problem(
                    403,
                    "Forbidden",
                    "You attempted to reply to a Tweet that is deleted or not visible to you.",
                )
            post_id = state.new_id()
            state.posts[post_id] = {
                "id": post_id,
                "text": text,
                "author_id": user["id"],
                "in_reply_to": str(parent_id) if parent_id is not None else None,
                "conversation_id": parent["conversation_id"] if parent else post_id,
                "created_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
            view = self._view(state.posts[post_id], set())
        # Stored, not yet answered: the window a crash falls into. The switch is flipped from the
        # test's thread, so a poll, not an asyncio.Event of this loop.
        while state.hold_posts:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return self._json({"data": view}, 201)

    async def one(self, request: Request) -> Response:
        user, refused = await self._gate(request)
        if refused is not None:
            return refused
        assert user is not None
        post_id = request.path_params["id"]
        with self.state.lock:
            post = self.state.posts.get(post_id)
            if post is None:
                return problem(
                    404,
                    "Not Found Error",
                    f"Could not find tweet with id: [{post_id}].",
                    "https://api.twitter.com/2/problems/resource-not-found",
                )
            if request.method == "GET":
                return self._json({"data": self._view(post, _FIELDS)})
            if post["author_id"] != user["id"]:
                return problem(403, "Forbidden", "You are not allowed to delete this Tweet.")
            del self.state.posts[post_id]
        return self._json({"data": {"deleted": True}})

    async def hide(self, request: Request) -> Response:
        user, refused = await self._gate(request)
        if refused is not None:
            return refused
        assert user is not None
        body = await request.json()
        hidden = body.get("hidden") if isinstance(body, dict) else None
        if not isinstance(hidden, bool):
            return self._invalid("hidden", "The `hidden` field is required and must be a boolean.")
        post_id = request.path_params["id"]
        state = self.state
        with state.lock:
            post = state.posts.get(post_id)
            if post is None:
                return problem(404, "Not Found Error", f"Could not find tweet with id: [{post_id}].")
            root = state.posts.get(post["conversation_id"])
            if post["in_reply_to"] is None or root is None or root["author_id"] != user["id"]:
                return problem(403, "Forbidden", "You can only hide replies to conversations you started.")
            (state.hidden.add if hidden else state.hidden.discard)(post_id)
        return self._json({"data": {"hidden": hidden}})

    async def timeline(self, request: Request) -> Response:
        _, refused = await self._gate(request)
        if refused is not None:
            return refused
        query = request.query_params
        size = int(query.get("max_results", "10"))
        if not 5 <= size <= 100:
            return self._invalid(
                "max_results", f"The `max_results` query parameter value [{size}] is not between 5 and 100"
            )
        fields = set(query.get("tweet.fields", "").split(",")) & _FIELDS
        posts = sorted(self.state.posts_of(request.path_params["id"]), key=lambda p: -int(p["id"]))
        start = int(query.get("pagination_token", "0") or 0)
        page = posts[start : start + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if start + size < len(posts):
            meta["next_token"] = str(start + size)
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [self._view(post, fields) for post in page]
        return self._json(body)

    async def mentions(self, request: Request) -> Response:
        _, refused = await self._gate(request)
        if refused is not None:
            return refused
        query = request.query_params
        size = int(query.get("max_results", "10"))
        if not 5 <= size <= 100:
            return self._invalid(
                "max_results", f"The `max_results` query parameter value [{size}] is not between 5 and 100"
            )
        user_id = request.path_params["id"]
        state = self.state
        with state.lock:
            user = next((u for u in state.users.values() if u["id"] == user_id), None)
            if user is None:
                return problem(404, "Not Found Error", f"Could not find user with id: [{user_id}].")
            handle = re.compile(rf"@{re.escape(user['username'])}\b", re.IGNORECASE)
            since = int(query.get("since_id", "0") or 0)
            found = [
                dict(post)
                for post in state.posts.values()
                if post["author_id"] != user_id
                and int(post["id"]) > since
                and (
                    handle.search(post["text"])
                    or state.posts.get(post["in_reply_to"] or "", {}).get("author_id") == user_id
                )
            ]
            people = {u["id"]: dict(u) for u in state.users.values()}
        found.sort(key=lambda p: -int(p["id"]))
        fields = set(query.get("tweet.fields", "").split(",")) & _FIELDS
        start = int(query.get("pagination_token", "0") or 0)
        page = found[start : start + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if start + size < len(found):
            meta["next_token"] = str(start + size)
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [self._view(post, fields) for post in page]
            if "author_id" in query.get("expansions", "").split(","):
                authors = dict.fromkeys(post["author_id"] for post in page)
                body["includes"] = {"users": [people[a] for a in authors if a in people]}
        return self._json(body)

    def _invalid(self, parameter: str, message: str) -> JSONResponse:
        return problem(
            400,
            "Invalid Request",
            "One or more parameters to your request was invalid.",
            "https://api.twitter.com/2/problems/invalid-request",
            errors=[{"parameters": {parameter: []}, "message": message}],
        )


class XServer(ThreadedServer):
    def __init__(self) -> None:
        self.state = XState()
        super().__init__(SlowAnswers(XApp(self.state).app, self.state))
