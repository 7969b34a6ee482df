"""The confirmation mail through a real SMTP server (aiosmtpd: STARTTLS and AUTH required),
with the e-mail channel's account: it reaches the subscriber, and only the subscriber (never
the account's own distribution lists), with its confirm and one-click unsubscribe links."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from alertcast.channels.email import EmailAccount
from alertcast.settings import Settings
from alertcast.web.subscribe_mail import SmtpMailer, confirmation

if TYPE_CHECKING:  # aiosmtpd is imported by the fixture only: other tiers collect this file
    from servers.smtp import SmtpServer

pytestmark = pytest.mark.servers

LISTS = ["population@listes.prefecture.test"]


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    from servers.smtp import SmtpServer

    server = SmtpServer(tmp_path_factory.mktemp("smtp"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_the_confirmation_reaches_the_subscriber_alone_over_tls(
    smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    variable = f"ALERTCAST_TEST_SMTP_PASSWORD_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(variable, smtp.password)
    entry = {
        "name": "abonnements",
        "host": "127.0.0.1",
        "port": smtp.port,
        "username": smtp.user,
        "password_env": variable,
        "sender": "Alertes de la ville <alertes@prefecture.test>",
        "to": LISTS,
        "ca_file": str(smtp.cert),
    }
    settings = Settings(_env_file=None, email_accounts=[entry], subscribe_email_account="abonnements")
    mailer = SmtpMailer.from_settings(settings)
    assert mailer is not None
    message = confirmation(
        sender=mailer.sender,
        to="camille@exemple.test",
        language="fr",
        areas=["Beuvry (62660)"],
        confirm_url="https://alertes.test/subscribe/confirm?token=confirm.x",
        unsubscribe_url="https://alertes.test/subscribe/unsubscribe?token=unsubscribe.x",
    )
    await mailer.send(message, "camille@exemple.test")

    [mail] = [m for m in smtp.messages if m.message["Message-ID"].strip() == message["Message-ID"]]
    assert mail.tls and mail.login == smtp.user
    assert mail.rcpt_tos == ["camille@exemple.test"]  # not the account's lists
    received = mail.message
    assert (
        received["To"] == "camille@exemple.test"
        and received["Subject"] == "Confirmez votre abonnement aux alertes"
    )
    assert (
        received["List-Unsubscribe"].strip()
        == "<https://alertes.test/subscribe/unsubscribe?token=unsubscribe.x>"
    )
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://alertes.test/subscribe/confirm?token=confirm.x" in received.get_content()
    assert EmailAccount.model_validate(entry).to == LISTS  # the account itself is unchanged
