"""A logout ends the session in every `alertcast web` process, through a real broker: two web
apps (their own producers and read-model consumers, one session key) on one topic prefix; a
cookie copied before the logout on the first is refused by the second once `audit.events`
brings the logout there. Waits on the read model's condition with a timeout, never a sleep."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette
from test_console_security import PASSWORD, USERS, csrf_of

from alertcast import topics
from alertcast.web.app import WebConfig, create_app
from alertcast.web.console import Console, ConsoleConfig
from alertcast.web.console.sessions import SESSION_COOKIE

pytestmark = pytest.mark.kafka

KEY = b"q" * 32
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
TEST_USERS = [user.model_copy(update={"password_argon2": CHEAP}) for user in USERS]


@contextlib.asynccontextmanager
async def web(broker: str, prefix: str) -> AsyncIterator[Starlette]:
    """One web process: the app with its lifespan (producer, read-model consumer) running."""
    app = create_app(
        WebConfig(bootstrap=broker, topic_prefix=prefix),
        console_config=ConsoleConfig.for_tests(TEST_USERS, session_key=KEY),
    )
    async with app.router.lifespan_context(app):
        yield app


def client(app: Starlette, cookie: str | None = None) -> httpx.AsyncClient:
    result = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
    if cookie is not None:
        result.cookies.set(SESSION_COOKIE, cookie, domain="127.0.0.1", path="/console")
    return result


async def status_with(app: Starlette, cookie: str) -> int:
    async with client(app, cookie) as thief:
        return (await thief.get("/console/api/queue")).status_code


async def test_a_logout_in_one_web_process_ends_the_session_in_another(broker: str, prefix: str) -> None:
    topics.apply(broker, prefix)
    async with web(broker, prefix) as one, web(broker, prefix) as two:
        async with client(one) as alice:
            page = await alice.get("/console/login")
            answer = await alice.post(
                "/console/login", data={"csrf": csrf_of(page.text), "name": "alice", "password": PASSWORD}
            )
            assert answer.status_code == 303
            stolen = alice.cookies[SESSION_COOKIE]
            assert await status_with(two, stolen) == 200
            token = csrf_of((await alice.get("/console/queue")).text)
            assert (await alice.post("/console/logout", data={"csrf": token})).status_code == 303
        assert await status_with(one, stolen) == 401  # at once where the logout happened
        console: Console = two.state.console
        session = console.signer.read(stolen)
        assert session is not None
        revocation = console.signer.revocation(session.sid)
        arrived = await console.read_model.until(lambda: console.read_model.is_revoked(revocation), 30)
        assert arrived, "the logout never reached the other web process"
        assert await status_with(two, stolen) == 401
