"""The duty desk in the console (issue 21, "On duty"): a call's link, once logged in, shows the
draft and a button; the POST (CSRF-checked) writes the `acknowledged` audit event; a changed,
expired or outdated link records nothing. The queue page shows who is on duty now."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from test_console_security import USERS, MemoryProducer, Setup, drafted_event, login, make_draft

from alertcast.duty import tokens
from alertcast.duty.escalation import DUTY_ACTOR
from alertcast.models.decision import AuditAction, AuditEvent, DraftStatus
from alertcast.web.app import WebConfig, create_app
from alertcast.web.console import ConsoleConfig

KEY = b"d" * 32
ROTA = """
supervisor: bruno
people:
  alice: {email: alice@example.fr}
  bruno: {email: bruno@example.fr}
services:
  routes:
    categories: [road_closure]
    shifts: [{from: "00:00", to: "00:00", primary: bruno, backup: alice}]
  "*":
    shifts: [{from: "00:00", to: "00:00", primary: alice}]
"""


@pytest.fixture
async def duty(tmp_path: Path) -> AsyncIterator[Setup]:
    rota = tmp_path / "rota.yaml"
    rota.write_text(ROTA)
    producer = MemoryProducer()
    config = ConsoleConfig.for_tests(USERS, decision_wait_s=0, rota_file=rota, duty_key=KEY)
    app = create_app(
        WebConfig(topic_prefix="t."), producer=producer, follow_topics=False, console_config=config
    )
    yield Setup(producer, app.state.console, httpx.ASGITransport(app=app))


def link(alert_id: str, person: str = "alice", version: int = 1, at: datetime | None = None) -> str:
    token = tokens.sign(alert_id, version, person, "primary", KEY, at or datetime.now(UTC))
    return f"/console/duty/ack?token={token}"


def audit(setup: Setup) -> list[dict[str, object]]:
    return [json.loads(message.value) for message in setup.produced("audit")]


async def test_the_link_asks_for_a_login_then_the_post_records_the_acknowledgement(duty: Setup) -> None:
    draft = make_draft()
    duty.feed("drafted", draft)
    duty.feed("audit", drafted_event(draft, mode="one"))
    url = link(draft.alert_id)
    async with duty.client() as client:
        first = await client.get(url, headers={"Accept": "text/html"})
        assert first.status_code == 303 and "/console/login?next=" in first.headers["location"]
        assert "token%3D" in first.headers["location"]  # back to the same link once logged in
        csrf = await login(client, "bruno")  # a colleague answering alice's call
        page = await client.get(url)
        assert page.status_code == 200 and "Appel à alice (de permanence)" in page.text
        assert "Route D 934 fermée" in page.text and 'id="ack-form"' in page.text
        assert audit(duty) == []  # a GET records nothing (mail scanners open links)
        token = url.split("token=")[1]
        forged = await client.post("/console/duty/ack", data={"token": token})
        assert forged.status_code == 403 and audit(duty) == []  # no CSRF token
        answer = await client.post("/console/duty/ack", data={"csrf": csrf, "token": token})
        assert answer.status_code == 303 and answer.headers["location"].endswith("&done=1")
        (event,) = audit(duty)
        assert event["action"] == "acknowledged" and event["actor"] == "bruno"
        assert event["alert_id"] == draft.alert_id and event["incident_key"] == draft.incident_key
        assert event["version"] == 1 and event["details"] == {"stage": "primary", "person": "alice"}
        assert duty.produced("audit")[0].key == draft.incident_key.encode()
        done = await client.get(answer.headers["location"])
        assert "Prise en charge enregistrée" in done.text
        again = await client.post("/console/duty/ack", data={"csrf": csrf, "token": token})
        assert again.status_code == 409 and "Déjà pris en charge par bruno" in again.text
        assert len(audit(duty)) == 1


async def test_a_changed_expired_or_outdated_link_records_nothing(duty: Setup) -> None:
    draft = make_draft()
    duty.feed("drafted", draft)
    duty.feed("audit", drafted_event(draft, mode="one"))
    async with duty.client() as client:
        csrf = await login(client, "alice")
        token = link(draft.alert_id).split("token=")[1]
        changed = await client.get(f"/console/duty/ack?token={token.replace('.alice.', '.bruno.')}")
        assert changed.status_code == 403 and "modifié" in changed.text
        old = link(draft.alert_id, at=datetime.now(UTC) - timedelta(days=2))
        expired = await client.get(old)
        assert expired.status_code == 410 and "24 heures" in expired.text
        newer = await client.post(
            "/console/duty/ack",
            data={"csrf": csrf, "token": link(draft.alert_id, version=2).split("token=")[1]},
        )
        assert newer.status_code == 409 and "La version 1 a remplacé" in newer.text
        duty.feed(
            "audit",
            AuditEvent(
                at=datetime.now(UTC),
                actor="bruno",
                action=AuditAction.PUBLISHED,
                incident_key=draft.incident_key,
                alert_id=draft.alert_id,
                version=1,
                status=DraftStatus.PUBLISHED,
            ),
        )
        published = await client.post("/console/duty/ack", data={"csrf": csrf, "token": token})
        assert (
            published.status_code == 409
            and "attend plus de prise en charge" in published.text
            and "publié" in published.text
        )
        unknown = await client.get(link("f" * 16))
        assert (
            unknown.status_code == 200
            and "Aucun brouillon" in unknown.text
            and "ack-form" not in unknown.text
        )
    assert audit(duty) == []


async def test_the_queue_shows_who_is_on_duty_and_who_was_called(duty: Setup) -> None:
    draft = make_draft()
    duty.feed("drafted", draft)
    duty.feed("audit", drafted_event(draft, mode="one"))
    async with duty.client() as client:
        await login(client, "alice")
        page = await client.get("/console/queue")
        assert "De permanence maintenant" in page.text
        rows = page.text.split('id="duty"')[1].split("</section>")[0]
        assert "<td>routes</td><td>bruno</td><td>alice</td>" in rows
        assert "<td>tous services</td><td>alice</td><td>—</td>" in rows
        called = AuditEvent(
            at=datetime.now(UTC),
            actor=DUTY_ACTOR,
            action=AuditAction.NOTIFIED,
            incident_key=draft.incident_key,
            alert_id=draft.alert_id,
            version=1,
            message="bruno called as primary on duty for routes: sent by email",
            details={"stage": "primary", "person": "bruno"},
        )
        duty.feed("audit", called)
        assert "appelé : bruno" in (await client.get("/console/queue.part")).text
        view = duty.console.read_model.drafts[draft.alert_id]
        assert view.status is DraftStatus.PENDING and "called" not in view.message  # beside the state
        timeline = await client.get(f"/console/incidents/{draft.alert_id}")
        assert "appel de permanence" in timeline.text


async def test_a_refused_rota_edit_is_said_on_the_queue_page(duty: Setup) -> None:
    rota_file = duty.console.config.rota_file
    assert rota_file is not None
    async with duty.client() as client:
        await login(client, "alice")
        assert "<td>routes</td><td>bruno</td>" in (await client.get("/console/queue")).text
        rota_file.write_text(ROTA.replace("primary: bruno", "primary: bernard") + "\n")
        page = await client.get("/console/queue")
        assert (
            "Tableau de permanence modifié refusé" in page.text
            and "services.routes.shifts.0.primary" in page.text
        )
        assert "<td>routes</td><td>bruno</td>" in page.text  # the last good rota still stands
