"""Citizens' replies in our Matrix rooms, read through the client-server `/sync`: the Matrix
channel's reading half (issue 19). The event -> Reply part is pure and lives in
`matrix_reply_parsing`; this module only asks the homeserver.

What it reads. `GET /_matrix/client/v3/sync` with `timeout=0` (an answer at once, no long poll:
the worker polls) and an inline filter: the account's room only, `m.room.message` events only,
no presence, account data, ephemeral events nor state. A reply (`m.in_reply_to`) or a thread
message (`rel_type: m.thread`) under one of our posts' event ids (the delivery receipts give
them) is kept, and so is a message mentioning our user; messages of our own user are skipped.
A reply to a citizen's message is placed by fetching the events above it
(`GET /rooms/{room}/event/{id}`, `max_parents` at most).

Order and cursor. The cursor (`MatrixCursor`) is the `next_batch` token of the last sync, the
`since` of the next one; the caller persists it in Kafka after producing the replies: a crash
in between syncs from the old token again, the same events come back with the same reply ids,
and nothing is lost. When a sync's timeline is `limited` (more events arrived than it holds),
the gap is read backwards with `/rooms/{room}/messages` from its `prev_batch` down to the
previous token (`to`), so a busy room loses nothing either. A first read (no cursor) takes the
room's latest `page` messages.

Failures are the channel's (`MatrixChannel`): a 429 or 5xx is a TransientError with the wait
asked, a refused token a PermanentError naming where to renew it. The token needs nothing more
than posting does: our user is a member of the room. Encrypted rooms are not read (alertcast
posts in unencrypted rooms only: `check` refuses the others).
"""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field

from alertcast.channels.matrix import MatrixAccount, MatrixChannel
from alertcast.channels.matrix_reply_parsing import AlertOf, Event, event_of, needs_parents, reply_of
from alertcast.delivery.retry import PermanentError
from alertcast.http import make_client
from alertcast.replies.model import Reply

log = logging.getLogger(__name__)

PAGE = 100


class MatrixCursor(BaseModel):
    """How far one account's room was read. Persisted by the caller, keyed by `account`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str
    user_id: str | None = Field(
        default=None, description="our user (whoami), kept so a poll costs no request"
    )
    since: str | None = Field(default=None, description="the last sync's next_batch; None: never read")


def room_filter(room_id: str, page: int = PAGE) -> str:
    """The inline `/sync` filter: our room's messages, nothing else."""
    nothing: dict[str, list[str]] = {"types": []}
    return json.dumps(
        {
            "presence": nothing,
            "account_data": nothing,
            "room": {
                "rooms": [room_id],
                "timeline": {"types": ["m.room.message"], "limit": page},
                "state": nothing,
                "ephemeral": nothing,
                "account_data": nothing,
            },
        },
        separators=(",", ":"),
    )


def no_alert(_event_id: str) -> str | None:
    return None


async def read_replies(
    account: MatrixAccount,
    cursor: MatrixCursor | None,
    *,
    alert_of: AlertOf = no_alert,
    client: httpx.AsyncClient | None = None,
    page: int = PAGE,
    max_gap_pages: int = 20,
    max_parents: int = 5,
) -> tuple[list[Reply], MatrixCursor]:
    """The replies that arrived after `cursor` (None: never read), oldest first, and the cursor
    to persist once they are produced. Raises TransientError or PermanentError."""
    start = cursor or MatrixCursor(account=account.name)
    if start.account != account.name:
        raise ValueError(f"the cursor is account {start.account!r}'s, not {account.name!r}'s")
    channel = MatrixChannel([account], client or make_client())
    try:
        our_user = start.user_id or await channel.user_id(account)
        room = quote(account.room_id, safe="")
        params = {"timeout": "0", "filter": room_filter(account.room_id, page)}
        if start.since is not None:
            params["since"] = start.since
        answer = await channel.get(account, "/sync", params)
        if "next_batch" not in answer:
            raise PermanentError(f"matrix account {account.name}: /sync answered without next_batch")
        timeline = answer.get("rooms", {}).get("join", {}).get(account.room_id, {}).get("timeline", {})
        items = list(timeline.get("events", []))
        if timeline.get("limited") and start.since is not None and timeline.get("prev_batch"):
            items = (
                await _gap(channel, account, room, str(timeline["prev_batch"]), start.since, max_gap_pages)
                + items
            )
        replies = []
        for item in items:
            event = event_of(item)
            if event is None:
                log.warning("matrix account %s: an event not understood, skipped", account.name)
                continue
            if event.sender == our_user or not event.readable:
                continue
            parents = await _parents(channel, account, room, event, alert_of, max_parents)
            reply = reply_of(event, account.room_id, our_user, alert_of, parents)
            if reply is not None:
                replies.append(reply)
        return replies, start.model_copy(update={"user_id": our_user, "since": str(answer["next_batch"])})
    finally:
        if client is None:
            await channel.aclose()


async def _gap(
    channel: MatrixChannel, account: MatrixAccount, room: str, prev_batch: str, since: str, max_pages: int
) -> list[dict[str, object]]:
    """The events a limited timeline left out, oldest first: backwards from `prev_batch` to `since`."""
    older: list[dict[str, object]] = []
    params = {
        "dir": "b",
        "from": prev_batch,
        "to": since,
        "limit": str(PAGE),
        "filter": json.dumps({"types": ["m.room.message"]}),
    }
    for _ in range(max_pages):
        page = await channel.get(account, f"/rooms/{room}/messages", params)
        chunk = page.get("chunk") or []
        older.extend(chunk)
        if not chunk or "end" not in page:
            return list(reversed(older))
        params["from"] = str(page["end"])
    log.warning(
        "matrix account %s: a gap longer than %d pages, the oldest left unread", account.name, max_pages
    )
    return list(reversed(older))


async def _parents(
    channel: MatrixChannel, account: MatrixAccount, room: str, event: Event, alert_of: AlertOf, depth: int
) -> list[Event]:
    """The events above a reply to someone else, nearest first, until one of our posts."""
    parents: list[Event] = []
    current = event
    while len(parents) < depth and needs_parents(current, alert_of) and current.target is not None:
        try:
            found = event_of(
                await channel.get(account, f"/rooms/{room}/event/{quote(current.target, safe='')}", {})
            )
        except PermanentError:  # gone, or not visible to us: the chain stops there
            break
        if found is None:
            break
        parents.append(found)
        current = found
    return parents
