"""Acting on the networks from the inbox, against the real Starlette app (no broker): the
"Masquer sur le réseau" button where the network allows it (none on Mastodon), Matrix's
"Caviarder" with its confirmation step, the answer form, each through the CSRF guard and
producing a `ReplyAction` and its audit event; then the page shows the worker's outcome as it
comes back on `audit.events` (demandée, faite, impossible with the reason)."""

# ruff: noqa: F811 (`setup` is test_console_security's fixture, imported to be used as one)

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from test_console_inbox import INSULT, T0, reply
from test_console_security import Setup, login, make_draft, setup  # noqa: F401

from alertcast.clock import clock
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.replies.actions import ReplyAction, ReplyActionOutcome, State
from alertcast.replies.model import Network
from alertcast.web.console.inbox_model import thread_ref


@pytest.fixture
def now() -> Iterator[list[datetime]]:
    moment = [T0]
    clock.set(lambda: moment[0])
    try:
        yield moment
    finally:
        clock.set(None)


def requests(setup: Setup) -> list[ReplyAction]:
    return [ReplyAction.model_validate_json(m.value) for m in setup.produced("t.replies.actions")]


def audit_actions(setup: Setup) -> list[str]:
    return [json.loads(m.value)["action"] for m in setup.produced("audit")]


def outcome(action: ReplyAction, state: State, at: datetime, error: str | None = None) -> AuditEvent:
    """What the worker writes to audit.events (alertcast/stream/reply_actions.py)."""
    result = ReplyActionOutcome(
        action_id=action.action_id,
        kind=action.kind,
        network=action.network,
        ref=action.ref,
        reply_id=action.reply_id,
        state=state,
        post_id="p-1" if state == "done" else None,
        error=error,
        by=action.by,
        at=at,
    )
    return AuditEvent(
        at=at,
        actor="alertcast",
        action=AuditAction.REPLY_ACTED,
        details={"ref": action.ref, **result.model_dump(mode="json")},
    )


def insulting(
    setup: Setup, network: Network, native: str = "at://did:plc:citoyen/app.bsky.feed.post/3k"
) -> str:
    """An insult under one of our alerts on `network`; its conversation's ref."""
    draft = make_draft()
    setup.feed("drafted", draft)
    setup.feed(
        "replies", reply(native, INSULT, alert_id=draft.alert_id, conversation="root-1", network=network)
    )
    return thread_ref(network, "root-1")


async def test_hiding_on_bluesky_is_asked_then_shown_done_and_can_be_undone(
    setup: Setup, now: list[datetime]
) -> None:
    ref = insulting(setup, "bluesky")
    async with setup.client() as client:
        token = await login(client, "alice")
        page = (await client.get(f"/console/inbox/{ref}")).text
        assert "Masquer sur le réseau" in page
        asked = await client.post(
            f"/console/inbox/{ref}/act",
            data={
                "csrf": token,
                "reply": "bluesky:at://did:plc:citoyen/app.bsky.feed.post/3k",
                "kind": "hide",
            },
        )
        assert asked.status_code == 303 and asked.headers["location"].endswith("?notice=hide")
        page = (await client.get(asked.headers["location"])).text
        assert "Masquage demandé" in page and "<strong>demandée</strong>" in page
        assert "Masquer sur le réseau" not in page  # not offered twice while asked
        (action,) = requests(setup)
        assert action.kind == "hide" and action.network == "bluesky" and action.by == "alice"
        assert action.target == "at://did:plc:citoyen/app.bsky.feed.post/3k"
        assert action.conversation == "root-1" and action.ref == ref and action.alert_id
        assert audit_actions(setup) == ["reply_action_requested"]

        setup.feed("audit", outcome(action, "done", T0 + timedelta(seconds=2)))
        page = (await client.get(f"/console/inbox/{ref}")).text
        assert "Masqué sur Bluesky" in page and "<strong>faite</strong>" in page
        assert "Réafficher sur le réseau" in page
        shown = await client.post(
            f"/console/inbox/{ref}/act",
            data={"csrf": token, "reply": action.reply_id, "kind": "unhide"},
        )
        assert shown.status_code == 303
    assert [a.kind for a in requests(setup)] == ["hide", "unhide"]


async def test_a_refusal_from_the_network_is_shown_with_its_reason(setup: Setup, now: list[datetime]) -> None:
    ref = insulting(setup, "x", native="1860000000000000001")
    async with setup.client() as client:
        token = await login(client, "alice")
        await client.post(
            f"/console/inbox/{ref}/act",
            data={"csrf": token, "reply": "x:1860000000000000001", "kind": "hide"},
        )
        (action,) = requests(setup)
        setup.feed("audit", outcome(action, "failed", T0, "X answered 403 (not your conversation)"))
        page = (await client.get(f"/console/inbox/{ref}")).text
    assert "<strong>échouée</strong> : X answered 403 (not your conversation)" in page
    assert "Masqué sur" not in page


async def test_mastodon_offers_no_hiding_and_a_forged_request_is_refused(
    setup: Setup, now: list[datetime]
) -> None:
    ref = insulting(setup, "mastodon", native="109")
    async with setup.client() as client:
        token = await login(client, "alice")
        page = (await client.get(f"/console/inbox/{ref}")).text
        assert "Masquer sur le réseau" not in page and "Mastodon ne permet pas de masquer" in page
        forged = await client.post(
            f"/console/inbox/{ref}/act", data={"csrf": token, "reply": "mastodon:109", "kind": "hide"}
        )
    assert forged.status_code == 422 and "Mastodon ne permet pas de masquer" in forged.text
    assert requests(setup) == [] and audit_actions(setup) == []


async def test_a_matrix_redaction_asks_for_confirmation_first(setup: Setup, now: list[datetime]) -> None:
    ref = insulting(setup, "matrix", native="$event1")
    async with setup.client() as client:
        token = await login(client, "alice")
        page = (await client.get(f"/console/inbox/{ref}")).text
        assert "Caviarder" in page and "Masquer sur le réseau" not in page
        first = await client.post(
            f"/console/inbox/{ref}/act", data={"csrf": token, "reply": "matrix:$event1", "kind": "hide"}
        )
        assert first.status_code == 200 and 'id="redact-confirm"' in first.text
        assert "pour tous et pour toujours" in first.text
        assert requests(setup) == []
        confirmed = await client.post(
            f"/console/inbox/{ref}/act",
            data={"csrf": token, "reply": "matrix:$event1", "kind": "hide", "confirm": "oui"},
        )
    assert confirmed.status_code == 303
    (action,) = requests(setup)
    assert action.confirmed_by == "alice" and action.target == "$event1"


async def test_an_answer_is_asked_once_and_its_publication_stops_the_circuit(
    setup: Setup, now: list[datetime]
) -> None:
    draft = make_draft()
    setup.feed("drafted", draft)
    setup.feed("replies", reply("1", "Jusqu'à quand ?", alert_id=draft.alert_id, conversation="c1"))
    setup.feed(
        "replies",
        reply("2", "Et les bus ?", alert_id=draft.alert_id, conversation="c1", at=T0 + timedelta(minutes=3)),
    )
    ref = thread_ref("mastodon", "c1")
    async with setup.client() as client:
        token = await login(client, "alice")
        page = (await client.get(f"/console/inbox/{ref}")).text
        assert 'id="answer-form"' in page and ">Répondre</button>" in page
        empty = await client.post(f"/console/inbox/{ref}/answer", data={"csrf": token, "text": "  "})
        assert empty.status_code == 422 and "écrivez la réponse" in empty.text
        no_csrf = await client.post(f"/console/inbox/{ref}/answer", data={"text": "Bonjour"})
        assert no_csrf.status_code == 403
        assert requests(setup) == []
        sent = await client.post(
            f"/console/inbox/{ref}/answer",
            data={"csrf": token, "reply": "mastodon:1", "text": "Réouverture à 18 h. <b>Merci</b>"},
        )
        assert sent.status_code == 303 and sent.headers["location"].endswith("?notice=answer")
        (action,) = requests(setup)
        assert action.kind == "answer" and action.target == "1" and action.author == "@citoyen@example.social"
        assert action.text == "Réouverture à 18 h. <b>Merci</b>"
        page = (await client.get(f"/console/inbox/{ref}")).text
        assert "&lt;b&gt;Merci&lt;/b&gt;" in page and "<b>Merci</b>" not in page  # shown as text
        assert 'class="due due-due"' in page

        now[0] = T0 + timedelta(minutes=10)
        setup.feed("audit", outcome(action, "done", T0 + timedelta(minutes=5)))
        page = (await client.get(f"/console/inbox/{ref}")).text
    assert "<strong>faite</strong>" in page and 'class="due due-answered"' in page


async def test_people_without_the_right_to_decide_cannot_act(setup: Setup, now: list[datetime]) -> None:
    ref = insulting(setup, "bluesky")
    async with setup.client() as client:
        token = await login(client, "olga")  # an operator
        refused = await client.post(
            f"/console/inbox/{ref}/act",
            data={
                "csrf": token,
                "reply": "bluesky:at://did:plc:citoyen/app.bsky.feed.post/3k",
                "kind": "hide",
            },
        )
        answer = await client.post(f"/console/inbox/{ref}/answer", data={"csrf": token, "text": "Bonjour"})
    assert refused.status_code == 403 and answer.status_code == 403
    assert requests(setup) == []


async def test_an_answer_the_charter_blocks_is_refused_with_the_reason(
    setup: Setup, now: list[datetime]
) -> None:
    setup.feed("replies", reply("1", "Qui dois-je appeler ?", conversation="c1"))
    ref = thread_ref("mastodon", "c1")
    async with setup.client() as client:
        token = await login(client, "alice")
        refused = await client.post(
            f"/console/inbox/{ref}/answer",
            data={"csrf": token, "text": "Rappelez Jean Dupont au 06 12 34 56 78"},
        )
    assert refused.status_code == 422 and "la charte bloque cette réponse" in refused.text
    assert "Rappelez Jean Dupont au 06 12 34 56 78</textarea>" in refused.text  # kept to be corrected
    assert requests(setup) == [] and audit_actions(setup) == []
