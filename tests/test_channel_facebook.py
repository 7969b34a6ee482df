"""The Facebook Page adapter against a contract server written from the Graph API documentation.

Everything is counted and read back on the server: posts in the Page's feed, their message, edits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any

import pytest
from channel_requests import delivery_request
from servers.facebook_contract import FacebookServer

from alertcast.channels.account import marker
from alertcast.channels.facebook import FacebookAccount, FacebookChannel
from alertcast.delivery.ledger import in_thread
from alertcast.delivery.retry import PermanentError, RetryPolicy, TransientError
from alertcast.http import make_client
from alertcast.models.incident import MsgType, Status

pytestmark = pytest.mark.servers

LINK = "https://www.pas-de-calais.gouv.fr/alertes/d917"


@pytest.fixture(scope="module")
def server() -> Iterator[FacebookServer]:
    running = FacebookServer().start()
    yield running
    running.stop()


@pytest.fixture
def page(server: FacebookServer, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    """(page id, Page access token, the environment variable holding it): a fresh Page per test."""
    page_id, token = server.state.add_page("Préfecture du Pas-de-Calais")
    variable = f"ALERTCAST_TEST_FB_TOKEN_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(variable, token)
    return page_id, token, variable


def account(server: FacebookServer, page: tuple[str, str, str], **extra: Any) -> FacebookAccount:
    return FacebookAccount(
        name=extra.pop("name", "prefecture"),
        page_id=page[0],
        graph_base=server.url,
        access_token_env=page[2],
        **extra,
    )


@pytest.fixture
async def channel(server: FacebookServer, page: tuple[str, str, str]) -> AsyncIterator[FacebookChannel]:
    accounts = [
        account(server, page),
        account(server, page, name="exercises", exercise=True, delete_on_end=True),
    ]
    adapter = FacebookChannel(accounts, make_client(5))
    yield adapter
    await adapter.aclose()


request = partial(delivery_request, "facebook")


async def test_publish_is_counted_and_read_back(
    channel: FacebookChannel, server: FacebookServer, page: tuple[str, str, str]
) -> None:
    delivery = request(f"Route D917 fermée à Arras.\nInfos : {LINK}")
    post = await channel.publish(delivery)

    stored = server.state.posts_of(page[0])
    assert [p["id"] for p in stored] == [post.post_id]
    assert str(post.post_id).startswith(f"{page[0]}_")
    assert (
        stored[0]["message"] == f"Route D917 fermée à Arras.\nInfos : {LINK}#{marker(delivery.delivery_key)}"
    )
    assert post.url == f"https://www.facebook.com/{post.post_id}"


async def test_an_update_edits_the_post(
    channel: FacebookChannel, server: FacebookServer, page: tuple[str, str, str]
) -> None:
    first = request("Route D917 fermée à Arras.")
    root = await channel.publish(first)
    change = request("Mise à jour : déviation par la D60.", 2, MsgType.UPDATE, alert_id=first.alert_id)
    edit = await channel.update(change, root)

    stored = server.state.posts_of(page[0])
    assert len(stored) == 1 and stored[0]["edits"] == 1
    assert (
        stored[0]["message"] == f"Mise à jour : déviation par la D60.\n\nréf. {marker(change.delivery_key)}"
    )
    assert edit.post_id == root.post_id and edit.url == root.url


async def test_the_end_is_an_edit_with_the_notice_on_top(
    channel: FacebookChannel, server: FacebookServer, page: tuple[str, str, str]
) -> None:
    first = request("Route D917 fermée à Arras.")
    root = await channel.publish(first)
    change = request("Mise à jour : déviation par la D60.", 2, MsgType.UPDATE, alert_id=first.alert_id)
    edit = await channel.update(change, root)
    ending = request("Route D917 rouverte.", 3, MsgType.CANCEL, alert_id=first.alert_id)
    end = await channel.end(ending, in_thread(root, edit))

    message = server.state.posts_of(page[0])[0]["message"]
    assert message.startswith("FIN D'ALERTE – Route D917 rouverte.")
    assert marker(ending.delivery_key) in message
    assert message.endswith(f"Mise à jour : déviation par la D60.\n\nréf. {marker(change.delivery_key)}")
    assert end.post_id == root.post_id and end.details["ended"] is True
    assert len(server.state.posts_of(page[0])) == 1  # no comment, no second post


async def test_the_end_deletes_the_post_when_configured(
    channel: FacebookChannel, server: FacebookServer, page: tuple[str, str, str]
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
    assert server.state.posts_of(page[0]) == []
    assert end.details["deleted"] == [root.post_id]
    # delivered again (the ledger missed the answer): already gone is done
    again = await channel.end(ending, root)
    assert again.details["deleted"] == [root.post_id]


async def test_a_text_too_long_is_refused_with_the_reason(
    channel: FacebookChannel, server: FacebookServer, page: tuple[str, str, str]
) -> None:
    with pytest.raises(PermanentError, match="Facebook allows 63206"):
        await channel.publish(request("é" * 63_200))
    assert server.state.posts_of(page[0]) == []
    # the Graph API's own refusal, for a text edited past the limit
    root = await channel.publish(request("Route fermée."))
    channel.fitted = lambda delivery: "x" * 63_207  # type: ignore[method-assign]
    with pytest.raises(PermanentError, match=r"\(#100\) The message is too long"):
        await channel.update(request("Mise à jour.", 2, MsgType.UPDATE), root)


async def test_a_rate_limit_waits_the_time_facebook_gives(
    channel: FacebookChannel, server: FacebookServer
) -> None:
    server.state.rate_limited, server.state.regain_minutes = 1, 3
    with pytest.raises(TransientError, match=r"\(#32\) Page request limit reached") as limited:
        await channel.publish(request("Route D917 fermée."))
    assert limited.value.retry_after == 180


async def test_503_twice_then_success_through_the_retry_policy(
    channel: FacebookChannel, server: FacebookServer, page: tuple[str, str, str]
) -> None:
    server.state.unavailable = 2
    delivery = request("Route D917 fermée.")
    post, attempts = await RetryPolicy(attempts=3, base_s=0.01).run(lambda: channel.publish(delivery))
    assert attempts == 3
    assert [p["id"] for p in server.state.posts_of(page[0])] == [post.post_id]


async def test_a_timeout_is_transient_and_the_retry_finds_the_post(
    server: FacebookServer, page: tuple[str, str, str]
) -> None:
    adapter = FacebookChannel([account(server, page)], make_client(0.3))
    server.state.slow, server.state.slow_s = 1, 1.0
    delivery = request("Route D917 fermée.")
    try:
        with pytest.raises(TransientError, match="ReadTimeout"):
            await adapter.publish(delivery)
        post = await adapter.publish(delivery)  # what the retry policy does next
    finally:
        await adapter.aclose()
    assert [p["id"] for p in server.state.posts_of(page[0])] == [post.post_id]


async def test_after_a_crash_find_existing_returns_the_post(
    channel: FacebookChannel,
    server: FacebookServer,
    page: tuple[str, str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delivery = request(f"Route D917 fermée. {LINK}")
    await channel.publish(delivery)
    for _ in range(4):
        await channel.publish(request(f"Autre alerte {uuid.uuid4().hex[:6]}."))
    monkeypatch.setattr("alertcast.channels.facebook._PAGE", 2)  # three pages of the feed
    restarted = FacebookChannel([account(server, page, lookup_depth=10)], make_client(5))
    try:
        found = await restarted.find_existing(delivery)
        nothing = await restarted.find_existing(request("Jamais envoyé."))
    finally:
        await restarted.aclose()
    assert found is not None and nothing is None
    assert found.url == f"https://www.facebook.com/{found.post_id}"
    assert len(server.state.posts_of(page[0])) == 5


async def test_a_visitor_post_with_the_marker_is_not_ours(
    channel: FacebookChannel, server: FacebookServer, page: tuple[str, str, str]
) -> None:
    """A Page's feed also shows visitors' posts: one pasting the marker must not count."""
    delivery = request("Route D917 fermée.")
    server.state.visitor_post(page[0], "Un visiteur", f"copie : réf. {marker(delivery.delivery_key)}")
    assert await channel.find_existing(delivery) is None


async def test_an_exercise_is_refused_on_a_public_account(
    channel: FacebookChannel, server: FacebookServer, page: tuple[str, str, str]
) -> None:
    with pytest.raises(PermanentError, match="exercise: false"):
        await channel.publish(request("EXERCICE\nTempête.", status=Status.EXERCISE))
    assert server.state.posts_of(page[0]) == []


async def test_check_a_good_token_and_a_token_of_another_page(
    channel: FacebookChannel,
    server: FacebookServer,
    page: tuple[str, str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    health = await channel.check("prefecture")
    assert health.ok, health.problem
    assert health.limit == 63_206
    _, other = server.state.add_page("Mairie d'Arras")
    monkeypatch.setenv("ALERTCAST_TEST_FB_OTHER", other)
    wrong = FacebookChannel([account(server, (page[0], other, "ALERTCAST_TEST_FB_OTHER"))], make_client(5))
    try:
        mismatch = await wrong.check("prefecture")
    finally:
        await wrong.aclose()
    assert not mismatch.ok and mismatch.problem and "not to Page" in mismatch.problem


async def test_a_revoked_token_fails_check_and_publish_without_showing_it(
    channel: FacebookChannel,
    server: FacebookServer,
    page: tuple[str, str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await channel.find_existing(request("Avant la révocation."))  # a GET: the token in a logged URL
    server.state.revoke(page[1])
    health = await channel.check("prefecture")
    with pytest.raises(PermanentError, match="token revoked or invalid") as refused:
        await channel.publish(request("Route D917 fermée."))
    assert not health.ok
    assert health.problem is not None and "(#190/460)" in health.problem and page[2] in health.problem
    assert "HTTP Request: GET" in caplog.text  # httpx did log the URLs...
    for said in (health.problem, str(refused.value), repr(refused.value), caplog.text):
        assert page[1] not in said  # ...without the token


def test_an_account_refuses_plain_http_to_another_host() -> None:
    with pytest.raises(ValueError, match="https"):
        FacebookAccount(name="f", page_id="1", graph_base="http://graph.facebook.com", access_token_env="T")
