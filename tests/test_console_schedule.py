"""Scheduling from the console (issue 21): approve now and publish at a time typed in the
console's zone, or N minutes before onset; a scheduled draft shows its time and can be moved or
withdrawn, and is not approved, held or edited again meanwhile."""

# ruff: noqa: F811 (`setup` is test_console_security's fixture, imported to be used as one)

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from test_console_security import Setup, drafted_event, login, make_draft, setup  # noqa: F401

from alertcast.models.decision import AuditAction, AuditEvent, DraftStatus
from alertcast.web.console.pages import Pages

PARIS = ZoneInfo("Europe/Paris")


def decisions(setup: Setup) -> list[dict[str, object]]:
    return [json.loads(message.value) for message in setup.produced("decisions")]


async def test_a_time_typed_in_the_console_s_zone_is_sent_in_utc(setup: Setup) -> None:
    draft = make_draft()
    setup.feed("drafted", draft)
    setup.feed("audit", drafted_event(draft, mode="one"))
    local = (datetime.now(PARIS) + timedelta(hours=3)).replace(second=0, microsecond=0)
    url = f"/console/drafts/{draft.alert_id}/decide"
    async with setup.client() as client:
        token = await login(client, "alice")
        typed = local.strftime("%Y-%m-%dT%H:%M")
        answer = await client.post(
            url, data={"csrf": token, "version": "1", "action": "approve", "publish_at": typed}
        )
        assert answer.status_code == 303, answer.text
    (decision,) = decisions(setup)
    assert decision["action"] == "approve"
    assert datetime.fromisoformat(str(decision["publish_at"])) == local.astimezone(UTC)


async def test_minutes_before_onset_or_a_bad_time_and_both_at_once(setup: Setup) -> None:
    draft = make_draft()
    setup.feed("drafted", draft)
    setup.feed("audit", drafted_event(draft, mode="one"))
    url = f"/console/drafts/{draft.alert_id}/decide"
    later = (datetime.now(PARIS) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")  # valid on any date
    async with setup.client() as client:
        token = await login(client, "alice")
        base = {"csrf": token, "version": "1", "action": "approve"}
        for bad, said in (
            ({"publish_at": "demain matin"}, "pas une date"),
            ({"before_onset": "-5"}, "nombre de minutes"),
            ({"before_onset": "²"}, "nombre de minutes"),
            ({"publish_at": later, "before_onset": "30"}, "pas les deux"),
        ):
            answer = await client.post(url, data={**base, **bad})
            assert answer.status_code == 400 and said in answer.text, bad
        assert decisions(setup) == []
        answer = await client.post(url, data={**base, "before_onset": "30"})
        assert answer.status_code == 303
    (decision,) = decisions(setup)
    assert decision["before_onset_minutes"] == 30 and decision["publish_at"] is None


async def test_a_scheduled_draft_shows_its_time_and_is_moved_or_withdrawn_not_approved_again(
    setup: Setup,
) -> None:
    draft = make_draft()
    setup.feed("drafted", draft)
    setup.feed("audit", drafted_event(draft, mode="one"))
    url = f"/console/drafts/{draft.alert_id}/decide"
    later = (datetime.now(PARIS) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")  # valid on any date
    async with setup.client() as client:
        token = await login(client, "alice")
        moved = await client.post(
            url, data={"csrf": token, "version": "1", "action": "reschedule", "publish_at": later}
        )
        assert moved.status_code == 409 and "pas programmé" in moved.text
        when = datetime.now(UTC) + timedelta(hours=5)
        setup.feed(
            "audit",
            AuditEvent(
                at=datetime.now(UTC),
                actor="alice",
                action=AuditAction.APPROVE,
                incident_key=draft.incident_key,
                alert_id=draft.alert_id,
                version=1,
                status=DraftStatus.SCHEDULED,
                details={"publish_at": when.isoformat(), "scheduled_by": "alice"},
            ),
        )
        page = await client.get(f"/console/drafts/{draft.alert_id}")
        shown = Pages("Europe/Paris").local(when)  # as the console writes times
        assert "Publication programmée" in page.text and "programmée par alice" in page.text
        assert 'value="reschedule"' in page.text and 'value="unschedule"' in page.text
        assert 'value="reject"' in page.text and page.text.count(f'name="csrf" value="{token}"') >= 4
        assert f"Publication prévue le {shown}" in page.text
        again = await client.post(url, data={"csrf": token, "version": "1", "action": "approve"})
        assert again.status_code == 409 and "déprogrammez" in again.text
        withdrawn = await client.post(url, data={"csrf": token, "version": "1", "action": "unschedule"})
        assert withdrawn.status_code == 303
    assert [d["action"] for d in decisions(setup)] == ["unschedule"]
