"""Reading citizens' replies on Bluesky from the firehose: frames and posts decoded purely (in
milliseconds), then the reader against the real reference PDS (@atproto/pds, started once for
this module on 127.0.0.1; install once with scripts/install-pds.sh), whose own firehose
(`com.atproto.sync.subscribeRepos`) carries the posts of the accounts it hosts.

Our post is made by the Bluesky adapter; the citizens are other accounts of the same PDS that
reply with `createRecord`, as their app would. Reads are repeated until what was posted shows
(a condition with a deadline), never after a fixed sleep."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import libipld
import pytest
from servers.pds import Pds, PdsUser

from alertcast.channels.bluesky import BlueskyAccount, BlueskyChannel
from alertcast.channels.bluesky_replies import read_replies_firehose, stream_url
from alertcast.channels.bluesky_reply_parsing import (
    Created,
    FirehoseCursor,
    decode_frame,
    to_reply,
    written_at,
)
from alertcast.delivery.retry import PermanentError
from alertcast.http import make_client
from alertcast.models.alert import ChannelText, DeliveryRequest
from alertcast.models.incident import Incident
from alertcast.replies.model import Reply

SENT = datetime(2019, 3, 4, 7, 30, tzinfo=UTC)
US = "did:plc:ville"
OUR_POST = f"at://{US}/app.bsky.feed.post/3ours"
ALERTS = {OUR_POST: "alerte-1"}
NOW = datetime.now(UTC).replace(microsecond=0)  # the firehose's sequencing time of the frames


def iso(at: datetime) -> str:
    """As AT Protocol writes times: UTC with a Z."""
    return at.isoformat().replace("+00:00", "Z")


# --- pure: frames and posts ---------------------------------------------------------------------


def post(repo: str, rkey: str, text: str = "toujours fermé", **record: Any) -> Created:
    body = {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": iso(NOW - timedelta(minutes=1)),
        **record,
    }
    return Created(repo, rkey, body, NOW)


def replying(parent: str, root: str = OUR_POST) -> dict[str, Any]:
    return {"reply": {"root": {"uri": root, "cid": "bafy"}, "parent": {"uri": parent, "cid": "bafy"}}}


def none(_: str) -> str | None:
    return None


def test_a_reply_to_our_post_is_kept_tied_to_it() -> None:
    reply = to_reply(post("did:plc:c1", "3a", **replying(OUR_POST)), US, ALERTS.get, none)
    assert reply is not None
    assert reply.id == "bluesky:at://did:plc:c1/app.bsky.feed.post/3a"
    assert (reply.alert_id, reply.in_reply_to, reply.conversation) == ("alerte-1", OUR_POST, reply.id[8:])
    assert reply.url == "https://bsky.app/profile/did:plc:c1/post/3a"
    assert reply.at == NOW - timedelta(minutes=1)


def test_a_reply_deeper_in_our_thread_keeps_the_citizen_conversation() -> None:
    first = "at://did:plc:c1/app.bsky.feed.post/3a"
    deeper = to_reply(post("did:plc:c2", "3b", **replying(first)), US, ALERTS.get, {first: first}.get)
    assert deeper is not None
    assert (deeper.alert_id, deeper.in_reply_to, deeper.conversation) == ("alerte-1", first, first)


def test_mentions_unrelated_posts_and_our_own() -> None:
    facet = {
        "index": {"byteStart": 0, "byteEnd": 6},
        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": US}],
    }
    mention = to_reply(post("did:plc:c1", "3m", "@ville les bus ?", facets=[facet]), US, ALERTS.get, none)
    assert mention is not None and mention.alert_id is None and mention.in_reply_to is None
    elsewhere = "at://did:plc:c9/app.bsky.feed.post/3z"
    assert to_reply(post("did:plc:c1", "3u", **replying(elsewhere, elsewhere)), US, ALERTS.get, none) is None
    assert to_reply(post(US, "3upd", **replying(OUR_POST)), US, ALERTS.get, none) is None


def test_a_far_off_created_at_gives_way_to_the_sequencing_time() -> None:
    assert written_at(post("did:plc:c1", "3a", createdAt=iso(NOW - timedelta(days=2000)))) == NOW
    assert written_at(post("did:plc:c1", "3a", createdAt="pas une date")) == NOW
    assert written_at(post("did:plc:c1", "3a")) == NOW - timedelta(minutes=1)


def _varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([low | 0x80])


def commit_frame(repo: str, rkey: str, record: dict[str, Any]) -> bytes:
    """A #commit frame as a PDS sends it: header, body, and the record in a CAR of blocks."""
    block = libipld.encode_dag_cbor(record)
    cid = b"\x01\x71\x12\x20" + hashlib.sha256(block).digest()
    header = libipld.encode_dag_cbor({"version": 1, "roots": [libipld.encode_cid(cid)]})
    car = _varint(len(header)) + header + _varint(len(cid) + len(block)) + cid + block
    body = {
        "seq": 42,
        "repo": repo,
        "time": iso(NOW),
        "ops": [{"action": "create", "path": f"app.bsky.feed.post/{rkey}", "cid": cid}],
        "blocks": car,
    }
    return libipld.encode_dag_cbor({"op": 1, "t": "#commit"}) + libipld.encode_dag_cbor(body)


def test_a_commit_frame_is_decoded_to_its_created_posts() -> None:
    record = {"$type": "app.bsky.feed.post", "text": "encore", "createdAt": iso(NOW - timedelta(seconds=1))}
    frame = decode_frame(commit_frame("did:plc:c1", "3a", record))
    assert frame.kind == "#commit" and frame.seq == 42
    assert frame.posts == [Created("did:plc:c1", "3a", record, NOW)]
    error = libipld.encode_dag_cbor({"op": -1}) + libipld.encode_dag_cbor({"error": "FutureCursor"})
    assert decode_frame(error).error == "FutureCursor"
    with pytest.raises(ValueError):
        decode_frame(b"\xff\x00")


def test_the_stream_url_follows_the_service_scheme() -> None:
    assert stream_url("https://pds.example", 7) == (
        "wss://pds.example/xrpc/com.atproto.sync.subscribeRepos?cursor=7"
    )
    assert stream_url("http://127.0.0.1:2583", 0).startswith("ws://127.0.0.1:2583/xrpc/")


# --- against the reference PDS ------------------------------------------------------------------


@pytest.fixture(scope="module")
def pds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pds]:
    """The reference PDS; a missing install fails (never skips) with what to run."""
    try:
        server = Pds(tmp_path_factory.mktemp("pds-replies")).start()
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield server
    finally:
        server.stop()


def account(pds: Pds) -> PdsUser:
    return pds.create_account(f"r{uuid.uuid4().hex[:10]}", f"app-{uuid.uuid4().hex}")


@pytest.fixture
async def ours(pds: Pds, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[PdsUser, BlueskyChannel]]:
    user = account(pds)
    env = f"ALERTCAST_TEST_BLUESKY_PASSWORD_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(env, user.password)
    channel = BlueskyChannel(
        [BlueskyAccount(name="ville", service=pds.url, identifier=user.handle, app_password_env=env)],
        make_client(10),
    )
    yield user, channel
    await channel.aclose()


def alert_request(alert_id: str) -> DeliveryRequest:
    text = "Route fermée à Saint-Étienne. Source : préfecture"
    incident = Incident.model_validate(
        {
            "identifier": alert_id,
            "sender": "ville-42",
            "sent": SENT,
            "info": [{"category": "road_closure", "event": "Route fermée", "headline": "Route fermée"}],
        }
    )
    return DeliveryRequest(
        alert_id=alert_id,
        version=1,
        channel="bluesky",
        account="ville",
        incident=incident,
        text=ChannelText(channel="bluesky", language="fr", text=text, length=len(text)),
        approved_at=SENT,
    )


def create_post(pds: Pds, user: PdsUser, text: str, **record: Any) -> dict[str, Any]:
    """A post by `user`, made as their app makes it; returns {uri, cid}."""
    session = httpx.post(
        f"{pds.url}/xrpc/com.atproto.server.createSession",
        json={"identifier": user.handle, "password": user.password},
        timeout=30,
    ).json()
    body = {
        "repo": user.did,
        "collection": "app.bsky.feed.post",
        "record": {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            **record,
        },
    }
    answer = httpx.post(
        f"{pds.url}/xrpc/com.atproto.repo.createRecord",
        json=body,
        headers={"Authorization": f"Bearer {session['accessJwt']}"},
        timeout=30,
    )
    answer.raise_for_status()
    created: dict[str, Any] = answer.json()
    return created


async def read_until(
    pds: Pds, did: str, cursor: FirehoseCursor | None, alerts: dict[str, str], wanted: set[str]
) -> tuple[list[Reply], FirehoseCursor]:
    """Reads from `cursor` until every wanted reply id came, or fails after 30 s."""
    found: list[Reply] = []
    deadline = asyncio.get_running_loop().time() + 30
    while not wanted <= {reply.id for reply in found}:
        assert asyncio.get_running_loop().time() < deadline, f"missing {wanted - {r.id for r in found}}"
        replies, cursor = await read_replies_firehose(pds.url, did, cursor, alert_of=alerts.get, idle_s=0.5)
        found += replies
    assert cursor is not None
    return found, cursor


@pytest.mark.servers
async def test_a_citizen_reply_on_the_pds_is_read_once_tied_to_our_post(
    pds: Pds, ours: tuple[PdsUser, BlueskyChannel]
) -> None:
    us, channel = ours
    citizen = account(pds)  # before the start: their handle comes from describeRepo, not the stream
    _, start = await read_replies_firehose(pds.url, us.did, None, idle_s=0.5)  # where the stream is now
    published = await channel.publish(alert_request("alerte-route-1"))
    assert published.post_id is not None
    ref = {"uri": published.post_id, "cid": published.details["cid"]}
    alerts = {published.post_id: "alerte-route-1"}
    neighbour = account(pds)  # after it: the stream's #identity frame gives the handle

    reply = create_post(pds, citizen, "Toujours fermé chez moi", reply={"root": ref, "parent": ref})
    reply_ref = {"uri": reply["uri"], "cid": reply["cid"]}
    below = create_post(pds, neighbour, "Pareil rue Victor-Hugo", reply={"root": ref, "parent": reply_ref})
    unrelated = create_post(pds, citizen, "Rien à voir avec la mairie")
    mention_text = f"@{us.handle} les bus passent ?"
    mention = create_post(
        pds,
        neighbour,
        mention_text,
        facets=[
            {
                "index": {"byteStart": 0, "byteEnd": len(us.handle.encode()) + 1},
                "features": [{"$type": "app.bsky.richtext.facet#mention", "did": us.did}],
            }
        ],
    )
    ids = [f"bluesky:{created['uri']}" for created in (reply, below, mention)]

    found, cursor = await read_until(pds, us.did, start, alerts, set(ids))

    assert [r.id for r in found] == ids, "in order, once each, and nothing else"
    assert f"bluesky:{unrelated['uri']}" not in {r.id for r in found}
    first = found[0]
    rkey = reply["uri"].rsplit("/", 1)[1]
    assert (first.network, first.author, first.text) == ("bluesky", citizen.handle, "Toujours fermé chez moi")
    assert first.url == f"https://bsky.app/profile/{citizen.did}/post/{rkey}"
    assert (first.alert_id, first.in_reply_to, first.conversation) == (
        "alerte-route-1",
        ref["uri"],
        reply["uri"],
    )
    assert abs(first.at - datetime.now(UTC)) < timedelta(minutes=5)
    assert found[1].author == neighbour.handle
    assert (found[1].alert_id, found[1].in_reply_to, found[1].conversation) == (
        "alerte-route-1",
        reply["uri"],
        reply["uri"],
    )
    assert (found[2].alert_id, found[2].in_reply_to, found[2].text) == (None, None, mention_text)

    again, same = await read_replies_firehose(pds.url, us.did, cursor, alert_of=alerts.get, idle_s=0.5)
    assert again == [] and same == cursor


@pytest.mark.servers
async def test_a_cursor_ahead_of_the_service_is_refused(pds: Pds) -> None:
    cursor = FirehoseCursor(service=pds.url, seq=10**9)
    with pytest.raises(PermanentError, match="FutureCursor"):
        await read_replies_firehose(pds.url, "did:plc:personne", cursor, idle_s=0.5)
    with pytest.raises(ValueError, match="counts"):
        await read_replies_firehose(pds.url, "did:plc:personne", FirehoseCursor(service="http://127.0.0.1:1"))
