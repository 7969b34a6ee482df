"""Telegram updates turned into the `Reply` every network's reader hands over.

Pure (no HTTP, no clock) so the Bot API's shapes are tested in milliseconds;
`telegram_replies` calls `getUpdates` and these functions.

Where comments are. A channel has no replies of its own: comments under a channel post live in
the channel's linked discussion group. Telegram copies each channel post there as an automatic
forward (`is_automatic_forward: true`, its origin in `forward_origin` — type `channel`, `chat`,
`message_id` — or, before Bot API 7.0, `forward_from_chat` and `forward_from_message_id`), and
a comment is a group message whose `reply_to_message` is that forward; an answer to a comment
replies to the comment, in the same thread (`message_thread_id`, the forward's id in the
group). So the reader keeps which group thread is which channel post (`Threads`, in its cursor)
and places an answer to a comment through it. Where alertcast posts in a group itself, a reply
is a message whose `reply_to_message` is our message.

What a message becomes:
- id: `telegram:<chat id>:<message id>` (message ids are per chat); in_reply_to and
  conversation are such `<chat id>:<message id>` pairs too;
- author: `@username`, else the name, else the chat it was sent as (anonymous admins);
- text: `text`, else the `caption` of a photo or document;
- url: `https://t.me/<channel>/<post>?comment=<id>` when the channel is public, else the
  group's own link when it is public, else none;
- at: `date`; alert: the alert of the channel post (or of our message in a group);
- conversation: the comment under our post (the message itself when it answers us directly).
Kept only under our posts: a discussion group is a public square, and its other messages are
not addressed to us. Automatic forwards, the bot's own messages and the channel's own are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alertcast.channels.reply_text import plain_text
from alertcast.replies.model import Reply, reply_id

AlertOf = Callable[[str], str | None]  # "<chat id>:<message id>" of our post -> its alert
Threads = dict[str, str]  # "<group id>:<thread id>" -> "<channel id>:<post id>"
MAX_THREADS = 500


def ref(chat_id: object, message_id: object) -> str:
    return f"{chat_id}:{message_id}"


def origin_of(message: dict[str, Any]) -> tuple[dict[str, Any], int] | None:
    """(the channel, its post id) an automatic forward copies; None for any other message."""
    if not message.get("is_automatic_forward"):
        return None
    origin = message.get("forward_origin")
    if isinstance(origin, dict) and origin.get("type") == "channel" and isinstance(origin.get("chat"), dict):
        return origin["chat"], int(origin.get("message_id", 0))
    chat = message.get("forward_from_chat")
    if isinstance(chat, dict) and "forward_from_message_id" in message:
        return chat, int(message["forward_from_message_id"])
    return None


def remember(threads: Threads, message: dict[str, Any]) -> None:
    """Record the thread an automatic forward opens in its group (bounded: the oldest go first)."""
    origin = origin_of(message)
    if origin is None:
        return
    key = ref(_obj(message.get("chat")).get("id"), message.get("message_id"))
    threads.pop(key, None)
    threads[key] = ref(origin[0].get("id"), origin[1])
    while len(threads) > MAX_THREADS:
        threads.pop(next(iter(threads)))


def author_of(message: dict[str, Any]) -> str:
    person, sender_chat = _obj(message.get("from")), _obj(message.get("sender_chat"))
    if sender_chat and not message.get("is_automatic_forward"):
        return str(sender_chat.get("title") or sender_chat.get("username") or sender_chat.get("id"))
    if person.get("username"):
        return f"@{person['username']}"
    name = " ".join(str(person.get(part, "")) for part in ("first_name", "last_name")).strip()
    return name or str(person.get("id", "?"))


def reply_of(message: dict[str, Any], bot_id: int, alert_of: AlertOf, threads: Threads) -> Reply | None:
    """The reply a group message is for the inbox, None when it is none (see the module).
    `threads` learns from it (the forward it answers opens a thread)."""
    parent = message.get("reply_to_message")
    if not isinstance(parent, dict) or message.get("is_automatic_forward"):
        return None
    remember(threads, parent)
    person, chat = _obj(message.get("from")), _obj(message.get("chat"))
    if person.get("id") == bot_id:
        return None  # ours: the console's answers, or a post in a group
    here = ref(chat.get("id"), message.get("message_id"))
    answered = ref(chat.get("id"), parent.get("message_id"))
    origin = origin_of(parent)
    if origin is not None:  # a comment under a channel post
        post = ref(origin[0].get("id"), origin[1])
        alert, conversation, channel, in_reply_to = alert_of(post), here, origin[0], post
    elif (alert := alert_of(answered)) is not None:  # a reply to our message in a group
        conversation, channel, in_reply_to = here, None, answered
    else:  # an answer to a comment: its thread says which post it is under
        thread = threads.get(ref(chat.get("id"), message.get("message_thread_id")))
        alert = alert_of(thread) if thread else None
        conversation, channel, in_reply_to = answered, None, answered
        if thread is not None:
            channel = {"id": int(thread.split(":")[0])}
    sender_chat = message.get("sender_chat")
    if alert is None or (
        isinstance(sender_chat, dict) and channel and sender_chat.get("id") == channel.get("id")
    ):
        return None  # under no post of ours, or the channel writing in its own discussion
    text = message.get("text") if isinstance(message.get("text"), str) else message.get("caption")
    return Reply(
        id=reply_id("telegram", here),
        network="telegram",
        author=author_of(message),
        text=plain_text(str(text or "")),
        url=_url(message, channel, in_reply_to),
        at=datetime.fromtimestamp(int(message.get("date", 0)), UTC),
        alert_id=alert,
        in_reply_to=in_reply_to,
        conversation=conversation,
    )


def _url(message: dict[str, Any], channel: dict[str, Any] | None, post: str) -> str | None:
    comment = message.get("message_id")
    if channel and channel.get("username"):
        return f"https://t.me/{channel['username']}/{post.split(':')[-1]}?comment={comment}"
    group = _obj(message.get("chat")).get("username")
    return f"https://t.me/{group}/{comment}" if group else None


def _obj(value: object) -> dict[str, Any]:
    """A JSON object of the answer, or an empty one for anything else (a server's oddity)."""
    return value if isinstance(value, dict) else {}
