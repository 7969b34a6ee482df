"""Citizens' comments on Telegram, read with the Bot API's `getUpdates`: the Telegram channel's
reading half (issue 19). The message -> Reply part is pure and lives in
`telegram_reply_parsing`; this module only asks the Bot API.

What it reads. `getUpdates` with `allowed_updates: ["message"]` (Telegram keeps it as the bot's
setting for later calls) and `timeout: 0` (an answer at once: the worker polls). Comments under
a channel post arrive from the channel's linked discussion group, so the bot must be a member of
that group, and see its messages: an administrator of the group, or a bot whose privacy mode is
off (@BotFather, /setprivacy); otherwise Telegram sends it only the messages that answer the bot.

A bot with a webhook set cannot use getUpdates: Telegram answers 409 ("Conflict: can't use
getUpdates method while webhook is active"), a PermanentError here. Delete the webhook
(`deleteWebhook`) or do not read replies with that bot. Updates are one queue per bot, not per
chat: one reader per bot (the accounts sharing a bot share it), and no other program may read
the same bot's updates, or each takes some of them from the other.

Order and cursor. The cursor (`TelegramCursor`) is the `offset` of the next call: the highest
`update_id` read, plus one. Telegram drops an update only once getUpdates is called with an
offset above it, so one read asks for one page (`page` updates, 100 at most) and never calls
again before the caller has persisted the cursor in Kafka after producing the replies: a crash
in between asks with the old offset, Telegram sends the same updates, the replies keep their
ids, and nothing is lost. A busy group is read `page` updates per poll. Telegram keeps
unconfirmed updates for 24 hours: a reader stopped longer loses the oldest.

Failures are the channel's (`TelegramChannel`): a 429 waits `retry_after`, a revoked token is
a PermanentError naming where to renew it; the token never appears in an error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from alertcast.channels.telegram import TelegramAccount, TelegramChannel
from alertcast.channels.telegram_reply_parsing import AlertOf, Threads, remember, reply_of
from alertcast.http import make_client
from alertcast.replies.model import Reply

log = logging.getLogger(__name__)

PAGE = 100


class TelegramCursor(BaseModel):
    """How far one bot's updates were read. Persisted by the caller, keyed by `bot`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bot: str = Field(description="the reader's name: the first account using this bot")
    bot_id: int | None = Field(
        default=None, description="the bot's user id (getMe), kept so a poll costs no request"
    )
    offset: int | None = Field(default=None, description="the next update to read; None: never read")
    threads: Threads = Field(
        default_factory=dict, description="discussion threads seen: group thread -> post"
    )


def no_alert(_post: str) -> str | None:
    return None


def bots(accounts: Sequence[TelegramAccount]) -> dict[str, TelegramAccount]:
    """One account per bot (same API and token source), by the name of the first using it."""
    found: dict[tuple[str, str], TelegramAccount] = {}
    for account in accounts:
        found.setdefault((account.api_base, account.token_source()), account)
    return {account.name: account for account in found.values()}


async def read_replies(
    account: TelegramAccount,
    cursor: TelegramCursor | None,
    *,
    alert_of: AlertOf = no_alert,
    client: httpx.AsyncClient | None = None,
    page: int = PAGE,
) -> tuple[list[Reply], TelegramCursor]:
    """The comments under our posts among the bot's next updates (one page), oldest first, and
    the cursor to persist once they are produced. Raises TransientError or PermanentError."""
    if not 1 <= page <= 100:
        raise ValueError("page must be between 1 and 100 (Telegram's maximum)")
    start = cursor or TelegramCursor(bot=account.name)
    if start.bot != account.name:
        raise ValueError(f"the cursor is bot {start.bot!r}'s, not {account.name!r}'s")
    channel = TelegramChannel([account], client or make_client())
    try:
        bot_id = start.bot_id or int((await channel.bot_api(account, "getMe", {}))["id"])
        body: dict[str, object] = {"limit": page, "timeout": 0, "allowed_updates": ["message"]}
        if start.offset is not None:
            body["offset"] = start.offset
        updates = await channel.bot_api(account, "getUpdates", body)
        threads = dict(start.threads)
        replies: list[Reply] = []
        offset = start.offset
        for update in sorted(_list(updates), key=lambda item: int(item.get("update_id", 0))):
            offset = max(offset or 0, int(update.get("update_id", 0)) + 1)
            message = update.get("message")
            if not isinstance(message, dict):
                continue
            remember(threads, message)
            try:
                reply = reply_of(message, bot_id, alert_of, threads)
            except (ValueError, TypeError):
                log.warning(
                    "telegram bot %s: update %s not understood, skipped",
                    account.name,
                    update.get("update_id"),
                )
                continue
            if reply is not None:
                replies.append(reply)
        return replies, start.model_copy(update={"bot_id": bot_id, "offset": offset, "threads": threads})
    finally:
        if client is None:
            await channel.aclose()


def _list(updates: object) -> list[dict[str, Any]]:
    return [item for item in updates if isinstance(item, dict)] if isinstance(updates, list) else []
