"""X (Twitter) through the X API v2: one post per alert, updates and the end in its thread.

One account = one X user posting with an OAuth 2.0 user-context access token (scopes
`tweet.read tweet.write users.read`, plus `offline.access` for the refresh the operator runs),
sent as `Authorization: Bearer`. The token comes from an environment variable or a secret file,
read when needed, and never logged nor put into an error message.

- publish: `POST /2/tweets` `{"text": ...}` (JSON); answered 201 `{"data": {"id", "text"}}`.
  The public URL is `https://x.com/i/web/status/<id>` (no handle needed).
- update: a *reply* in the thread (`reply.in_reply_to_tweet_id` = the latest post of the
  thread). X's documentation: a post can be edited for 30 minutes and at most 5 times, each
  edit makes a new post id, and the edit (`edit_options` in `POST /2/tweets`) is only open to
  eligible (subscriber) accounts. Alerts live for hours: an edit would stop working after
  half an hour and fail on most accounts, so updates are replies, always.
- end: a reply with the end notice; then, with `delete_on_end`, `DELETE /2/tweets/:id` of the
  alert's root and latest posts (the notice stays; replies are not deleted by X with the root).

Crash safety: X has no idempotency key. Every post carries the delivery's **marker** (see
`alertcast.channels.account.with_marker`): the fragment of its last link when it has one (X
counts any link as 23 and keeps the full URL in `entities.urls[].expanded_url`, so it costs
nothing), else a short last line `réf. ac-...`. `find_existing` reads the account's recent posts
(`GET /2/users/:id/tweets`, own posts only, newest first, up to `lookup_depth`) and looks for
it: a lookup the network offers, cheaper and surer than asking a person. X also refuses the
same text twice (403 "duplicate content"): since the marker makes our text unique, that answer
means our earlier attempt went through, and it is looked up rather than reported.

Errors: 401 → "token revoked or invalid"; 400/403 → PermanentError with X's `detail` and
messages (a text too long is refused before sending, by X's weighted count); 429 →
TransientError waiting until `x-rate-limit-reset` (or the 24-hour posting cap's reset when that
is what ran out); 5xx and timeouts → TransientError.
"""

from __future__ import annotations

import contextlib
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
    merged,
    seconds_until,
    text_of,
)
from alertcast.channels.base import AccountHealth
from alertcast.clock import clock
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.models.alert import DeliveryRequest
from alertcast.models.incident import MsgType
from alertcast.models.post import PostResult
from alertcast.render.length import DEFAULT_LIMITS, DEFAULT_URL_WEIGHT, count
from alertcast.render.reference import with_marker
from alertcast.replies.actions import ReplyAction

LIMIT = DEFAULT_LIMITS["x"] or 280
#: GET /2/users/:id/tweets returns 5 to 100 posts a page.
_PAGE = 100
_LOOKUP_FIELDS = "conversation_id,entities,referenced_tweets,created_at"


class XAccount(TokenAccount):
    """One X user. `user_id` saves a `GET /2/users/me` when given."""

    channel = "x"

    api_base: str = Field(default="https://api.x.com", description="the X API (a test server in tests)")
    user_id: str | None = Field(default=None, pattern=r"^[0-9]+$")
    lookup_depth: int = Field(default=100, ge=5, le=800, description="recent posts find_existing reads")
    limit: int = Field(
        default=LIMIT, ge=1, le=25_000, description="weighted length allowed (longer for X Premium)"
    )
    read_replies: bool = Field(
        default=False,
        description="read replies and mentions (GET /2/users/:id/mentions): needs a paid X API tier",
    )

    @field_validator("api_base")
    @classmethod
    def _https(cls, value: str) -> str:
        return https_unless_local(value, "api_base")


def status_url(post_id: str) -> str:
    return f"https://x.com/i/web/status/{post_id}"


class XChannel:
    id = "x"

    def __init__(self, accounts: Sequence[XAccount], client: httpx.AsyncClient) -> None:
        self._accounts = Accounts("x", accounts)
        self.client = client
        self._user_ids: dict[str, str] = {}
        self._steps = Steps()

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def account(self, name: str) -> XAccount:
        return self._accounts.named(name)

    # --- the lifecycle -------------------------------------------------------------------------

    async def publish(self, request: DeliveryRequest) -> PostResult:
        account = self._accounts.for_request(request)
        return await self._post(account, request)

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """A reply to the thread's latest post (X offers no lasting edit: see the module)."""
        account = self._accounts.for_request(request)
        root, parent = _thread_of(previous)
        return await self._post(account, request, root=root, in_reply_to=parent)

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """The end notice as a reply in the thread; then, if asked, the alert's posts deleted."""
        account = self._accounts.for_request(request)
        root, parent = _thread_of(previous)
        notice = await self._post(account, request, root=root, in_reply_to=parent)
        deleted = await self._delete_if_asked(account, [root, parent])
        return merged(notice, deleted=deleted)

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        """The post carrying this delivery's marker among the account's recent posts."""
        account = self.account(request.account)
        found = await self._lookup(account, request)
        if found is None:
            return None
        if request.incident.msg_type is MsgType.CANCEL and found.details.get("in_reply_to"):
            # The crash may have come between the end notice and the deletions: redo them.
            root, parent = str(found.details["root_id"]), str(found.details["in_reply_to"])
            found = merged(found, deleted=await self._delete_if_asked(account, [root, parent]))
        return found

    async def check(self, account: str) -> AccountHealth:
        """Token valid (`GET /2/users/me`), the posting limits; never posts. X does not say which
        scopes a token has, so `can_post` stays unknown until the first post."""
        health = AccountHealth(channel=self.id, account=account, ok=False, url_weight=DEFAULT_URL_WEIGHT)
        try:
            config = self.account(account)
            health.limit = config.limit
            answer, headers = await self._call(config, "GET", "/2/users/me")
        except (TransientError, PermanentError) as error:
            return health.model_copy(update={"problem": str(error)})
        self._user_ids[config.name] = str(answer["data"]["id"])
        remaining = headers.get("x-rate-limit-remaining", "")
        return health.model_copy(
            update={"ok": True, "rate_remaining": int(remaining) if remaining.isdigit() else None}
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    # --- for the reader of replies (alertcast.channels.x_replies) -------------------------------

    async def user_id(self, account: XAccount) -> str:
        return await self._user_id(account)

    async def api_get(self, account: XAccount, path: str, params: dict[str, str]) -> dict[str, Any]:
        answer, _ = await self._call(account, "GET", path, params=params)
        return answer

    # --- citizens' replies (alertcast.replies.actions) ------------------------------------------

    async def hide_reply(self, action: ReplyAction) -> PostResult:
        """`PUT /2/tweets/:id/hidden` (scope `tweet.moderate.write`): only for replies in a
        conversation the account started; hiding twice is one hiding (X says so)."""
        account = self.account(action.account or next(iter(self._accounts), ""))
        hidden = action.kind == "hide"
        answer, _ = await self._call(
            account, "PUT", f"/2/tweets/{action.target}/hidden", body={"hidden": hidden}
        )
        if answer.get("data", {}).get("hidden") is not hidden:
            raise PermanentError(f"x account {account.name}: X did not confirm hidden={hidden}")
        return PostResult(post_id=action.target, url=status_url(action.target), details={"hidden": hidden})

    async def answer(self, action: ReplyAction) -> PostResult:
        """A post replying to the citizen's (`reply.in_reply_to_tweet_id`), carrying the action's
        marker: X has no idempotency key, so `find_answer` looks for it."""
        account = self.account(action.account or next(iter(self._accounts), ""))
        key = action.action_id
        if self._steps.unsure(key) and (found := await self.find_answer(action)) is not None:
            return found
        text = with_marker(action.text or "", marker(key))
        length = count("x", text, limit=account.limit)
        if not length.fits:
            raise PermanentError(
                f"x account {account.name}: the answer weighs {length.length} as X counts it "
                f"(reference included); the account allows {account.limit}"
            )
        body = {"text": text, "reply": {"in_reply_to_tweet_id": action.target}}
        try:
            answer, _ = await self._call(account, "POST", "/2/tweets", body=body, unsure_key=key)
        except _Duplicate as duplicate:
            found = await self.find_answer(action)
            if found is None:
                raise PermanentError(str(duplicate)) from None
            return found
        post_id = str(answer["data"]["id"])
        return _result(post_id, root=action.conversation, in_reply_to=action.target)

    async def find_answer(self, action: ReplyAction) -> PostResult | None:
        account = self.account(action.account or next(iter(self._accounts), ""))
        return await self._find_marked(account, marker(action.action_id))

    # --- steps ---------------------------------------------------------------------------------

    def fitted(self, request: DeliveryRequest) -> str:
        """The marked text, refused here if X would refuse it (weighted count, links 23)."""
        account = self.account(request.account)
        text = with_marker(text_of(request), marker(request.delivery_key), language_of(request))
        length = count("x", text, limit=account.limit)
        if not length.fits:
            raise PermanentError(
                f"x account {account.name}: the text weighs {length.length} as X counts it "
                f"(links 23, emoji 2, reference included); the account allows {account.limit}"
            )
        return text

    async def _post(
        self,
        account: XAccount,
        request: DeliveryRequest,
        root: str | None = None,
        in_reply_to: str | None = None,
    ) -> PostResult:
        """One post, once: a retry after a step that followed it, or after an answer that never
        came, finds the post instead of making another."""
        key = request.delivery_key
        if (done := self._steps.get(key, "post")) is not None:
            return done
        if self._steps.unsure(key) and (found := await self._lookup(account, request)) is not None:
            return self._steps.put(key, "post", found)
        body: dict[str, Any] = {"text": self.fitted(request)}
        if in_reply_to is not None:
            body["reply"] = {"in_reply_to_tweet_id": in_reply_to}
        try:
            answer, _ = await self._call(account, "POST", "/2/tweets", body=body, unsure_key=key)
        except _Duplicate as duplicate:
            # Our text is unique (its marker): X has it already, from our earlier attempt.
            found = await self._lookup(account, request)
            if found is None:
                raise PermanentError(str(duplicate)) from None
            return self._steps.put(key, "post", found)
        post_id = str(answer["data"]["id"])
        result = _result(post_id, root=root or post_id, in_reply_to=in_reply_to)
        return self._steps.put(key, "post", result)

    async def _delete_if_asked(self, account: XAccount, ids: Sequence[str]) -> list[str]:
        if not account.delete_on_end:
            return []
        deleted: list[str] = []
        for post_id in dict.fromkeys(ids):  # in order, once each
            # 404: already gone (deleted by hand, or by the interrupted attempt).
            with contextlib.suppress(_NotFound):
                await self._call(account, "DELETE", f"/2/tweets/{post_id}")
            deleted.append(post_id)
        return deleted

    async def _lookup(self, account: XAccount, request: DeliveryRequest) -> PostResult | None:
        return await self._find_marked(account, marker(request.delivery_key))

    async def _find_marked(self, account: XAccount, token: str) -> PostResult | None:
        """The account's recent post carrying `token` (its marker), newest first."""
        user_id = await self._user_id(account)
        params = {"max_results": str(min(_PAGE, account.lookup_depth)), "tweet.fields": _LOOKUP_FIELDS}
        seen = 0
        while seen < account.lookup_depth:
            page, _ = await self._call(account, "GET", f"/2/users/{user_id}/tweets", params=params)
            posts: list[dict[str, Any]] = page.get("data") or []
            for post in posts:
                if _carries(post, token):
                    return _found(post)
            seen += len(posts)
            next_token = page.get("meta", {}).get("next_token")
            if not posts or not next_token:
                return None
            params["pagination_token"] = str(next_token)
        return None

    async def _user_id(self, account: XAccount) -> str:
        if account.user_id is not None:
            return account.user_id
        if account.name not in self._user_ids:
            me, _ = await self._call(account, "GET", "/2/users/me")
            self._user_ids[account.name] = str(me["data"]["id"])
        return self._user_ids[account.name]

    # --- the API -------------------------------------------------------------------------------

    async def _call(
        self,
        account: XAccount,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        unsure_key: str | None = None,
    ) -> tuple[dict[str, Any], httpx.Headers]:
        """One request; errors become TransientError / PermanentError with X's reason.
        `unsure_key`: a post whose answer may be lost is remembered as maybe made."""
        where = f"x account {account.name}"
        token = account.access_token()
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = await self.client.request(
                method, f"{account.api_base}{path}", json=body, params=params, headers=headers
            )
        except httpx.TransportError as error:
            if unsure_key is not None and maybe_sent(error):
                self._steps.mark_unsure(unsure_key)
            raise TransientError(f"{where}: {error_text(error, token)}") from None
        if response.is_success:
            try:
                answer = response.json()
            except ValueError:
                raise TransientError(f"{where}: answered {response.status_code} without JSON") from None
            return (answer if isinstance(answer, dict) else {}), response.headers
        reason = _reason_of(response)
        status = response.status_code
        if status == 429:
            raise TransientError(f"{where}: rate limited by X ({reason})", _retry_after(response))
        if status >= 500:
            if unsure_key is not None:
                self._steps.mark_unsure(unsure_key)
            raise TransientError(f"{where}: X answered {status} ({reason})", _retry_after(response))
        if status == 401:
            raise account.revoked(f"X answered 401: {reason}")
        if status == 404:
            raise _NotFound(f"{where}: X answered 404 ({reason})")
        if status == 403 and "duplicate" in reason.lower():
            raise _Duplicate(f"{where}: X answered 403 ({reason})")
        raise PermanentError(f"{where}: X answered {status} ({reason})")


class _NotFound(PermanentError):
    pass


class _Duplicate(PermanentError):
    pass


def _reason_of(response: httpx.Response) -> str:
    """X's problem body: `detail` (or `title`), then each `errors[].message`."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:200]
    parts = [str(body.get("detail") or body.get("title") or "")]
    parts += [str(error.get("message", "")) for error in body.get("errors", []) if isinstance(error, dict)]
    return "; ".join(part for part in dict.fromkeys(parts) if part)[:300] or response.reason_phrase


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait: `Retry-After` if sent, else until the exhausted limit resets
    (`x-rate-limit-reset`, or the 24-hour posting cap's own reset when that is what ran out)."""
    now = clock.now()
    if (header := seconds_until(response.headers.get("retry-after", ""), now)) is not None:
        return header
    resets = []
    for prefix in ("x-user-limit-24hour", "x-app-limit-24hour"):
        if response.headers.get(f"{prefix}-remaining") == "0":
            resets.append(response.headers.get(f"{prefix}-reset", ""))
    resets.append(response.headers.get("x-rate-limit-reset", ""))
    for reset in resets:
        if reset.strip().isdigit():
            return max(float(reset) - now.timestamp(), 0.0)
    return None


def _carries(post: dict[str, Any], token: str) -> bool:
    """The marker in the text, or in a link's expanded URL (X shows links as t.co)."""
    if has_marker(str(post.get("text", "")), token):
        return True
    urls = post.get("entities", {}).get("urls", [])
    return any(has_marker(str(url.get("expanded_url", "")), token) for url in urls if isinstance(url, dict))


def _found(post: dict[str, Any]) -> PostResult:
    post_id = str(post["id"])
    parent = next(
        (
            str(ref["id"])
            for ref in post.get("referenced_tweets", [])
            if isinstance(ref, dict) and ref.get("type") == "replied_to"
        ),
        None,
    )
    return _result(post_id, root=str(post.get("conversation_id") or post_id), in_reply_to=parent)


def _result(post_id: str, root: str, in_reply_to: str | None) -> PostResult:
    return PostResult(
        post_id=post_id, url=status_url(post_id), details={"root_id": root, "in_reply_to": in_reply_to}
    )


def _thread_of(previous: PostResult) -> tuple[str, str]:
    """(the alert's first post, the thread's latest post) from the ledger's `previous_post`."""
    if not previous.post_id:
        raise PermanentError("the alert's first X post is unknown: nothing to reply to")
    root = str(previous.details.get("root_id") or previous.post_id)
    latest = previous.details.get("latest") or {}
    parent = str(latest.get("post_id") or previous.post_id)
    return root, parent
