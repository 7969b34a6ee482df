"""E-mail to subscribers, end to end on a real broker, a real worker and a real SMTP server
(STARTTLS and AUTH): an alert reaches the confirmed subscribers of its commune once per
version, the Update as a reply in the alert's thread, each message with the subscriber's own
one-click unsubscribe link; another commune's subscriber, a daily digest's and an unconfirmed
address get nothing; once unsubscribed, the next alert of the area does not reach the address."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from kafka_io import produce, read_until_found
from servers.smtp import Received, SmtpServer
from test_pipeline_kafka import cli

from alertcast import topics
from alertcast.subscriptions.model import EndReason, Subscription, create
from alertcast.subscriptions.tokens import verify

pytestmark = pytest.mark.kafka

VIS_EN_ARTOIS, ARRAS = "62864", "62041"  # the road closure of the examples is at Vis-en-Artois
SECRET = secrets.token_urlsafe(32)  # as an operator sets it: text


def put(broker: str, prefix: str, subscription: Subscription) -> None:
    value = subscription.model_dump_json().encode()
    produce(broker, prefix + "subscriptions", value, key=subscription.id.encode())


def subscriber(area: str, address: str, *, confirmed: bool = True, digest: str = "immediate") -> Subscription:
    now = datetime.now(UTC)
    made = create(areas=[area], channel="email", email=address, digest=digest, now=now)
    assert isinstance(made, Subscription), made
    if not confirmed:
        return made
    active = made.confirmed(now)
    assert isinstance(active, Subscription), active
    return active


def mails_to(smtp: SmtpServer, address: str) -> list[Received]:
    return [m for m in smtp.messages if m.rcpt_tos == [address]]


def sent(receipts: list[dict[str, Any]], subscription: Subscription) -> list[dict[str, Any]]:
    return [
        r
        for r in receipts
        if r.get("channel") == "email_subscribers"
        and r.get("account") == subscription.id
        and r["status"] == "sent"
    ]


def mail_env(worker_env: dict[str, str], smtp: SmtpServer, **more: str) -> dict[str, str]:
    """A worker writing to subscribers through the real SMTP server."""
    account = {
        "name": "abonnes",
        "host": "127.0.0.1",
        "port": smtp.port,
        "username": smtp.user,
        "password_env": "ALERTCAST_TEST_SMTP_PASSWORD",
        "sender": "Préfecture du Pas-de-Calais <alertes@prefecture.test>",
        "to": ["unused@prefecture.test"],
        "ca_file": str(smtp.cert),
    }
    return {
        **worker_env,
        "ALERTCAST_CHANNELS": json.dumps(["website", "email_subscribers"]),
        "ALERTCAST_EMAIL_ACCOUNTS": json.dumps([account]),
        "ALERTCAST_TEST_SMTP_PASSWORD": smtp.password,
        "ALERTCAST_SUBSCRIBE_EMAIL_ACCOUNT": "abonnes",
        "ALERTCAST_SUBSCRIPTION_SECRET": SECRET,
        "ALERTCAST_SITE_BASE_URL": "https://alertes.departement-exemple.fr",
        "ALERTCAST_DIGEST_HOUR": "off",
        **more,
    }


def test_subscribers_get_their_commune_s_alerts_threaded_and_unsubscribing_stops_them(
    broker: str,
    prefix: str,
    start_worker: Any,
    worker_env: dict[str, str],
    current_examples: Path,
    tmp_path: Path,
) -> None:
    (tmp_path / "smtp").mkdir()
    smtp = SmtpServer(tmp_path / "smtp")
    smtp.start()
    try:
        topics.apply(broker, prefix)
        mine = subscriber(VIS_EN_ARTOIS, "claire@exemple.test")
        neighbour = subscriber(VIS_EN_ARTOIS, "paul@exemple.test")
        other = subscriber(ARRAS, "arras@exemple.test")
        daily = subscriber(VIS_EN_ARTOIS, "digest@exemple.test", digest="daily")
        unconfirmed = subscriber(VIS_EN_ARTOIS, "typo@exemple.test", confirmed=False)
        for subscription in (mine, neighbour, other, daily, unconfirmed):
            put(broker, prefix, subscription)
        env = mail_env(worker_env, smtp)
        worker = start_worker(**env)
        for example in ("01-road-closure-d934.json", "04-road-closure-d934-update.json"):
            submitted = cli("submit", str(current_examples / example), env=env)
            assert submitted.returncode == 0, submitted.stderr

        receipts = read_until_found(
            broker,
            prefix + "deliveries.receipts",
            lambda got: len(sent(got, mine)) >= 2 and len(sent(got, neighbour)) >= 2,
            120,
            lambda: worker.log_tail(),
        )
        assert sorted(r["version"] for r in sent(receipts, mine)) == [1, 2]  # once per version
        assert "claire@exemple.test" not in json.dumps(receipts)  # the receipt names the subscription only

        first, update = (m.message for m in mails_to(smtp, "claire@exemple.test"))
        assert all(m.tls and m.login == smtp.user for m in mails_to(smtp, "claire@exemple.test"))
        assert first["To"] == "claire@exemple.test" and first["Subject"].startswith("Route D 934")
        assert update["Subject"] == "Mise à jour : " + first["Subject"]
        assert update["In-Reply-To"] == first["Message-ID"] and first["Message-ID"] in update["References"]
        unsubscribe = first["List-Unsubscribe"].strip("<>")
        assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert unsubscribe.startswith("https://alertes.departement-exemple.fr/subscribe/unsubscribe?token=")
        token = parse_qs(urlsplit(unsubscribe).query)["token"][0]
        assert verify(token, SECRET.encode(), datetime.now(UTC)) == (mine.id, "unsubscribe")
        text = first.get_body(("plain",))
        html = first.get_body(("html",))
        assert text is not None and html is not None
        assert "Vis-en-Artois" in text.get_content() and unsubscribe in text.get_content()
        assert unsubscribe.replace("&", "&amp;") in html.get_content()
        for nobody in ("arras@exemple.test", "digest@exemple.test", "typo@exemple.test"):
            assert mails_to(smtp, nobody) == []

        # Unsubscribed (what the link's page writes), then a storm warning for the whole département.
        ended = mine.ended(datetime.now(UTC), EndReason.UNSUBSCRIBED)
        assert isinstance(ended, Subscription)
        put(broker, prefix, ended)
        storm = cli("submit", str(current_examples / "03-storm-warning.json"), env=env)
        assert storm.returncode == 0, storm.stderr
        read_until_found(
            broker,
            prefix + "deliveries.receipts",
            lambda got: len(sent(got, neighbour)) >= 3 and len(sent(got, other)) >= 1,
            120,
            lambda: worker.log_tail(),
        )
        assert len(mails_to(smtp, "claire@exemple.test")) == 2  # nothing after unsubscribing
        assert len(mails_to(smtp, "paul@exemple.test")) == 3
    finally:
        smtp.stop()


def test_a_daily_subscriber_gets_one_digest_of_the_day_s_alerts_once_whoever_asks_again(
    broker: str,
    prefix: str,
    start_worker: Any,
    worker_env: dict[str, str],
    current_examples: Path,
    tmp_path: Path,
) -> None:
    """The digest hour is set to midnight, so it is due as soon as a worker leads: a first worker
    without a digest publishes the road closure (the immediate subscriber has it at once), then a
    worker with the digest mails the daily subscriber one message listing it; a third worker asks
    again and the ledger sends nothing more."""
    (tmp_path / "smtp").mkdir()
    smtp = SmtpServer(tmp_path / "smtp")
    smtp.start()
    try:
        topics.apply(broker, prefix)
        daily = subscriber(VIS_EN_ARTOIS, "matin@exemple.test", digest="daily")
        now = subscriber(VIS_EN_ARTOIS, "direct@exemple.test")
        for subscription in (daily, now):
            put(broker, prefix, subscription)
        env = mail_env(worker_env, smtp)
        first = start_worker(**env)
        submitted = cli("submit", str(current_examples / "01-road-closure-d934.json"), env=env)
        assert submitted.returncode == 0, submitted.stderr
        read_until_found(
            broker, prefix + "deliveries.receipts", lambda got: bool(sent(got, now)), 120, first.log_tail
        )
        assert mails_to(smtp, "matin@exemple.test") == []  # a daily subscriber waits for the digest
        first.stop()

        for asked in (1, 2):  # the second worker asks the digest again: its ledger answers, no mail
            worker = start_worker(**mail_env(worker_env, smtp, ALERTCAST_DIGEST_HOUR="0"))
            receipts = read_until_found(
                broker,
                prefix + "deliveries.receipts",
                lambda got, asked=asked: len(sent(got, daily)) >= asked,  # a repeat writes its receipt again
                120,
                worker.log_tail,
            )
            worker.stop()
        (digest,) = [m.message for m in mails_to(smtp, "matin@exemple.test")]
        assert digest["Subject"].startswith("Les alertes du ") and "pour vos communes" in digest["Subject"]
        body = digest.get_body(("plain",))
        assert (
            body is not None and "Route D 934" in body.get_content() and "Vis-en-Artois" in body.get_content()
        )
        assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert {r["delivery_key"] for r in sent(receipts, daily)} == {
            sent(receipts, daily)[0]["delivery_key"]
        }
        assert sent(receipts, daily)[0]["alert_id"].startswith("digest-")
        assert len(mails_to(smtp, "direct@exemple.test")) == 1  # the immediate one had the alert, no digest
    finally:
        smtp.stop()
