"""The X adapter against a contract server written from the X API v2 documentation.

Everything is counted and read back on the server: posts made, their text, their thread.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any

import pytest
from channel_requests import delivery_request
from servers.x_contract import XServer

from alertcast.channels.account import marker
from alertcast.channels.x import XAccount, XChannel
from alertcast.delivery.ledger import in_thread
from alertcast.delivery.retry import PermanentError, RetryPolicy, TransientError
from alertcast.http import make_client
from alertcast.models.incident import MsgType, Status

pytestmark = pytest.mark.servers

LINK = "https://www.pas-de-calais.gouv.fr/alertes/d917"


@pytest.fixture(scope="module")
def server() -> Iterator[XServer]:
    running = XServer().start()
    yield running
    running.stop()


@pytest.fixture
def user(server: XServer, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    """(user id, token, the environment variable holding it): a fresh X user per test."""
    user_id, token = server.state.add_user(f"prefecture{uuid.uuid4().hex[:6]}")
    variable = f"ALERTCAST_TEST_X_TOKEN_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(variable, token)
    return user_id, token, variable


def account(server: XServer, variable: str, **extra: Any) -> XAccount:
    return XAccount(
        name=extra.pop("name", "prefecture"), api_base=server.url, access_token_env=variable, **extra
    )


@pytest.fixture
async def channel(server: XServer, user: tuple[str, str, str]) -> AsyncIterator[XChannel]:
    accounts = [
        account(server, user[2]),
        account(server, user[2], name="exercises", exercise=True, delete_on_end=True),
    ]
    adapter = XChannel(accounts, make_client(5))
    yield adapter
    await adapter.aclose()


request = partial(delivery_request, "x")


async def test_publish_is_counted_and_read_back(
    channel: XChannel, server: XServer, user: tuple[str, str, str]
) -> None:
    delivery = request(f"Route D917 fermée à Arras. Infos : {LINK}")
    post = await channel.publish(delivery)

    stored = server.state.posts_of(user[0])
    assert [p["id"] for p in stored] == [post.post_id]
    # the marker rides in the link's fragment: no character of the 280 spent on it
    assert stored[0]["text"] == f"Route D917 fermée à Arras. Infos : {LINK}#{marker(delivery.delivery_key)}"
    assert post.url == f"https://x.com/i/web/status/{post.post_id}"
    assert post.details["root_id"] == post.post_id


async def test_a_text_without_link_carries_a_reference_line(
    channel: XChannel, server: XServer, user: tuple[str, str, str]
) -> None:
    delivery = request("Route D917 fermée à Arras.")
    await channel.publish(delivery)
    assert server.state.posts_of(user[0])[0]["text"] == (
        f"Route D917 fermée à Arras.\n\nréf. {marker(delivery.delivery_key)}"
    )


async def test_updates_and_the_end_are_replies_in_the_thread(
    channel: XChannel, server: XServer, user: tuple[str, str, str]
) -> None:
    first = request(f"Route D917 fermée. {LINK}")
    root = await channel.publish(first)
    second = await channel.update(
        request("Mise à jour : déviation par la D60.", 2, MsgType.UPDATE, alert_id=first.alert_id), root
    )
    third = await channel.update(
        request("Mise à jour : réouverture vers 18 h.", 3, MsgType.UPDATE, alert_id=first.alert_id),
        in_thread(root, second),
    )
    end = await channel.end(
        request("Route D917 rouverte.", 4, MsgType.CANCEL, alert_id=first.alert_id), in_thread(root, third)
    )

    posts = {p["id"]: p for p in server.state.posts_of(user[0])}
    assert len(posts) == 4
    assert posts[str(second.post_id)]["in_reply_to"] == root.post_id
    assert posts[str(third.post_id)]["in_reply_to"] == second.post_id  # the latest, not the root
    assert posts[str(end.post_id)]["in_reply_to"] == third.post_id
    assert posts[str(end.post_id)]["text"].startswith("FIN D'ALERTE – Route D917 rouverte.")
    assert {p["conversation_id"] for p in posts.values()} == {root.post_id}
    assert end.details["deleted"] == []  # not configured to delete: the alert stays


async def test_the_end_deletes_the_alert_when_configured(
    channel: XChannel, server: XServer, user: tuple[str, str, str]
) -> None:
    first = request("EXERCICE\nRoute D917 fermée.", status=Status.EXERCISE, account="exercises")
    root = await channel.publish(first)
    ending = request(
        "EXERCICE\nFIN D'ALERTE",
        2,
        MsgType.CANCEL,
        Status.EXERCISE,
        account="exercises",
        alert_id=first.alert_id,
    )
    end = await channel.end(ending, root)

    remaining = server.state.posts_of(user[0])
    assert [p["id"] for p in remaining] == [end.post_id]  # the notice stays, in reply to the gone alert
    assert end.details["deleted"] == [root.post_id]
    # delivered again (the ledger missed the answer): the notice exists, nothing is posted twice
    again = XChannel(
        [account(server, user[2], name="exercises", exercise=True, delete_on_end=True)], make_client(5)
    )
    try:
        found = await again.find_existing(ending)
    finally:
        await again.aclose()
    assert found is not None and found.post_id == end.post_id
    assert len(server.state.posts_of(user[0])) == 1


async def test_a_text_over_280_is_refused_before_sending(channel: XChannel, server: XServer) -> None:
    before = server.state.creates()
    with pytest.raises(PermanentError, match="weighs 301 as X counts it"):
        await channel.publish(request("Tempête " * 35))
    assert server.state.creates() == before


async def test_the_networks_length_refusal_carries_its_message(
    server: XServer, user: tuple[str, str, str]
) -> None:
    """An account configured as Premium (longer posts) that X still holds to 280."""
    adapter = XChannel([account(server, user[2], limit=1000)], make_client(5))
    try:
        with pytest.raises(PermanentError, match="Tweet needs to be a bit shorter"):
            await adapter.publish(request("Tempête " * 35))
    finally:
        await adapter.aclose()
    assert server.state.posts_of(user[0]) == []


async def test_429_waits_until_the_rate_limit_resets(channel: XChannel, server: XServer) -> None:
    server.state.reset_in_s = 7
    server.state.rate_limited = 1
    with pytest.raises(TransientError) as limited:
        await channel.publish(request("Route D917 fermée."))
    assert limited.value.retry_after is not None and 5 <= limited.value.retry_after <= 8


async def test_503_twice_then_success_through_the_retry_policy(
    channel: XChannel, server: XServer, user: tuple[str, str, str]
) -> None:
    server.state.unavailable = 2
    delivery = request("Route D917 fermée.")
    post, attempts = await RetryPolicy(attempts=3, base_s=0.01).run(lambda: channel.publish(delivery))
    assert attempts == 3
    assert [p["id"] for p in server.state.posts_of(user[0])] == [post.post_id]


async def test_a_timeout_is_transient_and_the_retry_finds_the_post(
    server: XServer, user: tuple[str, str, str]
) -> None:
    """The post is made, the answer comes too late: the retry must not post a second time."""
    adapter = XChannel([account(server, user[2])], make_client(0.3))
    server.state.slow, server.state.slow_s = 1, 1.0
    delivery = request("Route D917 fermée.")
    try:
        with pytest.raises(TransientError, match="ReadTimeout"):
            await adapter.publish(delivery)
        post = await adapter.publish(delivery)  # what the retry policy does next
    finally:
        await adapter.aclose()
    assert [p["id"] for p in server.state.posts_of(user[0])] == [post.post_id]


async def test_after_a_crash_find_existing_returns_the_post(
    channel: XChannel, server: XServer, user: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = request(f"Route D917 fermée. {LINK}")
    await channel.publish(delivery)
    for _ in range(7):  # other posts after it: the lookup pages through the timeline
        await channel.publish(request(f"Autre alerte {uuid.uuid4().hex[:6]}."))
    # a new worker (no memory of the first): the crash came before the ledger recorded the post
    monkeypatch.setattr("alertcast.channels.x._PAGE", 5)  # two pages of the timeline
    restarted = XChannel([account(server, user[2], lookup_depth=10)], make_client(5))
    try:
        found = await restarted.find_existing(delivery)
        nothing = await restarted.find_existing(request("Jamais envoyé."))
        # and if the agent posted anyway, X's duplicate refusal is recognised as our own post
        again = await restarted.publish(delivery)
    finally:
        await restarted.aclose()
    assert found is not None and nothing is None
    assert found.url == f"https://x.com/i/web/status/{found.post_id}"
    assert again.post_id == found.post_id
    assert len(server.state.posts_of(user[0])) == 8


async def test_an_exercise_is_refused_on_a_public_account(
    channel: XChannel, server: XServer, user: tuple[str, str, str]
) -> None:
    with pytest.raises(PermanentError, match="exercise: false"):
        await channel.publish(request("EXERCICE\nTempête.", status=Status.EXERCISE))
    with pytest.raises(PermanentError, match="exercise: false"):
        await channel.publish(request("Test technique.", status=Status.TEST))
    assert server.state.posts_of(user[0]) == []


async def test_check_a_good_token(channel: XChannel) -> None:
    health = await channel.check("prefecture")
    assert health.ok, health.problem
    assert health.limit == 280 and health.url_weight == 23 and health.rate_remaining == 99


async def test_a_revoked_token_fails_check_and_publish_without_showing_it(
    channel: XChannel, server: XServer, user: tuple[str, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.state.revoke(user[1])
    health = await channel.check("prefecture")
    with pytest.raises(PermanentError, match="token revoked or invalid") as refused:
        await channel.publish(request("Route D917 fermée."))
    assert not health.ok
    assert health.problem is not None and "token revoked or invalid" in health.problem
    assert user[2] in health.problem  # where to renew it
    for said in (health.problem, str(refused.value), repr(refused.value), caplog.text):
        assert user[1] not in said


def test_an_account_refuses_plain_http_to_another_host() -> None:
    with pytest.raises(ValueError, match="https"):
        XAccount(name="x", api_base="http://api.x.com", access_token_env="T")
    with pytest.raises(ValueError, match="exactly one"):
        XAccount(name="x")
