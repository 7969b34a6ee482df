"""The 72-hour circuit's notices (issue 19), pure, with the clock moved rather than waited on: at
the warning the competent service's person on duty, after the deadline the supervisor, each once
per wait, none when the conversation was answered in time, none repeated after a restart that
reads the audit log back, and the conversation "missed" for the inbox and the KPIs alike."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from pydantic import ValidationError

from alertcast.duty.escalation import Stage
from alertcast.duty.rota import Person, Rota
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.replies.circuit import Circuit, CircuitStage, Notice, notice_event
from alertcast.replies.circuit_messages import circuit_call
from alertcast.replies.conversations import load_routing, thread_ref
from alertcast.replies.model import Reply
from alertcast.replies.sla import SlaPolicy
from alertcast.settings import Settings
from alertcast.web.console.inbox_model import InboxModel

#: Monday 3 March 2031, 10:00 UTC: the clock of every test is this moment moved by hours.
T0 = datetime(2031, 3, 3, 10, 0, tzinfo=UTC)
POLICY = SlaPolicy()  # 72 h, warned 12 h before, plain time
ROUTING = load_routing(None)
TZ = "Europe/Paris"
ROTA = Rota.model_validate(
    yaml.safe_load(
        """
supervisor: claire
people:
  alice: {email: alice@prefecture.test}
  bruno: {email: bruno@prefecture.test, language: en}
  claire: {email: claire@prefecture.test}
  dora: {email: dora@prefecture.test}
  victor: {email: victor@prefecture.test}
services:
  voirie:
    categories: [road_closure]
    supervisor: victor
    shifts: [{from: "00:00", to: "00:00", primary: alice, backup: bruno}]
  "*":
    shifts: [{from: "00:00", to: "00:00", primary: dora}]
"""
    )
)


def reply(native: str, text: str, at: datetime = T0, conversation: str = "c1", alert: str = "a1") -> Reply:
    return Reply(
        id=f"mastodon:{native}",
        network="mastodon",
        author="@citoyen@example.social",
        text=text,
        at=at,
        alert_id=alert,
        conversation=conversation,
    )


def answered(conversation: str, at: datetime) -> AuditEvent:
    return AuditEvent(
        at=at,
        actor="alice",
        action=AuditAction.REPLY_ANSWERED,
        details={"ref": thread_ref("mastodon", conversation)},
    )


def due(circuit: Circuit, at: datetime) -> list[tuple[CircuitStage, str | None, str]]:
    return [(n.stage, n.person, n.service) for n in circuit.due(ROTA, POLICY, ROUTING, TZ, at)]


def send_all(circuit: Circuit, at: datetime) -> list[Notice]:
    """What the worker's tick does: mark each notice owed, and record it as sent."""
    notices = circuit.due(ROTA, POLICY, ROUTING, TZ, at)
    for notice in notices:
        circuit.mark(notice)
    return notices


def test_the_service_on_duty_at_the_warning_then_the_supervisor_after_the_deadline_once_each() -> None:
    circuit = Circuit()
    circuit.add(reply("1", "La route barrée à Vis-en-Artois, jusqu'à quand ?"))  # keyword: voirie
    assert due(circuit, T0 + timedelta(hours=59, minutes=59)) == []
    warned = send_all(circuit, T0 + timedelta(hours=60))
    assert [(n.stage, n.person, n.service, n.duty_service) for n in warned] == [
        (CircuitStage.WARNING, "alice", "voirie", "voirie")
    ]
    assert warned[0].deadline == T0 + timedelta(hours=72) and warned[0].round == 0
    assert due(circuit, T0 + timedelta(hours=71)) == []  # once
    assert due(circuit, T0 + timedelta(hours=72)) == []  # due at 72 h: missed only after
    missed = send_all(circuit, T0 + timedelta(hours=72, seconds=1))
    assert [(n.stage, n.person) for n in missed] == [(CircuitStage.DEADLINE, "victor")]  # voirie's supervisor
    assert due(circuit, T0 + timedelta(hours=90)) == []
    state = circuit.log.circuit(thread_ref("mastodon", "c1"), POLICY, T0 + timedelta(hours=73), TZ)
    assert state is not None and state.state == "missed"


def test_answered_before_the_warning_nobody_is_told() -> None:
    circuit = Circuit()
    circuit.add(reply("1", "Les bus scolaires passent-ils demain ?"))
    circuit.apply(answered("c1", T0 + timedelta(hours=3)))
    assert due(circuit, T0 + timedelta(hours=60)) == []
    assert due(circuit, T0 + timedelta(hours=100)) == []


def test_answered_after_the_warning_the_supervisor_is_not_told() -> None:
    circuit = Circuit()
    circuit.add(reply("1", "Les bus scolaires passent-ils demain ?"))
    assert [stage for stage, _, _ in due(circuit, T0 + timedelta(hours=61))] == [CircuitStage.WARNING]
    send_all(circuit, T0 + timedelta(hours=61))
    circuit.apply(answered("c1", T0 + timedelta(hours=62)))
    assert due(circuit, T0 + timedelta(hours=80)) == []


def test_a_restart_reading_the_audit_log_back_tells_nobody_twice() -> None:
    replies = [reply("1", "La route barrée, encore ?"), reply("2", "Coupure d'eau ?", conversation="c2")]
    first = Circuit()
    for item in replies:
        first.add(item)
    at = T0 + timedelta(hours=65)
    notices = send_all(first, at)
    assert len(notices) == 2
    log = [notice_event(notice, at, ["email"], {}) for notice in notices]
    # a new worker: the same topics, read from their start, the notices' events among them
    second = Circuit()
    for event in [AuditEvent.model_validate_json(e.model_dump_json()) for e in log]:
        second.apply(event)
    for item in replies:
        second.add(item)
    assert due(second, at + timedelta(hours=1)) == []
    later = due(second, T0 + timedelta(hours=73))
    assert sorted(later, key=str) == sorted(
        [
            (CircuitStage.DEADLINE, "victor", "voirie"),
            (CircuitStage.DEADLINE, "claire", "eau et assainissement"),
        ],
        key=str,
    )


def test_a_notice_that_no_channel_took_is_not_sent_again_either() -> None:
    """Like the duty desk's calls: the failure is in the audit for a person to see, not retried
    every second for ever."""
    circuit = Circuit()
    circuit.add(reply("1", "La route barrée ?"))
    (notice,) = send_all(circuit, T0 + timedelta(hours=61))
    event = notice_event(notice, T0 + timedelta(hours=61), [], {"email": "refused by the server"})
    assert not event.accepted and "refused by the server" in event.message
    again = Circuit()
    again.add(reply("1", "La route barrée ?"))
    again.apply(event)
    assert due(again, T0 + timedelta(hours=62)) == []


def test_the_service_comes_from_the_alert_s_category_or_a_person_s_assignment() -> None:
    circuit = Circuit()
    circuit.apply(
        AuditEvent(
            at=T0 - timedelta(hours=1),
            actor="system",
            action=AuditAction.DRAFTED,
            alert_id="a-road",
            details={"category": "road_closure"},
        )
    )
    circuit.add(reply("1", "Merci pour l'info", conversation="c1", alert="a-road"))
    circuit.add(reply("2", "Merci pour l'info", conversation="c2", alert="a-other"))
    circuit.apply(
        AuditEvent(
            at=T0 + timedelta(hours=1),
            actor="alice",
            action=AuditAction.REPLY_ASSIGNED,
            details={"ref": thread_ref("mastodon", "c2"), "service": "voirie"},
        )
    )
    circuit.add(reply("3", "Merci pour l'info", conversation="c3", alert="a-other"))
    found = {
        n.ref: (n.person, n.service) for n in circuit.due(ROTA, POLICY, ROUTING, TZ, T0 + timedelta(hours=61))
    }
    assert found == {
        thread_ref("mastodon", "c1"): ("alice", "voirie"),  # the drafted alert's category
        thread_ref("mastodon", "c2"): ("alice", "voirie"),  # handed to voirie by a person
        thread_ref("mastodon", "c3"): ("dora", "communication"),  # no rota of its own: "*"
    }


def test_a_new_question_after_our_answer_starts_a_new_round() -> None:
    circuit = Circuit()
    circuit.add(reply("1", "La route barrée ?"))
    circuit.apply(answered("c1", T0 + timedelta(hours=1)))
    circuit.add(reply("2", "Toujours barrée ce matin", at=T0 + timedelta(hours=10)))
    (notice,) = send_all(circuit, T0 + timedelta(hours=70))
    assert notice.round == 1 and notice.waiting_since == T0 + timedelta(hours=10)
    assert due(circuit, T0 + timedelta(hours=71)) == []


def test_a_stage_overdue_longer_than_the_rota_s_max_wait_tells_nobody() -> None:
    """The first start with this feature, or after a long outage, must not page anyone for every
    conversation of the past weeks."""
    circuit = Circuit()
    circuit.add(reply("1", "La route barrée ?"))
    assert due(circuit, T0 + timedelta(days=30)) == []
    assert due(circuit, T0 + timedelta(hours=72) + ROTA.max_wait) == [
        (CircuitStage.DEADLINE, "victor", "voirie")
    ]


def test_without_a_rota_nobody_is_told() -> None:
    circuit = Circuit()
    circuit.add(reply("1", "La route barrée ?"))
    assert circuit.due(None, POLICY, ROUTING, TZ, T0 + timedelta(hours=80)) == []


def test_the_inbox_shows_the_same_conversation_missed() -> None:
    """One fold for both readers: the worker's circuit and the console's inbox agree."""
    moment = [T0]
    inbox = InboxModel("r", "a", ROUTING, POLICY, TZ, now=lambda: moment[0])
    circuit = Circuit()
    for item in (reply("1", "La route barrée ?"), reply("2", "Et l'eau ?", conversation="c2")):
        inbox.add(item)
        circuit.add(item)
    for event in (answered("c2", T0 + timedelta(hours=2)),):
        inbox.apply(event)
        circuit.apply(event)
    moment[0] = T0 + timedelta(hours=73)
    states = {view.thread.ref: view.circuit.state for view in inbox.views(lambda _: None) if view.circuit}
    assert states == {thread_ref("mastodon", "c1"): "missed", thread_ref("mastodon", "c2"): "hit"}
    assert {n.ref for n in circuit.due(ROTA, POLICY, ROUTING, TZ, moment[0])} == {
        thread_ref("mastodon", "c1")
    }


def test_the_notice_links_to_the_conversation_in_the_person_s_language_with_a_stable_key() -> None:
    circuit = Circuit()
    circuit.add(reply("1", "La route barrée ?"))
    at = T0 + timedelta(hours=61)
    (notice,) = circuit.due(ROTA, POLICY, ROUTING, TZ, at)
    call = circuit_call(notice, ROTA.people["alice"], "https://console.test/", at, ROTA.zone)
    assert call.subject == "Un citoyen attend une réponse (voirie) : délai le 06/03 11:00"
    assert f"https://console.test/console/inbox/{notice.ref}" in call.text
    assert "route barrée" not in call.text  # the citizen's words stay in the console
    assert call.intent.stage is Stage.PRIMARY
    again = circuit_call(
        notice, ROTA.people["alice"], "https://console.test", at + timedelta(minutes=1), ROTA.zone
    )
    assert call.delivery_key("email") == again.delivery_key("email")  # a resend after a crash: one mail
    english = circuit_call(
        notice, Person(email="b@prefecture.test", language="en"), "https://c.test", at, ROTA.zone
    )
    assert english.subject.startswith("A citizen waits for an answer (voirie)")
    missed = replace(notice, stage=CircuitStage.DEADLINE, person="victor")
    supervisor = circuit_call(missed, ROTA.people["victor"], "https://console.test", at, ROTA.zone)
    assert supervisor.intent.stage is Stage.SUPERVISOR
    assert supervisor.delivery_key("email") != call.delivery_key("email")


def test_the_circuit_is_one_setting_for_the_inbox_and_the_worker() -> None:
    configured = Settings(replies_sla={"first_response": "PT48H", "warn_before": 3600})
    assert configured.sla_policy() == SlaPolicy(
        first_response=timedelta(hours=48), warn_before=timedelta(hours=1)
    )
    assert Settings().sla_policy() == SlaPolicy()
    with pytest.raises(ValidationError, match="warn_before"):
        Settings(replies_sla={"warn_before": -5}).sla_policy()
