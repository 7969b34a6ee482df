"""Matrix room events turned into the `Reply` every network's reader hands over.

Pure (no HTTP, no clock) so the client-server API's shapes are tested in milliseconds;
`matrix_replies` runs `/sync` and calls these functions.

What is kept, and why:
- a message (`m.room.message`) from anyone but our user that answers one of our posts: its
  `m.relates_to` has `m.in_reply_to` (a rich reply) or `rel_type: m.thread` (a thread under
  it), directly or through a chain of replies whose top is ours (the reader fetches the
  events above, a few at most);
- a message that mentions our user (`m.mentions.user_ids`, the spec's intentional mentions),
  kept with no alert when it is under none of our posts.
Edits (`m.replace`), redacted events (no body) and our own messages never are: an edit does
not make a second reply, and our messages are the alerts and the console's answers.

What a message becomes:
- id: `matrix:<event id>`, the event id the inbox's actions redact or answer (unique in Matrix);
- author: the sender's user id (`@name:server`), what a person can search and mention;
- text: the `body`, without a rich-reply fallback (the quoted `> ` lines older clients put
  first) nor invisible characters;
- url: a matrix.to permalink of the event; at: `origin_server_ts`;
- in_reply_to: the event it answers (`m.in_reply_to`, else the thread's root);
- alert: the alert of our post at the top; conversation: one citizen's thread under our post,
  the first message below it (the message itself when it answers us directly).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alertcast.channels.matrix import permalink
from alertcast.channels.reply_text import plain_text
from alertcast.replies.model import Reply, reply_id

AlertOf = Callable[[str], str | None]
THREAD = "m.thread"


class Event(BaseModel):
    """The fields of a room event a reply needs."""

    model_config = ConfigDict(extra="ignore")

    event_id: str
    sender: str
    type: str = "m.room.message"
    origin_server_ts: int = 0
    content: dict[str, Any] = Field(default_factory=dict)

    @property
    def relation(self) -> dict[str, Any]:
        relates = self.content.get("m.relates_to")
        return relates if isinstance(relates, dict) else {}

    @property
    def thread_root(self) -> str | None:
        relation = self.relation
        return (
            str(relation["event_id"])
            if relation.get("rel_type") == THREAD and "event_id" in relation
            else None
        )

    @property
    def target(self) -> str | None:
        """The event this one answers: its reply target, unless that is only a thread's fallback
        for clients without threads (`is_falling_back`), then the thread's root."""
        relation = self.relation
        reply = relation.get("m.in_reply_to")
        if (
            isinstance(reply, dict)
            and "event_id" in reply
            and not (relation.get("rel_type") == THREAD and relation.get("is_falling_back"))
        ):
            return str(reply["event_id"])
        return self.thread_root

    @property
    def readable(self) -> bool:
        """A message with a text that is not an edit (redacted events have an empty content)."""
        return (
            self.type == "m.room.message"
            and isinstance(self.content.get("body"), str)
            and self.relation.get("rel_type") != "m.replace"
        )

    def mentions(self, user_id: str) -> bool:
        mentioned = self.content.get("m.mentions")
        return isinstance(mentioned, dict) and user_id in (mentioned.get("user_ids") or [])


def event_of(item: object) -> Event | None:
    """An event of a timeline, None when it is not one (skipped, never fatal)."""
    try:
        return Event.model_validate(item)
    except ValueError:
        return None


def without_fallback(body: str) -> str:
    """The body without the rich-reply fallback: leading `> ` lines and the blank line after."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).lstrip("\n")


def needs_parents(event: Event, alert_of: AlertOf) -> bool:
    """Only a reply to a message that is not one of our posts needs the events above it."""
    return event.target is not None and alert_of(event.target) is None


def place(event: Event, alert_of: AlertOf, parents: Sequence[Event] = ()) -> tuple[str | None, str] | None:
    """(alert, conversation) of a message answering one of our posts, given the events above it
    nearest first; None when no post of ours is above it."""
    chain = [event, *parents]
    for index, current in enumerate(chain):
        target = current.target
        if target is None:
            break
        if (alert := alert_of(target)) is not None:
            return alert, current.event_id
        if index + 1 < len(chain) and chain[index + 1].event_id != target:
            break  # the reader stopped following: the chain above is not this one
    root = event.thread_root
    if root is not None and (alert := alert_of(root)) is not None:
        return alert, chain[-1].event_id  # a thread under our post: the highest message known
    return None


def to_reply(event: Event, room_id: str, alert_id: str | None, conversation: str) -> Reply:
    at = datetime.fromtimestamp(event.origin_server_ts / 1000, UTC)
    return Reply(
        id=reply_id("matrix", event.event_id),
        network="matrix",
        author=event.sender,
        text=plain_text(without_fallback(str(event.content.get("body", "")))),
        url=permalink(room_id, event.event_id),
        at=at,
        alert_id=alert_id,
        in_reply_to=event.target,
        conversation=conversation,
    )


def reply_of(
    event: Event, room_id: str, our_user: str, alert_of: AlertOf, parents: Sequence[Event] = ()
) -> Reply | None:
    """The reply this event is for the inbox, None when it is none (see the module)."""
    if event.sender == our_user or not event.readable:
        return None
    placed = place(event, alert_of, parents)
    if placed is not None:
        return to_reply(event, room_id, *placed)
    if event.mentions(our_user):
        return to_reply(event, room_id, None, event.event_id)
    return None
