"""Hiding and answering citizens' replies with the channel adapters, read back from the servers:
the threadgate record on the real Bluesky PDS, X's and Facebook's contract servers (hidden
replies, `is_hidden`, comment replies), Mastodon's contract server (an answer under the
citizen's status). Each action made twice (a retry after a lost answer) leaves one effect."""

# ruff: noqa: F811 (`pds`, `synapse`, `poster` are session fixtures of the channel tests, imported to be used)

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from servers.facebook_contract import FacebookServer
from servers.mastodon_contract import ContractServer
from servers.pds import Pds, PdsUser
from servers.synapse import Synapse, User
from servers.x_contract import XServer
from test_channel_bluesky import pds  # noqa: F401
from test_channel_email import smtp  # noqa: F401
from test_channel_matrix import poster, synapse  # noqa: F401

from alertcast.channels.base import LookupUnsupported
from alertcast.channels.bluesky import THREADGATE, BlueskyAccount, BlueskyChannel, rkey_of
from alertcast.channels.email import EmailAccount, EmailChannel
from alertcast.channels.facebook import FacebookAccount, FacebookChannel
from alertcast.channels.mastodon import MastodonAccount, MastodonChannel
from alertcast.channels.matrix import MARKER, MatrixAccount, MatrixChannel
from alertcast.channels.x import XAccount, XChannel
from alertcast.delivery.retry import PermanentError
from alertcast.http import make_client
from alertcast.replies.actions import Kind, ReplyAction
from alertcast.replies.model import Network

pytestmark = pytest.mark.servers


def action(
    kind: Kind,
    network: Network,
    target: str,
    conversation: str,
    text: str | None = None,
    author: str = "",
    confirmed_by: str | None = None,
) -> ReplyAction:
    return ReplyAction(
        kind=kind,
        network=network,
        target=target,
        reply_id=f"{network}:{target}",
        author=author,
        conversation=conversation,
        ref="ref",
        alert_id="alert-1",
        text=text,
        confirmed_by=confirmed_by,
        by="carole",
        at=datetime.now(UTC),
    )


# --- Bluesky: the real PDS ----------------------------------------------------------------------


def xrpc_post(pds: Pds, user: PdsUser, text: str, reply: dict[str, Any] | None = None) -> dict[str, str]:
    """A post by `user`, written with their own session (a citizen, or our root post)."""
    session = httpx.post(
        f"{pds.url}/xrpc/com.atproto.server.createSession",
        json={"identifier": user.handle, "password": user.password},
        timeout=10,
    ).json()
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    if reply:
        record["reply"] = reply
    answer = httpx.post(
        f"{pds.url}/xrpc/com.atproto.repo.createRecord",
        json={"repo": user.did, "collection": "app.bsky.feed.post", "record": record},
        headers={"Authorization": f"Bearer {session['accessJwt']}"},
        timeout=10,
    )
    answer.raise_for_status()
    return {"uri": answer.json()["uri"], "cid": answer.json()["cid"]}


@pytest.fixture
def people(pds: Pds) -> tuple[PdsUser, PdsUser]:
    """(our account, a citizen), both on the PDS."""
    return (
        pds.create_account(f"v{uuid.uuid4().hex[:10]}", f"app-{uuid.uuid4().hex}"),
        pds.create_account(f"c{uuid.uuid4().hex[:10]}", f"pw-{uuid.uuid4().hex}"),
    )


@pytest.fixture
async def bluesky(
    pds: Pds, people: tuple[PdsUser, PdsUser], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BlueskyChannel]:
    variable = f"ALERTCAST_TEST_BSKY_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(variable, people[0].password)
    account = BlueskyAccount(
        name="ville", service=pds.url, identifier=people[0].handle, app_password_env=variable
    )
    adapter = BlueskyChannel([account], make_client(10))
    yield adapter
    await adapter.aclose()


async def test_bluesky_hides_a_reply_in_our_threadgate_record_once_and_shows_it_again(
    pds: Pds, people: tuple[PdsUser, PdsUser], bluesky: BlueskyChannel
) -> None:
    us, citizen = people
    root = xrpc_post(pds, us, "Route fermée à Saint-Étienne")
    insult = xrpc_post(pds, citizen, "Bande de nuls", {"root": root, "parent": root})
    other = xrpc_post(pds, citizen, "Merci pour l'info", {"root": root, "parent": root})
    # The inbox's conversation of a direct reply is the citizen's own post (bluesky_reply_parsing):
    # the root comes from the reply's record.
    hide = action("hide", "bluesky", insult["uri"], insult["uri"])

    result = await bluesky.hide_reply(hide)
    await bluesky.hide_reply(hide)  # a retry after a lost answer: still one entry

    gate_uri = f"at://{us.did}/{THREADGATE}/{rkey_of(root['uri'])}"
    assert result.post_id == gate_uri
    gate = pds.get_record(gate_uri)
    assert gate is not None
    assert gate["value"]["post"] == root["uri"]
    assert gate["value"]["hiddenReplies"] == [insult["uri"]]
    assert "allow" not in gate["value"]  # anyone may still reply
    assert len(pds.list_records(us.did, THREADGATE)) == 1

    await bluesky.hide_reply(action("hide", "bluesky", other["uri"], other["uri"]))
    await bluesky.hide_reply(action("unhide", "bluesky", insult["uri"], insult["uri"]))
    shown = pds.get_record(gate_uri)
    assert shown is not None and shown["value"]["hiddenReplies"] == [other["uri"]]


async def test_bluesky_refuses_to_gate_a_thread_that_is_not_ours(
    pds: Pds, people: tuple[PdsUser, PdsUser], bluesky: BlueskyChannel
) -> None:
    us, citizen = people
    theirs = xrpc_post(pds, citizen, "Mon fil à moi")
    reply = xrpc_post(pds, citizen, "Réponse", {"root": theirs, "parent": theirs})
    with pytest.raises(PermanentError, match="not ours"):
        await bluesky.hide_reply(action("hide", "bluesky", reply["uri"], reply["uri"]))
    assert pds.list_records(us.did, THREADGATE) == []


async def test_bluesky_answers_under_the_citizen_s_reply_once(
    pds: Pds, people: tuple[PdsUser, PdsUser], bluesky: BlueskyChannel
) -> None:
    us, citizen = people
    root = xrpc_post(pds, us, "Route fermée à Saint-Étienne")
    question = xrpc_post(pds, citizen, "Jusqu'à quand ?", {"root": root, "parent": root})
    answer = action("answer", "bluesky", question["uri"], root["uri"], text="Réouverture prévue à 18 h.")
    before = len(pds.list_records(us.did))

    assert await bluesky.find_answer(answer) is None
    first = await bluesky.answer(answer)
    again = await bluesky.answer(answer)  # the same record key: the PDS refuses a second one
    found = await bluesky.find_answer(answer)

    assert first.post_id == again.post_id == (found.post_id if found else None)
    assert len(pds.list_records(us.did)) == before + 1
    record = pds.get_record(str(first.post_id))
    assert record is not None
    assert record["value"]["text"] == "Réouverture prévue à 18 h."
    assert record["value"]["reply"]["parent"] == question
    assert record["value"]["reply"]["root"] == root


# --- X: the contract server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def x_server() -> Iterator[XServer]:
    running = XServer().start()
    yield running
    running.stop()


async def test_x_hides_a_reply_in_our_conversation_and_answers_once(
    x_server: XServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    us_id, token = x_server.state.add_user(f"prefecture{uuid.uuid4().hex[:6]}")
    _, citizen = x_server.state.add_user(f"citoyen{uuid.uuid4().hex[:6]}")
    variable = f"ALERTCAST_TEST_X_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(variable, token)
    channel = XChannel(
        [XAccount(name="ville", api_base=x_server.url, access_token_env=variable)], make_client(5)
    )

    def post(bearer: str, text: str, parent: str | None = None) -> str:
        body: dict[str, Any] = {"text": text}
        if parent:
            body["reply"] = {"in_reply_to_tweet_id": parent}
        answer = httpx.post(
            f"{x_server.url}/2/tweets", json=body, headers={"Authorization": f"Bearer {bearer}"}, timeout=5
        )
        answer.raise_for_status()
        return str(answer.json()["data"]["id"])

    try:
        root = post(token, "Route fermée")
        insult = post(citizen, "Bande de nuls", root)
        question = post(citizen, "Jusqu'à quand ?", root)
        foreign = post(citizen, "Mon propre fil")

        await channel.hide_reply(action("hide", "x", insult, root))
        await channel.hide_reply(action("hide", "x", insult, root))
        assert x_server.state.hidden >= {insult} and question not in x_server.state.hidden
        with pytest.raises(PermanentError, match="403"):
            await channel.hide_reply(action("hide", "x", foreign, foreign))
        await channel.hide_reply(action("unhide", "x", insult, root))
        assert insult not in x_server.state.hidden

        answer = action("answer", "x", question, root, text="Réouverture prévue à 18 h.")
        first = await channel.answer(answer)
        again = await channel.answer(answer)  # X refuses the same text twice: found, not posted
        assert first.post_id == again.post_id
        ours = [p for p in x_server.state.posts_of(us_id) if p["in_reply_to"] == question]
        assert len(ours) == 1 and ours[0]["text"].startswith("Réouverture prévue à 18 h.")
        found = await channel.find_answer(answer)
        assert found is not None and found.post_id == first.post_id
    finally:
        await channel.aclose()


# --- Facebook: the contract server --------------------------------------------------------------


@pytest.fixture(scope="module")
def facebook_server() -> Iterator[FacebookServer]:
    running = FacebookServer().start()
    yield running
    running.stop()


def page_post(server: FacebookServer, page_id: str, token: str, message: str) -> str:
    answer = httpx.post(
        f"{server.url}/v24.0/{page_id}/feed", data={"message": message, "access_token": token}, timeout=5
    )
    answer.raise_for_status()
    return str(answer.json()["id"])


async def test_facebook_hides_a_comment_and_answers_it_once(
    facebook_server: FacebookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = facebook_server.state
    page_id, token = state.add_page(f"Préfecture {uuid.uuid4().hex[:4]}")
    variable = f"ALERTCAST_TEST_FB_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(variable, token)
    account = FacebookAccount(
        name="page", page_id=page_id, graph_base=facebook_server.url, access_token_env=variable
    )
    channel = FacebookChannel([account], make_client(5))
    try:
        post = page_post(facebook_server, page_id, token, "Route fermée")
        insult = state.visitor_comment(post, "Jean", "Bande de nuls, appelez le 06 12 34 56 78")
        question = state.visitor_comment(post, "Marie", "Jusqu'à quand ?")

        await channel.hide_reply(action("hide", "facebook", insult, post))
        await channel.hide_reply(action("hide", "facebook", insult, post))
        assert state.comments[insult]["is_hidden"] is True
        assert state.comments[question]["is_hidden"] is False
        await channel.hide_reply(action("unhide", "facebook", insult, post))
        assert state.comments[insult]["is_hidden"] is False

        answer = action("answer", "facebook", question, post, text="Réouverture prévue à 18 h.")
        assert await channel.find_answer(answer) is None
        first = await channel.answer(answer)
        found = await channel.find_answer(answer)  # what the worker asks after a lost answer
        assert found is not None and found.post_id == first.post_id
        (reply,) = state.replies_to(question)
        assert reply["from"]["id"] == page_id and reply["message"].startswith("Réouverture prévue à 18 h.")
    finally:
        await channel.aclose()


# --- Mastodon: the contract server --------------------------------------------------------------


@pytest.fixture
def mastodon_server() -> Iterator[ContractServer]:
    running = ContractServer().start()
    yield running
    running.stop()


async def test_mastodon_answers_under_the_citizen_s_status_once_even_without_idempotency_keys(
    mastodon_server: ContractServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = mastodon_server.state
    state.ignore_idempotency = True  # as GoToSocial: only the marker finds an earlier attempt
    our_id, token = state.add_account("prefecture")
    _, citizen = state.add_account("citoyen")
    variable = f"ALERTCAST_TEST_MASTO_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(variable, token)
    channel = MastodonChannel(
        [MastodonAccount(name="ville", base_url=mastodon_server.url, access_token_env=variable)],
        make_client(5),
    )

    def post(bearer: str, text: str, parent: str | None = None) -> str:
        body: dict[str, Any] = {"status": text, **({"in_reply_to_id": parent} if parent else {})}
        answer = httpx.post(
            f"{mastodon_server.url}/api/v1/statuses",
            json=body,
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=5,
        )
        answer.raise_for_status()
        return str(answer.json()["id"])

    try:
        root = post(token, "Route fermée")
        question = post(citizen, "Jusqu'à quand ?", root)
        answer = action(
            "answer", "mastodon", question, root, text="Réouverture prévue à 18 h.", author="citoyen"
        )
        assert await channel.find_answer(answer) is None
        first = await channel.answer(answer)
        found = await channel.find_answer(answer)
        assert found is not None and found.post_id == first.post_id
        ours = [s for s in state.statuses_of(our_id) if s["in_reply_to_id"] == question]
        assert len(ours) == 1
        assert ours[0]["source_text"].startswith("@citoyen Réouverture prévue à 18 h.")
    finally:
        await channel.aclose()


# --- Matrix: the real Synapse -------------------------------------------------------------------


async def test_matrix_redacts_a_message_once_confirmed_and_answers_it_once(
    synapse: Synapse, poster: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = synapse.create_room(poster)
    citizen = synapse.register(f"citoyen-{uuid.uuid4().hex[:6]}")
    synapse.invite(poster, room, citizen)
    synapse.join(citizen, room)

    def say(text: str) -> str:
        answer = synapse.http.put(
            f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{uuid.uuid4().hex}",
            headers={"Authorization": f"Bearer {citizen.access_token}"},
            json={"msgtype": "m.text", "body": text},
        )
        return str(answer.raise_for_status().json()["event_id"])

    variable = f"ALERTCAST_TEST_MATRIX_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(variable, poster.access_token)
    account = MatrixAccount(name="salon", homeserver=synapse.url, room_id=room, access_token_env=variable)
    channel = MatrixChannel([account], make_client(10))
    try:
        insult = say("Bande de nuls, appelez le 06 12 34 56 78")
        question = say("Jusqu'à quand ?")
        with pytest.raises(PermanentError, match="confirmation"):
            await channel.hide_reply(action("hide", "matrix", insult, insult))
        redact = action("hide", "matrix", insult, insult, confirmed_by="carole")
        first = await channel.hide_reply(redact)
        again = await channel.hide_reply(redact)  # the same transaction id: the same redaction
        assert first.post_id == again.post_id
        gone = synapse.event(citizen, room, insult)
        assert gone["content"] == {} and "redacted_because" in gone["unsigned"]
        assert synapse.event(citizen, room, question)["content"]["body"] == "Jusqu'à quand ?"

        answer = action("answer", "matrix", question, question, text="Réouverture prévue à 18 h.")
        assert await channel.find_answer(answer) is None
        posted = await channel.answer(answer)
        repeated = await channel.answer(answer)
        found = await channel.find_answer(answer)
        assert posted.post_id == repeated.post_id == (found.post_id if found else None)
        ours = [e for e in synapse.messages(citizen, room) if e["content"].get(MARKER) == answer.action_id]
        assert len(ours) == 1
        assert ours[0]["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": question}}
        assert ours[0]["content"]["body"] == "Réouverture prévue à 18 h."
    finally:
        await channel.aclose()


# --- E-mail: the real SMTP server ---------------------------------------------------------------


async def test_an_e_mail_answer_goes_to_the_citizen_in_their_thread(
    smtp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = f"ALERTCAST_TEST_SMTP_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(variable, smtp.password)
    account = EmailAccount(
        name="prefecture",
        host="127.0.0.1",
        port=smtp.port,
        username=smtp.user,
        password_env=variable,
        sender="Préfecture <alertes@prefecture.test>",
        to=["population@listes.prefecture.test"],
        ca_file=smtp.cert,
    )
    channel = EmailChannel([account])
    answer = action(
        "answer",
        "email",
        "CAF=abc@mail.example",
        "alertcast.0123@prefecture.test",
        text="Réouverture prévue à 18 h.",
        author="jean.dupont@mail.example",
    )
    sent = await channel.answer(answer)
    (mail,) = [m for m in smtp.messages if m.message["Message-ID"] == sent.post_id]
    assert mail.rcpt_tos == ["jean.dupont@mail.example"]  # the citizen, never the lists
    assert mail.message["In-Reply-To"] == "<CAF=abc@mail.example>"
    assert mail.message["References"] == "<alertcast.0123@prefecture.test> <CAF=abc@mail.example>"
    assert mail.message.get_content().strip() == "Réouverture prévue à 18 h."
    with pytest.raises(LookupUnsupported):  # SMTP cannot say: an interrupted answer is "unknown"
        await channel.find_answer(answer)
