"""The console's security, against the real Starlette app (httpx ASGITransport, no broker):
login, roles, CSRF, the two-person rule, hostile text, sessions, and fuzzing of what any visitor
sends before logging in (cookies, the CSRF field, headers: arbitrary bytes, non-ASCII text, lone
surrogates) that must never answer a 5xx. Messages the console would produce are caught by an
in-memory producer; the read model is fed the topics' messages."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from urllib.parse import quote_from_bytes

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from conftest import EXAMPLES
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from alertcast.models.alert import Approval, DeliveryRequest, DeliveryStatus, Draft, Receipt, alert_id_for
from alertcast.models.decision import AuditAction, AuditEvent, Decision, DraftStatus, Role
from alertcast.models.incident import Incident, Severity
from alertcast.render.compose import check_edit
from alertcast.web.app import WebConfig, create_app
from alertcast.web.console import Console, ConsoleConfig
from alertcast.web.console.auth import User, hash_password, load_users
from alertcast.web.console.sessions import DEVICE_COOKIE, LOGIN_COOKIE, SESSION_COOKIE, Signer
from alertcast.web.producer import Message

PASSWORD = "un mot de passe de test"
HASH = hash_password(PASSWORD)
USERS = [
    User(name="alice", roles=[Role.COMMUNICATOR], password_argon2=HASH),
    User(name="bruno", roles=[Role.SUPERVISOR], password_argon2=HASH),
    User(name="olga", roles=[Role.OPERATOR], password_argon2=HASH),
    User(name="adam", roles=[Role.ADMIN], password_argon2=HASH),
]
HOSTILE = "<script>alert(1)</script> {{ 7*7 }}"
BASE = EXAMPLES / "01-road-closure-d934.json"


class MemoryProducer:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_all(self, messages: list[Message]) -> None:
        self.messages += messages


class Setup:
    def __init__(self, producer: MemoryProducer, console: Console, transport: httpx.ASGITransport) -> None:
        self.producer = producer
        self.console = console
        self.transport = transport

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, base_url="http://127.0.0.1")

    def feed(self, topic: str, model: object) -> None:
        value = model.model_dump_json().encode()  # type: ignore[attr-defined]
        self.console.on_message(getattr(self.console.topics, topic), None, value)

    def produced(self, topic: str) -> list[Message]:
        return [m for m in self.producer.messages if m.topic == getattr(self.console.topics, topic, topic)]


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    producer = MemoryProducer()
    app = create_app(
        WebConfig(topic_prefix="t."),
        producer=producer,
        follow_topics=False,
        console_config=ConsoleConfig.for_tests(USERS, decision_wait_s=0),
    )
    yield Setup(producer, app.state.console, httpx.ASGITransport(app=app))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def login(client: httpx.AsyncClient, name: str) -> str:
    """Logs in; returns a CSRF token of the new session."""
    page = await client.get("/console/login")
    answer = await client.post(
        "/console/login", data={"csrf": csrf_of(page.text), "name": name, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(
        (
            await client.get(
                "/console/mine"
                if name == "olga"
                else "/console/audit"
                if name == "adam"
                else "/console/queue"
            )
        ).text
    )


def make_draft(
    headline: str = "Route D 934 fermée entre Arras et Cambrai", severity: Severity = Severity.SEVERE
) -> Draft:
    incident = Incident.model_validate(json.loads(BASE.read_text()))
    info = incident.info[0].model_copy(update={"headline": headline, "severity": severity})
    incident = incident.model_copy(update={"info": [info]})
    text = check_edit("webhook", f"{headline}. Suivez la déviation par la D 939.", "fr", incident)
    return Draft(
        alert_id=alert_id_for(incident.key),
        incident_key=incident.key,
        version=1,
        received_at=datetime.now(UTC),
        incident=incident,
        texts=[text],
    )


def drafted_event(draft: Draft, mode: str = "two") -> AuditEvent:
    return AuditEvent(
        at=datetime.now(UTC),
        actor="policy",
        action=AuditAction.DRAFTED,
        incident_key=draft.incident_key,
        alert_id=draft.alert_id,
        version=draft.version,
        status=DraftStatus.PENDING,
        details={"rule": "grave", "mode": mode, "escalate_after_s": None, "expire_after_s": None},
    )


async def test_unauthenticated_pages_show_login_and_api_answers_401(setup: Setup) -> None:
    async with setup.client() as client:
        page = await client.get("/console/queue", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/console/login?next=/console/queue"
        login_page = await client.get(page.headers["location"])
        assert login_page.status_code == 200 and 'name="password"' in login_page.text
        for path in ("/console/api/queue", "/console/queue.part"):
            api = await client.get(path)
            assert api.status_code == 401 and api.json()["error"] == "unauthenticated"
        json_page = await client.get("/console/drafts/x", headers={"Accept": "application/json"})
        assert json_page.status_code == 401
        post = await client.post("/console/drafts/x/decide", data={"action": "approve"})
        assert post.status_code == 303 and post.headers["location"].startswith("/console/login")
    assert setup.producer.messages == []


async def test_wrong_password_and_unknown_user_are_refused_alike(setup: Setup) -> None:
    async with setup.client() as client:
        for name, password in (("alice", "faux"), ("personne", PASSWORD)):
            page = await client.get("/console/login")
            answer = await client.post(
                "/console/login", data={"csrf": csrf_of(page.text), "name": name, "password": password}
            )
            assert answer.status_code == 401 and "Identifiant ou mot de passe incorrect" in answer.text
        assert (await client.get("/console/api/queue")).status_code == 401


async def test_session_cookie_is_httponly_strict_and_expires() -> None:
    setup_app = create_app(
        WebConfig(),
        producer=MemoryProducer(),
        follow_topics=False,
        console_config=ConsoleConfig.for_tests(USERS),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=setup_app), base_url="http://127.0.0.1"
    ) as client:
        page = await client.get("/console/login")
        answer = await client.post(
            "/console/login", data={"csrf": csrf_of(page.text), "name": "alice", "password": PASSWORD}
        )
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("alertcast_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    now = [1_000_000.0]
    signer = Signer(b"k" * 32, ttl_s=60, now=lambda: now[0])
    value, session = signer.issue("alice", HASH)
    assert signer.read(value) == session
    assert signer.read(value[:-2] + "xx") is None  # tampered
    now[0] += 61
    assert signer.read(value) is None  # expired


async def test_wrong_roles_get_403(setup: Setup) -> None:
    draft = make_draft()
    setup.feed("drafted", draft)
    async with setup.client() as client:
        token = await login(client, "olga")
        assert (await client.get("/console/queue")).status_code == 403
        assert (await client.get(f"/console/drafts/{draft.alert_id}")).status_code == 403
        assert (await client.get("/console/api/queue")).status_code == 403
        decide = await client.post(
            f"/console/drafts/{draft.alert_id}/decide",
            data={"csrf": token, "action": "approve", "version": "1"},
        )
        assert decide.status_code == 403
        assert (await client.get("/console/audit")).status_code == 403
    async with setup.client() as client:
        await login(client, "alice")
        assert (await client.get("/console/audit")).status_code == 403
        assert (await client.get("/console/admin")).status_code == 403
        assert (await client.get("/console/policy")).status_code == 403
    async with setup.client() as client:
        await login(client, "adam")
        assert (await client.get("/console/admin")).status_code == 200
        assert (await client.get("/console/queue")).status_code == 403
    assert setup.produced("decisions") == []


async def test_missing_or_wrong_csrf_token_is_403(setup: Setup) -> None:
    draft = make_draft()
    setup.feed("drafted", draft)
    url = f"/console/drafts/{draft.alert_id}/decide"
    async with setup.client() as other:
        foreign = await login(other, "bruno")
    async with setup.client() as client:
        token = await login(client, "alice")
        for data in ({}, {"csrf": "forged"}, {"csrf": foreign}, {"csrf": token[:-1]}):
            answer = await client.post(url, data={"action": "hold", "version": "1", **data})
            assert answer.status_code == 403 and "CSRF" in answer.text
        ok = await client.post(url, data={"action": "hold", "version": "1", "csrf": token})
        assert ok.status_code == 303
        login_without = await client.post("/console/login", data={"name": "alice", "password": PASSWORD})
        assert login_without.status_code == 403
    assert len(setup.produced("decisions")) == 1


async def test_a_version_that_is_no_number_never_answers_5xx(setup: Setup) -> None:
    """ "²" and "٣" pass str.isdigit() but int() refuses the first: the version read is then
    the draft's own, as for any version that is not a positive number."""
    draft = make_draft()
    setup.feed("drafted", draft)
    url = f"/console/drafts/{draft.alert_id}/decide"
    async with setup.client() as client:
        token = await login(client, "alice")
        for version in ("²", "٣", "-1", "1e3", "9" * 400):
            answer = await client.post(url, data={"action": "hold", "version": version, "csrf": token})
            assert answer.status_code < 500, version
    versions = {json.loads(message.value)["version"] for message in setup.produced("decisions")}
    assert versions <= {draft.version, int("9" * 400)}


async def test_same_user_cannot_give_both_approvals(setup: Setup) -> None:
    draft = make_draft()
    setup.feed("drafted", draft)
    setup.feed("audit", drafted_event(draft))
    url = f"/console/drafts/{draft.alert_id}/decide"
    async with setup.client() as client:
        token = await login(client, "alice")
        first = await client.post(url, data={"csrf": token, "action": "approve", "version": "1"})
        assert first.status_code == 303
        sent = Decision.model_validate_json(setup.produced("decisions")[0].value)
        assert setup.produced("decisions")[0].key == draft.incident_key.encode()
        # the approval agent's answer, as it would arrive on audit.events
        setup.feed(
            "audit",
            AuditEvent(
                at=datetime.now(UTC),
                actor="alice",
                action=AuditAction.APPROVE,
                incident_key=draft.incident_key,
                alert_id=draft.alert_id,
                version=1,
                decision_id=sent.decision_id,
                status=DraftStatus.PENDING,
                approvers=["alice"],
                details={"roles": ["communicator"]},
            ),
        )
        page = await client.get(first.headers["location"])
        assert "approbations 1/2 : alice" in page.text
        second = await client.post(url, data={"csrf": token, "action": "approve", "version": "1"})
        assert second.status_code == 409
        # the refusal in the page's language (French), from its msgid
        assert "la seconde approbation doit venir d&#39;une autre personne" in second.text
    assert len(setup.produced("decisions")) == 1
    async with setup.client() as client:
        token = await login(client, "bruno")
        answer = await client.post(url, data={"csrf": token, "action": "approve", "version": "1"})
        assert answer.status_code == 303
    assert [Decision.model_validate_json(m.value).actor for m in setup.produced("decisions")] == [
        "alice",
        "bruno",
    ]


async def test_a_blocked_edit_cannot_be_approved(setup: Setup) -> None:
    draft = make_draft(severity=Severity.MODERATE)
    setup.feed("drafted", draft)
    setup.feed("audit", drafted_event(draft, mode="one"))
    blocked = check_edit("webhook", "Route fermée. Scandaleux.", "fr", draft.incident)
    assert blocked.blocked
    setup.feed(
        "audit",
        AuditEvent(
            at=datetime.now(UTC),
            actor="alice",
            action=AuditAction.EDIT,
            incident_key=draft.incident_key,
            alert_id=draft.alert_id,
            version=1,
            status=DraftStatus.PENDING,
            before=draft.texts[0],
            after=blocked,
        ),
    )
    async with setup.client() as client:
        token = await login(client, "alice")
        page = await client.get(f"/console/drafts/{draft.alert_id}")
        assert '<mark class="block"' in page.text and "Scandaleux" in page.text
        answer = await client.post(
            f"/console/drafts/{draft.alert_id}/decide",
            data={"csrf": token, "action": "approve", "version": "1"},
        )
        assert answer.status_code == 409 and "le texte webhook modifié (fr) est bloqué" in answer.text
    assert setup.produced("decisions") == []


async def test_hostile_incident_text_is_plain_text_everywhere(setup: Setup) -> None:
    draft = make_draft(headline=HOSTILE)
    setup.feed("drafted", draft)
    setup.feed("audit", drafted_event(draft))
    approval = Approval(draft=draft, approved_by=["bruno"], approved_at=datetime.now(UTC), policy="grave")
    setup.feed("approved", approval)
    request = DeliveryRequest(
        alert_id=draft.alert_id,
        version=1,
        channel="webhook",
        incident=draft.incident,
        text=draft.texts[0],
        approved_at=approval.approved_at,
    )
    setup.feed("requests", request)
    setup.feed(
        "dead",
        Receipt(
            delivery_key=request.delivery_key,
            alert_id=draft.alert_id,
            version=1,
            channel="webhook",
            account="default",
            status=DeliveryStatus.DEAD,
            latency_ms=1.0,
            error=HOSTILE,
            at=datetime.now(UTC),
        ),
    )
    refused = drafted_event(draft).model_copy(
        update={"action": AuditAction.REJECT, "actor": "alice", "accepted": False, "message": HOSTILE}
    )
    setup.feed("audit", refused)  # a refusal changes nothing, but shows in the audit log
    async with setup.client() as client:
        await login(client, "bruno")
        for path in (
            "/console/queue",
            "/console/queue.part",
            f"/console/drafts/{draft.alert_id}",
            "/console/deliveries",
            f"/console/incidents/{draft.alert_id}",
            "/console/audit",
        ):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path
            assert "<script>alert" not in page.text, path
            assert "{{ 7*7 }}" in page.text and ">49<" not in page.text, path
            assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_retry_sends_the_dead_delivery_again(setup: Setup) -> None:
    draft = make_draft()
    request = DeliveryRequest(
        alert_id=draft.alert_id,
        version=1,
        channel="webhook",
        incident=draft.incident,
        approved_at=datetime.now(UTC),
    )
    setup.feed(
        "approved", Approval(draft=draft, approved_by=["x"], approved_at=datetime.now(UTC), policy="p")
    )
    setup.feed("requests", request)
    receipt = Receipt(
        delivery_key=request.delivery_key,
        alert_id=draft.alert_id,
        version=1,
        channel="webhook",
        account="default",
        status=DeliveryStatus.DEAD,
        latency_ms=1.0,
        error="HTTP 500",
        at=datetime.now(UTC),
    )
    setup.feed("dead", receipt)
    async with setup.client() as client:
        token = await login(client, "alice")
        grid = await client.get("/console/deliveries")
        assert "HTTP 500" in grid.text and "Réessayer" in grid.text
        answer = await client.post(
            "/console/deliveries/retry", data={"csrf": token, "delivery_key": request.delivery_key}
        )
        assert answer.status_code == 303 and answer.headers["location"].endswith("notice=retry")
    [sent] = setup.produced("requests")
    assert DeliveryRequest.model_validate_json(sent.value) == request
    assert sent.key == request.partition_key and ("alertcast-resolution", b"post-again") in sent.headers
    assert ("alertcast-resolved-by", b"alice") in sent.headers
    [audit] = setup.produced("audit")
    assert AuditEvent.model_validate_json(audit.value).action is AuditAction.RETRY


async def test_an_alert_written_by_hand_is_submitted_as_console_user(setup: Setup) -> None:
    async with setup.client() as client:
        token = await login(client, "olga")
        form = {
            "csrf": token,
            "category": "road_closure",
            "severity": "Moderate",
            "urgency": "Immediate",
            "certainty": "Observed",
            "event": "Fermeture de route",
            "headline": "Route D 12 fermée à Arras",
            "area": "Arras",
            "onset": (datetime.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        }
        refused = await client.post("/console/new", data={**form, "headline": ""})
        assert refused.status_code == 422 and "info.0.headline" in refused.text
        answer = await client.post("/console/new", data=form)
        assert answer.status_code == 303
    [message] = setup.produced("t.incidents.submitted")
    incident = Incident.model_validate_json(message.value)
    assert incident.source == "console:olga" and ("alertcast-source", b"console:olga") in message.headers
    assert message.key == incident.key.encode()


def test_example_users_file_loads() -> None:
    users = load_users(Path(__file__).parents[1] / "deploy" / "users.example.yaml")
    assert {user.name for user in users} == {"alice", "bruno", "olga", "admin"}


# --- what any visitor sends, fuzzed: never a 5xx -------------------------------------------------

FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=5),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ENDPOINTS = [
    ("GET", "/console/"),
    ("GET", "/console/queue"),
    ("GET", "/console/queue.part"),
    ("GET", "/console/api/queue"),
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    ("POST", "/console/logout"),
    ("POST", "/console/drafts/x/decide"),
]
HEADER_NAMES = [
    "Accept",
    "Accept-Language",
    "Content-Type",
    "Host",
    "Origin",
    "Referer",
    "User-Agent",
    "X-Forwarded-For",
    "X-Requested-With",
    "Authorization",
]
# Any text, lone surrogates included (they reach the console only as invalid UTF-8 bytes)
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=[]), max_size=60)
ANY_BYTES = st.one_of(
    st.binary(max_size=120),
    ANY_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.lists(ANY_TEXT, min_size=5, max_size=5).map(
        lambda parts: ".".join(parts).encode("utf-8", "surrogatepass")
    ),
)
COOKIE_NAMES = st.sampled_from([SESSION_COOKIE, LOGIN_COOKIE, DEVICE_COOKIE, "other"])


class Visitor:
    """A synchronous face on the console app (hypothesis drives plain functions)."""

    def __init__(self, portal: BlockingPortal, setup: Setup) -> None:
        self.portal = portal
        self.setup = setup
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=setup.transport.app, raise_app_exceptions=False),
            base_url="http://127.0.0.1",
        )
        self.session, _ = setup.console.signer.issue("alice", HASH)  # a real session, for CSRF on it

    def send(self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> httpx.Response:
        return self.portal.call(partial(self.client.request, method, path, headers=headers, content=body))


@pytest.fixture(scope="module")
def visitor() -> Iterator[Visitor]:
    producer = MemoryProducer()
    app = create_app(
        WebConfig(topic_prefix="t."),
        producer=producer,
        follow_topics=False,
        console_config=ConsoleConfig.for_tests(USERS, decision_wait_s=0),
    )
    setup = Setup(producer, app.state.console, httpx.ASGITransport(app=app))
    with start_blocking_portal() as portal:
        visitor = Visitor(portal, setup)
        try:
            yield visitor
        finally:
            portal.call(visitor.client.aclose)


def form(fields: dict[str, bytes]) -> bytes:
    return b"&".join(
        quote_from_bytes(k.encode()).encode() + b"=" + quote_from_bytes(v).encode() for k, v in fields.items()
    )


@FUZZ
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    cookies=st.lists(st.tuples(COOKIE_NAMES, ANY_BYTES), max_size=4),
    real_session=st.booleans(),
    csrf=ANY_TEXT,
    name=ANY_TEXT,
    password=ANY_TEXT,
    headers=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), ANY_BYTES), max_size=4),
    form_type=st.booleans(),
)
@example(  # the report: a non-ASCII session cookie, then a non-ASCII CSRF field
    endpoint=("GET", "/console/queue"),
    cookies=[(SESSION_COOKIE, "é.a.b.c.d".encode())],
    real_session=False,
    csrf="",
    name="",
    password="",
    headers=[],
    form_type=True,
)
@example(
    endpoint=("POST", "/console/login"),
    cookies=[(LOGIN_COOKIE, b"abc")],
    real_session=False,
    csrf="é\ud800",
    name="alice",
    password="x",
    headers=[],
    form_type=True,
)
def test_what_a_visitor_sends_never_makes_the_console_fail(
    visitor: Visitor,
    endpoint: tuple[str, str],
    cookies: list[tuple[str, bytes]],
    real_session: bool,
    csrf: str,
    name: str,
    password: str,
    headers: list[tuple[str, bytes]],
    form_type: bool,
) -> None:
    jar = [name.encode() + b"=" + value.replace(b";", b"") for name, value in cookies]
    if real_session:
        jar.append(f"{SESSION_COOKIE}={visitor.session}".encode())
    raw: list[tuple[bytes, bytes]] = [(k.encode(), v) for k, v in headers]
    if jar:
        raw.append((b"Cookie", b"; ".join(jar)))
    if form_type:
        raw.append((b"Content-Type", b"application/x-www-form-urlencoded"))
    method, path = endpoint
    fields = {
        k: v.encode("utf-8", "surrogatepass")
        for k, v in (("csrf", csrf), ("name", name), ("password", password))
    }
    body = form(fields) if method == "POST" else b""
    before = len(visitor.setup.producer.messages)
    answer = visitor.send(method, path, raw, body)
    assert answer.status_code < 500, answer.text[:500]
    if method == "POST" and path != "/console/login":  # no token of this session: nothing done
        assert answer.status_code in (303, 401, 403)
        assert all(
            m.topic == visitor.setup.console.topics.audit for m in visitor.setup.producer.messages[before:]
        )


def test_a_non_ascii_cookie_or_csrf_field_is_refused_not_a_500() -> None:
    """The reported case, by hand: bytes no browser of ours would send, each answered 4xx or
    with the login page; the login itself still works afterwards."""
    app = create_app(
        WebConfig(),
        producer=MemoryProducer(),
        follow_topics=False,
        console_config=ConsoleConfig.for_tests(USERS),
    )
    with start_blocking_portal() as portal:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://127.0.0.1"
        )
        for cookie in ("é.a.b.c.d".encode(), "é".encode("latin-1"), b"\xff\xfe.\x00.\x80.x.y"):
            for path in ("/console/queue", "/console/api/queue", "/console/"):
                answer = portal.call(
                    partial(client.get, path, headers={"Cookie": b"alertcast_session=" + cookie})
                )
                assert answer.status_code in (303, 401), (cookie, path, answer.status_code)
        for token in ("é", "\u00e9t\u00e9", "\U0001f600", "\ud800"):
            answer = portal.call(
                partial(
                    client.post,
                    "/console/login",
                    headers={
                        "Cookie": b"alertcast_login=abc",
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                    content=form(
                        {"csrf": token.encode("utf-8", "surrogatepass"), "name": b"alice", "password": b"x"}
                    ),
                )
            )
            assert answer.status_code == 403 and "CSRF" in answer.text
        portal.call(client.aclose)


@FUZZ
@given(ANY_TEXT, ANY_TEXT)
def test_the_signer_refuses_any_text_without_raising(cookie: str, token: str) -> None:
    signer = Signer(b"k" * 32, ttl_s=60)
    assert signer.read(cookie) is None
    assert signer.read_device(cookie) is None
    assert not signer.csrf_ok(cookie or "sid", token)
    assert signer.csrf_ok(cookie or "sid", signer.csrf(cookie or "sid"))  # any sid gets its own token
    value, session = signer.issue("alice", HASH)
    assert signer.read(value + token) in ((session,) if token == "" else (None,))
