"""`alertcast subscribers export|delete`: a subscriber's data on their request (RGPD art. 15, 17).

Subscriptions live on the compacted `subscriptions` topic, keyed by subscription id: the latest
value of a key is the subscription, and a null value (a tombstone) erases it; compaction then
drops the earlier values, address included. Erasing writes one tombstone per subscription of
the subscriber, then an audit event that counts them and names who erased, never the address
(the audit log is kept far longer than the subscription was). What belongs to whom is decided
in alertcast.subscriptions.export; this module only reads and writes the topics.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

from alertcast import topics
from alertcast.clock import clock
from alertcast.i18n import N_, said
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.settings import Settings
from alertcast.subscriptions.export import erase, export
from alertcast.subscriptions.model import Subscription
from alertcast.topic_reader import read_to_end

TOPIC = "subscriptions"


def current(settings: Settings) -> list[Subscription]:
    """Every subscription held now: the latest value of each key, tombstoned keys left out."""
    latest: dict[bytes, bytes | None] = {}
    for record in read_to_end(settings, TOPIC):
        if record.key is not None:
            latest[record.key] = record.value
    return [Subscription.model_validate_json(value) for value in latest.values() if value is not None]


def export_subscriber(settings: Settings, who: str) -> dict[str, Any]:
    return export(current(settings), who)


def delete_subscriber(settings: Settings, who: str, by: str | None = None) -> list[str]:
    """Tombstone every subscription of `who`; the ids erased (none: nothing was held)."""
    from kafka import KafkaProducer

    topics.apply(settings.bootstrap, settings.topic_prefix)
    ids = erase(current(settings), who)
    if not ids:
        return []
    event = AuditEvent(
        at=clock.now(),
        actor=by or getpass.getuser(),
        action=AuditAction.SUBSCRIBER_ERASED,
        **said(N_("%(count)s subscription(s) erased on the subscriber's request"), count=len(ids)),
        details={"subscriptions": ids},
    )
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap.split(","), acks="all", enable_idempotence=True
    )
    try:
        sent = [producer.send(settings.topic(TOPIC), key=i.encode(), value=None) for i in ids]
        sent.append(
            producer.send(
                settings.topic("audit.events"), key=b"subscribers", value=event.model_dump_json().encode()
            )
        )
        for future in sent:
            future.get(timeout=30)
    finally:
        producer.close()
    return ids


def exported_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)
