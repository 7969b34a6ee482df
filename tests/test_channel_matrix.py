"""The Matrix adapter against a real Synapse (started once per session on 127.0.0.1).

Everything is read back from the server: the event as stored, the number of events in the
room, the edit's new content, the reply relation, the redaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from channel_requests import delivery_request
from servers.synapse import Synapse, User

from alertcast.channels.matrix import MARKER, MatrixAccount, MatrixChannel
from alertcast.delivery.retry import PermanentError
from alertcast.http import make_client
from alertcast.models.incident import MsgType, Status

pytestmark = pytest.mark.servers


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """One homeserver for every Matrix test; a missing install fails, it is never skipped."""
    try:
        server = Synapse(tmp_path_factory.mktemp("synapse"))
    except RuntimeError as error:
        pytest.fail(str(error))
    server.start()
    print(f"synapse answered {server.started_in_s:.2f} s after launch")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def poster(synapse: Synapse) -> User:
    return synapse.register("alertcast-poster")


@pytest.fixture
def room(synapse: Synapse, poster: User) -> str:
    """A fresh room per test, so events are counted in isolation."""
    return synapse.create_room(poster)


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch, poster: User) -> str:
    name = f"ALERTCAST_TEST_MATRIX_TOKEN_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(name, poster.access_token)
    return name


def account(synapse: Synapse, room: str, token_env: str, **extra: Any) -> MatrixAccount:
    return MatrixAccount(
        name=extra.pop("name", "prefecture"),
        homeserver=synapse.url,
        room_id=room,
        access_token_env=token_env,
        **extra,
    )


@pytest.fixture
async def channel(synapse: Synapse, room: str, token_env: str) -> AsyncIterator[MatrixChannel]:
    accounts = [
        account(synapse, room, token_env),
        account(synapse, room, token_env, name="exercises", exercise=True, delete_on_end=True),
    ]
    adapter = MatrixChannel(accounts, make_client(10))
    yield adapter
    await adapter.aclose()


request = partial(delivery_request, "matrix")


def ours(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in events if MARKER in event.get("content", {})]


async def test_publish_is_read_back_from_the_server(
    channel: MatrixChannel, synapse: Synapse, poster: User, room: str
) -> None:
    text = "Vents violents à Arras : <restez> chez vous & fermez les volets.\nSource : préfecture"
    delivery = request(text)
    post = await channel.publish(delivery)

    event = synapse.event(poster, room, post.post_id or "")
    content = event["content"]
    assert event["type"] == "m.room.message"
    assert event["sender"] == poster.user_id
    assert content["msgtype"] == "m.text"
    assert content["body"] == text
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"] == (
        "Vents violents à Arras : &lt;restez&gt; chez vous &amp; fermez les volets.<br>Source : préfecture"
    )
    assert content[MARKER] == delivery.delivery_key
    assert post.url and post.url.startswith("https://matrix.to/#/")


async def test_the_same_delivery_sent_twice_is_one_event(
    channel: MatrixChannel, synapse: Synapse, poster: User, room: str
) -> None:
    """A crash between the send and the ledger's record: the retry must not post again."""
    delivery = request("Route D917 fermée à Arras jusqu'à 18 h.")
    first = await channel.publish(delivery)
    again = await channel.publish(delivery)  # the retry after the crash

    assert again.post_id == first.post_id
    assert len(ours(synapse.messages(poster, room))) == 1
    # and the recovery path finds it by its marker
    found = await channel.find_existing(delivery)
    assert found is not None and found.post_id == first.post_id


async def test_find_existing_sees_a_post_made_with_another_token(
    channel: MatrixChannel, synapse: Synapse, poster: User, room: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transaction ids are remembered per device (and for 24 h only): after a token rotation the
    server would accept the same transaction id again, so recovery looks for the marker."""
    delivery = request("Route D917 fermée.")
    first = await channel.publish(delivery)
    monkeypatch.setenv("ALERTCAST_TEST_NEW_DEVICE", synapse.login(poster))
    rotated = MatrixChannel([account(synapse, room, "ALERTCAST_TEST_NEW_DEVICE")], make_client(10))
    try:
        found = await rotated.find_existing(delivery)
    finally:
        await rotated.aclose()
    assert found is not None and found.post_id == first.post_id


async def test_find_existing_is_none_before_anything_was_posted(channel: MatrixChannel) -> None:
    assert await channel.find_existing(request("Jamais envoyé.")) is None


async def test_update_is_an_edit_whose_new_content_is_on_the_server(
    channel: MatrixChannel, synapse: Synapse, poster: User, room: str
) -> None:
    first = request("Route D917 fermée à Arras.")
    original = await channel.publish(first)
    change = request("Mise à jour : route D917 rouverte à Arras.", 2, MsgType.UPDATE, alert_id=first.alert_id)
    edit = await channel.update(change, original)

    event = synapse.event(poster, room, edit.post_id or "")
    content = event["content"]
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": original.post_id}
    assert content["m.new_content"]["body"] == "Mise à jour : route D917 rouverte à Arras."
    assert content["body"] == "* Mise à jour : route D917 rouverte à Arras."
    assert edit.url == original.url  # citizens follow the original message, now edited
    # the server aggregates the edit onto the original
    relations = synapse.event(poster, room, original.post_id or "")["unsigned"]["m.relations"]
    assert relations["m.replace"]["event_id"] == edit.post_id


async def test_end_replies_to_the_original(
    channel: MatrixChannel, synapse: Synapse, poster: User, room: str
) -> None:
    first = request("Route D917 fermée à Arras.")
    original = await channel.publish(first)
    ending = request("FIN D'ALERTE – route D917 rouverte.", 2, MsgType.CANCEL, alert_id=first.alert_id)
    end = await channel.end(ending, original)

    content = synapse.event(poster, room, end.post_id or "")["content"]
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": original.post_id}}
    assert content["body"] == "FIN D'ALERTE – route D917 rouverte."
    assert end.details["redaction"] is None
    # not configured to delete: the alert is still readable
    assert (
        synapse.event(poster, room, original.post_id or "")["content"]["body"] == "Route D917 fermée à Arras."
    )


async def test_end_redacts_the_alert_when_configured(
    channel: MatrixChannel, synapse: Synapse, poster: User, room: str
) -> None:
    first = request("EXERCICE\nRoute D917 fermée.", status=Status.EXERCISE, account="exercises")
    original = await channel.publish(first)
    ending = request(
        "EXERCICE\nFIN D'ALERTE",
        2,
        MsgType.CANCEL,
        Status.EXERCISE,
        account="exercises",
        alert_id=first.alert_id,
    )
    end = await channel.end(ending, original)

    assert end.details["redaction"]
    redacted = synapse.event(poster, room, original.post_id or "")
    assert redacted["content"] == {}
    assert redacted["unsigned"]["redacted_because"]["event_id"] == end.details["redaction"]
    # the end message itself stays, in reply to the (now redacted) alert
    content = synapse.event(poster, room, end.post_id or "")["content"]
    assert content["m.relates_to"]["m.in_reply_to"]["event_id"] == original.post_id
    # one redaction even if the end is delivered again
    await channel.end(ending, original)
    assert len([e for e in synapse.messages(poster, room) if e["type"] == "m.room.redaction"]) == 1


async def test_an_exercise_is_refused_on_a_public_account(
    channel: MatrixChannel, synapse: Synapse, poster: User, room: str
) -> None:
    with pytest.raises(PermanentError, match="exercise: false"):
        await channel.publish(request("EXERCICE\nTempête.", status=Status.EXERCISE))
    with pytest.raises(PermanentError, match="exercise: false"):
        await channel.publish(request("Test technique.", status=Status.TEST))
    assert ours(synapse.messages(poster, room)) == []


async def test_an_exercise_is_labelled_even_if_compose_forgot(
    channel: MatrixChannel, synapse: Synapse, poster: User, room: str
) -> None:
    post = await channel.publish(request("Tempête à Arras.", status=Status.EXERCISE, account="exercises"))
    body = synapse.event(poster, room, post.post_id or "")["content"]["body"]
    assert body == "EXERCICE\nTempête à Arras."


async def test_check_a_good_token(channel: MatrixChannel) -> None:
    health = await channel.check("prefecture")
    assert health.ok, health.problem
    assert health.can_post is True


async def test_check_a_revoked_token_says_why_without_the_token(
    synapse: Synapse,
    poster: User,
    room: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = synapse.login(poster)  # a second session of the same user, then logged out
    synapse.logout(token)
    monkeypatch.setenv("ALERTCAST_TEST_REVOKED", token)
    adapter = MatrixChannel([account(synapse, room, "ALERTCAST_TEST_REVOKED")], make_client(10))
    caplog.set_level(logging.DEBUG)
    try:
        health = await adapter.check("prefecture")
        with pytest.raises(PermanentError) as refused:
            await adapter.publish(request("Route fermée."))
    finally:
        await adapter.aclose()

    assert not health.ok
    assert health.problem is not None and "401" in health.problem and "M_UNKNOWN_TOKEN" in health.problem
    assert "ALERTCAST_TEST_REVOKED" in health.problem  # where to renew it
    for said in (health.problem, str(refused.value), repr(refused.value), caplog.text):
        assert token not in said


async def test_check_a_member_without_the_power_to_post(synapse: Synapse, poster: User) -> None:
    """An announcement room: only moderators post; a plain member cannot."""
    reader = synapse.register()
    announcements = synapse.create_room(poster, power_level_content_override={"events_default": 50})
    synapse.invite(poster, announcements, reader)
    synapse.join(reader, announcements)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALERTCAST_TEST_READER", reader.access_token)
        adapter = MatrixChannel([account(synapse, announcements, "ALERTCAST_TEST_READER")], make_client(10))
        try:
            health = await adapter.check("prefecture")
        finally:
            await adapter.aclose()
    assert not health.ok and health.can_post is False
    assert health.problem is not None and "posting needs 50" in health.problem


async def test_check_a_room_the_account_has_not_joined(synapse: Synapse, poster: User, room: str) -> None:
    stranger = synapse.register()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALERTCAST_TEST_STRANGER", stranger.access_token)
        adapter = MatrixChannel([account(synapse, room, "ALERTCAST_TEST_STRANGER")], make_client(10))
        try:
            health = await adapter.check("prefecture")
        finally:
            await adapter.aclose()
    assert not health.ok and health.problem and room in health.problem


async def test_token_from_a_secret_file(synapse: Synapse, poster: User, room: str, tmp_path: Path) -> None:
    secret = tmp_path / "matrix-token"
    secret.write_text(poster.access_token + "\n")
    file_account = MatrixAccount(name="file", homeserver=synapse.url, room_id=room, access_token_file=secret)
    adapter = MatrixChannel([file_account], make_client(10))
    try:
        assert (await adapter.check("file")).ok
        secret.unlink()
        health = await adapter.check("file")
    finally:
        await adapter.aclose()
    assert not health.ok and health.problem and str(secret) in health.problem


def test_an_account_refuses_plain_http_to_another_host() -> None:
    with pytest.raises(ValueError, match="https"):
        MatrixAccount(name="x", homeserver="http://matrix.example.org", room_id="!a", access_token_env="T")
    with pytest.raises(ValueError, match="exactly one"):
        MatrixAccount(name="x", homeserver="https://matrix.example.org", room_id="!a")
