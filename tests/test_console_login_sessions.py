"""Console sessions end on the server's word, not only the browser's: a cookie copied before a
logout is refused after it, in the process that handled the logout at once and in any other web
process once the logout's audit event reaches it (here handed over by hand; the `kafka` test in
test_console_login_kafka.py goes through a real broker). A disabled, removed or re-passworded
user is refused on the next request. Pure tier: the real app over httpx ASGITransport."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette
from test_console_security import PASSWORD, USERS, MemoryProducer, csrf_of

from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.web.app import WebConfig, create_app
from alertcast.web.console import Console, ConsoleConfig
from alertcast.web.console.auth import User
from alertcast.web.console.sessions import SESSION_COOKIE

KEY = b"s" * 32
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
TEST_USERS = [user.model_copy(update={"password_argon2": CHEAP}) for user in USERS]


class Web:
    """One `alertcast web` process: its app, console and what it produced."""

    def __init__(self, users: list[User] = TEST_USERS) -> None:
        self.producer = MemoryProducer()
        self.app: Starlette = create_app(
            WebConfig(topic_prefix="t."),
            producer=self.producer,
            follow_topics=False,
            console_config=ConsoleConfig.for_tests(users, session_key=KEY),
        )
        self.console: Console = self.app.state.console

    def client(self, cookie: str | None = None) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://127.0.0.1")
        if cookie is not None:
            client.cookies.set(SESSION_COOKIE, cookie, domain="127.0.0.1", path="/console")
        return client

    def deliver_to(self, other: Web) -> None:
        """What `audit.events` would bring to another process."""
        for message in self.producer.messages:
            other.console.on_message(message.topic, message.key, message.value)


async def logged_in(web: Web, name: str = "alice") -> tuple[httpx.AsyncClient, str]:
    """A client logged in as `name`, and its session cookie as a thief would copy it."""
    client = web.client()
    page = await client.get("/console/login")
    answer = await client.post(
        "/console/login", data={"csrf": csrf_of(page.text), "name": name, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    return client, client.cookies[SESSION_COOKIE]


async def accepted(web: Web, cookie: str) -> bool:
    async with web.client(cookie) as thief:
        answer = await thief.get("/console/api/queue")
    assert answer.status_code in (200, 401), answer.text
    return answer.status_code == 200


async def log_out(client: httpx.AsyncClient) -> None:
    token = csrf_of((await client.get("/console/queue")).text)
    answer = await client.post("/console/logout", data={"csrf": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    assert SESSION_COOKIE not in client.cookies


async def test_a_cookie_copied_before_logout_is_refused_after_it() -> None:
    web = Web()
    client, stolen = await logged_in(web)
    assert await accepted(web, stolen)
    await log_out(client)
    assert not await accepted(web, stolen)  # the same process: at once, before any round trip
    async with web.client(stolen) as thief:
        page = await thief.get("/console/queue", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/console/login")
        token = csrf_of((await client.get("/console/login")).text)
        assert (await thief.post("/console/logout", data={"csrf": token})).status_code == 303
    [event] = [AuditEvent.model_validate_json(m.value) for m in web.producer.messages]
    assert event.action is AuditAction.LOGOUT and event.actor == "alice"
    session = web.console.signer.read(stolen)
    assert session is not None and event.details["session"] == web.console.signer.revocation(session.sid)
    assert event.details["expires"] == session.expires
    raw = web.producer.messages[0].value
    assert session.sid.encode() not in raw and stolen.encode() not in raw  # nothing to replay
    await client.aclose()


async def test_another_web_process_refuses_it_once_the_logout_reaches_it() -> None:
    one, two = Web(), Web()
    client, stolen = await logged_in(one)
    other_session = (await logged_in(one, "bruno"))[1]
    assert await accepted(two, stolen)  # one session key: any process reads the cookie
    await log_out(client)
    assert await accepted(two, stolen)  # not yet told
    one.deliver_to(two)
    assert not await accepted(two, stolen)
    assert await accepted(two, other_session)  # only that session ended
    started_later = Web()  # a process started afterwards rebuilds it from the topic
    one.deliver_to(started_later)
    assert not await accepted(started_later, stolen) and await accepted(started_later, other_session)
    await client.aclose()


async def test_a_revocation_of_an_expired_session_is_not_kept() -> None:
    web = Web()
    event = AuditEvent(
        at=datetime.now(UTC),
        actor="alice",
        action=AuditAction.LOGOUT,
        details={"session": "r" * 22, "expires": 1_000},
    )
    web.console.on_message(web.console.topics.audit, None, event.model_dump_json().encode())
    assert web.console.read_model.revoked == {}
    assert not web.console.read_model.is_revoked("r" * 22)


@pytest.mark.parametrize("change", ["disabled", "removed", "new password"])
async def test_a_disabled_removed_or_repassworded_user_is_refused_on_the_next_request(change: str) -> None:
    web = Web()
    client, cookie = await logged_in(web)
    await client.aclose()
    alice, others = TEST_USERS[0], TEST_USERS[1:]
    changed = {
        "disabled": [alice.model_copy(update={"disabled": True}), *others],
        "removed": others,
        "new password": [
            alice.model_copy(update={"password_argon2": PasswordHasher().hash("autre")}),
            *others,
        ],
    }[change]
    assert await accepted(Web(TEST_USERS), cookie)  # the same users: still in
    reloaded = Web(changed)  # any process that loaded the change refuses it
    assert not await accepted(reloaded, cookie)
    if change == "disabled":
        async with reloaded.client() as again:
            page = await again.get("/console/login")
            answer = await again.post(
                "/console/login", data={"csrf": csrf_of(page.text), "name": "alice", "password": PASSWORD}
            )
            assert answer.status_code == 401
        [event] = [AuditEvent.model_validate_json(m.value) for m in reloaded.producer.messages]
        assert event.action is AuditAction.LOGIN_FAILED and event.actor == "alice"  # a user's name


async def test_the_journal_shows_sign_ins_when_asked() -> None:
    web = Web()
    async with web.client() as stranger:
        page = await stranger.get("/console/login")
        await stranger.post(
            "/console/login", data={"csrf": csrf_of(page.text), "name": "alice", "password": "x"}
        )
    client, _ = await logged_in(web)
    await log_out(client)
    await client.aclose()
    for message in web.producer.messages:  # as the topic brings them back
        web.console.on_message(message.topic, message.key, message.value)
    supervisor, _ = await logged_in(web, "bruno")
    plain = rows(await supervisor.get("/console/audit"))
    assert "déconnexion" not in plain and "adresse : " not in plain
    journal = rows(await supervisor.get("/console/audit?sessions=1"))
    assert "connexion refusée" in journal and "déconnexion" in journal and "adresse : 127.0.0.1" in journal
    only = rows(await supervisor.get("/console/audit?action=logout"))
    assert "déconnexion" in only and "connexion refusée" not in only
    await supervisor.aclose()


def rows(page: httpx.Response) -> str:
    """The journal's rows (the filter form lists every action's name too)."""
    assert page.status_code == 200
    return page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
