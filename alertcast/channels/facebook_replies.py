"""Citizens' comments under our Facebook Page posts, read with the Graph API: the Facebook
channel's reading half (issue 19). The comment -> Reply part is pure and lives in
`facebook_reply_parsing`; this module only asks Graph.

What it reads. For each of our recent posts (the caller's list, from the delivery receipts:
Graph has no "comments on my Page" feed for a Page token without webhooks),
`GET /{page-post-id}/comments?filter=stream&order=reverse_chronological&fields=id,from,message,
created_time,parent`: `filter=stream` gives every comment, answers to comments included (the
default `toplevel` only the first level), newest first, so a read stops at the first comment
already read. Pages are followed by their `after` cursor (never the `next` URL: it holds the
token), `max_pages` per post at most. Comments by our Page are skipped. The token is the Page
access token of the channel, with `pages_read_engagement` (and `pages_read_user_content` to see
visitors' comments, as Meta's documentation asks).

Order and cursor. The cursor (`FacebookCursor`) keeps, per post read, the newest `created_time`
read and the ids read at that second (`Mark`); the caller persists it in Kafka after producing
the replies: a crash in between reads the same comments again with the same ids, and nothing is
lost. Posts that left the recent list are dropped from it; a deleted post is skipped.

Failures are the channel's (`FacebookChannel`): throttling (codes 4, 17, 32, 613) and 5xx are
TransientError with the wait Graph gives, a revoked token a PermanentError naming where to
renew it; the token never appears in an error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx
from pydantic import BaseModel, ConfigDict, Field

from alertcast.channels.facebook import FacebookAccount, FacebookChannel
from alertcast.channels.facebook_reply_parsing import Comment, Mark, comment_of, is_new, marked, to_reply
from alertcast.http import make_client
from alertcast.replies.model import Reply

log = logging.getLogger(__name__)

PAGE = 100
FIELDS = "id,from,message,created_time,parent"
RECENT_DAYS = 14
RECENT_POSTS = 50


class FacebookCursor(BaseModel):
    """How far the comments of one Page's recent posts were read, keyed by `account`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str
    posts: dict[str, Mark] = Field(default_factory=dict, description="page-post id -> how far it was read")


def recent_posts(
    posts: dict[str, tuple[str, datetime]],
    now: datetime,
    days: float = RECENT_DAYS,
    limit: int = RECENT_POSTS,
) -> list[tuple[str, str]]:
    """(post id, alert id) of the posts published in the last `days`, newest first, `limit` at
    most: comments come under fresh alerts, and every post read costs a request."""
    since = now - timedelta(days=days)
    fresh = sorted(((at, post, alert) for post, (alert, at) in posts.items() if at >= since), reverse=True)
    return [(post, alert) for _, post, alert in fresh[:limit]]


async def read_replies(
    account: FacebookAccount,
    cursor: FacebookCursor | None,
    posts: Sequence[tuple[str, str]],
    *,
    client: httpx.AsyncClient | None = None,
    page: int = PAGE,
    max_pages: int = 10,
) -> tuple[list[Reply], FacebookCursor]:
    """The comments that arrived under `posts` ((page-post id, alert id), newest first) since
    `cursor`, oldest first, and the cursor to persist once they are produced.
    Raises TransientError or PermanentError."""
    start = cursor or FacebookCursor(account=account.name)
    if start.account != account.name:
        raise ValueError(f"the cursor is account {start.account!r}'s, not {account.name!r}'s")
    channel = FacebookChannel([account], client or make_client())
    try:
        replies: list[Reply] = []
        marks: dict[str, Mark] = {}
        for post_id, alert_id in posts:
            mark = start.posts.get(post_id)
            fresh = await _new_comments(channel, account, post_id, mark, page, max_pages)
            if fresh is None:
                continue  # the post is gone
            citizens = [comment for comment in fresh if comment.author_id != account.page_id]
            replies += [to_reply(comment, post_id, alert_id) for comment in citizens]
            if (new_mark := marked(fresh, mark)) is not None:
                marks[post_id] = new_mark
        replies.sort(key=lambda reply: reply.at)
        return replies, start.model_copy(update={"posts": marks})
    finally:
        if client is None:
            await channel.aclose()


async def _new_comments(
    channel: FacebookChannel,
    account: FacebookAccount,
    post_id: str,
    mark: Mark | None,
    page: int,
    max_pages: int,
) -> list[Comment] | None:
    """The post's comments not read yet, newest first; None when the post is gone."""
    params = {"filter": "stream", "order": "reverse_chronological", "fields": FIELDS, "limit": str(page)}
    found: list[Comment] = []
    for _ in range(max_pages):
        answer = await channel.graph_get(account, f"/{post_id}/comments", params)
        if answer is None:
            return None
        items = answer.get("data") or []
        for item in items:
            comment = comment_of(item) if isinstance(item, dict) else None
            if comment is None:
                log.warning("facebook account %s: a comment under %s not understood", account.name, post_id)
                continue
            if is_new(comment, mark):
                found.append(comment)
            elif mark is not None and comment.created_time < mark.newest:
                return found  # newest first: everything below was read (the same second may mix)
        after = answer.get("paging", {}).get("cursors", {}).get("after")
        if not items or not after or "next" not in answer.get("paging", {}):
            return found
        params["after"] = str(after)
    log.warning(
        "facebook account %s: more than %d pages of new comments under %s", account.name, max_pages, post_id
    )
    return found
