"""The e-mail adapter against a real SMTP server (aiosmtpd, STARTTLS and AUTH required).

Messages are read back from the server's mailbox, with what the server saw of the session
(TLS active, who logged in).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from channel_requests import delivery_request
from servers import free_port

from alertcast.channels.base import LookupUnsupported, PostResult
from alertcast.channels.email import EmailAccount, EmailChannel, RecipientsRefused, message_id
from alertcast.channels.email_subscribers import SubscriberEmailChannel
from alertcast.delivery.ledger import in_thread
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.models.incident import MsgType, Status
from alertcast.subscriptions.model import EndReason, Subscription, create

if TYPE_CHECKING:  # aiosmtpd is imported by the fixture only: other tiers collect this file
    from servers.smtp import Received, SmtpServer

pytestmark = pytest.mark.servers

LISTS = ["population@listes.prefecture.test", "mairies@listes.prefecture.test"]


@pytest.fixture(scope="session")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    from servers.smtp import SmtpServer

    server = SmtpServer(tmp_path_factory.mktemp("smtp"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def password_env(monkeypatch: pytest.MonkeyPatch, smtp: SmtpServer) -> str:
    name = f"ALERTCAST_TEST_SMTP_PASSWORD_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(name, smtp.password)
    return name


def account(smtp: SmtpServer, secret_env: str, **extra: Any) -> EmailAccount:
    settings: dict[str, Any] = {
        "name": "prefecture",
        "host": "127.0.0.1",
        "port": smtp.port,
        "username": smtp.user,
        "password_env": secret_env,
        "sender": "Préfecture du Pas-de-Calais <alertes@prefecture.test>",
        "to": LISTS,
        "ca_file": smtp.cert,
        **extra,
    }
    return EmailAccount.model_validate(settings)


@pytest.fixture
def channel(smtp: SmtpServer, password_env: str) -> EmailChannel:
    return EmailChannel(
        [
            account(smtp, password_env),
            account(smtp, password_env, name="exercises", exercise=True, html=True),
        ]
    )


request = partial(delivery_request, "email")


def received(smtp: SmtpServer, post: PostResult) -> list[Received]:
    return [m for m in smtp.messages if m.message["Message-ID"] == post.post_id]


async def test_publish_is_read_back_from_the_mailbox_sent_over_tls_with_auth(
    channel: EmailChannel, smtp: SmtpServer
) -> None:
    text = "Vents violents à Arras.\nRestez chez vous.\nSource : préfecture du Pas-de-Calais"
    delivery = request(text)
    attempts_before = len(smtp.auth_attempts)
    post = await channel.publish(delivery)

    [mail] = received(smtp, post)
    assert mail.tls, "the message was not sent inside STARTTLS"
    assert mail.login == smtp.user, "the message was not sent after AUTH"
    assert mail.mail_from == "alertes@prefecture.test"
    assert sorted(mail.rcpt_tos) == sorted(LISTS)
    message = mail.message
    assert post.post_id == message_id(delivery.delivery_key, "prefecture.test")
    assert message["Subject"] == "Vents violents à Arras"
    assert message["From"] == "Préfecture du Pas-de-Calais <alertes@prefecture.test>"
    assert message["X-Alertcast-Delivery"] == delivery.delivery_key
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["In-Reply-To"] is None
    body = message.get_body(("plain",))
    assert body is not None and body.get_content().rstrip("\n") == text
    [attempt] = smtp.auth_attempts[attempts_before:]
    assert attempt.accepted and attempt.tls and attempt.login == smtp.user


async def test_update_and_end_are_replies_in_the_first_message_thread(
    channel: EmailChannel, smtp: SmtpServer
) -> None:
    first = request("Route D917 fermée à Arras.")
    root = await channel.publish(first)
    change = request("Route D917 rouverte sur une voie.", 2, MsgType.UPDATE, alert_id=first.alert_id)
    updated = await channel.update(change, in_thread(root, root))
    ending = request("FIN D'ALERTE – route D917 rouverte.", 3, MsgType.CANCEL, alert_id=first.alert_id)
    ended = await channel.end(ending, in_thread(root, updated))

    [update_mail] = received(smtp, updated)
    assert update_mail.message["In-Reply-To"] == root.post_id
    assert update_mail.message["References"] == root.post_id
    assert update_mail.message["Subject"] == "Mise à jour : Vents violents à Arras"
    [end_mail] = received(smtp, ended)
    assert end_mail.message["In-Reply-To"] == updated.post_id
    assert end_mail.message["References"] == f"{root.post_id} {updated.post_id}"
    assert end_mail.message["Subject"] == "Fin d'alerte : Vents violents à Arras"
    assert len({root.post_id, updated.post_id, ended.post_id}) == 3


async def test_the_same_delivery_sent_again_carries_the_same_message_id(
    channel: EmailChannel, smtp: SmtpServer
) -> None:
    """SMTP cannot be asked; what it can do is make a duplicate recognisable."""
    delivery = request("Route D917 fermée.")
    first = await channel.publish(delivery)
    again = await channel.publish(delivery)
    assert first.post_id == again.post_id
    assert [m.message["Message-ID"] for m in received(smtp, first)] == [first.post_id] * 2
    with pytest.raises(LookupUnsupported, match="same Message-ID"):
        await channel.find_existing(delivery)


async def test_an_exercise_is_labelled_and_refused_on_a_public_account(
    channel: EmailChannel, smtp: SmtpServer
) -> None:
    count = len(smtp.messages)
    with pytest.raises(PermanentError, match="exercise: false"):
        await channel.publish(request("EXERCICE\nTempête.", status=Status.EXERCISE))
    assert len(smtp.messages) == count

    post = await channel.publish(request("Tempête à Arras <b>.", status=Status.TEST, account="exercises"))
    [mail] = received(smtp, post)
    assert mail.message["Subject"] == "[EXERCICE] Vents violents à Arras"
    plain = mail.message.get_body(("plain",))
    assert plain is not None and plain.get_content().startswith("EXERCICE\nTempête à Arras <b>.")
    rich = mail.message.get_body(("html",))
    assert rich is not None and "EXERCICE<br>\nTempête à Arras &lt;b&gt;." in rich.get_content()


async def test_wrong_password_is_permanent_and_never_shown(
    smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "not-the-password-" + uuid.uuid4().hex
    monkeypatch.setenv("ALERTCAST_TEST_WRONG", wrong)
    adapter = EmailChannel([account(smtp, "ALERTCAST_TEST_WRONG")])
    count = len(smtp.messages)
    with pytest.raises(PermanentError, match="login refused") as refused:
        await adapter.publish(request("Route fermée."))
    assert "535" in str(refused.value) and "ALERTCAST_TEST_WRONG" in str(refused.value)
    assert wrong not in str(refused.value) and smtp.password not in str(refused.value)
    assert len(smtp.messages) == count
    assert smtp.auth_attempts[-1].accepted is False and smtp.auth_attempts[-1].tls


async def test_server_down_is_transient(smtp: SmtpServer, password_env: str) -> None:
    adapter = EmailChannel([account(smtp, password_env, port=free_port())])
    with pytest.raises(TransientError, match="ConnectionRefusedError"):
        await adapter.publish(request("Route fermée."))
    health = await adapter.check("prefecture")
    assert not health.ok and health.problem and "ConnectionRefusedError" in health.problem


async def test_an_untrusted_certificate_is_refused(smtp: SmtpServer, password_env: str) -> None:
    """Verification is on by default: without the CA, the self-signed server is not trusted."""
    adapter = EmailChannel([account(smtp, password_env, ca_file=None)])
    count = len(smtp.messages)
    with pytest.raises(PermanentError, match=r"not trusted.*ca_file"):
        await adapter.publish(request("Route fermée."))
    assert len(smtp.messages) == count


async def test_check_good_and_bad_credentials_never_sends(
    channel: EmailChannel, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    count = len(smtp.messages)
    health = await channel.check("prefecture")
    assert health.ok and health.can_post, health.problem
    assert smtp.auth_attempts[-1].accepted and smtp.auth_attempts[-1].tls

    monkeypatch.setenv("ALERTCAST_TEST_BAD", "nope")
    bad = await EmailChannel([account(smtp, "ALERTCAST_TEST_BAD")]).check("prefecture")
    assert not bad.ok and bad.can_post is False
    assert bad.problem and "login refused" in bad.problem and "nope" not in bad.problem

    secret = tmp_path / "smtp-password"
    secret.write_text(smtp.password + "\n")
    from_file = account(smtp, "unused", password_env=None, password_file=secret)
    assert (await EmailChannel([from_file]).check("prefecture")).ok
    assert len(smtp.messages) == count


async def test_a_subscriber_whose_address_is_refused_is_ended_as_bounced_and_sent_nothing(
    smtp: SmtpServer, password_env: str
) -> None:
    """A 550 at RCPT is for good: the delivery fails permanently (no retry) and the
    subscription ends as bounced, so the next alert does not try the address again."""
    address = f"gone-{uuid.uuid4().hex[:6]}@commune.test"
    smtp.refuse(address)
    subscription = create(areas=["62041"], channel="email", email=address, now=datetime.now(UTC))
    assert isinstance(subscription, Subscription)
    channel = SubscriberEmailChannel(account(smtp, password_env), lambda sid: f"https://alertes.test/u/{sid}")
    channel.lookup = {subscription.id: subscription}.get
    gone: list[tuple[str, EndReason]] = []

    async def on_gone(ended: Subscription, reason: EndReason) -> None:
        gone.append((ended.id, reason))

    channel.on_gone = on_gone
    request = delivery_request("email_subscribers", "Vents violents", account=subscription.id)
    with pytest.raises(RecipientsRefused, match="550"):
        await channel.publish(request)
    assert gone == [(subscription.id, EndReason.BOUNCED)]
    assert not [m for m in smtp.messages if address in m.rcpt_tos]
