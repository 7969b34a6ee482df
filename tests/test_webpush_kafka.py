"""Web Push to subscribers, end to end on a real broker and a real worker: an alert reaches the
push service of the subscribers of its commune (decrypted there with the browser's own key),
once per version; another commune's subscriber gets nothing; the Update replaces the push still
pending (same Topic); a subscription whose endpoint is gone (410) is ended on the topic."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka_io import produce, read_until_found
from servers.push_service import BrowserSubscription, PushService
from test_pipeline_kafka import cli

from alertcast import topics
from alertcast.subscriptions.model import Subscription, create
from alertcast.subscriptions.vapid import b64url, generate_key_file

pytestmark = pytest.mark.kafka

VIS_EN_ARTOIS, ARRAS = "62864", "62041"  # the road closure of the examples is at Vis-en-Artois


def subscribed(broker: str, prefix: str, browser: BrowserSubscription, area: str) -> Subscription:
    push = {"endpoint": browser.endpoint, "p256dh": browser.p256dh, "auth": b64url(browser.auth)}
    subscription = create(areas=[area], channel="webpush", push=push, now=datetime.now(UTC))
    assert isinstance(subscription, Subscription), subscription
    value = subscription.model_dump_json().encode()
    produce(broker, prefix + "subscriptions", value, key=subscription.id.encode())
    return subscription


def pushes(messages: list[dict[str, Any]], account: str) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("channel") == "webpush" and m.get("account") == account]


def test_an_alert_reaches_its_commune_s_subscribers_once_per_version_and_the_update_replaces_it(
    broker: str,
    prefix: str,
    start_worker: Any,
    worker_env: dict[str, str],
    current_examples: Path,
    tmp_path: Path,
) -> None:
    service = PushService().start()
    try:
        key = generate_key_file(tmp_path / "vapid.pem")
        near = service.subscribe(key.application_server_key)
        elsewhere = service.subscribe(key.application_server_key)
        gone = service.subscribe(key.application_server_key)
        topics.apply(broker, prefix)
        mine = subscribed(broker, prefix, near, VIS_EN_ARTOIS)
        other = subscribed(broker, prefix, elsewhere, ARRAS)
        dropped = subscribed(broker, prefix, gone, VIS_EN_ARTOIS)
        service.gone(gone)  # the browser dropped it: the push service answers 410
        (tmp_path / "push-ca.pem").write_bytes(service.ca_pem)
        env = {
            **worker_env,
            "ALERTCAST_CHANNELS": json.dumps(["website", "webpush"]),
            "ALERTCAST_VAPID_PRIVATE_KEY_FILE": str(tmp_path / "vapid.pem"),
            "ALERTCAST_VAPID_SUBJECT": "mailto:alertes@departement-exemple.fr",
            "ALERTCAST_SITE_BASE_URL": "https://alertes.departement-exemple.fr",
            "SSL_CERT_FILE": str(tmp_path / "push-ca.pem"),  # the worker trusts the test push service
        }
        worker = start_worker(**env)
        for example in ("01-road-closure-d934.json", "04-road-closure-d934-update.json"):
            submitted = cli("submit", str(current_examples / example), env=env)
            assert submitted.returncode == 0, submitted.stderr

        receipts = read_until_found(
            broker,
            prefix + "deliveries.receipts",
            lambda got: (
                len([r for r in pushes(got, mine.id) if r["status"] == "sent"]) >= 2
                and len(pushes(got, dropped.id)) >= 1
            ),
            120,
            lambda: worker.log_tail(),
        )
        sent = [r for r in pushes(receipts, mine.id) if r["status"] == "sent"]
        assert sorted(r["version"] for r in sent) == [1, 2]  # once per version
        assert pushes(receipts, other.id) == [] and service.attempts(elsewhere) == []

        waiting = service.pending(near)
        assert len(waiting) == 1, "the update replaced the first version still pending (same Topic)"
        (delivered,) = service.deliver(near)
        payload = json.loads(delivered.plaintext)
        assert payload["version"] == 2 and payload["msgType"] == "Update"
        assert payload["title"].startswith("Route D 934") and payload["url"].endswith(".html")
        assert "Vis-en-Artois" in payload["body"]

        assert {r["status"] for r in pushes(receipts, dropped.id)} == {"dead"}
        ended = read_until_found(
            broker,
            prefix + "subscriptions",
            lambda got: any(s.get("id") == dropped.id and s.get("ended_at") for s in got),
            60,
        )
        assert [s["end_reason"] for s in ended if s.get("id") == dropped.id and s.get("ended_at")] == [
            "endpoint_gone"
        ]
    finally:
        service.stop()


def test_a_push_service_s_subscribers_are_paced_together_at_the_configured_rate(
    broker: str,
    prefix: str,
    start_worker: Any,
    worker_env: dict[str, str],
    current_examples: Path,
    tmp_path: Path,
) -> None:
    """60 subscribers on one push service, a webpush rate of 10 a second: the service never
    receives more than the rate plus the bucket's burst in any second, and every one arrives once
    (the rate counts per push service, its lane, not per subscriber)."""
    rate, count = 10, 60
    service = PushService().start()
    try:
        key = generate_key_file(tmp_path / "vapid.pem")
        topics.apply(broker, prefix)
        browsers = [service.subscribe(key.application_server_key) for _ in range(count)]
        for browser in browsers:
            subscribed(broker, prefix, browser, VIS_EN_ARTOIS)
        (tmp_path / "push-ca.pem").write_bytes(service.ca_pem)
        env = {
            **worker_env,
            "ALERTCAST_CHANNELS": json.dumps(["website", "webpush"]),
            "ALERTCAST_CHANNEL_RATES": json.dumps({"webpush": {"posts": rate, "per_s": 1}}),
            "ALERTCAST_VAPID_PRIVATE_KEY_FILE": str(tmp_path / "vapid.pem"),
            "ALERTCAST_VAPID_SUBJECT": "mailto:alertes@departement-exemple.fr",
            "SSL_CERT_FILE": str(tmp_path / "push-ca.pem"),
        }
        worker = start_worker(**env)
        submitted = cli("submit", str(current_examples / "01-road-closure-d934.json"), env=env)
        assert submitted.returncode == 0, submitted.stderr

        receipts = read_until_found(
            broker,
            prefix + "deliveries.receipts",
            lambda got: (
                len([r for r in got if r.get("channel") == "webpush" and r["status"] == "sent"]) >= count
            ),
            120,
            lambda: worker.log_tail(),
        )
        requests = read_until_found(broker, prefix + "deliveries.requests", lambda got: len(got) >= count + 1)
        assert {r["lane"] for r in requests if r["channel"] == "webpush"} == {service.url}  # one lane
        arrivals = sorted(m.received_at for browser in browsers for m in service.pending(browser))
        assert len(arrivals) == count  # every subscriber, once
        busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
        assert busiest <= 2 * rate, (
            f"{busiest} pushes in one second; the rate allows {rate} plus a burst of {rate}"
        )
        assert len({r["account"] for r in receipts if r.get("channel") == "webpush"}) == count
    finally:
        service.stop()
