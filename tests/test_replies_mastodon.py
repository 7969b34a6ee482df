"""Reading citizens' replies on Mastodon: the pure part (HTML to text, where a status sits in our
threads) in milliseconds, then the reader against our contract server
(tests/servers/mastodon_contract.py: notifications, context and mentions as Mastodon documents
them) and, once, against `mastodon-mock` (an independent implementation, in its own process).
Our status is posted by the Mastodon adapter itself, the citizens' with their own tokens;
everything the reader returns is compared with what the server stored."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from servers.mastodon_contract import ContractServer, render
from servers.mastodon_mock import MastodonMock

from alertcast.channels.mastodon import MastodonAccount, MastodonChannel
from alertcast.channels.mastodon_replies import MastodonCursor, link_min_id, read_replies
from alertcast.channels.mastodon_reply_parsing import Status, html_to_text, later, place, to_reply
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.http import make_client
from alertcast.models.alert import ChannelText, DeliveryRequest
from alertcast.models.incident import Incident

SENT = datetime(2019, 3, 4, 7, 30, tzinfo=UTC)
CREATED = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=123000)  # a status's time
TEXT = "Route fermée à Saint-Étienne https://exemple.fr/a/1\nDéviation par la D8. Source : préfecture"

# --- pure: HTML to text -----------------------------------------------------------------------------


def test_mastodon_html_becomes_the_text_a_citizen_sees() -> None:
    content = render(
        "@u42 toujours fermé chez moi\nvoir https://exemple.fr/une/tres/longue/adresse/de/page", ""
    )
    assert html_to_text(content) == (
        "@u42 toujours fermé chez moi\nvoir https://exemple.fr/une/tres/longue/adresse/de/page"
    )
    assert html_to_text("<p>un</p><p>deux<br>trois</p>") == "un\n\ndeux\ntrois"


def test_scripts_styles_and_entities_are_handled_safely() -> None:
    hostile = (
        "<p>Bonjour&nbsp;&amp; merci <script>alert('x')</script><style>p{display:none}</style>"
        "&lt;b&gt;pas du gras&lt;/b&gt; &#x1F697;</p><iframe src=x>cadre</iframe><img src=x onerror=y>"
    )
    assert html_to_text(hostile) == "Bonjour & merci <b>pas du gras</b> 🚗"
    # An unclosed script swallows what follows rather than letting it through as text.
    assert html_to_text("<p>avant</p><script>document.cookie") == "avant"


def test_a_link_whose_text_hides_its_target_shows_the_target() -> None:
    assert html_to_text('<p>payez sur <a href="https://arnaque.example/pay">impots.gouv.fr</a></p>') == (
        "payez sur impots.gouv.fr <https://arnaque.example/pay>"
    )
    mention = (
        '<span class="h-card"><a href="https://x.test/@ville" class="u-url mention">'
        "@<span>ville</span></a></span>"
    )
    assert html_to_text(mention) == "@ville"


def test_invisible_and_reordering_characters_are_removed() -> None:
    assert html_to_text("<p>route\u202eesmerf\u202c ok\x00</p>") == "routeesmerf ok"


# --- pure: where a status sits ----------------------------------------------------------------------


def status(
    status_id: str, account: str, parent: str | None = None, parent_account: str | None = None, **more: Any
) -> Status:
    return Status.model_validate(
        {
            "id": status_id,
            "created_at": CREATED.isoformat().replace("+00:00", "Z"),
            "account": {"id": account, "acct": f"{account}@ailleurs.example"},
            "in_reply_to_id": parent,
            "in_reply_to_account_id": parent_account,
            "content": "<p>texte</p>",
            **more,
        }
    )


ALERTS = {"100": "alerte-1", "105": "alerte-1-maj"}


def test_a_direct_reply_is_its_own_conversation_under_our_alert() -> None:
    assert place(status("200", "c1", "105", "us"), "us", ALERTS.get) == ("alerte-1-maj", "200")


def test_a_reply_to_a_citizen_under_our_post_joins_that_citizen_thread() -> None:
    ancestors = [status("100", "us"), status("105", "us", "100", "us"), status("200", "c1", "105", "us")]
    reply = status("300", "c2", "200", "c1")
    assert place(reply, "us", ALERTS.get, ancestors) == ("alerte-1-maj", "200")
    # Our own answer inside the thread: the conversation continues from the citizen's status.
    deeper = [*ancestors, status("250", "us", "200", "c1")]
    assert place(status("301", "c1", "250", "us"), "us", ALERTS.get, deeper) == (None, "301")
    assert place(status("302", "c1", "300", "c2"), "us", ALERTS.get, [*ancestors, reply]) == (
        "alerte-1-maj",
        "200",
    )


def test_a_mention_outside_our_threads_has_no_alert() -> None:
    assert place(status("400", "c1"), "us", ALERTS.get) == (None, "400")
    elsewhere = [status("390", "c3"), status("395", "c4", "390", "c3")]
    assert place(status("400", "c1", "395", "c4"), "us", ALERTS.get, elsewhere) == (None, "390")


def test_a_status_becomes_a_reply() -> None:
    reply = to_reply(
        status("200", "c1", "100", "us", spoiler_text="colère", url="https://x.test/@c1/200"),
        "alerte-1",
        "200",
    )
    assert reply.id == "mastodon:200"
    assert reply.author == "c1@ailleurs.example"
    assert reply.text == "colère\n\ntexte"
    assert reply.at == CREATED
    assert (reply.alert_id, reply.in_reply_to, reply.url) == ("alerte-1", "100", "https://x.test/@c1/200")


def test_ids_compare_as_numbers_and_links_give_the_next_min_id() -> None:
    assert later("99", "100") == "100"
    assert later(None, "5") == "5"
    assert later("01J0000000000000000000000B", "01J0000000000000000000000A") == "01J0000000000000000000000B"
    response = httpx.Response(
        200,
        headers={
            "Link": '<https://x.test/api/v1/notifications?max_id=7>; rel="next", '
            '<https://x.test/api/v1/notifications?types%5B%5D=mention&min_id=9>; rel="prev"'
        },
    )
    assert link_min_id(response) == "9"
    assert link_min_id(httpx.Response(200)) is None


# --- against the contract server --------------------------------------------------------------------


@pytest.fixture
def contract() -> Iterator[ContractServer]:
    """A fresh contract server per test: its switches never leak into another test."""
    server = ContractServer().start()
    try:
        yield server
    finally:
        server.stop()


class Instance:
    """Our account and a few citizens on the contract server."""

    def __init__(self, server: ContractServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.server = server
        self.our_id, token = server.state.add_account("ville")
        env = f"ALERTCAST_TEST_MASTODON_TOKEN_{uuid.uuid4().hex[:6].upper()}"
        monkeypatch.setenv(env, token)
        self.account = MastodonAccount(name="ville", base_url=server.url, access_token_env=env)
        self.alerts: dict[str, str] = {}

    async def publish(self, alert_id: str) -> str:
        """Our alert's status, posted by the adapter; returns its id."""
        incident = Incident.model_validate(
            {
                "identifier": alert_id,
                "sender": "ville-42",
                "sent": SENT,
                "info": [{"category": "road_closure", "event": "Route fermée", "headline": "Route fermée"}],
            }
        )
        request = DeliveryRequest(
            alert_id=alert_id,
            version=1,
            channel="mastodon",
            account="ville",
            incident=incident,
            text=ChannelText(channel="mastodon", language="fr", text=TEXT, length=len(TEXT)),
            approved_at=SENT,
        )
        async with make_client() as client:
            post = await MastodonChannel([self.account], client).publish(request)
        assert post.post_id is not None
        self.alerts[post.post_id] = alert_id
        return post.post_id

    def citizen(self) -> tuple[str, str]:
        return self.server.state.add_account("citoyen")

    def post(self, token: str, text: str, **body: Any) -> dict[str, Any]:
        answer = httpx.post(
            f"{self.server.url}/api/v1/statuses",
            json={"status": text, **body},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        answer.raise_for_status()
        created: dict[str, Any] = answer.json()
        return created

    def notification_gets(self) -> int:
        with self.server.state.lock:
            return sum(1 for _, path in self.server.state.requests if path == "/api/v1/notifications")


@pytest.fixture
def instance(contract: ContractServer, monkeypatch: pytest.MonkeyPatch) -> Instance:
    return Instance(contract, monkeypatch)


@pytest.mark.servers
async def test_a_reply_under_our_status_is_read_once_tied_to_its_alert(instance: Instance) -> None:
    ours = await instance.publish("alerte-route-1")
    citizen_id, token = instance.citizen()
    written = instance.post(token, f"@u{instance.our_id} toujours fermé chez moi", in_reply_to_id=ours)

    replies, cursor = await read_replies(instance.account, None, alert_of=instance.alerts.get)

    assert [reply.id for reply in replies] == [f"mastodon:{written['id']}"]
    reply = replies[0]
    assert reply.network == "mastodon"
    assert reply.author == f"u{citizen_id}"
    assert reply.text == f"@u{instance.our_id} toujours fermé chez moi"
    assert reply.url == written["url"]
    assert reply.at == datetime.fromisoformat(written["created_at"])
    assert (reply.alert_id, reply.in_reply_to, reply.conversation) == ("alerte-route-1", ours, written["id"])
    assert cursor.account_id == instance.our_id and cursor.last_id is not None

    again, same = await read_replies(instance.account, cursor, alert_of=instance.alerts.get)
    assert again == [] and same == cursor


@pytest.mark.servers
async def test_threads_and_mentions_are_placed(instance: Instance) -> None:
    ours = await instance.publish("alerte-route-2")
    _, first = instance.citizen()
    _, second = instance.citizen()
    top = instance.post(first, f"@u{instance.our_id} et la déviation ?", in_reply_to_id=ours)
    below = instance.post(second, f"@u{instance.our_id} pareil ici", in_reply_to_id=top["id"])
    elsewhere = instance.post(second, f"@u{instance.our_id} quand passent les bus ?")
    unrelated = instance.post(first, "rien à voir, sans mention", in_reply_to_id=ours)

    replies, _ = await read_replies(instance.account, None, alert_of=instance.alerts.get)

    placed = {reply.id: (reply.alert_id, reply.in_reply_to, reply.conversation) for reply in replies}
    assert list(placed) == [f"mastodon:{top['id']}", f"mastodon:{below['id']}", f"mastodon:{elsewhere['id']}"]
    assert placed[f"mastodon:{below['id']}"] == ("alerte-route-2", top["id"], top["id"])
    assert placed[f"mastodon:{elsewhere['id']}"] == (None, None, elsewhere["id"])
    assert f"mastodon:{unrelated['id']}" not in placed  # Mastodon notifies mentions only


@pytest.mark.servers
async def test_pages_are_followed_in_order_until_caught_up(instance: Instance) -> None:
    ours = await instance.publish("alerte-route-3")
    _, token = instance.citizen()
    written = [
        instance.post(token, f"@u{instance.our_id} message {n}", in_reply_to_id=ours) for n in range(5)
    ]

    replies, cursor = await read_replies(instance.account, None, alert_of=instance.alerts.get, page=2)

    assert [reply.id for reply in replies] == [f"mastodon:{status['id']}" for status in written]
    assert instance.notification_gets() == 3  # 2 + 2 + 1: the short page says caught up
    later_one = instance.post(token, f"@u{instance.our_id} un de plus", in_reply_to_id=ours)
    more, _ = await read_replies(instance.account, cursor, alert_of=instance.alerts.get, page=2)
    assert [reply.id for reply in more] == [f"mastodon:{later_one['id']}"]


@pytest.mark.servers
async def test_html_in_a_citizen_text_stays_text(instance: Instance) -> None:
    _, token = instance.citizen()
    instance.post(token, f'@u{instance.our_id} <script>alert(1)</script> & "guillemets" l\'école')

    replies, _ = await read_replies(instance.account, None)

    # The server escaped what was typed; the reply has the citizen's characters back, as text.
    assert replies[0].text == f'@u{instance.our_id} <script>alert(1)</script> & "guillemets" l\'école'


@pytest.mark.servers
async def test_a_private_mention_filtered_into_requests_is_read(instance: Instance) -> None:
    _, token = instance.citizen()
    private = instance.post(token, f"@u{instance.our_id} ma rue est inondée", visibility="direct")
    async with make_client() as client:
        plain = await client.get(
            f"{instance.server.url}/api/v1/notifications",
            headers={"Authorization": f"Bearer {instance.account.access_token()}"},
        )
    assert plain.json() == []  # filtered: out of the list unless include_filtered=true

    replies, _ = await read_replies(instance.account, None)

    assert [reply.id for reply in replies] == [f"mastodon:{private['id']}"]


@pytest.mark.servers
async def test_a_429_is_transient_with_the_wait_asked(instance: Instance) -> None:
    _, token = instance.citizen()
    instance.post(token, f"@u{instance.our_id} bonjour")
    instance.server.state.rate_limited = 1

    with pytest.raises(TransientError) as caught:
        await read_replies(instance.account, None)
    assert caught.value.retry_after == 7
    assert "429" in str(caught.value)

    replies, _ = await read_replies(instance.account, None)
    assert len(replies) == 1


@pytest.mark.servers
async def test_a_429_after_some_pages_keeps_what_was_read(instance: Instance) -> None:
    _, token = instance.citizen()
    written = [instance.post(token, f"@u{instance.our_id} n{n}") for n in range(3)]
    state = instance.server.state

    pages: list[int] = []

    async def limit_after_first_page(response: httpx.Response) -> None:
        if response.request.url.path == "/api/v1/notifications" and not pages:
            pages.append(response.status_code)
            with state.lock:
                state.rate_limited = 1

    async with make_client(event_hooks={"response": [limit_after_first_page]}) as client:
        replies, cursor = await read_replies(instance.account, None, client=client, page=1)
    assert [reply.id for reply in replies] == [f"mastodon:{written[0]['id']}"]

    rest, _ = await read_replies(instance.account, cursor, page=1)
    assert [reply.id for reply in rest] == [f"mastodon:{status['id']}" for status in written[1:]]


@pytest.mark.servers
async def test_a_first_read_can_start_from_now(instance: Instance) -> None:
    _, token = instance.citizen()
    instance.post(token, f"@u{instance.our_id} ancien")

    replies, cursor = await read_replies(instance.account, None, first_read="new")
    assert replies == [] and cursor.last_id is not None
    new = instance.post(token, f"@u{instance.our_id} nouveau")
    replies, _ = await read_replies(instance.account, cursor)
    assert [reply.id for reply in replies] == [f"mastodon:{new['id']}"]


@pytest.mark.servers
async def test_a_revoked_token_is_permanent_and_says_where_to_renew_it(instance: Instance) -> None:
    cursor = MastodonCursor(account="ville", account_id=instance.our_id)
    instance.server.state.revoke(instance.account.access_token())
    with pytest.raises(PermanentError, match="renew it in environment variable"):
        await read_replies(instance.account, cursor)


# --- against mastodon-mock ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MastodonMock]:
    server = MastodonMock(tmp_path_factory.mktemp("mastodon-mock-replies"))
    try:
        server.start()
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.servers
async def test_replies_read_from_mastodon_mock(mock: MastodonMock, monkeypatch: pytest.MonkeyPatch) -> None:
    suffix = uuid.uuid4().hex[:8]
    our_id, our_token = mock.dev_user(f"ville{suffix}")
    _, citizen = mock.dev_user(f"citoyen{suffix}")
    _, neighbour = mock.dev_user(f"voisin{suffix}")
    env = f"ALERTCAST_TEST_MASTODON_TOKEN_{suffix.upper()}"
    monkeypatch.setenv(env, our_token)
    account = MastodonAccount(name="ville", base_url=mock.url, access_token_env=env)

    def post(token: str, text: str, **body: Any) -> dict[str, Any]:
        answer = httpx.post(
            f"{mock.url}/api/v1/statuses",
            json={"status": text, **body},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        answer.raise_for_status()
        created: dict[str, Any] = answer.json()
        return created

    ours = post(our_token, "Route fermée à Saint-Étienne. Source : préfecture")
    reply = post(citizen, f"@ville{suffix} toujours fermé <b>&</b>", in_reply_to_id=ours["id"])
    below = post(neighbour, f"@ville{suffix} @citoyen{suffix} pareil", in_reply_to_id=reply["id"])
    private = post(neighbour, f"@ville{suffix} ma rue est inondée", visibility="direct")

    replies, cursor = await read_replies(account, None, alert_of={ours["id"]: "alerte-1"}.get, page=1)

    assert [r.id for r in replies] == [f"mastodon:{s['id']}" for s in (reply, below, private)]
    assert (replies[0].author, replies[0].text) == (
        f"citoyen{suffix}",
        f"@ville{suffix} toujours fermé <b>&</b>",
    )
    assert [(r.alert_id, r.in_reply_to, r.conversation) for r in replies] == [
        ("alerte-1", ours["id"], reply["id"]),
        ("alerte-1", reply["id"], reply["id"]),
        (None, None, private["id"]),
    ]
    assert cursor.account_id == our_id
    assert await read_replies(account, cursor) == ([], cursor)
