"""The KPI page against the real Starlette app (no broker): the read model fed as the topics
deliver, the clock pinned; any logged-in user reads it, a visitor is sent to the login; it
renders with no data; hostile text from the data is shown as text."""

# ruff: noqa: F811 (`setup` is test_console_security's fixture, imported to be used as one)

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from test_console_security import HOSTILE, Setup, login, make_draft, setup  # noqa: F401

from alertcast.clock import clock
from alertcast.models.alert import AcceptedIncident, Approval, DeliveryRequest, DeliveryStatus, Receipt
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.replies.model import Reply

T0 = datetime(2031, 3, 3, 10, 0, tzinfo=UTC)  # Monday 3 March 2031: the pinned "now"
SUBMITTED = T0 - timedelta(hours=2)


@pytest.fixture
def now() -> Iterator[list[datetime]]:
    moment = [T0]
    clock.set(lambda: moment[0])
    try:
        yield moment
    finally:
        clock.set(None)


def feed_one_alert(setup: Setup) -> None:
    """Submitted 2 h before now, approved by a person 60 s later for a publication 5 min after
    submission (scheduled), then the webhook sent in 2 s and the e-mail dead after 10 s."""
    draft = make_draft()
    info = draft.incident.info[0]
    area = info.areas[0].model_copy(update={"area_desc": HOSTILE})
    incident = draft.incident.model_copy(update={"info": [info.model_copy(update={"areas": [area]})]})
    draft = draft.model_copy(update={"incident": incident, "received_at": SUBMITTED})
    released = SUBMITTED + timedelta(minutes=5)
    setup.feed(
        "accepted",
        AcceptedIncident(
            incident_key=draft.incident_key, version=1, received_at=SUBMITTED, incident=incident
        ),
    )
    setup.feed("drafted", draft)
    setup.feed(
        "audit",
        AuditEvent(
            at=SUBMITTED + timedelta(seconds=60),
            actor="alice",
            action=AuditAction.APPROVE,
            incident_key=draft.incident_key,
            alert_id=draft.alert_id,
            version=1,
        ),
    )
    setup.feed("approved", Approval(draft=draft, approved_by=["alice"], approved_at=released, policy="grave"))
    for channel, status, after in (("webhook", DeliveryStatus.SENT, 2), ("email", DeliveryStatus.DEAD, 10)):
        request = DeliveryRequest(
            alert_id=draft.alert_id, version=1, channel=channel, incident=incident, approved_at=released
        )
        setup.feed("requests", request)
        receipt = Receipt(
            delivery_key=request.delivery_key,
            alert_id=draft.alert_id,
            version=1,
            channel=channel,
            account=request.account,
            status=status,
            latency_ms=after * 1000,
            at=released + timedelta(seconds=after),
        )
        setup.feed("receipts" if status is DeliveryStatus.SENT else "dead", receipt)
    setup.feed(
        "replies",
        Reply(
            id="mastodon:1",
            network="mastodon",
            author="@a@example.social",
            text="La route est-elle rouverte ?",
            at=T0 - timedelta(hours=1),
            alert_id=draft.alert_id,
            conversation="c1",
        ),
    )


async def test_the_report_reads_the_topics_as_the_console_holds_them(
    setup: Setup, now: list[datetime]
) -> None:
    feed_one_alert(setup)
    async with setup.client() as client:
        await login(client, "alice")
        kpis = (await client.get("/console/api/kpi")).json()
    assert kpis["window"] == "7d" and kpis["alerts"] == 1 and kpis["publications"] == 1
    assert kpis["to_approval"]["samples"] == [60.0]  # the person's approval, not the scheduled time
    assert kpis["to_receipt"]["samples"] == [10.0]  # from the release to the e-mail's dead receipt
    assert {name: t["median_s"] for name, t in kpis["to_receipt_by_channel"].items()} == {
        "email": 10.0,
        "webhook": 2.0,
    }
    assert kpis["by_category"] == {"road_closure": 1} and kpis["by_area"] == {HOSTILE: 1}
    assert (kpis["dead"], kpis["unknown"]) == (1, 0)
    assert kpis["replies"]["conversations"] == 1 and kpis["replies"]["active"] == 1
    now[0] = T0 + timedelta(days=2)  # the alert is now older than 24 h; the reply is 72 h overdue... not yet
    async with setup.client() as client:
        await login(client, "alice")
        day = (await client.get("/console/api/kpi?window=24h")).json()
        week = (await client.get("/console/api/kpi?window=7d")).json()
    assert day["alerts"] == 0 and day["replies"]["conversations"] == 0
    assert week["alerts"] == 1 and week["replies"]["active"] == 1


async def test_the_page_shows_plots_and_numbers_and_escapes_data(setup: Setup, now: list[datetime]) -> None:
    feed_one_alert(setup)
    async with setup.client() as client:
        await login(client, "olga")  # an operator: any logged-in user reads the KPIs
        page = await client.get("/console/kpi?window=30d")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Indicateurs</h1>" in text
    assert text.count('role="img"') == 6
    assert 'href="/console/kpi?window=30d" aria-current="page"' in text
    assert "médiane 1 min 00 s" not in text and "médiane 1 min" in text  # submit → approval on the strip
    assert "<td>1 min</td>" in text and "<td>10 s</td>" in text  # the numbers, in the tables too
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "Répondues dans le délai" in text  # the replies' circuit


async def test_with_no_data_the_page_still_renders(setup: Setup, now: list[datetime]) -> None:
    async with setup.client() as client:
        await login(client, "bruno")
        page = await client.get("/console/kpi?window=nimporte")  # unknown: the default window
    assert page.status_code == 200
    assert 'href="/console/kpi?window=7d" aria-current="page"' in page.text
    assert page.text.count("Aucune donnée sur cette période.") == 6
    assert "Aucune diffusion sur cette période." in page.text
    assert "Aucune conversation commencée sur cette période." in page.text


async def test_a_visitor_is_sent_to_the_login(setup: Setup, now: list[datetime]) -> None:
    async with setup.client() as client:
        page = await client.get("/console/kpi?window=24h", headers={"Accept": "text/html"})
        assert page.status_code == 303
        assert page.headers["location"] == "/console/login?next=/console/kpi%3Fwindow%3D24h"
        assert (await client.get("/console/api/kpi")).status_code == 401
