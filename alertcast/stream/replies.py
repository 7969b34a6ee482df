"""Replies read from the networks, on the leader worker only, with their cursors in Kafka.

Every `ALERTCAST_REPLIES_POLL_S` the leader asks each reader (a Mastodon account's mentions, an
IMAP mailbox, a Matrix room's `/sync`, a Bluesky account's PDS firehose (where its DID's posts
and the replies under them show), a Telegram bot's updates, the comments under a Facebook Page's
recent posts, an X account's mentions where `read_replies` is on) for what arrived after its
cursor, sends the replies to `replies.received` (keyed
by the alert they answer), waits until the brokers hold them, and only then sends the new
cursor to `replies.cursors`. A leader killed in between reads the same replies again: they keep
their ids, and the inbox drops repeats; none is lost. Every worker follows the cursors and the
delivery receipts (which post belongs to which alert), so a new leader continues at once.

What a reply is and how it is read are alertcast.replies' and alertcast.channels'.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel

from alertcast.channels import bluesky_replies, facebook_replies, matrix_replies, telegram_replies, x_replies
from alertcast.channels.bluesky import BlueskyAccount, BlueskyChannel
from alertcast.channels.bluesky_reply_parsing import FirehoseCursor
from alertcast.channels.email_parsing import thread_entry
from alertcast.channels.email_replies import ImapAccount, ImapCursor
from alertcast.channels.email_replies import read_replies as read_mailbox
from alertcast.channels.facebook import FacebookAccount
from alertcast.channels.mastodon import MastodonAccount
from alertcast.channels.mastodon_replies import MastodonCursor
from alertcast.channels.mastodon_replies import read_replies as read_mentions
from alertcast.channels.matrix import MatrixAccount
from alertcast.channels.telegram import TelegramAccount
from alertcast.channels.telegram_reply_parsing import ref
from alertcast.channels.x import XAccount
from alertcast.clock import clock
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.http import make_client
from alertcast.models.alert import DeliveryStatus, Receipt
from alertcast.replies.model import Reply
from alertcast.stream.app import app, send_durably, settings, topic
from alertcast.stream.follow import follow

log = logging.getLogger(__name__)

received = topic("replies.received")
cursor_topic = topic("replies.cursors")
cursors: dict[str, bytes] = {}
posts: dict[str, str] = {}  # "<channel>:<our post's id>" -> its alert
page_posts: dict[str, dict[str, tuple[str, datetime]]] = {}  # Facebook account -> post -> (alert, when)
dids: dict[str, str] = {}  # Bluesky account -> its DID: signed in for once, not at every poll
cursors_loaded, posts_loaded = asyncio.Event(), asyncio.Event()
Batch = tuple[list[Reply], BaseModel]  # the replies, and the cursor to keep once they are sent
Read = Callable[[bytes | None], Awaitable[Batch]]


def _cursor(key: bytes | None, value: bytes | None) -> None:
    if key is not None and value is not None:
        cursors[key.decode()] = value


def _receipt(key: bytes | None, value: bytes | None) -> None:
    """Which alert each of our posts belongs to: what a reply under it answers."""
    if value is None:
        return
    try:
        receipt = Receipt.model_validate_json(value)
    except ValueError:
        return  # not ours to judge here: the receipts' readers report it
    if receipt.status is not DeliveryStatus.SENT or not receipt.post_id:
        return
    if receipt.channel == "email":
        entry = thread_entry(receipt.post_id, receipt.alert_id)
        if entry is not None:
            posts[f"email:{entry[0]}"] = entry[1]
    else:
        posts[f"{receipt.channel}:{receipt.post_id}"] = receipt.alert_id
    if receipt.channel == "telegram" and receipt.details.get("chat_id") is not None:
        # Telegram's message ids are per chat: comments name the post by chat and message.
        posts[f"telegram:{ref(receipt.details['chat_id'], receipt.post_id)}"] = receipt.alert_id
    if receipt.channel == "facebook":
        page_posts.setdefault(receipt.account, {})[receipt.post_id] = (receipt.alert_id, receipt.at)


def alert_of(channel: str) -> Callable[[str], str | None]:
    return lambda post_id: posts.get(f"{channel}:{post_id}")


def readers() -> dict[str, Read]:
    """One reader per configured account that can be read, by cursor key."""
    found: dict[str, Read] = {}
    for data in settings.mastodon_accounts:
        mastodon = MastodonAccount.model_validate(data)

        async def mentions(
            raw: bytes | None, account: MastodonAccount = mastodon
        ) -> tuple[list[Reply], BaseModel]:
            cursor = MastodonCursor.model_validate_json(raw) if raw else None
            async with make_client(settings.http_timeout_s) as client:
                return await read_mentions(account, cursor, alert_of=alert_of("mastodon"), client=client)

        found[f"mastodon:{mastodon.name}"] = mentions
    for data in settings.email_reply_accounts:
        mailbox = ImapAccount.model_validate(data)

        async def mails(raw: bytes | None, account: ImapAccount = mailbox) -> Batch:
            cursor = ImapCursor.model_validate_json(raw) if raw else None
            batch = await read_mailbox(account, cursor, alert_of("email"))
            return batch.replies, batch.cursor

        found[f"email:{mailbox.name}"] = mails
    for data in settings.matrix_accounts:
        room = MatrixAccount.model_validate(data)

        async def room_replies(raw: bytes | None, account: MatrixAccount = room) -> Batch:
            cursor = matrix_replies.MatrixCursor.model_validate_json(raw) if raw else None
            async with make_client(settings.http_timeout_s) as client:
                return await matrix_replies.read_replies(
                    account, cursor, alert_of=alert_of("matrix"), client=client
                )

        found[f"matrix:{room.name}"] = room_replies
    bots = telegram_replies.bots(
        [TelegramAccount.model_validate(data) for data in settings.telegram_accounts]
    )
    for name, bot in bots.items():

        async def updates(raw: bytes | None, account: TelegramAccount = bot) -> Batch:
            cursor = telegram_replies.TelegramCursor.model_validate_json(raw) if raw else None
            async with make_client(settings.http_timeout_s) as client:
                return await telegram_replies.read_replies(
                    account, cursor, alert_of=alert_of("telegram"), client=client
                )

        found[f"telegram:{name}"] = updates
    for data in settings.facebook_accounts:
        page = FacebookAccount.model_validate(data)

        async def comments(raw: bytes | None, account: FacebookAccount = page) -> Batch:
            cursor = facebook_replies.FacebookCursor.model_validate_json(raw) if raw else None
            recent = facebook_replies.recent_posts(page_posts.get(account.name, {}), clock.now())
            async with make_client(settings.http_timeout_s) as client:
                return await facebook_replies.read_replies(account, cursor, recent, client=client)

        found[f"facebook:{page.name}"] = comments
    for data in settings.bluesky_accounts:
        bluesky = BlueskyAccount.model_validate(data)

        async def firehose(raw: bytes | None, account: BlueskyAccount = bluesky) -> Batch:
            cursor = FirehoseCursor.model_validate_json(raw) if raw else None
            if cursor is not None and cursor.service.rstrip("/") != account.service:
                # Sequence numbers are the old service's: read the new one from its start (the
                # replies keep their ids, so the inbox drops those it already has).
                cursor = None
            async with make_client(settings.http_timeout_s) as client:
                return await bluesky_replies.read_replies_firehose(
                    account.service,
                    await did_of(account, client),
                    cursor,
                    alert_of=alert_of("bluesky"),
                    client=client,
                    web_url=account.web_url,
                )

        found[f"bluesky:{bluesky.name}"] = firehose
    for data in settings.x_accounts:
        user = XAccount.model_validate(data)
        if not user.read_replies:
            continue  # reading needs a paid X API tier: only where the account says so

        async def x_mentions(raw: bytes | None, account: XAccount = user) -> Batch:
            cursor = x_replies.XCursor.model_validate_json(raw) if raw else None
            async with make_client(settings.http_timeout_s) as client:
                return await x_replies.read_replies(account, cursor, alert_of=alert_of("x"), client=client)

        found[f"x:{user.name}"] = x_mentions
    return found


async def did_of(account: BlueskyAccount, client: httpx.AsyncClient) -> str:
    """Our DID on Bluesky: what tells our posts, and the replies under them, from the rest.
    A DID never changes for an account, so one sign-in per worker (Bluesky limits sign-ins)."""
    if account.identifier.startswith("did:"):
        return account.identifier
    if account.name not in dids:
        dids[account.name] = await BlueskyChannel([account], client).did(account.name)
    return dids[account.name]


def readable() -> bool:
    """Some configured account can be read."""
    return bool(
        settings.mastodon_accounts
        or settings.email_reply_accounts
        or settings.matrix_accounts
        or settings.telegram_accounts
        or settings.facebook_accounts
        or settings.bluesky_accounts
        or any(data.get("read_replies") for data in settings.x_accounts)
    )


async def poll() -> None:
    """Each reader once, on the leader, when the cursors and the posts are known."""
    if not (cursors_loaded.is_set() and posts_loaded.is_set()):
        return
    for name, read in readers().items():
        try:
            replies, cursor = await read(cursors.get(name))
        except (TransientError, PermanentError) as error:
            log.warning("replies: %s not read: %s", name, error)
            continue
        messages = [
            (received, (reply.alert_id or f"mention:{reply.network}").encode(), _json(reply))
            for reply in replies
        ]
        await send_durably(*messages)  # the replies held before the cursor moves past them
        await send_durably((cursor_topic, name.encode(), _json(cursor)))
        cursors[name] = _json(cursor)
        if replies:
            log.info("replies: %d from %s", len(replies), name)


def _json(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


async def follow_cursors() -> None:
    await follow("replies.cursors", _cursor, cursors_loaded)


async def follow_posts() -> None:
    await follow("deliveries.receipts", _receipt, posts_loaded)


def start(worker_app: Any = app) -> None:
    """Polled only when some account can be read and polling is on."""
    if settings.replies_poll_s <= 0 or not readable():
        return
    worker_app.task(follow_cursors)
    worker_app.task(follow_posts)
    worker_app.timer(interval=settings.replies_poll_s, on_leader=True)(poll)


start()
