"""Citizens' replies and mentions on X, read from our account's mentions timeline: the X
channel's reading half (issue 19). The post -> Reply part is pure and lives in
`x_reply_parsing`; this module only asks the X API.

Paid tier only. Reading posts (`GET /2/users/:id/mentions`) is not in X's free API tier, which
only writes; it needs a paid tier (Basic or above) and the `tweet.read users.read` scopes. So the
reader is off unless the account says `read_replies: true` (XAccount); without it the worker
never calls the endpoint, and X replies stay unread.

What it reads. `GET /2/users/:id/mentions` with `since_id` (the cursor), `max_results=100`,
`expansions=author_id,referenced_tweets.id`, `tweet.fields=created_at,author_id,
conversation_id,referenced_tweets` and `user.fields=username`: newest first, pages followed by
`pagination_token` (`max_pages` at most; X serves the 800 most recent mentions only).

Order and cursor. The cursor (`XCursor`) is the newest post id read (`meta.newest_id`); the
caller persists it in Kafka after producing the replies: a crash in between reads them again
with the same ids, and nothing is lost. A first read (no cursor) takes what X serves.

Failures are the channel's (`XChannel`): a 429 waits until `x-rate-limit-reset` (the mentions
timeline allows few requests per 15 minutes on the lower tiers: keep `ALERTCAST_REPLIES_POLL_S`
at a minute or more), a revoked token is a PermanentError naming where to renew it.
"""

from __future__ import annotations

import logging

import httpx
from pydantic import BaseModel, ConfigDict, Field

from alertcast.channels.x import XAccount, XChannel
from alertcast.channels.x_reply_parsing import AlertOf, handles, later, post_of, reply_of
from alertcast.http import make_client
from alertcast.replies.model import Reply

log = logging.getLogger(__name__)

PAGE = 100
TWEET_FIELDS = "created_at,author_id,conversation_id,referenced_tweets"


class XCursor(BaseModel):
    """How far one account's mentions were read. Persisted by the caller, keyed by `account`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str
    user_id: str | None = Field(default=None, description="our user id, kept so a poll costs no request")
    since_id: str | None = Field(default=None, description="the newest mention read; None: never read")


def no_alert(_post_id: str) -> str | None:
    return None


async def read_replies(
    account: XAccount,
    cursor: XCursor | None,
    *,
    alert_of: AlertOf = no_alert,
    client: httpx.AsyncClient | None = None,
    page: int = PAGE,
    max_pages: int = 8,
) -> tuple[list[Reply], XCursor]:
    """The mentions posted after `cursor`, oldest first, and the cursor to persist once they are
    produced. Raises TransientError or PermanentError (and ValueError for an account that does
    not read replies)."""
    if not account.read_replies:
        raise ValueError(f"x account {account.name} does not read replies (read_replies: a paid X API tier)")
    start = cursor or XCursor(account=account.name)
    if start.account != account.name:
        raise ValueError(f"the cursor is account {start.account!r}'s, not {account.name!r}'s")
    channel = XChannel([account], client or make_client())
    try:
        our_id = start.user_id or await channel.user_id(account)
        params = {
            "max_results": str(page),
            "expansions": "author_id,referenced_tweets.id",
            "tweet.fields": TWEET_FIELDS,
            "user.fields": "username",
        }
        if start.since_id is not None:
            params["since_id"] = start.since_id
        replies: list[Reply] = []
        newest = start.since_id
        for _ in range(max_pages):
            answer = await channel.api_get(account, f"/2/users/{our_id}/mentions", params)
            authors = handles(answer)
            for item in answer.get("data") or []:
                post = post_of(item) if isinstance(item, dict) else None
                if post is None:
                    log.warning("x account %s: a mention not understood, skipped", account.name)
                    continue
                newest = later(newest, post.id)
                reply = reply_of(post, our_id, alert_of, authors)
                if reply is not None:
                    replies.append(reply)
            next_token = answer.get("meta", {}).get("next_token")
            if not next_token:
                break
            params["pagination_token"] = str(next_token)
        replies.sort(key=lambda reply: int(reply.id.split(":", 1)[1]))
        return replies, start.model_copy(update={"user_id": our_id, "since_id": newest})
    finally:
        if client is None:
            await channel.aclose()
