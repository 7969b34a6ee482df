"""Mastodon (and other servers speaking its client API, such as GoToSocial): one status per alert.

One account = one Mastodon account on one instance (base URL, access token). The token comes
from an environment variable or a secret file, read when needed (a rotated file is picked up),
and never logged nor put into an error message.

- publish: `POST /api/v1/statuses` with `Idempotency-Key` = the delivery key.
- update: an edit (`PUT /api/v1/statuses/:id`) of the alert's status, so the profile shows one
  current text; with `update_mode: reply`, or when the server has no edit endpoint, a reply in
  the thread instead (`in_reply_to_id`).
- end: a reply "FIN D'ALERTE – ..." in the thread, then the deletion of the alert's statuses
  when the account says `delete_on_end` (the end notice stays).

Crash safety does not rest on `Idempotency-Key`: Mastodon keeps the key for an hour, and
GoToSocial ignores it altogether (a retry posts twice). Every status therefore carries a
**marker**, `ac-` and 12 hex digits of SHA-256(delivery key): stable for one delivery, distinct
for each version, channel and account. `find_existing` reads the account's recent statuses and
looks for it. The marker goes:
1. as the fragment of the text's last link (`https://exemple.fr/a/1#ac-1f2e...`), when the text
   has a link without a fragment. Mastodon counts every link as a fixed weight (23), so the
   marker costs no character of the limit, citizens do not see it in the shortened link, the
   page still opens at its top, and the `href` keeps it through Mastodon's HTML rendering
   (which cuts the link's *displayed* text, never its `href`);
2. otherwise as a short last line, `réf. ac-1f2e...` (a reference, like a file number).
Only [a-z0-9-] are used, so no HTML escaping can alter it; the lookup matches it as a whole
token in the status's `content` (HTML) and `text` (source, when the server returns it).

Limits are the instance's own (`/api/v2/instance`, else `/api/v1/instance`): its character
limit and the weight of a link, cached an hour and reported by `check`. A text that does not
fit is refused before sending; a 422 (Mastodon) or 400 (GoToSocial) becomes a PermanentError
with the server's reason.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from alertcast.channels.account import (
    Accounts,
    TokenAccount,
    has_marker,
    https_unless_local,
    language_of,
    marker,
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

#: Mastodon returns at most 40 statuses a page.
_PAGE = 40
_LIMITS_TTL_S = 3600.0
Visibility = Literal["public", "unlisted", "private", "direct"]


class MastodonAccount(TokenAccount):
    """One Mastodon account on one instance. Exactly one token source must be given."""

    channel = "mastodon"

    base_url: str = Field(description="the instance, e.g. https://social.example.fr")
    visibility: Visibility | None = Field(default=None, description="None: the account's default")
    update_mode: Literal["edit", "reply"] = Field(
        default="edit", description="edit the alert's status, or reply to it in its thread"
    )
    delete_on_end: bool = Field(default=False, description="delete the alert's statuses when it ends")
    lookup_depth: int = Field(
        default=80, ge=1, le=800, description="how many recent statuses find_existing reads"
    )

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        return https_unless_local(value, "base_url")


class StatusLimits(BaseModel):
    """What the instance says about statuses (`configuration.statuses`)."""

    max_characters: int = Field(default=DEFAULT_LIMITS["mastodon"] or 500, ge=1)
    characters_reserved_per_url: int = Field(default=DEFAULT_URL_WEIGHT, ge=0)


class MastodonStatus(BaseModel):
    """The fields of a Mastodon status alertcast reads."""

    model_config = ConfigDict(extra="ignore")

    id: str
    url: str | None = None
    uri: str | None = None
    content: str = ""
    text: str | None = None
    in_reply_to_id: str | None = None


def carries_marker(status: MastodonStatus, token: str) -> bool:
    """The marker in the status's `content` (HTML) or `text` (source, when the server returns it)."""
    return has_marker(status.content, token) or bool(status.text and has_marker(status.text, token))


def retry_after_of(response: httpx.Response, now: datetime) -> float | None:
    """Seconds the server asks us to wait: `Retry-After` (seconds or HTTP date), else Mastodon's
    `X-RateLimit-Reset` (an ISO 8601 time)."""
    seconds = seconds_until(response.headers.get("Retry-After", ""), now)
    if seconds is not None:
        return seconds
    reset = response.headers.get("X-RateLimit-Reset", "").strip()
    if reset:
        try:
            return max((datetime.fromisoformat(reset.replace("Z", "+00:00")) - now).total_seconds(), 0.0)
        except ValueError:
            return None
    return None


@dataclass
class _Cached:
    limits: StatusLimits
    at: float


class MastodonChannel:
    id = "mastodon"

    def __init__(self, accounts: Sequence[MastodonAccount], client: httpx.AsyncClient) -> None:
        self._accounts = Accounts("mastodon", accounts)
        self.client = client
        self._limits: dict[str, _Cached] = {}
        self._account_ids: dict[str, str] = {}

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def account(self, name: str) -> MastodonAccount:
        return self._accounts.named(name)

    # --- the lifecycle -------------------------------------------------------------------------

    async def publish(self, request: DeliveryRequest) -> PostResult:
        account = self._accounts.for_request(request)
        status = await self._post(account, request)
        return _result(status, root_id=status.id)

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """An edit of the alert's status where the server has edits, else a reply in its thread."""
        account = self._accounts.for_request(request)
        root, parent = _thread_of(previous)
        if account.update_mode == "edit":
            text = await self._fitted(account, request)
            try:
                answer = await self._call(
                    account,
                    "PUT",
                    f"/api/v1/statuses/{root}",
                    body={"status": text, "language": language_of(request)},
                )
                return _result(MastodonStatus.model_validate(answer), root_id=root, edited=True)
            except _NoEndpoint:
                pass  # an older server without edits: reply in the thread instead
        status = await self._post(account, request, in_reply_to=parent)
        return _result(status, root_id=root)

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """The end notice as a reply in the thread; then, if asked, the alert's statuses deleted."""
        account = self._accounts.for_request(request)
        root, parent = _thread_of(previous)
        status = await self._post(account, request, in_reply_to=parent)
        deleted = await self._delete_if_asked(account, [root, parent])
        return _result(status, root_id=root, deleted=deleted)

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        """The status carrying this delivery's marker among the account's recent statuses."""
        account = self.account(request.account)
        account_id = await self._account_id(account)
        token = marker(request.delivery_key)
        params = {"limit": str(min(_PAGE, account.lookup_depth))}
        seen = 0
        while seen < account.lookup_depth:
            page = await self._call_list(account, f"/api/v1/accounts/{account_id}/statuses", params)
            statuses = [MastodonStatus.model_validate(item) for item in page]
            for status in statuses:
                if carries_marker(status, token):
                    return await self._found(account, request, status)
            seen += len(statuses)
            if len(statuses) < int(params["limit"]):
                return None
            params["max_id"] = statuses[-1].id
        return None

    async def _found(
        self, account: MastodonAccount, request: DeliveryRequest, status: MastodonStatus
    ) -> PostResult:
        """What the interrupted call would have returned, finishing its last step if needed."""
        if status.in_reply_to_id is None:
            return _result(status, root_id=status.id)
        ancestors = await self._own_ancestors(account, status.id)
        root = ancestors[0] if ancestors else status.in_reply_to_id
        if request.incident.msg_type is MsgType.CANCEL:
            # The crash may have come between the end notice and the deletions: redo them.
            deleted = await self._delete_if_asked(account, ancestors)
            return _result(status, root_id=root, deleted=deleted)
        return _result(status, root_id=root)

    # --- citizens' replies (alertcast.replies.actions; Mastodon cannot hide a reply) ----------

    async def answer(self, action: ReplyAction) -> PostResult:
        """A status replying to the citizen's (`in_reply_to_id`), addressed to them, carrying the
        action's marker (and its id as `Idempotency-Key`, which not every server honours)."""
        account = self.account(action.account or next(iter(self._accounts), ""))
        text = action.text or ""
        handle = f"@{action.author.lstrip('@')}" if action.author else ""
        if handle and handle not in text:
            text = f"{handle} {text}"
        text = with_marker(text, marker(action.action_id))
        limits = await self.limits(account.name)
        length = count(
            "mastodon", text, limit=limits.max_characters, url_weight=limits.characters_reserved_per_url
        )
        if not length.fits:
            raise PermanentError(
                f"mastodon account {account.name}: the answer is {length.length} characters "
                f"(reference included); the instance allows {limits.max_characters}"
            )
        body: dict[str, Any] = {"status": text, "in_reply_to_id": action.target, "language": "fr"}
        if account.visibility is not None:
            body["visibility"] = account.visibility
        headers = {"Idempotency-Key": action.action_id}
        answer = await self._call(account, "POST", "/api/v1/statuses", body=body, headers=headers)
        status = MastodonStatus.model_validate(answer)
        return _result(status, root_id=action.conversation, in_reply_to=action.target)

    async def find_answer(self, action: ReplyAction) -> PostResult | None:
        """Our status under the citizen's carrying the action's marker (the thread's context)."""
        account = self.account(action.account or next(iter(self._accounts), ""))
        account_id = await self._account_id(account)
        context = await self._call(account, "GET", f"/api/v1/statuses/{action.target}/context")
        token = marker(action.action_id)
        for item in context.get("descendants", []):
            status = MastodonStatus.model_validate(item)
            ours = str(item.get("account", {}).get("id")) == account_id
            if ours and status.in_reply_to_id == action.target and carries_marker(status, token):
                return _result(status, root_id=action.conversation, in_reply_to=action.target)
        return None

    async def check(self, account: str) -> AccountHealth:
        """Token valid (verify_credentials), right to write, the instance's limits; never posts."""
        health = AccountHealth(channel=self.id, account=account, ok=False)
        try:
            config = self.account(account)
            response = await self._request(config, "GET", "/api/v1/accounts/verify_credentials")
            remaining = response.headers.get("X-RateLimit-Remaining", "")
            limits = await self.limits(account)
            can_post = await self._can_post(config)
        except (TransientError, PermanentError) as error:
            return health.model_copy(update={"problem": str(error)})
        return health.model_copy(
            update={
                "ok": can_post is not False,
                "can_post": can_post,
                "limit": limits.max_characters,
                "url_weight": limits.characters_reserved_per_url,
                "rate_remaining": int(remaining) if remaining.isdigit() else None,
                "problem": None if can_post is not False else "the token has no write:statuses scope",
            }
        )

    async def limits(self, account: str) -> StatusLimits:
        """The instance's status limits, read once an hour (`/api/v2/instance`, else v1)."""
        config = self.account(account)
        cached = self._limits.get(config.base_url)
        if cached is not None and time.monotonic() - cached.at < _LIMITS_TTL_S:
            return cached.limits
        limits = await self._read_limits(config)
        self._limits[config.base_url] = _Cached(limits, time.monotonic())
        return limits

    async def aclose(self) -> None:
        await self.client.aclose()

    # --- steps ---------------------------------------------------------------------------------

    async def _fitted(self, account: MastodonAccount, request: DeliveryRequest) -> str:
        """The marked text, refused here if it exceeds the instance's limit."""
        text = with_marker(text_of(request), marker(request.delivery_key), language_of(request))
        limits = await self.limits(account.name)
        length = count(
            "mastodon", text, limit=limits.max_characters, url_weight=limits.characters_reserved_per_url
        )
        if not length.fits:
            raise PermanentError(
                f"mastodon account {account.name}: the text is {length.length} characters as "
                f"{account.base_url} counts them (links {limits.characters_reserved_per_url} each, "
                f"reference included); the instance allows {limits.max_characters}"
            )
        return text

    async def _post(
        self, account: MastodonAccount, request: DeliveryRequest, in_reply_to: str | None = None
    ) -> MastodonStatus:
        body: dict[str, Any] = {
            "status": await self._fitted(account, request),
            "language": language_of(request),
        }
        if account.visibility is not None:
            body["visibility"] = account.visibility
        if in_reply_to is not None:
            body["in_reply_to_id"] = in_reply_to
        headers = {"Idempotency-Key": request.delivery_key}
        answer = await self._call(account, "POST", "/api/v1/statuses", body=body, headers=headers)
        return MastodonStatus.model_validate(answer)

    async def _delete_if_asked(self, account: MastodonAccount, ids: Sequence[str]) -> list[str]:
        if not account.delete_on_end:
            return []
        deleted: list[str] = []
        for status_id in dict.fromkeys(ids):  # in order, once each
            # A 404: already gone (deleted by hand, or by the interrupted attempt).
            with contextlib.suppress(_NotFound):
                await self._call(account, "DELETE", f"/api/v1/statuses/{status_id}")
            deleted.append(status_id)
        return deleted

    async def _own_ancestors(self, account: MastodonAccount, status_id: str) -> list[str]:
        """This account's statuses above `status_id` in its thread, root first."""
        account_id = await self._account_id(account)
        context = await self._call(account, "GET", f"/api/v1/statuses/{status_id}/context")
        return [
            str(item["id"])
            for item in context.get("ancestors", [])
            if str(item.get("account", {}).get("id")) == account_id
        ]

    async def _account_id(self, account: MastodonAccount) -> str:
        if account.name not in self._account_ids:
            me = await self._call(account, "GET", "/api/v1/accounts/verify_credentials")
            self._account_ids[account.name] = str(me["id"])
        return self._account_ids[account.name]

    async def _can_post(self, account: MastodonAccount) -> bool | None:
        """From the token's scopes where the server tells them (Mastodon 4.3+), else unknown."""
        try:
            app = await self._call(account, "GET", "/api/v1/apps/verify_credentials")
        except PermanentError:
            return None
        scopes = app.get("scopes")
        if not isinstance(scopes, list):
            return None
        return bool({"write", "write:statuses"} & {str(scope) for scope in scopes})

    async def _read_limits(self, account: MastodonAccount) -> StatusLimits:
        for path in ("/api/v2/instance", "/api/v1/instance"):
            try:
                instance = await self._call(account, "GET", path, authenticated=False)
            except (_NotFound, _NoEndpoint):
                continue
            statuses = instance.get("configuration", {}).get("statuses")
            if isinstance(statuses, dict):
                return StatusLimits.model_validate(
                    {key: value for key, value in statuses.items() if key in StatusLimits.model_fields}
                )
            if "max_toot_chars" in instance:  # Pleroma, Akkoma, glitch-soc's v1
                return StatusLimits(max_characters=int(instance["max_toot_chars"]))
        return StatusLimits()

    # --- the client API ------------------------------------------------------------------------

    async def _request(
        self,
        account: MastodonAccount,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """One request; errors become TransientError / PermanentError with the server's reason.
        The token goes in the Authorization header only, never in a URL or a message."""
        where = f"mastodon account {account.name} ({account.base_url})"
        sent = dict(headers or {})
        if authenticated:
            sent["Authorization"] = f"Bearer {account.access_token()}"
        try:
            response = await self.client.request(
                method, f"{account.base_url}{path}", json=body, params=params, headers=sent
            )
        except httpx.TransportError as error:
            raise TransientError(f"{where}: {type(error).__name__}: {error}") from None
        if response.is_success:
            return response
        reason = f"{where} answered {response.status_code} to {method} {path}: {_error_of(response)}"
        status = response.status_code
        if status == 429 or status >= 500:
            raise TransientError(reason, retry_after_of(response, clock.now()))
        if status == 401:
            raise PermanentError(
                f"{where}: token revoked or invalid (401); renew it in {account.token_source()}"
            )
        if status in (405, 501) or (status == 404 and _is_routing_404(response)):
            raise _NoEndpoint(reason)
        if status == 404:
            raise _NotFound(reason)
        if status in (400, 422):
            raise PermanentError(f"{reason} (the server refused the status: it was not posted)")
        raise PermanentError(reason)

    async def _call(
        self,
        account: MastodonAccount,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        authenticated: bool = True,
    ) -> dict[str, Any]:
        response = await self._request(account, method, path, body, params, headers, authenticated)
        answer = _json_of(response, account)
        return answer if isinstance(answer, dict) else {}

    async def _call_list(
        self, account: MastodonAccount, path: str, params: dict[str, str]
    ) -> list[dict[str, Any]]:
        answer = _json_of(await self._request(account, "GET", path, params=params), account)
        return [item for item in answer if isinstance(item, dict)] if isinstance(answer, list) else []


class _NotFound(PermanentError):
    """A 404 for a record (a status already deleted), not for a missing endpoint."""


class _NoEndpoint(PermanentError):
    """The server has no such endpoint (405/501, or a routing 404 without a JSON error)."""


def _json_of(response: httpx.Response, account: MastodonAccount) -> Any:
    try:
        return response.json()
    except ValueError:  # a proxy's page, not the instance: it may pass
        raise TransientError(
            f"mastodon account {account.name} ({account.base_url}) answered "
            f"{response.status_code} without JSON"
        ) from None


def _error_of(response: httpx.Response) -> str:
    """Mastodon's `{"error": "..."}`, tolerant of other bodies."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "error" in body:
        description = body.get("error_description")
        return f"{body['error']}" + (f" ({description})" if description else "")
    return str(body)[:200]


def _is_routing_404(response: httpx.Response) -> bool:
    """Mastodon answers a missing record with JSON `{"error": "Record not found"}`; a server
    without the route answers an HTML page or another shape."""
    try:
        body = response.json()
    except ValueError:
        return True
    return not (isinstance(body, dict) and "error" in body)


def _thread_of(previous: PostResult) -> tuple[str, str]:
    """(root, parent): the alert's first status, and the last one this alert posted (the delivery
    agent gives the root with its latest post in `details["latest"]`; without it, `previous`)."""
    if not previous.post_id:
        raise PermanentError("the alert's first Mastodon status is unknown: nothing to edit or reply to")
    root = str(previous.details.get("root_id") or previous.post_id)
    latest = previous.details.get("latest") or {}
    return root, str(latest.get("post_id") or previous.post_id)


def _result(status: MastodonStatus, root_id: str, **details: Any) -> PostResult:
    return PostResult(
        post_id=status.id, url=status.url or status.uri, details={"root_id": root_id, **details}
    )
