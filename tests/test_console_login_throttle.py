"""The console's login throttle: the pure class with a driven clock, then the real app (httpx
ASGITransport, no broker) with `alertcast.clock` pinned and moved by hand, never slept on.

What must hold: wrong passwords in a row are slowed down (growing delays after a few free ones,
never more than 15 minutes), refused attempts are not even checked and say how long to wait,
failures and throttled attempts are audited without the password, the right password works once
the delay has passed, spraying from one address is slowed down too, and a person who logged in
from a browser before is not kept out by someone hammering their name elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from argon2 import PasswordHasher
from test_console_security import PASSWORD, USERS, MemoryProducer, csrf_of

from alertcast.clock import clock
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.web.app import WebConfig, create_app
from alertcast.web.console import Console, ConsoleConfig
from alertcast.web.console.auth import User
from alertcast.web.console.throttle import MAX_CAP_S, Limits, LoginThrottle, Throttle, wait_text

KEY = b"k" * 32
# Real argon2id hashes, with small costs (a hash carries its own): dozens of logins stay fast.
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
AGENTS = [User(name=f"agent{i}", roles=user.roles, password_argon2=CHEAP) for i, user in enumerate(USERS * 6)]
TEST_USERS = [user.model_copy(update={"password_argon2": CHEAP}) for user in USERS] + AGENTS


class Now:
    """A clock the test moves: epoch seconds for the pure class, `alertcast.clock` for the app."""

    def __init__(self) -> None:
        self.at = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)

    def __call__(self) -> float:
        return self.at.timestamp()

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def now() -> Iterator[Now]:
    moment = Now()
    clock.set(lambda: moment.at)
    try:
        yield moment
    finally:
        clock.set(None)


# --- the pure class ----------------------------------------------------------------------------


def test_delays_grow_after_the_free_failures_and_stop_at_the_cap(now: Now) -> None:
    throttle = Throttle(Limits(free=3, base_s=1.0, cap_s=60.0), now)
    waits = [throttle.fail("alice", "10.0.0.1") for _ in range(12)]
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert throttle.wait("alice") == 60 and throttle.wait("bruno") == 0
    now.advance(59)
    assert throttle.wait("alice") == 1
    now.advance(1)
    assert throttle.wait("alice") == 0 and throttle.failures("alice") == 12
    throttle.forgive("alice")
    assert throttle.failures("alice") == 0 and throttle.fail("alice", "10.0.0.1") == 0


def test_the_cap_can_never_exceed_fifteen_minutes() -> None:
    with pytest.raises(ValueError):
        Limits(cap_s=MAX_CAP_S + 1)
    limits = Limits()
    assert max(limits.delay(n) for n in range(10_000)) == MAX_CAP_S


def test_a_refusal_is_counted_once_per_delay_for_the_audit(now: Now) -> None:
    login = LoginThrottle(now, account=Limits(free=1), address=Limits(free=100))
    login.failed("a", "ip")
    assert login.check("a", "ip").allowed
    login.failed("a", "ip")
    first, second = login.check("a", "ip"), login.check("a", "ip")
    assert not first.allowed and first.audit and first.retry_after == 1
    assert not second.allowed and not second.audit
    now.advance(1)
    assert login.check("a", "ip").allowed


def test_an_address_forgives_only_the_failures_of_the_account_that_logged_in(now: Now) -> None:
    login = LoginThrottle(now, account=Limits(free=100), address=Limits(free=2))
    for name in ("x", "y", "mine"):
        login.failed(name, "ip")
    assert login.addresses.failures("ip") == 3
    now.advance(10)
    login.succeeded("mine", "ip")  # a sprayer logging into its own account clears nothing else
    assert login.addresses.failures("ip") == 2 and login.accounts.failures("mine") == 0
    assert login.failed("z", "ip") == 1  # the third unforgiven failure (a reset would say 0)


def test_old_failures_are_forgotten_and_memory_stays_bounded(now: Now) -> None:
    throttle = Throttle(Limits(free=0, base_s=1, cap_s=10, forget_s=3600), now, max_keys=100)
    throttle.fail("old", "c")
    now.advance(3601)
    assert throttle.failures("old") == 0
    assert throttle.fail("ancient", "c", at=now() - 7200) == 0 and throttle.failures("ancient") == 0
    for index in range(1000):
        throttle.fail(f"spray-{index}", "c")
    assert len(throttle._entries) <= 100
    assert throttle.failures("spray-999") == 1  # the newest are kept


def test_a_success_older_than_the_last_failure_forgives_nothing(now: Now) -> None:
    throttle = Throttle(Limits(free=0), now)
    throttle.fail("alice", "c")
    throttle.forgive("alice", at=now() - 5)  # another process's success, arrived late
    assert throttle.failures("alice") == 1


def test_waits_are_said_in_the_consoles_words() -> None:
    assert [wait_text(s) for s in (0.2, 45, 60, 125, 900)] == ["1 s", "45 s", "1 min", "2 min 5 s", "15 min"]


# --- the real app --------------------------------------------------------------------------------


class App:
    def __init__(self, console: Console, producer: MemoryProducer, app: object) -> None:
        self.console = console
        self.producer = producer
        self.app = app
        self.verified: list[str] = []
        verify = console.users.verify

        async def counting(name: str, password: str) -> object:
            self.verified.append(name)
            return await verify(name, password)

        console.users.verify = counting  # type: ignore[method-assign]

    def client(self, address: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))  # type: ignore[arg-type]
        return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")

    def audit(self) -> list[AuditEvent]:
        return [
            AuditEvent.model_validate_json(m.value)
            for m in self.producer.messages
            if m.topic == self.console.topics.audit
        ]


def make_app() -> App:
    producer = MemoryProducer()
    app = create_app(
        WebConfig(topic_prefix="t."),
        producer=producer,
        follow_topics=False,
        console_config=ConsoleConfig.for_tests(TEST_USERS, session_key=KEY),
    )
    return App(app.state.console, producer, app)


@pytest.fixture
async def web(now: Now) -> AsyncIterator[App]:
    yield make_app()


async def attempt(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    page = await client.get("/console/login")
    return await client.post(
        "/console/login", data={"csrf": csrf_of(page.text), "name": name, "password": password}
    )


def retry_after(answer: httpx.Response) -> int:
    assert answer.status_code == 429, answer.text
    match = re.search(r"Trop d&#39;essais de connexion : réessayez dans ([^.<]+)\.", answer.text)
    assert match, answer.text
    seconds = int(answer.headers["retry-after"])
    assert match.group(1) == wait_text(seconds)
    return seconds


async def test_twenty_wrong_passwords_are_slowed_down_audited_and_the_right_one_works_after(
    web: App, now: Now
) -> None:
    waits = []
    async with web.client() as client:
        for number in range(1, 21):
            answer = await attempt(client, "alice", "mauvais mot de passe")
            assert answer.status_code == 401 and "Identifiant ou mot de passe incorrect" in answer.text
            if number <= 5:
                assert "Prochain essai" not in answer.text
                continue
            checked = len(web.verified)
            refused = await attempt(client, "alice", PASSWORD)  # even the right one, unread
            again = await attempt(client, "alice", PASSWORD)
            assert len(web.verified) == checked, "a throttled attempt must not be checked"
            wait = retry_after(refused)
            assert (
                retry_after(again) == wait
                and f"Prochain essai possible dans {wait_text(wait)}" in answer.text
            )
            waits.append(wait)
            now.advance(wait)
        assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900]
        now.advance(-1)
        assert retry_after(await attempt(client, "alice", PASSWORD)) == 1
        now.advance(1)
        welcome = await attempt(client, "alice", PASSWORD)
        assert welcome.status_code == 303
        assert (await client.get("/console/queue")).status_code == 200

    events = web.audit()
    failed = [e for e in events if e.action is AuditAction.LOGIN_FAILED]
    throttled = [e for e in events if e.action is AuditAction.LOGIN_THROTTLED]
    assert len(failed) == 20 and {e.actor for e in failed} == {"alice"}
    assert all(not e.accepted and e.details["address"] == "127.0.0.1" for e in failed)
    assert [e.details["wait_s"] for e in failed] == [0] * 5 + waits
    assert len(throttled) == 15  # one per delay (later refusals in the same delay are not written again)
    [login] = [e for e in events if e.action is AuditAction.LOGIN]
    assert login.details["failures"] == 20 and login.actor == "alice"
    for message in web.producer.messages:  # never a password, in any form
        assert b"mauvais" not in message.value and PASSWORD.encode() not in message.value


async def test_a_name_no_user_has_is_throttled_alike_and_never_written_down(web: App, now: Now) -> None:
    async with web.client() as client:
        for _ in range(6):
            answer = await attempt(client, "motdepasse-tape-dans-le-nom", "x")
        assert answer.status_code == 401 and "Prochain essai possible dans 1 s" in answer.text
        assert retry_after(await attempt(client, "motdepasse-tape-dans-le-nom", "x")) == 1
    assert {e.actor for e in web.audit()} == {"?"}
    assert all(
        b"motdepasse" not in m.value and b"motdepasse" not in (m.key or b"") for m in web.producer.messages
    )


async def test_spraying_one_password_from_one_address_is_slowed_down(web: App, now: Now) -> None:
    async with web.client("10.6.6.6") as client:
        for index in range(20):  # 20 accounts, one try each: no account throttle ever starts
            assert (await attempt(client, f"agent{index}", "Printemps2026")).status_code == 401
        last = await attempt(client, "agent20", "Printemps2026")
        assert last.status_code == 401 and "Prochain essai possible dans 1 s" in last.text
        assert retry_after(await attempt(client, "agent21", "Printemps2026")) == 1
        now.advance(1)
        assert (await attempt(client, "olga", PASSWORD)).status_code == 303  # its own account
        sprayed = await attempt(client, "agent22", "Printemps2026")
        assert "Prochain essai possible dans 2 s" in sprayed.text  # its own login cleared nothing
    async with web.client("10.0.0.2") as elsewhere:  # another address is not slowed
        assert (await attempt(elsewhere, "alice", PASSWORD)).status_code == 303


async def test_someone_hammering_a_name_does_not_keep_its_owner_out(web: App, now: Now) -> None:
    async with web.client("10.0.0.2") as alice:
        assert (await attempt(alice, "alice", PASSWORD)).status_code == 303  # her usual browser
        await alice.post("/console/logout", data={"csrf": csrf_of((await alice.get("/console/queue")).text)})
        async with web.client("10.6.6.6") as attacker:
            failures = 0
            while failures < 20:  # as fast as the throttle lets it
                answer = await attempt(attacker, "alice", "devine")
                if answer.status_code == 429:
                    wait = retry_after(answer)
                    assert wait <= MAX_CAP_S
                    now.advance(wait)
                else:
                    failures += 1
            async with web.client("10.6.6.7") as other:
                for _ in range(6):
                    await attempt(other, "bruno", "devine")
            assert retry_after(await attempt(attacker, "alice", PASSWORD)) == MAX_CAP_S
            # a new browser of hers waits too, at most the cap...
            async with web.client("10.0.0.3") as new_browser:
                assert retry_after(await attempt(new_browser, "alice", PASSWORD)) <= MAX_CAP_S
            # ...but the browser she logged in with before is counted on its own: she gets in
            assert (await attempt(alice, "alice", PASSWORD)).status_code == 303
            assert (await alice.get("/console/queue")).status_code == 200
            # and that browser's cookie is no way around another account's delay
            assert retry_after(await attempt(alice, "bruno", "devine")) == 1


async def test_failures_seen_by_another_web_process_count_here_too(now: Now) -> None:
    one, two = make_app(), make_app()
    async with one.client("10.6.6.6") as client:
        for _ in range(6):
            await attempt(client, "bruno", "devine")
    for message in one.producer.messages:  # what `audit.events` brings to the other process
        two.console.on_message(message.topic, message.key, message.value)
        one.console.on_message(message.topic, message.key, message.value)  # its own: not twice
    assert one.console.throttle.accounts.failures(one.console.signer.key("account", "bruno")) == 6
    async with two.client("10.6.6.6") as client:
        assert retry_after(await attempt(client, "bruno", PASSWORD)) == 1
        now.advance(1)
        assert (await attempt(client, "bruno", PASSWORD)).status_code == 303
    for message in two.producer.messages:  # the login after failures: the first process forgets them
        one.console.on_message(message.topic, message.key, message.value)
    assert one.console.throttle.accounts.failures(one.console.signer.key("account", "bruno")) == 0
