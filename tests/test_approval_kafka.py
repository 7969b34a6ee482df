"""Decisions through a real broker and a real `alertcast worker`: what reaches alerts.approved
depends on who decided what; deadlines escalate (webhook) and expire through the timer; a
scheduled approval survives a worker restart and goes out once, within 2 s of its time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Receiver, wait_for
from kafka_io import produce, read_until

from alertcast import examples, topics
from alertcast.models.alert import alert_id_for
from alertcast.models.decision import Decision, DecisionAction, Role
from alertcast.models.incident import Incident
from alertcast.settings import Settings
from alertcast.stream.app import partition_of
from alertcast.submit import produce as submit

pytestmark = pytest.mark.kafka

POLICY = """
rules:
  - name: grave
    severities: [Severe, Extreme]
    approval: two
  - name: greve
    categories: [strike]
    approval: one
    escalate_after: 1
    expire_after: 4
default:
  name: autre
  approval: one
escalation:
  webhooks: ["{url}"]
"""


def incident(identifier: str, **info: object) -> Incident:
    document = examples.document("01-road-closure-d934.json")
    document["identifier"] = identifier
    document["info"][0].update(info)
    return Incident.model_validate(document)


def decide(
    broker: str, prefix: str, item: Incident, action: DecisionAction, actor: str, role: Role, **kw: object
) -> None:
    decision = Decision(
        incident_key=item.key,
        alert_id=alert_id_for(item.key),
        version=1,
        action=action,
        actor=actor,
        roles=[role],
        at=datetime.now(UTC),
        **kw,  # type: ignore[arg-type]
    )
    produce(broker, prefix + "alerts.decisions", decision.model_dump_json().encode(), key=item.key.encode())


def test_decisions_decide_what_is_approved(
    broker: str, prefix: str, start_worker, worker_env: dict[str, str], tmp_path: Path, receiver: Receiver
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("{url}", receiver.url))
    topics.apply(broker, prefix)
    worker = start_worker(ALERTCAST_POLICY_FILE=str(policy))
    severe = incident("grave-1", severity="Severe")
    moderate = incident("moderee-1")
    strike = incident("greve-1", category="strike", event="Grève", headline="Grève des bus de la ligne 12")
    submit([severe, moderate, strike], Settings(bootstrap=broker, topic_prefix=prefix), "test")
    read_until(broker, prefix + "alerts.drafted", 3, what=worker.log_tail())

    def events() -> list[dict[str, object]]:
        return _all(broker, prefix + "audit.events")

    def has(key: str, action: str, accepted: bool = True) -> bool:
        return any(
            e["incident_key"] == key and e["action"] == action and e["accepted"] is accepted for e in events()
        )

    wait_for(lambda: has(severe.key, "drafted") and has(moderate.key, "drafted"), 60, "the drafted events")
    decide(broker, prefix, severe, DecisionAction.APPROVE, "alice", Role.COMMUNICATOR)
    decide(broker, prefix, severe, DecisionAction.APPROVE, "alice", Role.SUPERVISOR)  # the same person again
    decide(broker, prefix, moderate, DecisionAction.REJECT, "alice", Role.COMMUNICATOR, reason="doublon")
    decide(broker, prefix, moderate, DecisionAction.APPROVE, "bruno", Role.SUPERVISOR)  # too late: rejected
    wait_for(lambda: has(severe.key, "approve", accepted=False), 60, "the refusal of alice's second approval")
    refusal = next(e for e in events() if e["incident_key"] == severe.key and e["accepted"] is False)
    assert "another person" in str(refusal["message"])
    decide(broker, prefix, severe, DecisionAction.APPROVE, "bruno", Role.SUPERVISOR)

    [approval] = read_until(broker, prefix + "alerts.approved", 1, what=worker.log_tail())
    assert approval["draft"]["incident_key"] == severe.key
    assert approval["approved_by"] == ["alice", "bruno"] and approval["policy"] == "grave"
    wait_for(lambda: has(moderate.key, "approve", accepted=False), 60, "the refusal of the late approval")
    assert has(moderate.key, "reject") and has(severe.key, "published")

    # the strike draft: nobody decides; supervisors are called after 1 s, it expires after 4 s
    wait_for(lambda: receiver.bodies(), 60, "the escalation webhook")
    body = receiver.bodies()[0]
    assert body["event"] == "alertcast.escalation" and body["incident_key"] == strike.key
    wait_for(lambda: has(strike.key, "expired"), 60, "the expiry of the strike draft")
    assert has(strike.key, "escalated")
    approved = _all(broker, prefix + "alerts.approved")
    assert [a["draft"]["incident_key"] for a in approved] == [severe.key]  # nothing else was published


def test_a_scheduled_approval_survives_a_restart_and_fires_on_time_once(
    broker: str, prefix: str, start_worker, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("default:\n  name: un\n  approval: one\n")
    topics.apply(broker, prefix)
    first = start_worker(ALERTCAST_POLICY_FILE=str(policy))
    now = datetime.now(UTC)  # a real worker: the real clock, every time relative to it
    bus = incident(
        "a-demain-1",
        onset=(now + timedelta(hours=10)).isoformat(),
        expires=(now + timedelta(hours=14)).isoformat(),
    )
    submit([bus], Settings(bootstrap=broker, topic_prefix=prefix), "test")

    def audit(action: str) -> list[dict[str, object]]:
        return [
            e
            for e in _all(broker, prefix + "audit.events")
            if e["incident_key"] == bus.key and e["action"] == action and e["accepted"] is True
        ]

    wait_for(lambda: audit("drafted"), 120, lambda: f"the drafted event\n{first.log_tail()}")
    decide(broker, prefix, bus, DecisionAction.APPROVE, "alice", Role.COMMUNICATOR, before_onset_minutes=60)
    wait_for(lambda: audit("approve"), 60, lambda: f"the scheduled approval\n{first.log_tail()}")
    assert audit("approve")[0]["status"] == "scheduled"
    first.stop()  # the schedule is now only in Kafka (the approval_state changelog)

    second = start_worker(ALERTCAST_POLICY_FILE=str(policy))
    # accepted only while SCHEDULED: the new worker found the state in the changelog
    decide(broker, prefix, bus, DecisionAction.RESCHEDULE, "bob", Role.COMMUNICATOR, before_onset_minutes=90)
    wait_for(lambda: audit("reschedule"), 120, lambda: f"the first reschedule\n{second.log_tail()}")
    publish_at = datetime.now(UTC) + timedelta(seconds=5)
    decide(broker, prefix, bus, DecisionAction.RESCHEDULE, "bob", Role.COMMUNICATOR, publish_at=publish_at)

    [approval] = read_until(broker, prefix + "alerts.approved", 1, what=second.log_tail)
    late = datetime.fromisoformat(str(approval["approved_at"])) - publish_at
    assert timedelta(0) <= late <= timedelta(seconds=2), late
    assert approval["approved_by"] == ["alice"] and approval["draft"]["incident_key"] == bus.key
    [published] = wait_for(lambda: audit("published"), 30, "the published event")
    assert published["actor"] == "alice" and published["details"]["scheduled_by"] == "bob"  # type: ignore[index]
    assert len({e["decision_id"] for e in audit("reschedule")}) == 2  # read at least once: maybe twice
    # too late to move it: once its refusal is in the audit, every tick before it was applied too
    decide(broker, prefix, bus, DecisionAction.RESCHEDULE, "bob", Role.COMMUNICATOR, before_onset_minutes=30)
    wait_for(
        lambda: any(
            e["incident_key"] == bus.key and e["action"] == "reschedule" and e["accepted"] is False
            for e in _all(broker, prefix + "audit.events")
        ),
        60,
        "the refusal of a reschedule after the publication",
    )
    assert len(_all(broker, prefix + "alerts.approved")) == 1


def test_a_submission_placed_by_another_partitioner_is_decided_where_its_decisions_are(
    broker: str, prefix: str, start_worker, tmp_path: Path
) -> None:
    """librdkafka's default partitioner (CRC32) puts a key elsewhere than Java's and aiokafka's
    (murmur2), which the console's decisions use. Ingest writes a new draft's approval state on
    its submission's partition: so a submission found elsewhere is re-submitted where its key
    goes, and the decision finds the draft it approves."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("default:\n  name: un\n  approval: one\n")
    topics.apply(broker, prefix)
    worker = start_worker(ALERTCAST_POLICY_FILE=str(policy))
    item = incident("ailleurs-1")
    submitted = prefix + "incidents.submitted"
    count = len(_by_partition(broker, submitted))
    home = partition_of(item.key.encode(), count)
    elsewhere = (home + 1) % count
    produce(broker, submitted, item.model_dump_json().encode(), key=item.key.encode(), partition=elsewhere)
    wait_for(
        lambda: any(
            e["incident_key"] == item.key and e["action"] == "drafted"
            for e in _all(broker, prefix + "audit.events")
        ),
        120,
        lambda: f"the drafted event\n{worker.log_tail()}",
    )
    placed = _by_partition(broker, submitted)
    for partition in (elsewhere, home):  # as produced, then as re-submitted
        assert [m["identifier"] for m in placed[partition]] == [item.identifier], partition
    decide(broker, prefix, item, DecisionAction.APPROVE, "alice", Role.COMMUNICATOR)
    [approval] = read_until(broker, prefix + "alerts.approved", 1, what=worker.log_tail)
    assert approval["draft"]["incident_key"] == item.key and approval["approved_by"] == ["alice"]


def _all(broker: str, topic: str) -> list[dict[str, object]]:
    """Every message of `topic` now: read up to the end offsets measured first."""
    return [message for messages in _by_partition(broker, topic).values() for message in messages]


def _by_partition(broker: str, topic: str) -> dict[int, list[dict[str, object]]]:
    """Every message of `topic` now, by partition (every partition, even empty)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        found: dict[int, list[dict[str, object]]] = {tp.partition: [] for tp in partitions}
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for tp, batch in consumer.poll(timeout_ms=500).items():
                found[tp.partition] += [json.loads(record.value) for record in batch]
        return found
    finally:
        consumer.close()
