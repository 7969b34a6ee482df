"""The Telegram adapter against a contract server written from the Bot API documentation.

Everything is counted and read back on the server: messages in the channel, edits, replies.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from channel_requests import delivery_request
from servers.telegram_contract import TelegramServer

from alertcast.channels.base import LookupUnsupported
from alertcast.channels.telegram import TelegramAccount, TelegramChannel
from alertcast.delivery.retry import OutcomeUnknown, PermanentError, RetryPolicy, TransientError
from alertcast.http import make_client
from alertcast.models.incident import MsgType, Status

pytestmark = pytest.mark.servers


@dataclass
class Bot:
    id: int
    token: str
    variable: str
    chat_id: int
    username: str


@pytest.fixture(scope="module")
def server() -> Iterator[TelegramServer]:
    running = TelegramServer().start()
    yield running
    running.stop()


@pytest.fixture
def bot(server: TelegramServer, monkeypatch: pytest.MonkeyPatch) -> Bot:
    """A bot, administrator with the right to post of a fresh public channel."""
    bot_id, token = server.state.add_bot("prefecture62_bot")
    username = f"alertes62_{uuid.uuid4().hex[:6]}"
    chat_id = server.state.add_channel("Alertes Pas-de-Calais", username)
    server.state.set_member(chat_id, bot_id, "administrator", can_post_messages=True, can_edit_messages=True)
    variable = f"ALERTCAST_TEST_TG_TOKEN_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(variable, token)
    return Bot(bot_id, token, variable, chat_id, username)


def account(server: TelegramServer, bot: Bot, **extra: Any) -> TelegramAccount:
    return TelegramAccount(
        name=extra.pop("name", "prefecture"),
        chat_id=extra.pop("chat_id", f"@{bot.username}"),
        api_base=server.url,
        access_token_env=bot.variable,
        **extra,
    )


@pytest.fixture
async def channel(server: TelegramServer, bot: Bot) -> AsyncIterator[TelegramChannel]:
    accounts = [
        account(server, bot),
        account(server, bot, name="exercises", chat_id=str(bot.chat_id), exercise=True, delete_on_end=True),
    ]
    adapter = TelegramChannel(accounts, make_client(5))
    yield adapter
    await adapter.aclose()


request = partial(delivery_request, "telegram")


async def test_publish_is_counted_and_read_back(
    channel: TelegramChannel, server: TelegramServer, bot: Bot
) -> None:
    post = await channel.publish(request("Route D917 fermée à Arras.\nhttps://www.pas-de-calais.gouv.fr/a/1"))

    stored = server.state.messages_in(bot.chat_id)
    assert [str(m["message_id"]) for m in stored] == [post.post_id]
    assert stored[0]["text"] == "Route D917 fermée à Arras.\nhttps://www.pas-de-calais.gouv.fr/a/1"
    assert stored[0]["link_preview_options"] == {"is_disabled": True}
    assert post.url == f"https://t.me/{bot.username}/{post.post_id}"


async def test_a_private_channel_has_no_public_link(server: TelegramServer, bot: Bot) -> None:
    private = server.state.add_channel("Cellule de crise")
    server.state.set_member(private, bot.id, "administrator", can_post_messages=True)
    adapter = TelegramChannel([account(server, bot, chat_id=str(private))], make_client(5))
    try:
        post = await adapter.publish(request("Réunion de crise à 8 h."))
    finally:
        await adapter.aclose()
    assert post.post_id == "1" and post.url is None


async def test_an_update_edits_the_message(
    channel: TelegramChannel, server: TelegramServer, bot: Bot
) -> None:
    first = request("Route D917 fermée à Arras.")
    root = await channel.publish(first)
    change = request("Mise à jour : déviation par la D60.", 2, MsgType.UPDATE, alert_id=first.alert_id)
    edit = await channel.update(change, root)
    again = await channel.update(change, root)  # a retry: "message is not modified" is done

    stored = server.state.messages_in(bot.chat_id)
    assert len(stored) == 1
    assert stored[0]["text"] == "Mise à jour : déviation par la D60." and "edit_date" in stored[0]
    assert edit.post_id == again.post_id == root.post_id and edit.url == root.url


async def test_an_update_replies_when_the_message_cannot_be_edited(
    channel: TelegramChannel, server: TelegramServer, bot: Bot
) -> None:
    first = request("Route D917 fermée à Arras.")
    root = await channel.publish(first)
    with server.state.lock:  # deleted by hand in the channel
        del server.state.messages[bot.chat_id][int(str(root.post_id))]
    reply = await channel.update(request("Mise à jour.", 2, MsgType.UPDATE, alert_id=first.alert_id), root)
    assert [m["text"] for m in server.state.messages_in(bot.chat_id)] == ["Mise à jour."]
    assert reply.details["in_reply_to"] == int(str(root.post_id))


async def test_the_end_is_a_reply_to_the_alert(
    channel: TelegramChannel, server: TelegramServer, bot: Bot
) -> None:
    first = request("Route D917 fermée à Arras.")
    root = await channel.publish(first)
    end = await channel.end(request("Route D917 rouverte.", 2, MsgType.CANCEL, alert_id=first.alert_id), root)

    messages = {str(m["message_id"]): m for m in server.state.messages_in(bot.chat_id)}
    assert len(messages) == 2
    notice = messages[str(end.post_id)]
    assert notice["text"] == "FIN D'ALERTE – Route D917 rouverte."
    assert notice["reply_to_message"]["message_id"] == int(str(root.post_id))
    assert messages[str(root.post_id)]["text"] == "Route D917 fermée à Arras."  # not configured to delete


async def test_the_end_deletes_the_alert_when_configured(
    channel: TelegramChannel, server: TelegramServer, bot: Bot
) -> None:
    first = request("EXERCICE\nRoute D917 fermée.", status=Status.EXERCISE, account="exercises")
    root = await channel.publish(first)
    ending = request(
        "EXERCICE\nFIN D'ALERTE",
        2,
        MsgType.CANCEL,
        Status.EXERCISE,
        account="exercises",
        alert_id=first.alert_id,
    )
    end = await channel.end(ending, root)
    assert [str(m["message_id"]) for m in server.state.messages_in(bot.chat_id)] == [end.post_id]
    assert end.details["deleted"] == [int(str(root.post_id))]


async def test_an_alert_older_than_48_hours_stays_and_the_end_says_so(
    channel: TelegramChannel, server: TelegramServer, bot: Bot
) -> None:
    first = request("EXERCICE\nRoute D917 fermée.", status=Status.EXERCISE, account="exercises")
    root = await channel.publish(first)
    server.state.age(bot.chat_id, int(str(root.post_id)), hours=49)
    ending = request(
        "EXERCICE\nFIN D'ALERTE",
        2,
        MsgType.CANCEL,
        Status.EXERCISE,
        account="exercises",
        alert_id=first.alert_id,
    )
    end = await channel.end(ending, root)
    assert len(server.state.messages_in(bot.chat_id)) == 2
    assert end.details["deleted"] == [] and "can't be deleted" in end.details["not_deleted"]


async def test_a_retried_end_does_not_post_the_notice_twice(
    channel: TelegramChannel, server: TelegramServer, bot: Bot
) -> None:
    """The notice is posted, the deletion hits a 502: the retry only deletes."""
    first = request("EXERCICE\nRoute D917 fermée.", status=Status.EXERCISE, account="exercises")
    root = await channel.publish(first)
    ending = request(
        "EXERCICE\nFIN D'ALERTE",
        2,
        MsgType.CANCEL,
        Status.EXERCISE,
        account="exercises",
        alert_id=first.alert_id,
    )
    real_call = channel._call
    calls: list[str] = []

    async def deletion_fails_once(config: TelegramAccount, method: str, body: dict[str, Any]) -> Any:
        calls.append(method)
        if method == "deleteMessage" and calls.count("deleteMessage") == 1:
            server.state.unavailable = 1
        return await real_call(config, method, body)

    channel._call = deletion_fails_once  # type: ignore[method-assign]
    end, attempts = await RetryPolicy(attempts=3, base_s=0.01).run(lambda: channel.end(ending, root))
    assert attempts == 2 and calls.count("sendMessage") == 1
    assert [str(m["message_id"]) for m in server.state.messages_in(bot.chat_id)] == [end.post_id]


async def test_a_text_too_long_is_refused_with_the_reason(
    channel: TelegramChannel, server: TelegramServer, bot: Bot
) -> None:
    with pytest.raises(PermanentError, match="Telegram allows 4096"):
        await channel.publish(request("é" * 4097))
    root = await channel.publish(request("Route fermée."))
    channel.fitted = lambda delivery: "🌀" * 2049  # type: ignore[method-assign]  # 4098 UTF-16 units
    with pytest.raises(PermanentError, match="Bad Request: message is too long"):
        await channel.update(request("Mise à jour.", 2, MsgType.UPDATE), root)
    assert len(server.state.messages_in(bot.chat_id)) == 1


async def test_429_waits_retry_after(channel: TelegramChannel, server: TelegramServer) -> None:
    server.state.rate_limited, server.state.retry_after_s = 1, 7
    with pytest.raises(TransientError, match="retry after 7") as limited:
        await channel.publish(request("Route D917 fermée."))
    assert limited.value.retry_after == 7


async def test_5xx_twice_then_success_through_the_retry_policy(
    channel: TelegramChannel, server: TelegramServer, bot: Bot
) -> None:
    server.state.unavailable = 2
    post, attempts = await RetryPolicy(attempts=3, base_s=0.01).run(
        lambda: channel.publish(request("Route D917 fermée."))
    )
    assert attempts == 3
    assert [str(m["message_id"]) for m in server.state.messages_in(bot.chat_id)] == [post.post_id]


async def test_a_send_without_answer_is_unknown_not_retried_and_names_no_token(
    server: TelegramServer, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """The message was stored, the answer came too late: posting again would double it, and
    Telegram cannot be asked, so the outcome is unknown (a person decides)."""
    caplog.set_level(logging.DEBUG)
    adapter = TelegramChannel([account(server, bot)], make_client(0.3))
    server.state.slow, server.state.slow_s = 1, 1.0
    try:
        with pytest.raises(OutcomeUnknown, match="ReadTimeout") as late:
            await adapter.publish(request("Route D917 fermée."))
    finally:
        await adapter.aclose()
    assert len(server.state.messages_in(bot.chat_id)) == 1
    for said in (str(late.value), repr(late.value), caplog.text):
        assert bot.token not in said


async def test_a_timeout_of_a_call_that_posts_nothing_is_an_ordinary_failure(
    server: TelegramServer, bot: Bot
) -> None:
    adapter = TelegramChannel([account(server, bot)], make_client(0.3))
    server.state.slow, server.state.slow_s = 1, 1.0
    try:
        health = await adapter.check(adapter.accounts()[0])
    finally:
        await adapter.aclose()
    assert not health.ok and health.problem is not None and "ReadTimeout" in health.problem


async def test_find_existing_is_unsupported(
    channel: TelegramChannel, server: TelegramServer, bot: Bot
) -> None:
    delivery = request("Route D917 fermée.")
    await channel.publish(delivery)
    with pytest.raises(LookupUnsupported, match="a person checks the channel"):
        await channel.find_existing(delivery)
    assert len(server.state.messages_in(bot.chat_id)) == 1  # nothing posted by the lookup


async def test_an_exercise_is_refused_on_a_public_account(
    channel: TelegramChannel, server: TelegramServer, bot: Bot
) -> None:
    with pytest.raises(PermanentError, match="exercise: false"):
        await channel.publish(request("EXERCICE\nTempête.", status=Status.EXERCISE))
    assert server.state.messages_in(bot.chat_id) == []


async def test_check_a_bot_allowed_to_post(channel: TelegramChannel) -> None:
    health = await channel.check("prefecture")
    assert health.ok and health.can_post is True, health.problem
    assert health.limit == 4096


async def test_check_a_bot_that_is_not_an_administrator(server: TelegramServer, bot: Bot) -> None:
    other = server.state.add_channel("Alertes Arras", f"arras_{uuid.uuid4().hex[:6]}")
    server.state.set_member(other, bot.id, "administrator", can_post_messages=False)
    adapter = TelegramChannel([account(server, bot, chat_id=str(other))], make_client(5))
    try:
        health = await adapter.check("prefecture")
    finally:
        await adapter.aclose()
    assert not health.ok and health.can_post is False
    assert health.problem is not None and "without the right to post" in health.problem


async def test_a_revoked_token_fails_check_and_publish_without_showing_it(
    channel: TelegramChannel, server: TelegramServer, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await channel.check("prefecture")  # requests whose URL holds the token: httpx logs them
    server.state.revoke(bot.token)
    health = await channel.check("prefecture")
    with pytest.raises(PermanentError, match="token revoked or invalid") as refused:
        await channel.publish(request("Route D917 fermée."))
    assert not health.ok
    assert (
        health.problem is not None
        and "401: Unauthorized" in health.problem
        and bot.variable in health.problem
    )
    assert "/bot<redacted>/getMe" in caplog.text
    for said in (health.problem, str(refused.value), repr(refused.value), caplog.text):
        assert bot.token not in said
        assert bot.token.split(":")[1] not in said


def test_an_account_refuses_plain_http_and_odd_chat_ids() -> None:
    with pytest.raises(ValueError, match="https"):
        TelegramAccount(
            name="t", chat_id="@alertes62", api_base="http://api.telegram.org", access_token_env="T"
        )
    with pytest.raises(ValueError, match="chat_id"):
        TelegramAccount(name="t", chat_id="alertes 62", access_token_env="T")
