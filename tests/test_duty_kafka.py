"""Duty calls through a real broker and a real `alertcast worker` (issue 21, "On duty"): a draft
needing approval calls the person on duty's on-call webhook within 2 s of being drafted, then the
backup and the supervisor on the deadlines, each once, in the audit; a worker started again
calls nobody twice, and an acknowledgement stops the calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Receiver, wait_for
from kafka_io import produce
from test_approval_kafka import _all, incident

from alertcast import topics
from alertcast.duty import tokens
from alertcast.duty.escalation import acknowledged_event
from alertcast.models.alert import alert_id_for
from alertcast.settings import Settings
from alertcast.submit import produce as submit

pytestmark = pytest.mark.kafka

POLICY = """
rules:
  - name: greve
    categories: [strike]
    approval: one
    escalate_after: 2
    expire_after: 8
default:
  name: routes
  approval: one
  escalate_after: 2
  expire_after: 600
"""
ROTA = """
supervisor: claire
people:
  alice: {webhook: "{url}?to=alice"}
  bruno: {webhook: "{url}?to=bruno"}
  claire: {webhook: "{url}?to=claire"}
services:
  "*":
    shifts: [{from: "00:00", to: "00:00", primary: alice, backup: bruno}]
"""
DUTY_SECRET = "une clé de test d'au moins trente-deux octets"


def test_the_person_on_duty_then_the_backup_then_the_supervisor_once_each(
    broker: str, prefix: str, start_worker, tmp_path: Path, receiver: Receiver
) -> None:
    policy, rota = tmp_path / "policy.yaml", tmp_path / "rota.yaml"
    policy.write_text(POLICY)
    rota.write_text(ROTA.replace("{url}", receiver.url))
    env = {
        "ALERTCAST_POLICY_FILE": str(policy),
        "ALERTCAST_ROTA_FILE": str(rota),
        "ALERTCAST_DUTY_SECRET": DUTY_SECRET,
        "ALERTCAST_WEBHOOK_SECRET": "webhook-secret",
        "ALERTCAST_CONSOLE_BASE_URL": "https://console.example.fr",
    }
    topics.apply(broker, prefix)
    first = start_worker(**env)
    road = incident("duty-1")
    submit([road], Settings(bootstrap=broker, topic_prefix=prefix), "test")

    def calls(key: str) -> list[tuple[str, str]]:
        return [(b["stage"], b["person"]) for b in receiver.bodies() if b["incident_key"] == key]

    def audit(key: str, action: str) -> list[dict[str, object]]:
        return [
            e
            for e in _all(broker, prefix + "audit.events")
            if e["incident_key"] == key and e["action"] == action
        ]

    expected = [("primary", "alice"), ("backup", "bruno"), ("supervisor", "claire")]
    wait_for(lambda: len(calls(road.key)) >= 3, 120, lambda: f"three calls\n{first.log_tail()}")
    assert calls(road.key) == expected
    (drafted,) = audit(road.key, "drafted")
    notified = audit(road.key, "notified")
    assert [(e["details"]["stage"], e["details"]["person"], e["accepted"]) for e in notified] == [  # type: ignore[index]
        (stage, person, True) for stage, person in expected
    ]
    at = {str(e["details"]["stage"]): datetime.fromisoformat(str(e["at"])) for e in notified}  # type: ignore[index]
    drafted_at = datetime.fromisoformat(str(drafted["at"]))
    assert at["primary"] - drafted_at <= timedelta(seconds=2)  # called the moment it waits
    assert timedelta(seconds=2) <= at["backup"] - drafted_at <= timedelta(seconds=4)
    assert timedelta(seconds=4) <= at["supervisor"] - drafted_at <= timedelta(seconds=6)
    # the on-call tool gets a signed JSON event with a link that acknowledges
    request = receiver.requests[0]
    assert request["headers"]["X-Alertcast-Signature"].startswith("sha256=")
    body = request["body"]
    assert body["event"] == "alertcast.duty_call" and body["alert_id"] == alert_id_for(road.key)
    assert body["ack_url"].startswith("https://console.example.fr/console/duty/ack?token=")
    token = body["ack_url"].split("token=")[1]
    verified = tokens.verify(token, DUTY_SECRET.encode(), datetime.now(UTC))
    assert isinstance(verified, tokens.Acknowledgeable) and verified.person == "alice"

    # a restart: the new worker rebuilds from the audit log and calls nobody twice about road
    first.stop()
    second = start_worker(**env)
    strike = incident("duty-2", category="strike", event="Grève", headline="Grève des bus de la ligne 12")
    submit([strike], Settings(bootstrap=broker, topic_prefix=prefix), "test")
    wait_for(lambda: calls(strike.key), 120, lambda: f"the strike's first call\n{second.log_tail()}")
    (waiting,) = audit(strike.key, "drafted")
    ack = acknowledged_event(
        actor="alice",
        incident_key=strike.key,
        alert_id=str(waiting["alert_id"]),
        version=1,
        person="alice",
        stage="primary",
        now=datetime.now(UTC),
    )
    produce(broker, prefix + "audit.events", ack.model_dump_json().encode(), key=strike.key.encode())
    # the strike draft expires after 8 s: by then its backup (2 s) and supervisor (4 s) were due
    wait_for(lambda: audit(strike.key, "expired"), 60, lambda: f"the strike's expiry\n{second.log_tail()}")
    assert calls(strike.key) == [("primary", "alice")]
    assert calls(road.key) == expected
    assert len(audit(road.key, "notified")) == 3
