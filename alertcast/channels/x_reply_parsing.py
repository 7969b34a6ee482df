"""X posts mentioning our account turned into the `Reply` every network's reader hands over.

Pure (no HTTP, no clock) so the X API's shapes are tested in milliseconds; `x_replies` reads
`GET /2/users/:id/mentions` and calls these functions.

A reply to our post mentions us (X puts the handles of the thread first), so the mentions
timeline gives both the replies under our alerts and the mentions elsewhere. What a post becomes:
- id: `x:<post id>`, the id the inbox hides (`PUT /2/tweets/:id/hidden`) or answers;
- author: `@username` from `includes.users` (expansion `author_id`), else the author's id;
- text: `text` (the full text of X API v2, leading handles included);
- url: `https://x.com/i/web/status/<id>`; at: `created_at`;
- in_reply_to: the `replied_to` post of `referenced_tweets`;
- alert: the alert of the post it answers when that is ours, else of the conversation's first
  post (`conversation_id`: X gives the root of every thread) when that is ours; none for a
  mention elsewhere;
- conversation: the post itself when it answers us directly, else the post it answers.
Our own posts (an update is a reply in our thread) are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alertcast.channels.reply_text import plain_text
from alertcast.channels.x import status_url
from alertcast.replies.model import Reply, reply_id

AlertOf = Callable[[str], str | None]


class Post(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    text: str = ""
    author_id: str = ""
    created_at: datetime
    conversation_id: str | None = None
    referenced_tweets: list[dict[str, str]] = Field(default_factory=list)

    @property
    def replied_to(self) -> str | None:
        return next((str(r["id"]) for r in self.referenced_tweets if r.get("type") == "replied_to"), None)


def post_of(item: dict[str, Any]) -> Post | None:
    """A post of a page, None when it is not one (skipped, never fatal)."""
    try:
        return Post.model_validate(item)
    except ValueError:
        return None


def handles(page: dict[str, Any]) -> dict[str, str]:
    """user id -> `@username`, from the page's `includes.users`."""
    users = page.get("includes", {}).get("users", []) if isinstance(page.get("includes"), dict) else []
    return {
        str(u["id"]): f"@{u['username']}"
        for u in users
        if isinstance(u, dict) and "id" in u and u.get("username")
    }


def later(a: str | None, b: str) -> str:
    """The later of two post ids (snowflakes: numbers, compared as numbers)."""
    if a is None:
        return b
    return a if int(a) >= int(b) else b


def reply_of(post: Post, our_id: str, alert_of: AlertOf, authors: dict[str, str]) -> Reply | None:
    if post.author_id == our_id:
        return None
    parent = post.replied_to
    alert = alert_of(parent) if parent else None
    direct = alert is not None
    if alert is None and post.conversation_id and post.conversation_id != post.id:
        alert = alert_of(post.conversation_id)
    return Reply(
        id=reply_id("x", post.id),
        network="x",
        author=authors.get(post.author_id) or post.author_id or "?",
        text=plain_text(post.text),
        url=status_url(post.id),
        at=post.created_at,
        alert_id=alert,
        in_reply_to=parent,
        conversation=post.id if direct or parent is None else parent,
    )
