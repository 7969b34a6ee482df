"""A Facebook Page through the Graph API (Pages API): one feed post per alert, edited as it changes.

One account = one Page posting with a Page access token (permissions `pages_manage_posts`,
`pages_read_engagement`; the person behind it has the CREATE_CONTENT task on the Page). The
token comes from an environment variable or a secret file, read when needed, and travels as the
documented `access_token` parameter: in the form body of every POST, in the query of GET and
DELETE (whose URLs httpx logs: `redact_http_logs` hides it); never in an error message.

- publish: `POST /{page-id}/feed` with `message` (form fields); answered `{"id": "<page>_<post>"}`.
  Public URL: `https://www.facebook.com/<page>_<post>`.
- update: an edit, `POST /{page-post-id}` with the new `message` (answered `{"success": true}`):
  one post that always shows the current text, rather than a thread nobody unfolds.
- end: an edit too, the end notice put *on top of* the last text. The Pages API also lets the
  Page comment on its post, but comments sit under the post, ranked and folded ("most
  relevant"), and a share of the post carries its text without its comments: someone reading
  the post would still read "road closed". The edit changes what every reader and every share
  shows, and needs no extra permission (`pages_manage_engagement`). With `delete_on_end`, the
  post is deleted instead (`DELETE /{page-post-id}`); an edit nobody will see is not made.

Crash safety: every text carries the delivery's **marker** (`alertcast.channels.account`): the
fragment of its last link, else a last line `réf. ac-...`. `find_existing` reads the Page's feed
(`GET /{page-id}/feed`, newest first, `lookup_depth` posts) for a post *by the Page* (a visitor
could paste a marker) whose message carries it. Edits and deletions are idempotent by nature.

Errors (`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`): code 190 (and
102, OAuthException) → "token revoked or invalid"; codes 4, 17, 32, 613, 80001 (throttling), 1, 2
(temporary) and 5xx → TransientError, waiting `estimated_time_to_regain_access` minutes of
`X-Business-Use-Case-Usage` where given; 506 (duplicate post) → looked up as our own earlier
attempt; anything else → PermanentError with Facebook's message.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import Field, field_validator

from alertcast.channels.account import (
    Accounts,
    Steps,
    TokenAccount,
    error_text,
    has_marker,
    https_unless_local,
    language_of,
    marker,
    maybe_sent,
    redact_http_logs,
    seconds_until,
    text_of,
)
from alertcast.channels.base import AccountHealth
from alertcast.clock import clock
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.models.alert import DeliveryRequest
from alertcast.models.post import PostResult
from alertcast.render.length import DEFAULT_LIMITS, count
from alertcast.render.reference import with_marker
from alertcast.replies.actions import ReplyAction

LIMIT = DEFAULT_LIMITS["facebook"] or 63_206
#: Graph API codes that mean "later": throttling (4, 17, 32, 613, 80001) and temporary (1, 2).
_LATER = {1, 2, 4, 17, 32, 341, 613, 80001}
_TOKEN = {102, 190}
_PAGE = 100


class FacebookAccount(TokenAccount):
    """One Facebook Page and its Page access token."""

    channel = "facebook"

    page_id: str = Field(pattern=r"^[0-9]+$", description="the Page's numeric id")
    graph_base: str = Field(default="https://graph.facebook.com", description="a test server in tests")
    api_version: str = Field(default="v24.0", pattern=r"^v[0-9]+\.[0-9]+$")
    lookup_depth: int = Field(default=100, ge=1, le=1000, description="feed posts find_existing reads")

    @field_validator("graph_base")
    @classmethod
    def _https(cls, value: str) -> str:
        return https_unless_local(value, "graph_base")


def post_url(post_id: str) -> str:
    return f"https://www.facebook.com/{post_id}"


class FacebookChannel:
    id = "facebook"

    def __init__(self, accounts: Sequence[FacebookAccount], client: httpx.AsyncClient) -> None:
        self._accounts = Accounts("facebook", accounts)
        self.client = client
        self._steps = Steps()
        redact_http_logs()

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def account(self, name: str) -> FacebookAccount:
        return self._accounts.named(name)

    # --- the lifecycle -------------------------------------------------------------------------

    async def publish(self, request: DeliveryRequest) -> PostResult:
        account = self._accounts.for_request(request)
        key = request.delivery_key
        if (done := self._steps.get(key, "post")) is not None:
            return done
        if self._steps.unsure(key) and (found := await self._lookup(account, request)) is not None:
            return self._steps.put(key, "post", found)
        message = self.fitted(request)
        try:
            answer = await self._call(
                account, "POST", f"/{account.page_id}/feed", {"message": message}, unsure_key=key
            )
        except _Duplicate as duplicate:
            # Our text is unique (its marker): the Page has it already, from our earlier attempt.
            found = await self._lookup(account, request)
            if found is None:
                raise PermanentError(str(duplicate)) from None
            return self._steps.put(key, "post", found)
        return self._steps.put(key, "post", _result(str(answer["id"]), message=message))

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """An edit of the alert's post: it shows the new text (and the new marker)."""
        account = self._accounts.for_request(request)
        post_id = _post_of(previous)
        message = self.fitted(request)
        await self._call(account, "POST", f"/{post_id}", {"message": message})
        return _result(post_id, message=message, edited=True)

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """The end notice edited on top of the post, or the post deleted (`delete_on_end`)."""
        account = self._accounts.for_request(request)
        post_id = _post_of(previous)
        if account.delete_on_end:
            with contextlib.suppress(_NotFound):  # already gone: by hand, or the interrupted attempt
                await self._call(account, "DELETE", f"/{post_id}")
            return _result(post_id, deleted=[post_id])
        notice = self.fitted(request)
        last = _last_message(previous)
        message = f"{notice}\n\n{last}" if last and count("facebook", f"{notice}\n\n{last}").fits else notice
        await self._call(account, "POST", f"/{post_id}", {"message": message})
        return _result(post_id, message=message, edited=True, ended=True)

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        """The Page's post carrying this delivery's marker (a publish, or an edit of it)."""
        return await self._lookup(self.account(request.account), request)

    async def check(self, account: str) -> AccountHealth:
        """Token valid and a token of this Page (`GET /me?fields=id,name`); never posts."""
        health = AccountHealth(channel=self.id, account=account, ok=False, limit=LIMIT)
        try:
            config = self.account(account)
            me = await self._call(config, "GET", "/me", {"fields": "id,name"})
        except (TransientError, PermanentError) as error:
            return health.model_copy(update={"problem": str(error)})
        if str(me.get("id")) != config.page_id:
            return health.model_copy(
                update={
                    "can_post": False,
                    "problem": f"facebook account {account}: the token belongs to {me.get('name')!r} "
                    f"(id {me.get('id')}), not to Page {config.page_id}: use that Page's access token",
                }
            )
        return health.model_copy(update={"ok": True})

    async def aclose(self) -> None:
        await self.client.aclose()

    async def graph_get(
        self, account: FacebookAccount, path: str, params: dict[str, str]
    ) -> dict[str, Any] | None:
        """A Graph GET for the reader of comments (alertcast.channels.facebook_replies); None
        when the object is gone (deleted, or never visible to the Page)."""
        try:
            return await self._call(account, "GET", path, params)
        except _NotFound:
            return None

    # --- citizens' comments (alertcast.replies.actions) -----------------------------------------

    async def hide_reply(self, action: ReplyAction) -> PostResult:
        """`POST /{comment-id}` with `is_hidden` (permission `pages_manage_engagement`): the
        comment stays visible to its author and their friends only; setting it twice is once."""
        account = self.account(action.account or next(iter(self._accounts), ""))
        hidden = "true" if action.kind == "hide" else "false"
        answer = await self._call(account, "POST", f"/{action.target}", {"is_hidden": hidden})
        if answer.get("success") is not True:
            raise PermanentError(
                f"facebook account {account.name}: Facebook did not confirm is_hidden={hidden}"
            )
        return PostResult(post_id=action.target, details={"is_hidden": hidden == "true"})

    async def answer(self, action: ReplyAction) -> PostResult:
        """A comment reply (`POST /{comment-id}/comments`) by the Page, carrying the action's
        marker: Graph has no idempotency key, so `find_answer` reads the replies for it."""
        account = self.account(action.account or next(iter(self._accounts), ""))
        key = action.action_id
        if self._steps.unsure(key) and (found := await self.find_answer(action)) is not None:
            return found
        message = with_marker(action.text or "", marker(key))
        answer = await self._call(
            account, "POST", f"/{action.target}/comments", {"message": message}, unsure_key=key
        )
        comment_id = str(answer["id"])
        return PostResult(post_id=comment_id, details={"in_reply_to": action.target, "message": message})

    async def find_answer(self, action: ReplyAction) -> PostResult | None:
        account = self.account(action.account or next(iter(self._accounts), ""))
        token = marker(action.action_id)
        params = {"fields": "id,message,from", "limit": str(_PAGE)}
        page = await self._call(account, "GET", f"/{action.target}/comments", params)
        for comment in page.get("data") or []:
            by_page = str(comment.get("from", {}).get("id", "")) == account.page_id
            message = str(comment.get("message", ""))
            if by_page and has_marker(message, token):
                return PostResult(
                    post_id=str(comment["id"]), details={"in_reply_to": action.target, "message": message}
                )
        return None

    # --- steps ---------------------------------------------------------------------------------

    def fitted(self, request: DeliveryRequest) -> str:
        text = with_marker(text_of(request), marker(request.delivery_key), language_of(request))
        length = count("facebook", text)
        if not length.fits:
            raise PermanentError(
                f"facebook account {request.account}: the text is {length.length} UTF-16 units "
                f"(reference included); Facebook allows {LIMIT}"
            )
        return text

    async def _lookup(self, account: FacebookAccount, request: DeliveryRequest) -> PostResult | None:
        token = marker(request.delivery_key)
        params = {"fields": "id,message,from,created_time", "limit": str(min(_PAGE, account.lookup_depth))}
        seen = 0
        while seen < account.lookup_depth:
            page = await self._call(account, "GET", f"/{account.page_id}/feed", params)
            posts: list[dict[str, Any]] = page.get("data") or []
            for post in posts:
                by_page = str(post.get("from", {}).get("id", "")) == account.page_id
                message = str(post.get("message", ""))
                if by_page and has_marker(message, token):
                    return _result(str(post["id"]), message=message)
            seen += len(posts)
            after = page.get("paging", {}).get("cursors", {}).get("after")
            if not posts or not after or "next" not in page.get("paging", {}):
                return None
            params["after"] = str(after)  # the cursor, never the `next` URL (it holds the token)
        return None

    # --- the Graph API -------------------------------------------------------------------------

    async def _call(
        self,
        account: FacebookAccount,
        method: str,
        path: str,
        fields: dict[str, str] | None = None,
        unsure_key: str | None = None,
    ) -> dict[str, Any]:
        """One Graph call: `fields` as form fields for POST, as query parameters otherwise."""
        where = f"facebook account {account.name}"
        token = account.access_token()
        url = f"{account.graph_base}/{account.api_version}{path}"
        parameters = {**(fields or {}), "access_token": token}
        try:
            if method == "POST":
                response = await self.client.post(url, data=parameters)
            else:
                response = await self.client.request(method, url, params=parameters)
        except httpx.TransportError as error:
            if unsure_key is not None and maybe_sent(error):
                self._steps.mark_unsure(unsure_key)
            raise TransientError(f"{where}: {error_text(error, token)}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict) and "error" not in body:
            return body
        problem = body.get("error") if isinstance(body, dict) else None
        if not isinstance(problem, dict):
            if response.status_code >= 500 or response.is_success:
                if unsure_key is not None:
                    self._steps.mark_unsure(unsure_key)
                raise TransientError(f"{where}: Facebook answered {response.status_code} without JSON")
            raise PermanentError(f"{where}: Facebook answered {response.status_code}: {response.text[:200]}")
        code = int(problem.get("code") or 0)
        subcode = problem.get("error_subcode")
        reason = f"(#{code}{f'/{subcode}' if subcode else ''}) {str(problem.get('message', ''))[:300]}"
        reason = reason.replace(token, "<redacted>")
        if code in _TOKEN:
            raise account.revoked(f"Facebook answered {response.status_code} {reason}")
        if code in _LATER or response.status_code == 429 or response.status_code >= 500:
            if response.status_code >= 500 and unsure_key is not None:
                self._steps.mark_unsure(unsure_key)
            raise TransientError(f"{where}: Facebook answered {reason}", _retry_after(response))
        if code == 506:
            raise _Duplicate(f"{where}: Facebook answered {reason}")
        if code == 100 and subcode == 33:
            raise _NotFound(f"{where}: Facebook answered {reason}")
        raise PermanentError(f"{where}: Facebook answered {response.status_code} {reason}")


class _NotFound(PermanentError):
    pass


class _Duplicate(PermanentError):
    pass


def _retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` if sent, else the longest `estimated_time_to_regain_access` (minutes) of
    `X-Business-Use-Case-Usage` (Page tokens) or `X-App-Usage`."""
    if (header := seconds_until(response.headers.get("retry-after", ""), clock.now())) is not None:
        return header
    minutes: list[float] = []
    for name in ("x-business-use-case-usage", "x-app-usage"):
        try:
            minutes += _regain_minutes(json.loads(response.headers.get(name, "") or "null"))
        except ValueError:
            continue
    return max(minutes) * 60 if minutes else None


def _regain_minutes(usage: Any) -> list[float]:
    """Every `estimated_time_to_regain_access` in a usage header, however nested."""
    if isinstance(usage, list):
        return [minutes for item in usage for minutes in _regain_minutes(item)]
    if not isinstance(usage, dict):
        return []
    value = usage.get("estimated_time_to_regain_access")
    own = [float(value)] if isinstance(value, int | float) else []
    return own + [minutes for item in usage.values() for minutes in _regain_minutes(item)]


def _result(post_id: str, **details: Any) -> PostResult:
    return PostResult(post_id=post_id, url=post_url(post_id), details={"root_id": post_id, **details})


def _post_of(previous: PostResult) -> str:
    if not previous.post_id:
        raise PermanentError("the alert's Facebook post is unknown: nothing to edit")
    return str(previous.details.get("root_id") or previous.post_id)


def _last_message(previous: PostResult) -> str:
    """The post's current text (the latest version's), to keep under the end notice."""
    latest = previous.details.get("latest") or {}
    return str(latest.get("details", {}).get("message") or previous.details.get("message") or "")
