"""`alertcast subscribers export|delete` on a real broker: a citizen's data on request, erased
by tombstones on the compacted topic, audited without the address, others untouched."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from kafka import KafkaProducer
from kafka_io import read_until_found
from test_pipeline_kafka import cli

from alertcast import topics
from alertcast.subscriptions.model import Subscription, create

pytestmark = pytest.mark.kafka

PUSH = {
    "endpoint": "https://push.example.net/send/abc123",
    "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
    "auth": "tBHItJI5svbpez7KI4CCXg",
}


def made(**fields: object) -> Subscription:
    subscription = create(now=datetime.now(UTC), **fields)  # type: ignore[arg-type]
    assert isinstance(subscription, Subscription), subscription
    return subscription


def test_a_subscriber_s_data_is_exported_then_erased_and_the_others_kept(
    broker: str, prefix: str, worker_env: dict[str, str]
) -> None:
    topics.apply(broker, prefix)
    hers = [
        made(areas=["62041"], channel="email", email="Claire.Martin@example.fr"),
        made(areas=["62", "59350"], channel="email", email="claire.martin@example.fr", digest="daily"),
    ]
    other = made(areas=["62041"], channel="webpush", push=PUSH)
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    for subscription in (*hers, other):
        producer.send(
            prefix + "subscriptions",
            key=subscription.id.encode(),
            value=subscription.model_dump_json().encode(),
        )
    producer.flush()
    producer.close()

    exported = cli("subscribers", "export", "claire.martin@example.fr", env=worker_env)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert sorted(s["id"] for s in data["subscriptions"]) == sorted(s.id for s in hers)
    assert {s["email"] for s in data["subscriptions"]} == {
        "Claire.Martin@example.fr",
        "claire.martin@example.fr",
    }

    erased = cli("subscribers", "delete", "claire.martin@example.fr", "--by", "dpo", env=worker_env)
    assert erased.returncode == 0, erased.stderr
    assert erased.stdout.startswith("2 subscription(s) erased")
    again = json.loads(cli("subscribers", "export", "claire.martin@example.fr", env=worker_env).stdout)
    assert again["subscriptions"] == []
    kept = json.loads(cli("subscribers", "export", PUSH["endpoint"], env=worker_env).stdout)
    assert [s["id"] for s in kept["subscriptions"]] == [other.id]

    audit = read_until_found(
        broker, prefix + "audit.events", lambda got: any(e["action"] == "subscriber_erased" for e in got)
    )
    (event,) = [e for e in audit if e["action"] == "subscriber_erased"]
    assert event["actor"] == "dpo" and sorted(event["details"]["subscriptions"]) == sorted(s.id for s in hers)
    assert "claire" not in json.dumps(event).lower()  # the audit outlives the data: no address in it
    nothing = cli("subscribers", "delete", "nobody@example.fr", env=worker_env)
    assert nothing.returncode == 0 and nothing.stdout.strip() == "0 subscription(s) erased"
