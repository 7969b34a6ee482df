"""The Mastodon adapter against `mastodon-mock` (an independent implementation of the client API,
in its own process) and against our contract server (tests/servers/mastodon_contract.py) for
what the mock lacks: GoToSocial's ignored Idempotency-Key, 422/400, 429, 401, 503.

Everything is read back from the server: the status as stored, the number of statuses."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from servers.mastodon_contract import ContractServer
from servers.mastodon_mock import MastodonMock

from alertcast.channels.account import marker
from alertcast.channels.base import PostResult
from alertcast.channels.mastodon import MastodonAccount, MastodonChannel, retry_after_of
from alertcast.delivery.retry import PermanentError, RetryPolicy, TransientError
from alertcast.http import make_client
from alertcast.models.alert import ChannelText, DeliveryRequest
from alertcast.models.incident import Incident, MsgType, Status

pytestmark = pytest.mark.servers

SENT = datetime(2019, 3, 4, 7, 30, tzinfo=UTC)
TEXT = "Route fermée à Saint-Étienne https://exemple.fr/a/1\nDéviation par la D8. Source : préfecture"


@pytest.fixture(scope="session")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MastodonMock]:
    server = MastodonMock(tmp_path_factory.mktemp("mastodon-mock"))
    try:
        server.start()
    except RuntimeError as error:
        pytest.fail(str(error))
    print(f"mastodon-mock answered {server.started_in_s:.2f} s after launch")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def contract() -> Iterator[ContractServer]:
    """A fresh contract server per test: its switches never leak into another test."""
    server = ContractServer().start()
    try:
        yield server
    finally:
        server.stop()


def token_in_env(monkeypatch: pytest.MonkeyPatch, token: str) -> str:
    name = f"ALERTCAST_TEST_MASTODON_TOKEN_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(name, token)
    return name


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
        channel="mastodon",
        account=account,
        incident=incident,
        text=ChannelText(channel="mastodon", language="fr", text=text, length=len(text)),
        approved_at=SENT,
    )


async def deliver(channel: MastodonChannel, delivery: DeliveryRequest) -> PostResult:
    """What the delivery agent does after a crash: look for the post, post only if absent."""
    existing = await channel.find_existing(delivery)
    return existing if existing is not None else await channel.publish(delivery)


# --- against mastodon-mock ------------------------------------------------------------------------


class MockAccount:
    def __init__(self, mock: MastodonMock, monkeypatch: pytest.MonkeyPatch) -> None:
        self.id, self.token = mock.dev_user(f"ville{uuid.uuid4().hex[:8]}")
        self.env = token_in_env(monkeypatch, self.token)
        self.url = mock.url

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {self.token}"}, timeout=10)

    def statuses(self) -> list[dict[str, Any]]:
        answer = self.get(f"/api/v1/accounts/{self.id}/statuses?limit=40")
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()
        return result


@pytest.fixture
def on_mock(mock: MastodonMock, monkeypatch: pytest.MonkeyPatch) -> MockAccount:
    return MockAccount(mock, monkeypatch)


@pytest.fixture
async def mock_channel(on_mock: MockAccount) -> AsyncIterator[MastodonChannel]:
    accounts = [
        MastodonAccount(
            name="ville", base_url=on_mock.url, access_token_env=on_mock.env, visibility="unlisted"
        ),
        MastodonAccount(
            name="fil",
            base_url=on_mock.url,
            access_token_env=on_mock.env,
            update_mode="reply",
            delete_on_end=True,
        ),
    ]
    channel = MastodonChannel(accounts, make_client(10))
    yield channel
    await channel.aclose()


async def test_publish_is_read_back_from_mastodon_mock(
    mock_channel: MastodonChannel, on_mock: MockAccount
) -> None:
    delivery = request()
    post = await mock_channel.publish(delivery)

    status = on_mock.get(f"/api/v1/statuses/{post.post_id}").json()
    token = marker(delivery.delivery_key)
    assert "Route fermée à Saint-Étienne" in status["content"]
    assert f'href="https://exemple.fr/a/1#{token}"' in status["content"]
    assert status["visibility"] == "unlisted"
    assert status["language"] == "fr"
    assert post.url == status["url"]
    found = await mock_channel.find_existing(delivery)
    assert found is not None and found.post_id == post.post_id
    assert await mock_channel.find_existing(request()) is None


async def test_mock_honours_idempotency_key(mock_channel: MastodonChannel, on_mock: MockAccount) -> None:
    delivery = request()
    first = await mock_channel.publish(delivery)
    second = await mock_channel.publish(delivery)
    assert first.post_id == second.post_id
    assert len(on_mock.statuses()) == 1


async def test_update_edits_the_status(mock_channel: MastodonChannel, on_mock: MockAccount) -> None:
    alert_id = uuid.uuid4().hex[:16]
    post = await mock_channel.publish(request(alert_id=alert_id))
    update = request(
        "Route rouverte à Saint-Étienne https://exemple.fr/a/1", 2, MsgType.UPDATE, alert_id=alert_id
    )
    edited = await mock_channel.update(update, post)

    assert edited.post_id == post.post_id and edited.details["edited"] is True
    status = on_mock.get(f"/api/v1/statuses/{post.post_id}").json()
    assert "Route rouverte" in status["content"] and "fermée" not in status["content"]
    assert marker(update.delivery_key) in status["content"]
    assert len(on_mock.statuses()) == 1
    found = await mock_channel.find_existing(update)
    assert found is not None and found.post_id == post.post_id


async def test_reply_mode_threads_and_end_deletes(
    mock_channel: MastodonChannel, on_mock: MockAccount
) -> None:
    alert_id = uuid.uuid4().hex[:16]
    post = await mock_channel.publish(request(account="fil", alert_id=alert_id))
    update = request(
        "Déviation levée. Source : préfecture", 2, MsgType.UPDATE, account="fil", alert_id=alert_id
    )
    reply = await mock_channel.update(update, post)
    end = request("La route est rouverte.", 3, MsgType.CANCEL, account="fil", alert_id=alert_id)
    ended = await mock_channel.end(end, reply)

    reply_status = on_mock.get(f"/api/v1/statuses/{reply.post_id}")
    assert reply_status.status_code == 404, "delete_on_end removes the alert's statuses"
    assert on_mock.get(f"/api/v1/statuses/{post.post_id}").status_code == 404
    end_status = on_mock.get(f"/api/v1/statuses/{ended.post_id}").json()
    assert end_status["in_reply_to_id"] == reply.post_id
    assert "FIN D&#39;ALERTE – La route est rouverte." in end_status["content"] or (
        "FIN D'ALERTE – La route est rouverte." in end_status["content"]
    )
    assert ended.details["root_id"] == post.post_id
    assert sorted(ended.details["deleted"]) == sorted([post.post_id, reply.post_id])
    assert [s["id"] for s in on_mock.statuses()] == [ended.post_id]


async def test_reply_in_thread_without_delete(mock_channel: MastodonChannel, on_mock: MockAccount) -> None:
    alert_id = uuid.uuid4().hex[:16]
    post = await mock_channel.publish(request(alert_id=alert_id))
    ended = await mock_channel.end(request("", 2, MsgType.CANCEL, alert_id=alert_id), post)
    end_status = on_mock.get(f"/api/v1/statuses/{ended.post_id}").json()
    assert end_status["in_reply_to_id"] == post.post_id
    assert "ALERTE – Route fermée" in end_status["content"]
    assert on_mock.get(f"/api/v1/statuses/{post.post_id}").status_code == 200


async def test_exercise_never_reaches_a_public_account(
    mock_channel: MastodonChannel, on_mock: MockAccount
) -> None:
    with pytest.raises(PermanentError, match="exercise: false"):
        await mock_channel.publish(request(status=Status.EXERCISE))
    with pytest.raises(PermanentError, match="exercise: false"):
        await mock_channel.publish(request(status=Status.TEST))
    assert on_mock.statuses() == []


async def test_exercise_account_gets_a_labelled_exercise(on_mock: MockAccount) -> None:
    account = MastodonAccount(name="ville", base_url=on_mock.url, access_token_env=on_mock.env, exercise=True)
    channel = MastodonChannel([account], make_client(10))
    try:
        post = await channel.publish(request(status=Status.EXERCISE))
    finally:
        await channel.aclose()
    assert "EXERCICE" in on_mock.get(f"/api/v1/statuses/{post.post_id}").json()["content"]


# --- against the contract server -------------------------------------------------------------------


class ContractAccount:
    def __init__(self, server: ContractServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.server = server
        self.id, self.token = server.state.add_account("ville")
        self.env = token_in_env(monkeypatch, self.token)

    def statuses(self) -> list[dict[str, Any]]:
        return self.server.state.statuses_of(self.id)

    def posts(self) -> int:
        return sum(
            1 for method, path in self.server.state.requests if (method, path) == ("POST", "/api/v1/statuses")
        )


@pytest.fixture
def on_contract(contract: ContractServer, monkeypatch: pytest.MonkeyPatch) -> ContractAccount:
    return ContractAccount(contract, monkeypatch)


@pytest.fixture
async def contract_channel(
    contract: ContractServer, on_contract: ContractAccount
) -> AsyncIterator[MastodonChannel]:
    account = MastodonAccount(name="ville", base_url=contract.url, access_token_env=on_contract.env)
    channel = MastodonChannel([account], make_client(10))
    yield channel
    await channel.aclose()


async def test_ignored_idempotency_key_still_one_status_after_a_crash(
    contract: ContractServer, contract_channel: MastodonChannel, on_contract: ContractAccount
) -> None:
    contract.state.ignore_idempotency = True
    # The server really ignores the key (GoToSocial): posting blind twice makes two statuses.
    blind = request()
    await contract_channel.publish(blind)
    await contract_channel.publish(blind)
    assert len(on_contract.statuses()) == 2

    delivery = request()
    sent = await contract_channel.publish(delivery)  # accepted... then the worker dies
    retried = await deliver(contract_channel, delivery)  # another worker takes over
    again = await deliver(contract_channel, delivery)
    ours = [s for s in on_contract.statuses() if marker(delivery.delivery_key) in s["content"]]
    assert len(ours) == 1
    assert retried.post_id == again.post_id == sent.post_id
    assert on_contract.posts() == 3


async def test_marker_as_last_line_when_the_text_has_no_link(
    contract: ContractServer, contract_channel: MastodonChannel, on_contract: ContractAccount
) -> None:
    contract.state.ignore_idempotency = True
    delivery = request("Collège fermé jeudi. Source : mairie")
    sent = await contract_channel.publish(delivery)
    stored = on_contract.statuses()[0]
    assert stored["content"].endswith(f"<p>réf. {marker(delivery.delivery_key)}</p>")
    found = await contract_channel.find_existing(delivery)
    assert found is not None and found.post_id == sent.post_id


async def test_find_existing_pages_through_recent_statuses(
    contract: ContractServer, contract_channel: MastodonChannel, on_contract: ContractAccount
) -> None:
    delivery = request()
    sent = await contract_channel.publish(delivery)
    for _ in range(45):  # pushes it to the second page (40 a page)
        await contract_channel.publish(request("Autre information. Source : mairie"))
    found = await contract_channel.find_existing(delivery)
    assert found is not None and found.post_id == sent.post_id


async def test_limits_come_from_the_instance(
    contract: ContractServer, contract_channel: MastodonChannel
) -> None:
    health = await contract_channel.check("ville")
    assert health.ok and health.can_post
    assert (health.limit, health.url_weight) == (1000, 23)
    assert health.rate_remaining == 299
    # Cached: a changed instance is not read again within the hour.
    contract.state.max_characters = 5000
    assert (await contract_channel.check("ville")).limit == 1000


async def test_limits_fall_back_to_v1_instance(
    contract: ContractServer, on_contract: ContractAccount
) -> None:
    contract.state.v2_instance = False
    contract.state.max_characters, contract.state.url_weight = 700, 30
    account = MastodonAccount(name="ville", base_url=contract.url, access_token_env=on_contract.env)
    channel = MastodonChannel([account], make_client(10))
    try:
        health = await channel.check("ville")
    finally:
        await channel.aclose()
    assert (health.limit, health.url_weight) == (700, 30)


async def test_text_over_the_instance_limit_is_refused_before_sending(
    contract: ContractServer, contract_channel: MastodonChannel, on_contract: ContractAccount
) -> None:
    contract.state.max_characters = 100
    with pytest.raises(PermanentError, match="allows 100"):
        await contract_channel.publish(request("é" * 90 + " https://exemple.fr/" + "a" * 200))
    assert on_contract.posts() == 0
    # A link counts 23 whatever its length, so this one fits.
    await contract_channel.publish(request("é" * 60 + " https://exemple.fr/" + "a" * 200))


@pytest.mark.parametrize(
    ("gotosocial", "status"),
    [(False, "422 .*character limit of 100 exceeded"), (True, "400 .*status too long")],
)
async def test_server_refusal_too_long_is_permanent(
    contract: ContractServer, contract_channel: MastodonChannel, gotosocial: bool, status: str
) -> None:
    await contract_channel.check("ville")  # limits cached at 1000...
    contract.state.max_characters, contract.state.gotosocial = 100, gotosocial  # ...then lowered
    with pytest.raises(PermanentError, match=status):
        await contract_channel.publish(request("é" * 150))


async def test_rate_limited_is_transient_with_retry_after(
    contract: ContractServer, contract_channel: MastodonChannel, on_contract: ContractAccount
) -> None:
    await contract_channel.check("ville")
    contract.state.rate_limited, contract.state.retry_after_s = 1, 7
    with pytest.raises(TransientError) as caught:
        await contract_channel.publish(request())
    assert caught.value.retry_after == 7
    await contract_channel.publish(request())
    assert len(on_contract.statuses()) == 1


def test_rate_limit_reset_is_used_without_retry_after() -> None:
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    reset = (now + timedelta(seconds=42)).isoformat().replace("+00:00", "Z")
    response = httpx.Response(429, headers={"X-RateLimit-Reset": reset})
    assert retry_after_of(response, now) == 42
    assert (
        retry_after_of(httpx.Response(429, headers={"Retry-After": "Mon, 23 Nov 2026 08:00:05 GMT"}), now)
        == 5
    )


async def test_unavailable_then_recovers_under_the_retry_policy(
    contract: ContractServer, contract_channel: MastodonChannel, on_contract: ContractAccount
) -> None:
    await contract_channel.check("ville")
    contract.state.unavailable = 2
    delivery = request()
    policy = RetryPolicy(attempts=5, base_s=0.01, cap_s=0.05)
    post, attempts = await policy.run(lambda: contract_channel.publish(delivery))
    assert attempts == 3
    assert [s["id"] for s in on_contract.statuses()] == [post.post_id]


async def test_revoked_token_check_not_ok_and_never_shown(
    contract: ContractServer,
    contract_channel: MastodonChannel,
    on_contract: ContractAccount,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    contract.state.revoke(on_contract.token)
    health = await contract_channel.check("ville")
    assert not health.ok
    assert health.problem and "token revoked or invalid" in health.problem
    assert on_contract.env in health.problem  # where to renew it, not what it is
    with pytest.raises(PermanentError, match="token revoked or invalid") as caught:
        await contract_channel.publish(request())
    for shown in (health.problem, str(caught.value), caplog.text):
        assert on_contract.token not in shown


async def test_update_falls_back_to_a_reply_without_edits(
    contract: ContractServer, contract_channel: MastodonChannel, on_contract: ContractAccount
) -> None:
    contract.state.edits = False
    alert_id = uuid.uuid4().hex[:16]
    post = await contract_channel.publish(request(alert_id=alert_id))
    update = request("Déviation levée. Source : mairie", 2, MsgType.UPDATE, alert_id=alert_id)
    reply = await contract_channel.update(update, post)
    assert reply.post_id != post.post_id
    assert contract.state.statuses[reply.post_id or ""]["in_reply_to_id"] == post.post_id
    found = await contract_channel.find_existing(update)
    assert found is not None and found.post_id == reply.post_id and found.details["root_id"] == post.post_id
