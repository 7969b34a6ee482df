"""The Bluesky adapter against the real reference PDS (@atproto/pds) with a local PLC directory,
started once per session on 127.0.0.1 (install once with scripts/install-pds.sh).

Everything is read back from the PDS (`getRecord`, `listRecords`): the record's text, its facets'
byte offsets, the reply refs, the number of records. Each test has its own account, so counts
are its own."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from servers.pds import Pds, PdsUser

from alertcast.channels.base import PostResult
from alertcast.channels.bluesky import BlueskyAccount, BlueskyChannel, link_facets, record_key
from alertcast.delivery.retry import PermanentError
from alertcast.http import make_client
from alertcast.models.alert import ChannelText, DeliveryRequest
from alertcast.models.incident import Incident, MsgType, Status

pytestmark = pytest.mark.servers

SENT = datetime(2019, 3, 4, 7, 30, tzinfo=UTC)
TEXT = "Route fermée à Saint-Étienne https://exemple.fr/a/1"


@pytest.fixture(scope="session")
def pds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pds]:
    """One PDS for every Bluesky test; a missing install fails (never skips) with what to run."""
    try:
        server = Pds(tmp_path_factory.mktemp("pds")).start()
    except RuntimeError as error:
        pytest.fail(str(error))
    print(f"PDS and PLC answered {server.started_in_s:.2f} s after launch")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def user(pds: Pds) -> PdsUser:
    return pds.create_account(f"v{uuid.uuid4().hex[:10]}", f"app-{uuid.uuid4().hex}")


@pytest.fixture
def password_env(monkeypatch: pytest.MonkeyPatch, user: PdsUser) -> str:
    name = f"ALERTCAST_TEST_BLUESKY_PASSWORD_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(name, user.password)
    return name


@pytest.fixture
async def channel(pds: Pds, user: PdsUser, password_env: str) -> AsyncIterator[BlueskyChannel]:
    common = {"service": pds.url, "identifier": user.handle, "app_password_env": password_env}
    accounts = [
        BlueskyAccount(name="ville", **common),
        BlueskyAccount(name="fil", delete_on_end=True, **common),
        BlueskyAccount(name="exercices", exercise=True, **common),
    ]
    adapter = BlueskyChannel(accounts, make_client(10))
    yield adapter
    await adapter.aclose()


def request(
    text: str = TEXT,
    version: int = 1,
    msg_type: MsgType = MsgType.ALERT,
    status: Status = Status.ACTUAL,
    account: str = "ville",
    alert_id: str | None = None,
) -> DeliveryRequest:
    references = [{"sender": "ville-42", "identifier": "route-1"}] if msg_type is not MsgType.ALERT else []
    incident = Incident.model_validate(
        {
            "identifier": f"route-{version}",
            "sender": "ville-42",
            "sent": SENT,
            "status": status,
            "msg_type": msg_type,
            "references": references,
            "info": [{"category": "road_closure", "event": "Route fermée", "headline": "Route fermée"}],
        }
    )
    return DeliveryRequest(
        alert_id=alert_id or uuid.uuid4().hex[:16],
        version=version,
        channel="bluesky",
        account=account,
        incident=incident,
        text=ChannelText(channel="bluesky", language="fr", text=text, length=len(text)),
        approved_at=SENT,
    )


async def deliver(channel: BlueskyChannel, delivery: DeliveryRequest) -> PostResult:
    """What the delivery agent does after a crash: look for the post, post only if absent."""
    existing = await channel.find_existing(delivery)
    return existing if existing is not None else await channel.publish(delivery)


async def test_publish_is_read_back_with_byte_offset_facets(
    channel: BlueskyChannel, pds: Pds, user: PdsUser
) -> None:
    delivery = request()
    post = await channel.publish(delivery)

    stored = pds.get_record(post.post_id or "")
    assert stored is not None
    record = stored["value"]
    assert record["text"] == TEXT
    assert record["langs"] == ["fr"]
    assert record["createdAt"].endswith("Z")
    # "Route fermée à Saint-Étienne " is 29 characters but 32 bytes (é, à, É take two each).
    assert record["facets"] == [
        {
            "index": {"byteStart": 32, "byteEnd": 54},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://exemple.fr/a/1"}],
        }
    ]
    assert TEXT.encode()[32:54] == b"https://exemple.fr/a/1"
    assert post.post_id == f"at://{user.did}/app.bsky.feed.post/{record_key(delivery)}"
    assert post.url == f"https://bsky.app/profile/{user.handle}/post/{record_key(delivery)}"
    assert stored["cid"] == post.details["cid"]


async def test_facets_with_emoji_and_trailing_punctuation(channel: BlueskyChannel, pds: Pds) -> None:
    text = "⚠️ Crue 👨‍👩‍👧 à Évry : https://exemple.fr/crue. Infos : https://exemple.fr/b?x=1&y=é"
    post = await channel.publish(request(text))
    record = (pds.get_record(post.post_id or "") or {})["value"]
    raw = text.encode()
    links = [raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode() for f in record["facets"]]
    assert links == ["https://exemple.fr/crue", "https://exemple.fr/b?x=1&y=é"]
    assert record["facets"] == link_facets(text)


async def test_same_delivery_twice_makes_one_record(channel: BlueskyChannel, pds: Pds, user: PdsUser) -> None:
    delivery = request()
    sent = await channel.publish(delivery)  # accepted... then the worker dies before recording it
    blind = await channel.publish(delivery)  # a blind retry: same record key, refused, recognised
    retried = await deliver(channel, delivery)  # the agent's way: find_existing first
    assert sent.post_id == blind.post_id == retried.post_id
    assert sent.details["cid"] == blind.details["cid"] == retried.details["cid"]
    assert len(pds.list_records(user.did)) == 1
    assert await channel.find_existing(request()) is None


async def test_update_and_end_are_replies_in_the_thread(
    channel: BlueskyChannel, pds: Pds, user: PdsUser
) -> None:
    alert_id = uuid.uuid4().hex[:16]
    post = await channel.publish(request(alert_id=alert_id))
    update = await channel.update(
        request("Déviation par la D8. Source : mairie", 2, MsgType.UPDATE, alert_id=alert_id), post
    )
    end = await channel.end(request("La route est rouverte.", 3, MsgType.CANCEL, alert_id=alert_id), update)

    root = {"uri": post.post_id, "cid": post.details["cid"]}
    update_record = (pds.get_record(update.post_id or "") or {})["value"]
    assert update_record["reply"] == {"root": root, "parent": root}
    end_record = (pds.get_record(end.post_id or "") or {})["value"]
    assert end_record["reply"] == {
        "root": root,
        "parent": {"uri": update.post_id, "cid": update.details["cid"]},
    }
    assert end_record["text"] == "FIN D'ALERTE – La route est rouverte."
    assert pds.get_record(post.post_id or "") is not None, "kept: delete_on_end is off"
    assert len(pds.list_records(user.did)) == 3


async def test_end_deletes_the_alert_when_configured(
    channel: BlueskyChannel, pds: Pds, user: PdsUser
) -> None:
    alert_id = uuid.uuid4().hex[:16]
    post = await channel.publish(request(account="fil", alert_id=alert_id))
    end_request = request("", 2, MsgType.CANCEL, account="fil", alert_id=alert_id)
    end = await channel.end(end_request, post)

    assert pds.get_record(post.post_id or "") is None
    records = pds.list_records(user.did)
    assert [r["uri"] for r in records] == [end.post_id]
    assert records[0]["value"]["text"] == "FIN D'ALERTE – Route fermée"
    assert end.details["deleted"] == [post.post_id]
    again = await deliver(channel, end_request)  # a retry after a crash: found, deletion redone
    assert again.post_id == end.post_id and len(pds.list_records(user.did)) == 1


async def test_check_with_good_and_bad_password(
    channel: BlueskyChannel,
    pds: Pds,
    user: PdsUser,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    good = await channel.check("ville")
    assert good.ok and good.can_post and good.limit == 300 and good.problem is None

    wrong = f"wrong-{uuid.uuid4().hex}"
    monkeypatch.setenv("ALERTCAST_TEST_BLUESKY_WRONG", wrong)
    account = BlueskyAccount(
        name="ville", service=pds.url, identifier=user.handle, app_password_env="ALERTCAST_TEST_BLUESKY_WRONG"
    )
    bad_channel = BlueskyChannel([account], make_client(10))
    try:
        bad = await bad_channel.check("ville")
        with pytest.raises(PermanentError, match="app password refused") as caught:
            await bad_channel.publish(request())
    finally:
        await bad_channel.aclose()
    assert not bad.ok
    assert (
        bad.problem
        and "app password refused" in bad.problem
        and "ALERTCAST_TEST_BLUESKY_WRONG" in bad.problem
    )
    for shown in (bad.problem, str(caught.value), caplog.text):
        assert wrong not in shown and user.password not in shown


async def test_over_300_graphemes_is_refused(channel: BlueskyChannel, pds: Pds, user: PdsUser) -> None:
    with pytest.raises(PermanentError, match="301 graphemes; Bluesky allows 300"):
        await channel.publish(request("é" * 301))
    await channel.publish(request("é" * 300))  # exactly the limit passes
    # 300 graphemes of 18 bytes each: within the grapheme limit, over the PDS's 3,000 bytes.
    with pytest.raises(PermanentError, match="400 InvalidRequest"):
        await channel.publish(request("👨‍👩‍👧" * 300))
    assert len(pds.list_records(user.did)) == 1


async def test_expired_access_token_is_refreshed(channel: BlueskyChannel, pds: Pds, user: PdsUser) -> None:
    await channel.publish(request())
    kept = channel._sessions["ville"]
    expired = kept.model_copy(update={"accessJwt": pds.expired_access_token(user.did)})
    channel._sessions["ville"] = expired
    assert pds.session_answer(expired.accessJwt) == (400, "ExpiredToken")

    post = await channel.publish(request())  # ExpiredToken -> refreshSession -> posted

    renewed = channel._sessions["ville"]
    assert renewed.accessJwt != expired.accessJwt
    assert renewed.refreshJwt != kept.refreshJwt, "refreshSession rotates the refresh token"
    assert pds.get_record(post.post_id or "") is not None
    assert len(pds.list_records(user.did)) == 2


async def test_exercise_only_on_exercise_accounts(channel: BlueskyChannel, pds: Pds, user: PdsUser) -> None:
    for status in (Status.EXERCISE, Status.TEST):
        with pytest.raises(PermanentError, match="exercise: false"):
            await channel.publish(request(status=status))
    assert pds.list_records(user.did) == []
    post = await channel.publish(request(status=Status.EXERCISE, account="exercices"))
    assert (pds.get_record(post.post_id or "") or {})["value"]["text"].startswith("EXERCICE\n")
