"""The console's pause switches without a broker: the real Starlette app (httpx ASGITransport),
an in-memory producer that hands what the console produces back to its read model (as the
topics would), and the read model's pause board and held counts. Who may switch, CSRF, the
messages written (the same as `alertcast deliveries pause`), hostile text, drop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from test_console_security import USERS, csrf_of, login, make_draft

from alertcast.delivery.pause import Pause
from alertcast.models.alert import Approval, DeliveryRequest, DeliveryStatus, Receipt
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.pausing import audit_of, new_switch, switch_records
from alertcast.web.app import WebConfig, create_app
from alertcast.web.console import Console, ConsoleConfig
from alertcast.web.console.readmodel import ConsoleReadModel, Topics
from alertcast.web.producer import Message

HOSTILE = "<script>alert(1)</script> {{ 7*7 }}"


class LoopbackProducer:
    """Keeps what the console produces and, when `echo`, feeds it back like the topics would."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.console: Console | None = None
        self.echo = True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_all(self, messages: list[Message]) -> None:
        self.messages += messages
        if self.echo and self.console is not None:
            console = self.console
            for m in messages:  # after this call returns, as a consumer would see them
                asyncio.get_running_loop().call_soon(console.on_message, m.topic, m.key, m.value)

    def on(self, topic: str) -> list[Message]:
        return [m for m in self.messages if m.topic == topic]


class Setup:
    def __init__(self, producer: LoopbackProducer, console: Console, transport: httpx.ASGITransport) -> None:
        self.producer = producer
        self.console = console
        self.transport = transport

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, base_url="http://127.0.0.1")

    def feed(self, topic: str, model: object) -> None:
        value = model.model_dump_json().encode()  # type: ignore[attr-defined]
        self.console.on_message(getattr(self.console.topics, topic), None, value)

    def produced(self, topic: str) -> list[Message]:
        return self.producer.on(getattr(self.console.topics, topic))


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    producer = LoopbackProducer()
    app = create_app(
        WebConfig(topic_prefix="t."),
        producer=producer,
        follow_topics=False,
        console_config=ConsoleConfig.for_tests(USERS, decision_wait_s=5, channels=["website", "webhook"]),
    )
    producer.console = app.state.console
    yield Setup(producer, app.state.console, httpx.ASGITransport(app=app))


def held_delivery(setup: Setup, channel: str = "webhook") -> DeliveryRequest:
    """An approved alert whose `channel` delivery the worker answered "paused"."""
    draft = make_draft()
    now = datetime.now(UTC)
    request = DeliveryRequest(
        alert_id=draft.alert_id, version=1, channel=channel, incident=draft.incident, approved_at=now
    )
    setup.feed("approved", Approval(draft=draft, approved_by=["x"], approved_at=now, policy="p"))
    setup.feed("requests", request)
    setup.feed("receipts", receipt(request, DeliveryStatus.PAUSED, now, "paused (webhook) by bruno"))
    return request


def receipt(request: DeliveryRequest, status: DeliveryStatus, at: datetime, error: str = "") -> Receipt:
    return Receipt(
        delivery_key=request.delivery_key,
        alert_id=request.alert_id,
        version=request.version,
        channel=request.channel,
        account=request.account,
        status=status,
        latency_ms=1.0,
        error=error or None,
        at=at,
    )


def same_event(one: AuditEvent, other: AuditEvent) -> bool:
    """Equal but for the event id (new for each event)."""
    return one.model_dump(exclude={"event_id"}) == other.model_dump(exclude={"event_id"})


def test_the_cli_and_the_console_write_the_same_two_messages() -> None:
    switch = new_switch(True, "mastodon", "@prefecture", by="duty", reason="compte piraté")
    [(pauses, key, value), (audit, audit_key, event)] = switch_records(lambda n: f"p.{n}", switch)
    assert (pauses, audit) == ("p.config.pauses", "p.audit.events")
    assert key == audit_key == b"mastodon:@prefecture"
    assert Pause.model_validate_json(value) == switch
    written = AuditEvent.model_validate_json(event)
    assert same_event(written, audit_of(switch))
    assert (written.action, written.actor, written.channel, written.message) == (
        AuditAction.PAUSE,
        "duty",
        "mastodon",
        "compte piraté",
    )
    assert written.details == {"scope": "mastodon:@prefecture", "account": "@prefecture"}
    assert audit_of(new_switch(False, by="duty")).action is AuditAction.RESUME


def test_the_read_model_follows_switches_and_counts_what_is_held() -> None:
    topics = Topics.with_prefix(lambda n: n)
    model = ConsoleReadModel(topics)
    at = datetime.now(UTC)
    for switch in (
        Pause(channel="webhook", paused=True, by="alice", at=at),
        Pause(paused=True, by="bruno", at=at),
        Pause(paused=False, by="bruno", at=at + timedelta(seconds=1)),  # everything resumed
    ):
        model.on_message(topics.pauses, switch.scope.encode(), switch.model_dump_json().encode())
    assert [(p.scope, p.by) for p in model.pauses.active()] == [("webhook", "alice")]
    model.on_message(topics.pauses, b"webhook", b"")  # a tombstone is ignored, as in the worker
    assert model.pauses.holding("webhook", "default") is not None

    draft = make_draft()
    keys = []
    for channel, account in (("webhook", "default"), ("webhook", "other"), ("website", "default")):
        request = DeliveryRequest(
            alert_id=draft.alert_id,
            version=1,
            channel=channel,
            account=account,
            incident=draft.incident,
            approved_at=at,
        )
        model.on_message(topics.requests, None, request.model_dump_json().encode())
        paused = receipt(request, DeliveryStatus.PAUSED, at)
        model.on_message(topics.receipts, None, paused.model_dump_json().encode())
        keys.append(request)
    assert model.held() == {"webhook": 2, "website": 1}
    sent = receipt(keys[0], DeliveryStatus.SENT, at + timedelta(seconds=2))
    model.on_message(topics.receipts, None, sent.model_dump_json().encode())
    older = receipt(keys[2], DeliveryStatus.DROPPED, at - timedelta(seconds=2))  # out of order: ignored
    model.on_message(topics.receipts, None, older.model_dump_json().encode())
    assert model.held() == {"webhook": 1, "website": 1}


async def test_waiting_for_a_switch_ends_when_it_arrives_or_at_the_timeout() -> None:
    topics = Topics.with_prefix(lambda n: n)
    model = ConsoleReadModel(topics)
    switch = new_switch(True, "webhook", by="alice")
    assert not await model.until(lambda: model.switched(switch), 0.05)
    loop = asyncio.get_running_loop()
    loop.call_soon(model.on_message, topics.audit, None, audit_of(switch).model_dump_json().encode())
    loop.call_soon(model.on_message, topics.pauses, b"webhook", switch.model_dump_json().encode())
    assert await model.until(lambda: model.switched(switch), 5)


async def test_a_communicator_pauses_a_channel_and_resumes_it(setup: Setup) -> None:
    async with setup.client() as client:
        token = await login(client, "alice")
        page = await client.get("/console/deliveries")
        assert "Aucune pause" in page.text
        assert '<option value="webhook">le canal webhook</option>' in page.text
        answer = await client.post(
            "/console/pauses", data={"csrf": token, "channel": "webhook", "reason": "jeton volé"}
        )
        assert answer.status_code == 303 and "notice=paused" in answer.headers["location"]
        [written] = setup.produced("pauses")
        [event] = setup.produced("audit")
        switch = Pause.model_validate_json(written.value)
        assert written.topic == "t.config.pauses" and written.key == b"webhook"
        assert (switch.paused, switch.channel, switch.account, switch.by, switch.reason) == (
            True,
            "webhook",
            None,
            "alice",
            "jeton volé",
        )
        assert same_event(AuditEvent.model_validate_json(event.value), audit_of(switch))

        page = await client.get("/console/deliveries?notice=paused")
        assert "Pause enregistrée" in page.text and 'data-scope="webhook"' in page.text
        assert "par alice" in page.text and "motif : jeton volé" in page.text
        part = await client.get("/console/pauses.part")
        assert 'aria-label="Reprendre : webhook"' in part.text

        answer = await client.post(
            "/console/pauses/resume", data={"csrf": csrf_of(part.text), "scope": "webhook"}
        )
        assert answer.status_code == 303 and "notice=resumed" in answer.headers["location"]
        resumed = Pause.model_validate_json(setup.produced("pauses")[-1].value)
        assert (resumed.paused, resumed.scope, resumed.by) == (False, "webhook", "alice")
        assert AuditEvent.model_validate_json(setup.produced("audit")[-1].value).action is AuditAction.RESUME
        assert "Aucune pause" in (await client.get("/console/deliveries")).text

        again = await client.post("/console/pauses/resume", data={"csrf": token, "scope": "webhook"})
        assert again.headers["location"].endswith("notice=introuvable")
    assert len(setup.produced("pauses")) == 2


async def test_an_account_or_everything_can_be_paused(setup: Setup) -> None:
    async with setup.client() as client:
        token = await login(client, "bruno")
        for fields in ({"channel": "webhook", "account": "@prefecture:matrix.org"}, {"channel": ""}):
            answer = await client.post("/console/pauses", data={"csrf": token, "reason": "essai", **fields})
            assert answer.status_code == 303
        page = await client.get("/console/deliveries")
    scopes = [Pause.model_validate_json(m.value).scope for m in setup.produced("pauses")]
    assert scopes == ["webhook:@prefecture:matrix.org", "*"]
    assert "webhook / compte @prefecture:matrix.org" in page.text and "<strong>tout</strong>" in page.text


async def test_pause_forms_are_checked_before_anything_is_produced(setup: Setup) -> None:
    async with setup.client() as client:
        token = await login(client, "alice")
        for fields, said in (
            ({"channel": "webhook", "reason": ""}, "indiquez le motif"),
            ({"channel": "telegraph", "reason": "x"}, "canal inconnu"),
            ({"channel": "", "account": "compte", "reason": "x"}, "choisissez le canal"),
            ({"channel": "webhook", "reason": "x" * 501}, "motif trop long"),
        ):
            answer = await client.post("/console/pauses", data={"csrf": token, **fields})
            assert answer.status_code == 422 and said in answer.text, fields
        hostile = await client.post(
            "/console/pauses", data={"csrf": token, "channel": "", "account": HOSTILE}
        )
        assert hostile.status_code == 422 and "<script>alert" not in hostile.text
        assert "&lt;script&gt;" in hostile.text  # kept in the form, escaped
    assert setup.producer.messages == []


async def test_only_deciders_with_a_csrf_token_switch(setup: Setup) -> None:
    async with setup.client() as client:
        token = await login(client, "olga")  # operator: submits alerts, no more
        assert (await client.get("/console/deliveries")).status_code == 403
        assert (await client.get("/console/pauses.part")).status_code == 403
        for url in ("/console/pauses", "/console/pauses/resume", "/console/deliveries/drop"):
            answer = await client.post(url, data={"csrf": token, "reason": "x", "scope": "*"})
            assert answer.status_code == 403, url
    async with setup.client() as client:
        assert (await client.get("/console/pauses.part")).status_code == 401
        token = await login(client, "alice")
        for data in ({}, {"csrf": "forged"}, {"csrf": token[:-1]}):
            answer = await client.post("/console/pauses", data={"reason": "x", **data})
            assert answer.status_code == 403 and "CSRF" in answer.text
    assert setup.producer.messages == []


async def test_a_held_delivery_shows_counted_and_can_be_dropped(setup: Setup) -> None:
    request = held_delivery(setup)
    setup.producer.echo = False  # the drop's outcome is the worker's: nothing answers here
    async with setup.client() as client:
        token = await login(client, "alice")
        page = await client.get("/console/deliveries")
        assert 'data-state="paused"' in page.text and "en pause" in page.text
        assert '<td class="held-count">1</td>' in page.text and "Ne pas publier" in page.text
        answer = await client.post(
            "/console/deliveries/drop", data={"csrf": token, "delivery_key": request.delivery_key}
        )
        assert answer.status_code == 303 and answer.headers["location"].endswith("notice=dropped")
    [sent] = setup.produced("requests")
    assert DeliveryRequest.model_validate_json(sent.value) == request
    assert sent.key == request.partition_key  # the account owns the request (one partition)
    assert ("alertcast-resolution", b"drop") in sent.headers and (
        "alertcast-resolved-by",
        b"alice",
    ) in sent.headers
    [audit] = setup.produced("audit")
    event = AuditEvent.model_validate_json(audit.value)
    assert (event.action, event.actor, event.channel, event.alert_id) == (
        AuditAction.DROP,
        "alice",
        "webhook",
        request.alert_id,
    )
    assert event.details["delivery_key"] == request.delivery_key


async def test_a_sent_delivery_cannot_be_dropped(setup: Setup) -> None:
    request = held_delivery(setup)
    setup.feed("receipts", receipt(request, DeliveryStatus.SENT, datetime.now(UTC) + timedelta(seconds=1)))
    async with setup.client() as client:
        token = await login(client, "bruno")
        page = await client.get("/console/deliveries")
        assert "Ne pas publier" not in page.text and "Aucune diffusion retenue" in page.text
        answer = await client.post(
            "/console/deliveries/drop", data={"csrf": token, "delivery_key": request.delivery_key}
        )
        assert answer.headers["location"].endswith("notice=introuvable")
    assert setup.producer.messages == []
