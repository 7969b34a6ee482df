"""The 72-hour circuit through a real broker, a real `alertcast worker` and a real SMTP server
(issue 19, "a conversation left unanswered crosses its warning and then its deadline"): the
worker's circuit is configured in seconds (ALERTCAST_REPLIES_SLA), as the duty desk's test gives
its policy a 2-second deadline, so the worker's own clock crosses the warning and then the
deadline of a reply without anyone waiting 72 hours. The person on duty gets an e-mail at the
warning, the supervisor one after the deadline, both in the audit; a worker started again tells
nobody twice, a conversation answered in time tells nobody, and the console's inbox model and
the KPIs, reading the same topics, count the unanswered ones missed."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for
from kafka_io import produce
from servers.smtp import Received, SmtpServer
from test_approval_kafka import _all

from alertcast import topics
from alertcast.kpis.report import reply_kpis
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.replies.conversations import load_routing, thread_ref
from alertcast.replies.model import Reply
from alertcast.replies.sla import SlaPolicy
from alertcast.web.console.inbox_model import InboxModel
from alertcast.web.console.kpi import inbox_conversations

pytestmark = pytest.mark.kafka

#: Warned 6 s after the question, missed after 12 s: the worker's clock moves past both.
SLA = {"first_response": 12, "next_response": 12, "warn_before": 6}
ROTA = """
supervisor: claire
people:
  alice: {email: alice@prefecture.test}
  claire: {email: claire@prefecture.test}
services:
  "*":
    shifts: [{from: "00:00", to: "00:00", primary: alice}]
"""
ALERT = "a-circuit"


def circuit_env(smtp: SmtpServer, rota: Path) -> dict[str, str]:
    account = {
        "name": "permanence",
        "host": "127.0.0.1",
        "port": smtp.port,
        "username": smtp.user,
        "password_env": "ALERTCAST_TEST_SMTP_PASSWORD",
        "sender": "Permanence <permanence@prefecture.test>",
        "to": ["unused@prefecture.test"],
        "ca_file": str(smtp.cert),
    }
    return {
        "ALERTCAST_ROTA_FILE": str(rota),
        "ALERTCAST_REPLIES_SLA": json.dumps(SLA),
        "ALERTCAST_EMAIL_ACCOUNTS": json.dumps([account]),
        "ALERTCAST_TEST_SMTP_PASSWORD": smtp.password,
        "ALERTCAST_CONSOLE_BASE_URL": "https://console.example.fr",
    }


def question(text: str) -> Reply:
    conversation = uuid.uuid4().hex[:12]
    return Reply(
        id=f"mastodon:{conversation}",
        network="mastodon",
        author="@citoyen@example.social",
        text=text,
        at=datetime.now(UTC),
        alert_id=ALERT,
        conversation=conversation,
    )


def ref(reply: Reply) -> str:
    return thread_ref(reply.network, reply.conversation)


def mails_to(smtp: SmtpServer, address: str) -> list[Received]:
    return [m for m in smtp.messages if m.rcpt_tos == [address]]


def test_the_service_on_duty_then_the_supervisor_and_the_inbox_counts_it_missed(
    broker: str, prefix: str, start_worker: Any, tmp_path: Path
) -> None:
    (tmp_path / "smtp").mkdir()
    smtp = SmtpServer(tmp_path / "smtp")
    smtp.start()
    try:
        rota = tmp_path / "rota.yaml"
        rota.write_text(ROTA)
        env = circuit_env(smtp, rota)
        topics.apply(broker, prefix)
        first = start_worker(**env)

        def loaded(worker: Any) -> bool:
            text = worker.log.read_text(errors="replace") if worker.log.exists() else ""
            return f"{prefix}replies.received read to its end" in text

        def send(reply: Reply) -> None:
            produce(broker, prefix + "replies.received", reply.model_dump_json().encode(), key=ALERT.encode())

        def notices(conversation: str, action: str) -> list[dict[str, Any]]:
            return [
                e
                for e in _all(broker, prefix + "audit.events")
                if e["action"] == action and e["details"].get("ref") == conversation  # type: ignore[attr-defined]
            ]

        wait_for(lambda: loaded(first), 120, lambda: f"the worker following replies\n{first.log_tail()}")
        unanswered = question("La route est-elle rouverte ?")
        send(unanswered)
        wait_for(
            lambda: notices(ref(unanswered), "reply_circuit_missed"),
            90,
            lambda: f"the supervisor told\n{first.log_tail()}",
        )
        (warned,) = notices(ref(unanswered), "reply_circuit_warned")
        (missed,) = notices(ref(unanswered), "reply_circuit_missed")
        assert (warned["details"]["person"], warned["details"]["sent"], warned["accepted"]) == (
            "alice",
            ["email"],
            True,
        )
        assert (missed["details"]["person"], missed["details"]["sent"], missed["accepted"]) == (
            "claire",
            ["email"],
            True,
        )
        asked = unanswered.at
        warned_at, missed_at = datetime.fromisoformat(warned["at"]), datetime.fromisoformat(missed["at"])
        assert asked + timedelta(seconds=6) <= warned_at < missed_at  # not before the warning
        assert missed_at > asked + timedelta(seconds=12)  # and the supervisor only after the deadline
        (to_alice,) = (m.message for m in mails_to(smtp, "alice@prefecture.test"))
        (to_claire,) = (m.message for m in mails_to(smtp, "claire@prefecture.test"))
        assert str(to_alice["Subject"]).startswith("Un citoyen attend une réponse (communication)")
        assert str(to_claire["Subject"]).startswith("Délai dépassé")
        link = f"https://console.example.fr/console/inbox/{ref(unanswered)}"
        assert link in to_alice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert link in to_claire.get_body(("plain",)).get_content()  # type: ignore[union-attr]

        # a restart: the new worker reads the notices back and sends none of them again; a
        # conversation answered in time tells nobody, an unanswered one goes the whole way
        first.stop()
        second = start_worker(**env)
        wait_for(
            lambda: loaded(second), 120, lambda: f"the second worker following replies\n{second.log_tail()}"
        )
        answered = question("Les bus scolaires passent-ils ?")
        send(answered)
        mark = AuditEvent(
            at=datetime.now(UTC),
            actor="alice",
            action=AuditAction.REPLY_ANSWERED,
            details={"ref": ref(answered)},
        )
        produce(broker, prefix + "audit.events", mark.model_dump_json().encode(), key=ref(answered).encode())
        late = question("Et l'eau potable ?")
        send(late)
        wait_for(
            lambda: notices(ref(late), "reply_circuit_missed"),
            90,
            lambda: f"the second conversation's supervisor told\n{second.log_tail()}",
        )
        assert len(notices(ref(late), "reply_circuit_warned")) == 1
        assert notices(ref(answered), "reply_circuit_warned") == []
        assert notices(ref(answered), "reply_circuit_missed") == []
        assert len(notices(ref(unanswered), "reply_circuit_warned")) == 1
        assert len(notices(ref(unanswered), "reply_circuit_missed")) == 1
        assert len(mails_to(smtp, "alice@prefecture.test")) == 2
        assert len(mails_to(smtp, "claire@prefecture.test")) == 2

        # the console's inbox, reading the same topics: missed twice, answered once, and counted
        inbox = InboxModel(
            "replies", "audit", load_routing(None), SlaPolicy.model_validate(SLA), "Europe/Paris"
        )
        for reply in _all(broker, prefix + "replies.received"):
            inbox.on_message("replies", None, json.dumps(reply).encode())
        for event in _all(broker, prefix + "audit.events"):
            inbox.on_message("audit", None, json.dumps(event).encode())
        states = {view.thread.ref: view.circuit.state for view in inbox.views(lambda _: None) if view.circuit}
        assert states == {ref(unanswered): "missed", ref(answered): "hit", ref(late): "missed"}
        counted = reply_kpis(inbox_conversations(inbox, lambda _: None))
        assert (counted.missed, counted.hit, counted.active) == (2, 1, 0)
    finally:
        smtp.stop()
