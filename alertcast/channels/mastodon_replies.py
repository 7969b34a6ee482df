"""Citizens' replies and mentions on Mastodon, read from our account's notifications: the
Mastodon channel's reading half (issue 19). The status -> Reply part is pure and lives in
`mastodon_reply_parsing`; this module only asks the instance.

What it reads. `GET /api/v1/notifications?types[]=mention`: Mastodon notifies an account of
every status that mentions it, and a reply to our status mentions us (clients put the author's
handle first), so one list gives the replies under our alerts and the mentions elsewhere. A
status answering a citizen under our post is placed with `GET /api/v1/statuses/:id/context`
(its ancestors: our nearest status above it gives the alert, the citizen's first status below
ours the conversation); a status answering us directly needs no extra request.

Private mentions and notification requests. Since Mastodon 4.3 an account's notification
policy files some notifications as "filtered" instead of showing them; by default that is the
case of private mentions (direct messages) from accounts we neither follow nor wrote to first,
which the web app shows as "notification requests". They stay out of the notifications list
unless asked for: this reader passes `include_filtered=true`, so a citizen's direct message is
read like any mention, in the same id order and with the same cursor. It does not read
`/api/v1/notifications/requests`: that endpoint groups the same filtered notifications by
account for a person to accept or dismiss (and accepting needs `write:notifications`, which a
reader should not hold); reading them there too would only repeat them. What this cannot see:
notifications the policy `drop`s are never created (nothing to read; set the policy of
the alert accounts to `accept` or `filter`, never `drop`), servers before 4.3 ignore the
parameter (they have no filtering), and GoToSocial ignores it too (it has no such policy).
A direct message is private: the console must answer it privately, never in public.

Order and cursor. Pages are read forward from the cursor with `min_id` (results immediately
newer than it) following the `Link: rel="prev"` of each page, until a page is short (caught up)
or `max_pages` were read; each page is handled oldest first, so the replies come in the order
they were written. The cursor (`MastodonCursor`) is the last notification id read; the caller
persists it in Kafka after producing the replies: a crash in between reads them again, with the
same reply ids, and nothing is lost. `since_id` is not used: it returns the *newest* results
after the id and would skip a gap longer than a page.

Limits. A 429 (or a 5xx, or a network error) becomes a TransientError carrying the wait the
server asked for (`Retry-After`, else `X-RateLimit-Reset`) when nothing was read yet; once some
notifications were read the reader stops there and returns them with a cursor just after the
last one handled, so progress is never thrown away; `X-RateLimit-Remaining: 0` stops it before
the 429. The token is the account's (its env variable or secret file, read now), sent in the
Authorization header only; it needs `read:notifications` and `read:statuses`.
"""

from __future__ import annotations

import logging
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from alertcast.channels.mastodon import MastodonAccount, retry_after_of
from alertcast.channels.mastodon_reply_parsing import (
    AlertOf,
    Status,
    later,
    needs_context,
    notification_of,
    place,
    to_reply,
)
from alertcast.clock import clock
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.http import make_client
from alertcast.replies.model import Reply

log = logging.getLogger(__name__)

#: Mastodon's default page of notifications (4.1+); 80 at most.
PAGE = 40


class MastodonCursor(BaseModel):
    """How far one account's notifications were read. Persisted by the caller, keyed by `account`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str
    account_id: str | None = Field(
        default=None, description="our account's id (verify_credentials), kept so a poll costs no request"
    )
    last_id: str | None = Field(default=None, description="the last notification read; None: never read")


def no_alert(_post_id: str) -> str | None:
    return None


async def read_replies(
    account: MastodonAccount,
    cursor: MastodonCursor | None,
    *,
    alert_of: AlertOf = no_alert,
    client: httpx.AsyncClient | None = None,
    page: int = PAGE,
    max_pages: int = 20,
    first_read: Literal["all", "new"] = "all",
) -> tuple[list[Reply], MastodonCursor]:
    """The mentions that arrived after `cursor` (None: never read), oldest first, and the cursor
    to persist once they are produced.

    `alert_of` maps one of our status ids to its alert (from the delivery receipts); `first_read`
    says what a first read (no cursor) takes: every mention the instance kept, or none (the
    cursor is set at the newest notification, for an account that already had a history).
    Raises TransientError (retry later) or PermanentError (fix the configuration or token)."""
    if not 1 <= page <= 80:
        raise ValueError("page must be between 1 and 80 (Mastodon's maximum)")
    start = cursor or MastodonCursor(account=account.name)
    if start.account != account.name:
        raise ValueError(f"the cursor is account {start.account!r}'s, not {account.name!r}'s")
    http = client or make_client()
    try:
        reader = _Reader(account, http)
        our_id = start.account_id or await reader.our_id()
        start = start.model_copy(update={"account_id": our_id})
        if start.last_id is None and first_read == "new":
            return [], start.model_copy(update={"last_id": await reader.newest()})
        return await reader.catch_up(start, our_id, alert_of, page, max_pages)
    finally:
        if client is None:
            await http.aclose()


def link_min_id(response: httpx.Response) -> str | None:
    """The `min_id` of the page's `Link: <...>; rel="prev"`: where the next page forward starts.
    Only the id is taken: the token is never sent to a URL the server chose."""
    prev = response.links.get("prev", {}).get("url")
    if not prev:
        return None
    values = parse_qs(urlsplit(prev).query).get("min_id")
    return values[0] if values else None


class _Reader:
    def __init__(self, account: MastodonAccount, client: httpx.AsyncClient) -> None:
        self.account = account
        self.client = client
        self.where = f"mastodon account {account.name} ({account.base_url})"

    async def our_id(self) -> str:
        me = await self._json("/api/v1/accounts/verify_credentials", [])
        if not isinstance(me, dict) or "id" not in me:
            raise TransientError(f"{self.where}: verify_credentials answered without an id")
        return str(me["id"])

    async def newest(self) -> str | None:
        """The newest notification's id (None: there is none yet)."""
        page = await self._json("/api/v1/notifications", [("limit", "1"), ("include_filtered", "true")])
        return str(page[0]["id"]) if isinstance(page, list) and page and "id" in page[0] else None

    async def catch_up(
        self, start: MastodonCursor, our_id: str, alert_of: AlertOf, page: int, max_pages: int
    ) -> tuple[list[Reply], MastodonCursor]:
        replies: list[Reply] = []
        last = start.last_id
        min_id = last or "0"
        for _ in range(max_pages):
            params = [("types[]", "mention"), ("include_filtered", "true")]
            params += [("limit", str(page)), ("min_id", min_id)]
            try:
                response = await self._get("/api/v1/notifications", params)
                items = _list_of(response, self.where)
                for item in sorted(items, key=_id_order):
                    reply = await self._handle(item, our_id, alert_of)
                    if reply is not None:
                        replies.append(reply)
                    last = later(last, str(item.get("id", last or "0")))
            except TransientError as error:
                if last == start.last_id:
                    raise
                log.warning(
                    "%s: stopped after notification %s, the rest next time: %s", self.where, last, error
                )
                break
            if len(items) < page or response.headers.get("X-RateLimit-Remaining", "").strip() == "0":
                break
            min_id = link_min_id(response) or last or min_id
        return replies, start.model_copy(update={"last_id": last})

    async def _handle(self, item: dict[str, object], our_id: str, alert_of: AlertOf) -> Reply | None:
        notification = notification_of(item)
        if notification is None:
            log.warning("%s: notification %r not understood, skipped", self.where, item.get("id"))
            return None
        status = notification.status
        if notification.type != "mention" or status is None or status.account.id == our_id:
            return None  # an older server ignoring types[], a deleted status, our own mention
        ancestors = await self._ancestors(status.id) if needs_context(status, our_id) else []
        alert_id, conversation = place(status, our_id, alert_of, ancestors)
        return to_reply(status, alert_id, conversation)

    async def _ancestors(self, status_id: str) -> list[Status]:
        """The statuses above this one, root first; none when it is gone or not visible to us."""
        try:
            context = await self._json(f"/api/v1/statuses/{status_id}/context", [])
        except _NotFound:
            return []
        found = []
        for item in context.get("ancestors", []) if isinstance(context, dict) else []:
            try:
                found.append(Status.model_validate(item))
            except ValueError:
                log.warning("%s: an ancestor of status %s not understood", self.where, status_id)
        return found

    # --- the client API ------------------------------------------------------------------------

    async def _json(self, path: str, params: list[tuple[str, str]]) -> object:
        response = await self._get(path, params)
        try:
            return response.json()
        except ValueError:  # a proxy's page, not the instance: it may pass
            raise TransientError(f"{self.where} answered {response.status_code} without JSON") from None

    async def _get(self, path: str, params: list[tuple[str, str]]) -> httpx.Response:
        """One GET; errors become TransientError / PermanentError with the server's reason."""
        headers = {"Authorization": f"Bearer {self.account.access_token()}"}
        try:
            response = await self.client.get(
                f"{self.account.base_url}{path}", params=tuple(params), headers=headers
            )
        except httpx.TransportError as error:
            raise TransientError(f"{self.where}: {type(error).__name__}: {error}") from None
        if response.is_success:
            return response
        status = response.status_code
        reason = f"{self.where} answered {status} to GET {path}: {_error_of(response)}"
        if status == 429 or status >= 500:
            raise TransientError(reason, retry_after_of(response, clock.now()))
        if status == 401:
            raise PermanentError(
                f"{self.where}: token revoked or invalid (401); renew it in {self.account.token_source()}"
            )
        if status == 403:
            raise PermanentError(
                f"{reason} (the token needs the read:notifications and read:statuses scopes)"
            )
        if status == 404:
            raise _NotFound(reason)
        raise PermanentError(reason)


class _NotFound(PermanentError):
    """A status gone (deleted, or never visible to us)."""


def _id_order(item: dict[str, object]) -> tuple[int, str]:
    """Oldest first: Mastodon's numeric ids by length then digits, GoToSocial's ULIDs as text."""
    native = str(item.get("id", ""))
    return len(native), native


def _list_of(response: httpx.Response, where: str) -> list[dict[str, object]]:
    try:
        answer = response.json()
    except ValueError:
        raise TransientError(f"{where} answered {response.status_code} without JSON") from None
    if not isinstance(answer, list):
        raise TransientError(f"{where}: the notifications are not a list")
    return [item for item in answer if isinstance(item, dict)]


def _error_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])[:300]
    return str(body)[:200]
