"""Facebook comments turned into the `Reply` every network's reader hands over, and the mark
that says which comments of a post were read.

Pure (no HTTP, no clock) so the Graph API's shapes are tested in milliseconds;
`facebook_replies` fetches the pages and calls these functions.

A comment (`GET /{page-post-id}/comments?filter=stream&fields=id,from,message,created_time,parent`):
- id: `facebook:<comment id>` (`<post>_<comment>`, the id the inbox hides or answers);
- author: `from.name` (Graph gives `from` on the Page's own posts to a Page token; "Facebook"
  when it is missing), with our Page's own comments skipped (`from.id` is the Page);
- text: `message`; url: the post's page with `?comment_id=`; at: `created_time`;
- in_reply_to: the `parent` comment for an answer to a comment, else the post;
- alert: the post's (`alert_of`); conversation: the top-level comment (Facebook threads are one
  level deep: an answer's parent is the comment at the top).

Read marks. `created_time` has one-second precision and several comments can share it, so a
post's mark is the newest time read and the ids read at that very second: a comment is new when
it is later, or of that second and not among those ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alertcast.channels.facebook import post_url
from alertcast.channels.reply_text import plain_text
from alertcast.replies.model import Reply, reply_id


class Comment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    message: str = ""
    created_time: datetime
    author_id: str = ""
    author: str = "Facebook"
    parent: str | None = None


class Mark(BaseModel):
    """How far one post's comments were read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    newest: datetime
    ids: list[str] = Field(default_factory=list, description="the comments read at `newest`")


def comment_of(item: dict[str, Any]) -> Comment | None:
    """A comment of a page, None when it is not one (skipped, never fatal)."""
    sender, parent = _obj(item.get("from")), _obj(item.get("parent"))
    try:
        return Comment(
            id=str(item["id"]),
            message=str(item.get("message") or ""),
            created_time=item["created_time"],
            author_id=str(sender.get("id", "")),
            author=str(sender.get("name") or "Facebook"),
            parent=str(parent["id"]) if "id" in parent else None,
        )
    except (KeyError, ValueError):
        return None


def is_new(comment: Comment, mark: Mark | None) -> bool:
    if mark is None or comment.created_time > mark.newest:
        return True
    return comment.created_time == mark.newest and comment.id not in mark.ids


def marked(comments: Iterable[Comment], mark: Mark | None) -> Mark | None:
    """The mark after reading `comments` (all new) on top of `mark`."""
    newest = mark
    for comment in comments:
        if newest is None or comment.created_time > newest.newest:
            newest = Mark(newest=comment.created_time, ids=[comment.id])
        elif comment.created_time == newest.newest and comment.id not in newest.ids:
            newest = Mark(newest=newest.newest, ids=[*newest.ids, comment.id])
    return newest


def to_reply(comment: Comment, post_id: str, alert_id: str | None) -> Reply:
    return Reply(
        id=reply_id("facebook", comment.id),
        network="facebook",
        author=comment.author,
        text=plain_text(comment.message),
        url=f"{post_url(post_id)}?comment_id={comment.id}",
        at=comment.created_time,
        alert_id=alert_id,
        in_reply_to=comment.parent or post_id,
        conversation=comment.parent or comment.id,
    )


def _obj(value: object) -> dict[str, Any]:
    """A JSON object of the answer, or an empty one for anything else (a server's oddity)."""
    return value if isinstance(value, dict) else {}
