"""The inbox of citizens' replies (issue 19), against the real Starlette app (no broker): replies
fed as `replies.received` delivers them, repeats dropped, grouped by conversation and alert, the
charter's verdict with its reason, the 72-hour circuit as the pinned clock moves, hostile text
shown as text, roles, filters, and the acts recorded as audit events (nothing sent to a network)."""

# ruff: noqa: F811 (`setup` is test_console_security's fixture, imported to be used as one)

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

import pytest
from test_console_security import HOSTILE, Setup, login, make_draft, setup  # noqa: F401

from alertcast.clock import clock
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.replies.model import Network, Reply
from alertcast.replies.sla import BusinessHours, SlaPolicy
from alertcast.web.console.inbox_model import InboxModel, load_routing, thread_ref
from alertcast.web.console.pages import Pages

#: Monday 3 March 2031, 10:00 UTC (11:00 in Paris): every test pins the clock here or later.
T0 = datetime(2031, 3, 3, 10, 0, tzinfo=UTC)
INSULT = "Bande de connards, la route est toujours fermée chez moi"


@pytest.fixture
def now() -> Iterator[list[datetime]]:
    """The console's clock, pinned to T0 and moved by the test (never slept on); restored after."""
    moment = [T0]
    clock.set(lambda: moment[0])
    try:
        yield moment
    finally:
        clock.set(None)


def reply(
    native: str,
    text: str = "La route est-elle rouverte ?",
    *,
    alert_id: str | None = None,
    conversation: str = "c1",
    network: Network = "mastodon",
    author: str = "@citoyen@example.social",
    at: datetime = T0,
    url: str | None = None,
) -> Reply:
    return Reply(
        id=f"{network}:{native}",
        network=network,
        author=author,
        text=text,
        url=url,
        at=at,
        alert_id=alert_id,
        conversation=conversation,
    )


def audit(setup: Setup) -> list[tuple[bytes | None, dict[str, object]]]:
    return [(m.key, json.loads(m.value)) for m in setup.produced("audit")]


def rows(page: str) -> int:
    return page.count("<tr data-ref=")


async def test_repeats_are_dropped_and_replies_group_by_conversation_and_alert(
    setup: Setup, now: list[datetime]
) -> None:
    draft = make_draft()
    setup.feed("drafted", draft)
    first = reply("1", alert_id=draft.alert_id)
    setup.feed("replies", first)
    setup.feed("replies", first)  # read twice by a restarted worker: same id
    setup.feed("replies", reply("2", "Et demain ?", alert_id=draft.alert_id, at=T0 + timedelta(minutes=5)))
    setup.feed("replies", reply("3", alert_id=draft.alert_id, conversation="c2", author="@autre@ex.social"))
    setup.feed("replies", reply("4", "Bravo pour le site", conversation="m1", network="bluesky"))
    model = setup.console.inbox.model
    assert len(model.replies) == 4
    thread = model.threads[thread_ref("mastodon", "c1")]
    assert [entry.reply.id for entry in thread.entries] == ["mastodon:1", "mastodon:2"]
    async with setup.client() as client:
        await login(client, "alice")
        page = (await client.get("/console/inbox")).text
    assert rows(page) == 3 and "3 conversation(s)" in page
    headline = draft.incident.main_info.headline  # type: ignore[union-attr]
    assert f'Alerte : <a href="/console/drafts/{draft.alert_id}">{html.escape(headline)}</a>' in page
    mentions = page.index("Mentions hors alerte")
    assert page.index(thread_ref("bluesky", "m1")) > mentions > page.index(thread_ref("mastodon", "c1"))
    # Newest first: the conversation whose last reply is latest comes first in its group.
    assert page.index(thread_ref("mastodon", "c1")) < page.index(thread_ref("mastodon", "c2"))


async def test_a_mention_under_no_alert_has_its_own_group_and_page(setup: Setup, now: list[datetime]) -> None:
    setup.feed("replies", reply("9", "@mairie le marché a lieu ?", conversation="m9", network="bluesky"))
    ref = thread_ref("bluesky", "m9")
    async with setup.client() as client:
        await login(client, "alice")
        listing = (await client.get("/console/inbox")).text
        page = (await client.get(f"/console/inbox/{ref}")).text
    assert "Mentions hors alerte" in listing and 'data-alert=""' in listing
    assert "aucune : une mention hors alerte" in page and "/console/drafts/" not in page
    assert "communication" in page  # no alert, no keyword: the default service


async def test_an_insult_and_a_phone_number_show_the_charter_s_verdict_and_reason(
    setup: Setup, now: list[datetime]
) -> None:
    setup.feed("replies", reply("1", INSULT, conversation="c1"))
    setup.feed("replies", reply("2", "Rappelez-moi au 06 12 34 56 78", conversation="c2"))
    setup.feed("replies", reply("3", "Merci pour l'information", conversation="c3"))
    async with setup.client() as client:
        await login(client, "alice")
        listing = (await client.get("/console/inbox")).text
        page = (await client.get(f"/console/inbox/{thread_ref('mastodon', 'c1')}")).text
    assert listing.count('data-verdict="hide"') == 2 and listing.count('data-verdict="keep"') == 1
    assert "« connards » est une insulte" in listing and "numéro de téléphone" in listing
    assert "moderation.insult" in page and "à masquer" in page
    assert '<mark class="block" title="« connards » est une insulte' in page and ">connards</mark>" in page
    # Mastodon cannot hide a reply: the page says so and offers no button claiming it can.
    assert "Mastodon ne permet pas de masquer une réponse" in page and "Masquer sur le réseau" not in page


async def test_a_reply_left_72_hours_is_overdue_and_marking_it_answered_stops_the_circuit(
    setup: Setup, now: list[datetime]
) -> None:
    setup.feed("replies", reply("1", "Quand les bus reprennent-ils ?"))
    ref = thread_ref("mastodon", "c1")
    due = Pages("Europe/Paris").local(T0 + timedelta(hours=72))
    async with setup.client() as client:
        token = await login(client, "alice")
        page = (await client.get(f"/console/inbox/{ref}")).text
        assert 'class="due due-due"' in page and "à répondre" in page and f"échéance le {due}" in page
        assert due == "06/03/2031 11:00:00"  # shown in the console's zone (Paris, UTC+1 in March)
        now[0] = T0 + timedelta(hours=61)  # the 12-hour warning has passed
        assert "échéance proche" in (await client.get(f"/console/inbox/{ref}")).text
        now[0] = T0 + timedelta(hours=72, minutes=1)
        overdue = (await client.get("/console/inbox?state=overdue")).text
        assert rows(overdue) == 1 and 'data-due="overdue"' in overdue and "en retard" in overdue
        marked = await client.post(
            f"/console/inbox/{ref}/answered", data={"csrf": token, "note": "par téléphone"}
        )
        assert marked.status_code == 303 and marked.headers["location"].endswith("?notice=answered")
        page = (await client.get(marked.headers["location"])).text
        assert "répondu hors délai" in page and "1 échéance(s) manquée(s)" in page
        assert rows((await client.get("/console/inbox?state=overdue")).text) == 0
        assert rows((await client.get("/console/inbox?state=answered")).text) == 1
    ((key, event),) = audit(setup)
    assert key == b"mention:mastodon" and event["action"] == "reply_answered"
    assert event["actor"] == "alice" and event["message"] == "par téléphone"
    assert event["details"]["ref"] == ref  # type: ignore[index]


def test_72_business_hours_skip_nights_weekends_and_holidays() -> None:
    """With the body's office hours, a Friday-afternoon question is due ten working days later;
    Easter Monday (14 April 2031) is not one of them."""
    moment = [datetime(2031, 4, 11, 14, 0, tzinfo=UTC)]  # Friday 16:00 in Paris (UTC+2)
    office = SlaPolicy(business_hours=BusinessHours(opens=time(9), closes=time(17)))
    model = InboxModel("r", "a", load_routing(None), office, "Europe/Paris", now=lambda: moment[0])
    model.add(reply("1", at=moment[0]))
    (thread,) = model.threads.values()
    view = model.view(thread, lambda _: None)
    # 1 h on Friday 11, Easter Monday skipped, 8 h a day from Tuesday 15 to Thursday 24 (64 h),
    # the last 7 h on Friday 25: 16:00 in Paris.
    assert view.circuit is not None and view.circuit.due == datetime(2031, 4, 25, 14, 0, tzinfo=UTC)
    moment[0] = datetime(2031, 4, 14, 14, 0, tzinfo=UTC)  # 72 plain hours later: not overdue
    assert model.view(thread, lambda _: None).due == "due"
    moment[0] = datetime(2031, 4, 25, 14, 1, tzinfo=UTC)
    assert model.view(thread, lambda _: None).due == "overdue"


async def test_hostile_text_author_and_link_are_shown_as_text(setup: Setup, now: list[datetime]) -> None:
    author = '<img src=x onerror="alert(2)">'
    setup.feed("replies", reply("1", HOSTILE, author=author, url="javascript:alert(3)"))
    setup.feed("replies", reply("2", "ok", conversation="c2", url="https://example.social/@a/2"))
    async with setup.client() as client:
        await login(client, "alice")
        listing = (await client.get("/console/inbox")).text
        page = (await client.get(f"/console/inbox/{thread_ref('mastodon', 'c1')}")).text
        other = (await client.get(f"/console/inbox/{thread_ref('mastodon', 'c2')}")).text
    for shown in (listing, page):
        assert "<script>alert(1)" not in shown and "<img src=x" not in shown
        assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in shown and ">49<" not in shown
        assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in shown
    assert "javascript:" not in page and "Voir le message" not in page
    assert '<a href="https://example.social/@a/2" rel="noopener noreferrer">' in other


async def test_roles_without_read_get_403_and_visitors_the_login(setup: Setup, now: list[datetime]) -> None:
    setup.feed("replies", reply("1"))
    ref = thread_ref("mastodon", "c1")
    async with setup.client() as client:
        visitor = await client.get("/console/inbox", headers={"Accept": "text/html"})
        assert visitor.status_code == 303 and visitor.headers["location"].startswith("/console/login")
    for name in ("olga", "adam"):  # operator, admin: no read permission
        async with setup.client() as client:
            token = await login(client, name)
            assert (await client.get("/console/inbox")).status_code == 403
            assert (await client.get(f"/console/inbox/{ref}")).status_code == 403
            answered = await client.post(f"/console/inbox/{ref}/answered", data={"csrf": token})
            assert answered.status_code == 403
    async with setup.client() as client:
        await login(client, "bruno")  # a supervisor reads and acts
        assert (await client.get(f"/console/inbox/{ref}")).status_code == 200
        missing_csrf = await client.post(f"/console/inbox/{ref}/answered", data={})
        assert missing_csrf.status_code == 403
        assert (await client.get("/console/inbox/inconnue")).status_code == 404
    assert audit(setup) == []


async def test_filters_by_state_service_and_network(setup: Setup, now: list[datetime]) -> None:
    draft = make_draft()  # a road closure: the routing file's "voirie"
    setup.feed("drafted", draft)
    setup.feed("replies", reply("1", "La déviation est longue", alert_id=draft.alert_id, conversation="a"))
    setup.feed("replies", reply("2", "Le bus scolaire passe ?", alert_id=draft.alert_id, conversation="b"))
    setup.feed("replies", reply("3", INSULT, conversation="c", network="bluesky"))
    setup.feed("replies", reply("4", "Question", conversation="d", network="email", author="a@example.org"))
    async with setup.client() as client:
        await login(client, "alice")

        async def listed(query: str) -> set[str]:
            """The conversations (by name) the list shows for `query`."""
            page = (await client.get(f"/console/inbox?{query}")).text
            return {name for name, ref in refs.items() if f'data-ref="{ref}"' in page}

        refs = {
            name: thread_ref(network, name)
            for name, network in (("a", "mastodon"), ("b", "mastodon"), ("c", "bluesky"), ("d", "email"))
        }
        assert await listed("") == {"a", "b", "c", "d"}
        assert await listed("service=voirie") == {"a"}  # the alert's category
        assert await listed("service=transports") == {"b"}  # a keyword beats the category
        assert await listed("service=communication") == {"c", "d"}
        assert await listed("network=bluesky") == {"c"}
        assert await listed("network=email&state=open") == {"d"}
        assert await listed("state=moderated") == {"c"}
        assert await listed("state=answered") == set()
        assert await listed("state=nimporte&network=fax") == {"a", "b", "c", "d"}  # ignored


async def test_assigning_and_reversing_a_verdict_are_audited_and_shown(
    setup: Setup, now: list[datetime]
) -> None:
    draft = make_draft()
    setup.feed("drafted", draft)
    setup.feed("replies", reply("1", INSULT, alert_id=draft.alert_id))
    ref = thread_ref("mastodon", "c1")
    async with setup.client() as client:
        token = await login(client, "alice")
        refused = await client.post(f"/console/inbox/{ref}/assign", data={"csrf": token, "service": "<x>"})
        assert refused.status_code == 422 and "service inconnu" in refused.text
        wrong = await client.post(
            f"/console/inbox/{ref}/moderate", data={"csrf": token, "reply": "mastodon:9", "action": "keep"}
        )
        assert wrong.status_code == 422 and "réponse inconnue" in wrong.text
        assert audit(setup) == []
        now[0] = T0 + timedelta(minutes=3)
        assigned = await client.post(
            f"/console/inbox/{ref}/assign", data={"csrf": token, "service": "eau et assainissement"}
        )
        assert assigned.status_code == 303
        kept = await client.post(
            f"/console/inbox/{ref}/moderate",
            data={
                "csrf": token,
                "reply": "mastodon:1",
                "action": "keep",
                "note": "colère, pas d'insulte visée",
            },
        )
        assert kept.status_code == 303
        page = (await client.get(f"/console/inbox/{ref}")).text
    assert "eau et assainissement — confiée par alice" in page
    assert 'data-verdict="keep"' in page and "verdict de alice" in page and "(auparavant : à masquer)" in page
    assert "moderation.insult" in page  # the charter's reasons stay shown
    (key, assign), (_, moderated) = audit(setup)
    assert key == draft.incident_key.encode() and assign["incident_key"] == draft.incident_key
    assert assign["action"] == "reply_assigned" and assign["alert_id"] == draft.alert_id
    assert assign["details"] == {  # type: ignore[comparison-overlap]
        "ref": ref,
        "network": "mastodon",
        "conversation": "c1",
        "service": "eau et assainissement",
        "previous": "voirie",
    }
    decision = moderated["details"]["decision"]  # type: ignore[index]
    assert decision["action"] == "keep" and decision["by"] == "alice"
    assert decision["overrides"]["action"] == "hide" and decision["overrides"]["by"] == "alertcast"
    (reason,) = decision["overrides"]["reasons"]  # kept forever: the rule and span, not the words
    assert reason == {
        "rule": "moderation.insult",
        "start": 9,
        "end": 17,
        "excerpt": "",
        "message": "",
        "message_id": "",
        "params": {},  # the values quote the words too
    }
    assert "connards" not in json.dumps(moderated)
    # The events come back from Kafka: already applied, not applied twice.
    for message in setup.produced("audit"):
        setup.feed("audit", AuditEvent.model_validate_json(message.value))
    assert len(setup.console.inbox.model.answered) == 0
    assert setup.console.inbox.model.assigned[ref].service == "eau et assainissement"


async def test_acts_read_before_their_reply_still_count_and_odd_messages_are_skipped(
    setup: Setup, now: list[datetime]
) -> None:
    ref = thread_ref("telegram", "42")
    setup.feed(
        "audit",
        AuditEvent(
            at=T0 + timedelta(hours=1),
            actor="bruno",
            action=AuditAction.REPLY_ANSWERED,
            details={"ref": ref, "network": "telegram", "conversation": "42"},
        ),
    )
    setup.console.on_message(setup.console.topics.replies, None, b'{"not": "a reply"}')
    setup.feed("replies", reply("7", network="telegram", conversation="42"))
    now[0] = T0 + timedelta(days=5)
    async with setup.client() as client:
        await login(client, "alice")
        page = (await client.get(f"/console/inbox/{ref}")).text
    assert 'class="due due-answered"' in page and "par bruno" in page
