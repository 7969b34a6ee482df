"""`alertcast deliveries pause|resume|paused`: the pause switches, written where every worker
reads them (`config.pauses`) and audited (`audit.events`) with their author.

The console's pause forms build the same two messages with `switch_records` (pure: no Kafka
client is imported here, so the web process can use it)."""

from __future__ import annotations

import getpass
from collections import Counter
from collections.abc import Callable

from pydantic import BaseModel

from alertcast import topics
from alertcast.clock import clock
from alertcast.delivery.pause import Pause, PauseBoard
from alertcast.models.alert import DeliveryStatus, Receipt
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.settings import Settings
from alertcast.topic_reader import read_to_end

Record = tuple[str, bytes, bytes]  # topic, key, value


def new_switch(
    paused: bool,
    channel: str | None = None,
    account: str | None = None,
    by: str | None = None,
    reason: str = "",
) -> Pause:
    """A switch made now by `by` (default: the login of whoever runs this)."""
    return Pause(
        channel=channel,
        account=account,
        paused=paused,
        by=by or getpass.getuser(),
        at=clock.now(),
        reason=reason,
    )


def audit_of(pause: Pause) -> AuditEvent:
    """The audit event telling who switched what, when and why."""
    return AuditEvent(
        at=pause.at,
        actor=pause.by,
        action=AuditAction.PAUSE if pause.paused else AuditAction.RESUME,
        channel=pause.channel,
        message=pause.reason,
        details={"scope": pause.scope, **({"account": pause.account} if pause.account else {})},
    )


def switch_records(topic: Callable[[str], str], pause: Pause) -> list[Record]:
    """What a switch writes, in this order: the switch on `config.pauses` (keyed by its scope)
    and its audit event. Pure, so the CLI (kafka-python) and the console (aiokafka) send the same."""
    key = pause.scope.encode()
    return [
        (topic("config.pauses"), key, _json(pause)),
        (topic("audit.events"), key, _json(audit_of(pause))),
    ]


def switch(
    settings: Settings,
    paused: bool,
    channel: str | None = None,
    account: str | None = None,
    by: str | None = None,
    reason: str = "",
) -> Pause:
    """Pause or resume deliveries of everything, a channel or an account; returns the switch."""
    from kafka import KafkaProducer

    topics.apply(settings.bootstrap, settings.topic_prefix)  # a pause may come before any worker ran
    pause = new_switch(paused, channel, account, by, reason)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap.split(","), acks="all", enable_idempotence=True
    )
    try:
        sent = [
            producer.send(topic, key=key, value=value)
            for topic, key, value in switch_records(settings.topic, pause)
        ]
        for future in sent:
            future.get(timeout=30)
    finally:
        producer.close()
    return pause


def board(settings: Settings) -> PauseBoard:
    switches = PauseBoard()
    for record in read_to_end(settings, "config.pauses"):
        if record.value is not None:
            switches.apply(Pause.model_validate_json(record.value))
    return switches


def held(settings: Settings) -> Counter[str]:
    """Deliveries waiting on a pause now, per channel: those whose latest receipt says paused."""
    latest: dict[str, Receipt] = {}
    for record in read_to_end(settings, "deliveries.receipts"):
        receipt = Receipt.model_validate_json(record.value)
        latest[receipt.delivery_key] = receipt
    return Counter(r.channel for r in latest.values() if r.status is DeliveryStatus.PAUSED)


def _json(message: BaseModel) -> bytes:
    return message.model_dump_json().encode()
