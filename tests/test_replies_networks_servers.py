"""Reading citizens' replies on Matrix (a real Synapse), Telegram, Facebook and X (contract
servers written from their documentation): a reply posted under a published alert is read
once, threaded to its alert; a second read from the cursor finds nothing again."""

# ruff: noqa: F811 (`synapse`, `poster` are session fixtures of the Matrix channel tests, imported to be used)

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from channel_requests import delivery_request
from servers.facebook_contract import FacebookServer
from servers.synapse import Synapse, User
from servers.telegram_contract import TelegramServer
from servers.x_contract import XServer
from test_channel_matrix import poster, synapse  # noqa: F401

from alertcast.channels import facebook_replies, matrix_replies, telegram_replies, x_replies
from alertcast.channels.facebook import FacebookAccount, FacebookChannel
from alertcast.channels.matrix import MatrixAccount, MatrixChannel
from alertcast.channels.telegram import TelegramAccount, TelegramChannel
from alertcast.channels.x import XAccount, XChannel
from alertcast.delivery.retry import PermanentError
from alertcast.http import make_client

pytestmark = pytest.mark.servers


def token_env(monkeypatch: pytest.MonkeyPatch, token: str) -> str:
    variable = f"ALERTCAST_TEST_REPLIES_{uuid.uuid4().hex[:8].upper()}"
    monkeypatch.setenv(variable, token)
    return variable


# --- Matrix: the real Synapse -------------------------------------------------------------------


async def test_matrix_a_reply_in_our_room_is_read_once_threaded_to_its_alert(
    synapse: Synapse, poster: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = synapse.create_room(poster)
    citizen = synapse.register(f"citoyen-{uuid.uuid4().hex[:6]}")
    synapse.invite(poster, room, citizen)
    synapse.join(citizen, room)
    account = MatrixAccount(
        name="salon",
        homeserver=synapse.url,
        room_id=room,
        access_token_env=token_env(monkeypatch, poster.access_token),
    )
    channel = MatrixChannel([account], make_client(10))

    def say(content: dict[str, Any]) -> str:
        answer = synapse.http.put(
            f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{uuid.uuid4().hex}",
            headers={"Authorization": f"Bearer {citizen.access_token}"},
            json={"msgtype": "m.text", **content},
        )
        return str(answer.raise_for_status().json()["event_id"])

    try:
        request = delivery_request("matrix", "Tempête : restez chez vous", account="salon")
        post = await channel.publish(request)
        alerts = {post.post_id: request.alert_id}
        _, cursor = await matrix_replies.read_replies(account, None, alert_of=alerts.get)

        reply_id = say(
            {"body": "Les arbres sont tombés", "m.relates_to": {"m.in_reply_to": {"event_id": post.post_id}}}
        )
        say({"body": "Quelqu'un a du pain ?"})  # chatter in the room: not addressed to us
        replies, cursor = await matrix_replies.read_replies(account, cursor, alert_of=alerts.get)
        (reply,) = replies
        assert reply.id == f"matrix:{reply_id}" and reply.alert_id == request.alert_id
        assert reply.in_reply_to == post.post_id and reply.author == citizen.user_id
        assert reply.text == "Les arbres sont tombés"
        again, cursor = await matrix_replies.read_replies(account, cursor, alert_of=alerts.get)
        assert again == []

        # More replies than a sync's timeline holds: the gap is read back, none lost, in order.
        sent = [
            say({"body": f"Réponse {n}", "m.relates_to": {"rel_type": "m.thread", "event_id": post.post_id}})
            for n in range(5)
        ]
        burst, _ = await matrix_replies.read_replies(account, cursor, alert_of=alerts.get, page=2)
        assert [r.id for r in burst] == [f"matrix:{event_id}" for event_id in sent]
        assert {r.alert_id for r in burst} == {request.alert_id}
    finally:
        await channel.aclose()


# --- Telegram: the contract server --------------------------------------------------------------


@pytest.fixture(scope="module")
def telegram() -> Iterator[TelegramServer]:
    running = TelegramServer().start()
    yield running
    running.stop()


async def test_telegram_a_comment_under_our_channel_post_is_read_once_threaded_to_its_alert(
    telegram: TelegramServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = telegram.state
    bot_id, token = state.add_bot("prefecture62_bot")
    username = f"alertes62_{uuid.uuid4().hex[:6]}"
    channel_id = state.add_channel("Alertes Pas-de-Calais", username)
    group = state.add_group("Alertes Pas-de-Calais (discussion)", linked_to=channel_id)
    state.set_member(channel_id, bot_id, "administrator", can_post_messages=True)
    state.set_member(group, bot_id, "administrator")
    account = TelegramAccount(
        name="canal",
        chat_id=f"@{username}",
        api_base=telegram.url,
        access_token_env=token_env(monkeypatch, token),
    )
    channel = TelegramChannel([account], make_client(5))
    try:
        request = delivery_request("telegram", "Tempête : restez chez vous", account="canal")
        post = await channel.publish(request)
        alerts = {f"{post.details['chat_id']}:{post.post_id}": request.alert_id}
        citizen = state.add_user("Jean", "jeand")
        comment = state.comment(channel_id, int(str(post.post_id)), citizen, "Les arbres sont tombés")

        replies, cursor = await telegram_replies.read_replies(account, None, alert_of=alerts.get)
        (reply,) = replies
        assert reply.id == f"telegram:{group}:{comment}" and reply.alert_id == request.alert_id
        assert reply.url == f"https://t.me/{username}/{post.post_id}?comment={comment}"
        assert reply.author == "@jeand" and reply.text == "Les arbres sont tombés"

        # Not confirmed until the next call: a reader that lost its cursor gets them again.
        repeated, _ = await telegram_replies.read_replies(account, None, alert_of=alerts.get)
        assert [r.id for r in repeated] == [reply.id]
        answer = state.answer_comment(group, comment, state.add_user("Marie"), "Chez moi aussi")
        more, cursor = await telegram_replies.read_replies(account, cursor, alert_of=alerts.get)
        (second,) = more
        assert second.id == f"telegram:{group}:{answer}" and second.alert_id == request.alert_id
        assert second.conversation == f"{group}:{comment}"
        nothing, _ = await telegram_replies.read_replies(account, cursor, alert_of=alerts.get)
        assert nothing == [] and state.pending(bot_id) == 0

        state.webhooks.add(token)
        with pytest.raises(PermanentError, match="webhook is active"):
            await telegram_replies.read_replies(account, cursor, alert_of=alerts.get)
    finally:
        await channel.aclose()


# --- Facebook: the contract server --------------------------------------------------------------


@pytest.fixture(scope="module")
def facebook() -> Iterator[FacebookServer]:
    running = FacebookServer().start()
    yield running
    running.stop()


def page_comment(server: FacebookServer, parent: str, token: str, message: str) -> None:
    answer = httpx.post(
        f"{server.url}/v24.0/{parent}/comments", data={"message": message, "access_token": token}, timeout=5
    )
    answer.raise_for_status()


async def test_facebook_a_comment_under_our_post_is_read_once_threaded_to_its_alert(
    facebook: FacebookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = facebook.state
    page_id, token = state.add_page(f"Préfecture {uuid.uuid4().hex[:4]}")
    account = FacebookAccount(
        name="page", page_id=page_id, graph_base=facebook.url, access_token_env=token_env(monkeypatch, token)
    )
    channel = FacebookChannel([account], make_client(5))
    try:
        request = delivery_request("facebook", "Tempête : restez chez vous", account="page")
        post = str((await channel.publish(request)).post_id)
        recent = [(post, request.alert_id)]
        comment = state.visitor_comment(post, "Jean Dupont", "Les arbres sont tombés")

        replies, cursor = await facebook_replies.read_replies(account, None, recent)
        (reply,) = replies
        assert reply.id == f"facebook:{comment}" and reply.alert_id == request.alert_id
        assert (reply.in_reply_to, reply.conversation, reply.author) == (post, comment, "Jean Dupont")
        again, cursor = await facebook_replies.read_replies(account, cursor, recent)
        assert again == []

        answer = state.visitor_comment(comment, "Marie", "Chez moi aussi")
        page_comment(facebook, comment, token, "Merci, nous transmettons")  # ours: not a citizen's
        more, cursor = await facebook_replies.read_replies(account, cursor, recent, page=1)
        (second,) = more
        assert second.id == f"facebook:{answer}" and second.conversation == comment
        nothing, _ = await facebook_replies.read_replies(account, cursor, recent)
        assert nothing == []
    finally:
        await channel.aclose()


# --- X: the contract server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def x_server() -> Iterator[XServer]:
    running = XServer().start()
    yield running
    running.stop()


async def test_x_a_reply_to_our_post_is_read_once_threaded_to_its_alert(
    x_server: XServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"prefecture{uuid.uuid4().hex[:6]}"
    _, token = x_server.state.add_user(name)
    _, citizen = x_server.state.add_user(f"citoyen{uuid.uuid4().hex[:6]}")
    variable = token_env(monkeypatch, token)
    account = XAccount(name="ville", api_base=x_server.url, access_token_env=variable, read_replies=True)
    channel = XChannel([account], make_client(5))

    def post(text: str, parent: str | None = None) -> str:
        body: dict[str, Any] = {
            "text": text,
            **({"reply": {"in_reply_to_tweet_id": parent}} if parent else {}),
        }
        answer = httpx.post(
            f"{x_server.url}/2/tweets", json=body, headers={"Authorization": f"Bearer {citizen}"}, timeout=5
        )
        return str(answer.raise_for_status().json()["data"]["id"])

    try:
        request = delivery_request("x", "Tempête : restez chez vous", account="ville")
        ours = str((await channel.publish(request)).post_id)
        alerts = {ours: request.alert_id}
        reply_id = post(f"@{name} les arbres sont tombés", ours)

        replies, cursor = await x_replies.read_replies(account, None, alert_of=alerts.get)
        (reply,) = replies
        assert reply.id == f"x:{reply_id}" and reply.alert_id == request.alert_id
        assert reply.in_reply_to == ours and reply.author.startswith("@citoyen")
        again, cursor = await x_replies.read_replies(account, cursor, alert_of=alerts.get)
        assert again == []

        mention = post(f"Que fait @{name} ?")
        more, _ = await x_replies.read_replies(account, cursor, alert_of=alerts.get)
        assert [(r.id, r.alert_id) for r in more] == [(f"x:{mention}", None)]

        unpaid = XAccount(name="ville", api_base=x_server.url, access_token_env=variable)
        with pytest.raises(ValueError, match="paid X API tier"):
            await x_replies.read_replies(unpaid, None)
    finally:
        await channel.aclose()
