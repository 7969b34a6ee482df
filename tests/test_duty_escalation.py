"""Whom the duty desk calls about a waiting draft, and when (issue 21, "On duty"), pure: the
approval workflow's own audit events in, a fake clock. The person on duty at once, the backup
after the policy's deadline, the supervisor after twice that, each once; an acknowledgement or
a decision stops it; a desk rebuilt from the audit log after a restart calls nobody twice. And
what a call says, with its signed acknowledgement link."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from conftest import EXAMPLES

from alertcast.approval.policy import Requirement
from alertcast.approval.workflow import decide, receive_draft
from alertcast.duty import tokens
from alertcast.duty.escalation import Desk, Intent, Stage, acknowledged_event, notified_event
from alertcast.duty.messages import build_call
from alertcast.duty.rota import Rota
from alertcast.duty.rota_file import parse_rota
from alertcast.models.alert import ChannelText, Draft, alert_id_for
from alertcast.models.decision import (
    ApprovalMode,
    AuditAction,
    AuditEvent,
    Decision,
    DecisionAction,
    Role,
)
from alertcast.models.incident import Incident, Status
from alertcast.models.problem import Problem
from alertcast.subscriptions import tokens as subscription_tokens

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # a Thursday, 10:00 in Paris
KEY = b"k" * 32
ROTA = """
supervisor: claire
escalate_after: PT15M
people:
  alice: {email: alice@example.fr}
  bruno: {email: bruno@example.fr, sms: "+33612345678"}
  claire: {email: claire@example.fr}
  david: {email: david@example.fr, language: en}
services:
  routes:
    categories: [road_closure]
    shifts:
      - {days: "*", from: "08:00", to: "10:20", primary: alice, backup: bruno}
      - {days: "*", from: "10:20", to: "08:00", primary: david}
  "*":
    shifts: [{from: "00:00", to: "00:00", primary: bruno, backup: alice}]
"""
RULE = Requirement(rule="routes", mode=ApprovalMode.ONE, escalate_after=timedelta(minutes=10))


def rota(text: str = ROTA) -> Rota:
    parsed = parse_rota(text)
    assert isinstance(parsed, Rota), parsed
    return parsed


def draft(version: int = 1, status: Status = Status.ACTUAL) -> Draft:
    incident = Incident.model_validate(json.loads((EXAMPLES / "01-road-closure-d934.json").read_text()))
    incident = incident.model_copy(update={"status": status})
    text = "Route D 934 fermée entre Arras et Cambrai. Suivez la déviation par la D 939."
    return Draft(
        alert_id=alert_id_for(incident.key),
        incident_key=incident.key,
        version=version,
        received_at=T0,
        incident=incident,
        texts=[ChannelText(channel="webhook", language="fr", text=text, length=len(text))],
    )


def drafted(requirement: Requirement = RULE, version: int = 1, at: datetime = T0) -> AuditEvent:
    """The approval agent's own `drafted` event for a draft that waits."""
    (event,) = receive_draft(None, draft(version), requirement, at).audit
    assert event.action is AuditAction.DRAFTED
    return event


def send(desk: Desk, intents: list[Intent], at: datetime, log: list[AuditEvent] | None = None) -> list[str]:
    """What the stream shell does: mark each call, send it, write and apply its event."""
    called = []
    for intent in intents:
        desk.mark(intent)
        if intent.person is None:
            continue
        event = notified_event(intent, at, ["email"], {})
        desk.apply(event)
        if log is not None:
            log.append(event)
        called.append(f"{intent.stage.value}:{intent.person}")
    return called


def test_the_person_on_duty_at_once_the_backup_after_the_deadline_the_supervisor_after_that() -> None:
    desk, r = Desk(), rota()
    desk.apply(drafted())
    assert send(desk, desk.due(r, T0), T0) == ["primary:alice"]
    assert desk.due(r, T0 + timedelta(minutes=9, seconds=59)) == []
    at = T0 + timedelta(minutes=10)
    (backup,) = desk.due(r, at)
    assert (backup.stage, backup.person, backup.service, backup.called_before) == (
        Stage.BACKUP,
        "bruno",
        "routes",
        ("alice",),
    )
    assert send(desk, [backup], at) == ["backup:bruno"]
    assert desk.due(r, T0 + timedelta(minutes=19)) == []
    assert send(desk, desk.due(r, T0 + timedelta(minutes=20)), at) == ["supervisor:claire"]
    assert desk.due(r, T0 + timedelta(hours=3)) == []  # each stage once


def test_an_acknowledgement_stops_the_calls() -> None:
    desk, r = Desk(), rota()
    event = drafted()
    desk.apply(event)
    send(desk, desk.due(r, T0), T0)
    ack = acknowledged_event(
        actor="bruno",
        incident_key=event.incident_key,
        alert_id=event.alert_id,
        version=1,
        person="alice",
        stage="primary",
        now=T0 + timedelta(minutes=2),
    )
    assert "bruno has it" in ack.message and "to alice" in ack.message
    desk.apply(ack)
    assert desk.due(r, T0 + timedelta(hours=1)) == []


def test_an_acknowledgement_of_an_older_version_does_not_stop_the_new_one() -> None:
    desk, r = Desk(), rota()
    desk.apply(drafted())
    send(desk, desk.due(r, T0), T0)
    later = T0 + timedelta(minutes=5)
    desk.apply(drafted(version=2, at=later))
    old = drafted()
    desk.apply(
        acknowledged_event(
            actor="alice",
            incident_key=old.incident_key,
            alert_id=old.alert_id,
            version=1,
            person="alice",
            stage="primary",
            now=later,
        )
    )
    (fresh,) = desk.due(r, later)
    assert (fresh.version, fresh.stage, fresh.person) == (
        2,
        Stage.PRIMARY,
        "alice",
    )  # a new draft: called again


def test_a_decision_or_the_draft_s_end_stops_the_calls() -> None:
    r = rota()
    for action, reason in (
        (DecisionAction.APPROVE, ""),
        (DecisionAction.REJECT, "doublon"),
        (DecisionAction.HOLD, ""),
    ):
        step = receive_draft(None, draft(), RULE, T0)
        desk = Desk()
        desk.apply(step.audit[0])
        assert step.state is not None
        decision = Decision(
            incident_key=step.state.draft.incident_key,
            alert_id=step.state.draft.alert_id,
            version=1,
            action=action,
            actor="alice",
            roles=[Role.COMMUNICATOR],
            at=T0,
            reason=reason,
        )
        after = decide(step.state, decision, T0 + timedelta(minutes=1), lambda *a: None)  # type: ignore[arg-type,return-value]
        for event in after.audit:
            desk.apply(event)
        assert desk.due(r, T0 + timedelta(hours=1)) == [], action
    # expired by its deadline (the approval agent's tick): nobody is called after that
    expiring = Requirement(
        rule="r",
        mode=ApprovalMode.ONE,
        escalate_after=timedelta(minutes=10),
        expire_after=timedelta(minutes=15),
    )
    step = receive_draft(None, draft(), expiring, T0)
    assert step.state is not None
    desk = Desk()
    desk.apply(step.audit[0])
    tick = Decision(
        incident_key=step.state.draft.incident_key,
        alert_id=step.state.draft.alert_id,
        version=1,
        action=DecisionAction.TICK,
        actor="system:deadline",
        at=T0,
    )
    for event in decide(step.state, tick, T0 + timedelta(minutes=16), lambda *a: None).audit:  # type: ignore[arg-type,return-value]
        desk.apply(event)
    assert desk.due(r, T0 + timedelta(minutes=20)) == []


def test_the_approval_agent_s_own_escalation_and_a_refused_decision_do_not_stop_the_calls() -> None:
    desk, r = Desk(), rota()
    event = drafted()
    desk.apply(event)
    send(desk, desk.due(r, T0), T0)
    refused = event.model_copy(update={"action": AuditAction.APPROVE, "accepted": False, "status": None})
    escalated = event.model_copy(update={"action": AuditAction.ESCALATED, "message": "supervisors called"})
    desk.apply(refused)
    desk.apply(escalated)
    assert [i.person for i in desk.due(r, T0 + timedelta(minutes=10))] == ["bruno"]


def test_a_restart_rebuilt_from_the_audit_log_calls_nobody_twice() -> None:
    r, log = rota(), [drafted()]
    first = Desk()
    first.apply(log[0])
    assert send(first, first.due(r, T0), T0, log) == ["primary:alice"]
    at = T0 + timedelta(minutes=10)
    assert send(first, first.due(r, at), at, log) == ["backup:bruno"]
    # a call that reached no channel is in the log too: it was made, and is not made again
    failed = notified_event(
        Intent(
            alert_id=log[0].alert_id,
            incident_key=log[0].incident_key,
            version=1,
            stage=Stage.SUPERVISOR,
            person="claire",
            service="routes",
            due_at=T0 + timedelta(minutes=20),
            waiting_since=T0,
            headline="h",
            severity=None,
            incident_status="Actual",
            called_before=("alice", "bruno"),
        ),
        T0 + timedelta(minutes=20),
        [],
        {"email": "TransientError: the server answered 451"},
    )
    assert failed.accepted is False and "no channel took the call" in failed.message
    # the worker dies: another reads the log from its start, as `alertcast.stream.duty` does
    restarted = Desk()
    for event in [*log, failed]:
        restarted.apply(event)
    assert restarted.due(r, T0 + timedelta(minutes=30)) == []
    # the same, killed before the supervisor's stage: only that one is owed
    again = Desk()
    for event in log:
        again.apply(event)
    assert [(i.stage, i.person) for i in again.due(r, T0 + timedelta(minutes=30))] == [
        (Stage.SUPERVISOR, "claire")
    ]


def test_a_draft_replayed_keeps_its_calls_and_a_new_version_starts_again() -> None:
    desk, r = Desk(), rota()
    desk.apply(drafted())
    send(desk, desk.due(r, T0), T0)
    desk.apply(drafted(at=T0 + timedelta(minutes=1)))  # the approval agent handling the same draft again
    assert desk.due(r, T0 + timedelta(minutes=2)) == []
    desk.apply(drafted(version=2, at=T0 + timedelta(minutes=3)))
    assert [i.person for i in desk.due(r, T0 + timedelta(minutes=3))] == ["alice"]


def test_without_a_policy_deadline_the_rota_s_applies() -> None:
    desk, r = Desk(), rota()
    desk.apply(drafted(Requirement(rule="autre", mode=ApprovalMode.ONE)))
    send(desk, desk.due(r, T0), T0)
    assert desk.due(r, T0 + timedelta(minutes=14)) == []
    assert [i.person for i in desk.due(r, T0 + timedelta(minutes=15))] == ["bruno"]


def test_whom_a_stage_calls_is_decided_when_it_is_due_and_nobody_twice() -> None:
    """At 10:20 the routes shift changes to david, with no backup: the backup stage calls the
    supervisor, and the supervisor stage has nobody left (marked, not called)."""
    desk, r = Desk(), rota()
    desk.apply(drafted(at=T0 + timedelta(minutes=15)))  # 10:15: alice is on duty
    assert send(desk, desk.due(r, T0 + timedelta(minutes=15)), T0) == ["primary:alice"]
    at = T0 + timedelta(minutes=25)  # 10:25: david's shift, no backup
    assert send(desk, desk.due(r, at), at) == ["backup:claire"]
    (last,) = desk.due(r, T0 + timedelta(minutes=35))
    assert (last.stage, last.person) == (Stage.SUPERVISOR, None)
    send(desk, [last], at)
    assert desk.due(r, T0 + timedelta(hours=1)) == []


def test_a_draft_published_at_once_or_waiting_too_long_calls_nobody() -> None:
    r = rota()
    auto = Desk()
    for event in receive_draft(None, draft(), Requirement(rule="auto", mode=ApprovalMode.AUTO), T0).audit:
        auto.apply(event)
    assert auto.due(r, T0) == []
    old = Desk()
    old.apply(drafted())
    assert old.due(r, T0 + timedelta(hours=25)) == []  # found after a long outage: the queue's business
    assert Desk().due(None, T0) == []  # no rota: nobody is called


def test_several_stages_due_at_once_call_different_people() -> None:
    desk, r = Desk(), rota()
    desk.apply(drafted())
    intents = desk.due(r, T0 + timedelta(minutes=21))  # the worker was down until then
    assert [(i.stage, i.person) for i in intents] == [
        (Stage.PRIMARY, "david"),
        (Stage.BACKUP, "claire"),
        (Stage.SUPERVISOR, None),
    ]


# --- what a call says --------------------------------------------------------------------------


def intent(stage: Stage = Stage.PRIMARY, person: str = "alice", status: str = "Actual") -> Intent:
    event = drafted()
    return Intent(
        alert_id=event.alert_id,
        incident_key=event.incident_key,
        version=1,
        stage=stage,
        person=person,
        service="routes",
        due_at=T0,
        waiting_since=T0,
        headline="Route D 934 fermée entre Arras et Cambrai",
        severity="Severe",
        incident_status=status,
        called_before=("alice",) if stage is Stage.BACKUP else (),
    )


def test_a_call_says_what_waits_and_links_to_its_acknowledgement() -> None:
    r = rota()
    call = build_call(
        intent(), r.people["alice"], "https://console.example.fr/", KEY, T0, ZoneInfo("Europe/Paris")
    )
    assert call.text.splitlines()[:3] == [
        "À approuver : Route D 934 fermée entre Arras et Cambrai",
        "Gravité grave · en attente depuis le 03/12 10:00",
        "Vous êtes de permanence (routes).",
    ]
    assert call.ack_url is not None and call.ack_url.startswith(
        "https://console.example.fr/console/duty/ack?token="
    )
    token = call.ack_url.split("token=")[1]
    assert tokens.verify(token, KEY, T0 + timedelta(minutes=1)) == tokens.Acknowledgeable(
        call.intent.alert_id, 1, "alice", "primary", T0
    )
    assert call.draft_url in call.text and call.ack_url in call.short
    sms = call.request("sms")
    assert sms.text is not None and sms.text.text == call.short and len(call.short) < 300
    email = call.request("email")
    assert email.incident.main_info is not None and email.incident.main_info.headline == call.subject
    # a delivery key of its own per stage and person: a call sent again is recognised
    backup = build_call(
        intent(Stage.BACKUP, "bruno"), r.people["bruno"], "http://x", KEY, T0, ZoneInfo("UTC")
    )
    assert email.delivery_key != backup.request("email").delivery_key
    assert "alice n'a pas pris en charge" in backup.text
    body = json.loads(backup.webhook_body())
    assert body["event"] == "alertcast.duty_call" and body["stage"] == "backup" and body["person"] == "bruno"
    assert body["ack_url"] == backup.ack_url and body["exercise"] is False


def test_a_call_in_english_an_exercise_and_no_key() -> None:
    r = rota()
    call = build_call(
        intent(person="david", status="Exercise"), r.people["david"], "http://x", None, T0, ZoneInfo("UTC")
    )
    assert call.text.startswith("To approve: Route D 934") and "You are on duty (routes)." in call.text
    assert call.ack_url is None and "Open the draft: http://x/console/drafts/" in call.text
    assert call.request("matrix").incident.status is Status.EXERCISE  # the adapters label it EXERCISE


def test_acknowledgement_tokens_refuse_what_was_changed_expired_or_signed_for_something_else() -> None:
    token = tokens.sign("0123456789abcdef", 2, "alice", "backup", KEY, T0)
    assert tokens.verify(token, KEY, T0).person == "alice"  # type: ignore[union-attr]
    changed = token.replace(".alice.", ".bruno.")
    expired = tokens.verify(token, KEY, T0 + timedelta(hours=25))
    checks = {
        "token_signature": [changed, tokens.sign("0123456789abcdef", 2, "alice", "backup", b"o" * 32, T0)],
        "token_malformed": ["", "a.b", token + ".x", "é" * 10, None, token.replace("backup", "boss")],
    }
    for rule, bad in checks.items():
        for value in bad:
            refused = tokens.verify(value, KEY, T0)
            assert isinstance(refused, Problem) and refused.rule == rule, value
            assert refused.value is None and KEY.decode() not in refused.model_dump_json()
    assert isinstance(expired, Problem) and expired.rule == "token_expired"
    future = tokens.verify(
        tokens.sign("0123456789abcdef", 2, "alice", "backup", KEY, T0 + timedelta(hours=1)), KEY, T0
    )
    assert isinstance(future, Problem) and future.rule == "token_from_future"
    # a subscriber's link signed with the same key is no acknowledgement
    unsubscribe = subscription_tokens.sign("s" * 20, "unsubscribe", KEY, T0)
    assert isinstance(tokens.verify(unsubscribe, KEY, T0), Problem)


def test_notified_event_says_who_how_and_what_failed() -> None:
    event = notified_event(intent(), T0, ["matrix"], {"email": "PermanentError: refused"})
    assert event.action is AuditAction.NOTIFIED and event.accepted and event.actor == "system:duty"
    said = (
        "alice called as primary on duty for routes: sent by matrix; failed: email: PermanentError: refused"
    )
    assert event.message == said
    assert event.details["stage"] == "primary" and event.details["sent"] == ["matrix"]
