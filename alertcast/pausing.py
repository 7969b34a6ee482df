"""`alertcast deliveries pause|resume|paused`: the pause switches, written where every worker
reads them (`config.pauses`) and audited (`audit.events`) with their author."""

from __future__ import annotations

import getpass
from collections import Counter

from pydantic import BaseModel

from alertcast import topics
from alertcast.clock import clock
from alertcast.delivery.pause import Pause, PauseBoard
from alertcast.models.alert import DeliveryStatus, Receipt
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.settings import Settings
from alertcast.topic_reader import read_to_end


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
    pause = Pause(
        channel=channel,
        account=account,
        paused=paused,
        by=by or getpass.getuser(),
        at=clock.now(),
        reason=reason,
    )
    event = AuditEvent(
        at=pause.at,
        actor=pause.by,
        action=AuditAction.PAUSE if paused else AuditAction.RESUME,
        channel=channel,
        message=reason,
        details={"scope": pause.scope, **({"account": account} if account else {})},
    )
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap.split(","), acks="all", enable_idempotence=True
    )
    try:
        sent = [
            producer.send(settings.topic("config.pauses"), key=pause.scope.encode(), value=_json(pause)),
            producer.send(settings.topic("audit.events"), key=pause.scope.encode(), value=_json(event)),
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
