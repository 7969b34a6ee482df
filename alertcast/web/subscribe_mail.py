"""The confirmation mail of an e-mail subscription (double opt-in), sent when the citizen asks.

Sent by the web process itself, not through the worker's delivery path: it answers a request
the citizen is waiting on ("check your mailbox"), concerns no alert, and a failure must be
told to that citizen now (try again, or check the address) rather than retried in their
absence. It goes out through the body's own SMTP submission account, one of the e-mail
channel's accounts (`ALERTCAST_SUBSCRIBE_EMAIL_ACCOUNT` names it), with the same session
code: STARTTLS required, certificate verified, the password read when needed and never shown.

The message carries the confirm link, and the unsubscribe link with RFC 8058's headers: a
person who never asked can end it at once, and their mail client offers the button.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol

from alertcast.channels.email import EmailAccount, RecipientsRefused, send_to_one, subscribe_account
from alertcast.clock import clock
from alertcast.delivery.retry import PermanentError
from alertcast.settings import Settings

_TEXT = {
    "fr": {
        "subject": "Confirmez votre abonnement aux alertes",
        "body": (
            "Bonjour,\n\n"
            "Une demande d'abonnement aux alertes par e-mail a été faite avec cette adresse, pour :\n"
            "{areas}\n\n"
            "Pour la confirmer, ouvrez ce lien dans les 48 heures :\n{confirm}\n\n"
            "Si vous n'avez rien demandé, ignorez ce message : sans confirmation, l'adresse est "
            "oubliée après 48 heures. Pour annuler tout de suite :\n{unsubscribe}\n"
        ),
    },
    "en": {
        "subject": "Confirm your subscription to alerts",
        "body": (
            "Hello,\n\n"
            "Someone asked, with this address, to receive alerts by e-mail for:\n"
            "{areas}\n\n"
            "To confirm, open this link within 48 hours:\n{confirm}\n\n"
            "If you did not ask, ignore this message: without a confirmation the address is "
            "forgotten after 48 hours. To cancel now:\n{unsubscribe}\n"
        ),
    },
}


class AddressRefused(PermanentError):
    """The mail server refuses the subscriber's address for good: the citizen should check it."""


class Mailer(Protocol):
    """Sends one message to one address; raises `TransientError` (try later) or
    `PermanentError` (this address or this account will not work)."""

    sender: str

    async def send(self, message: EmailMessage, to: str) -> None: ...


class SmtpMailer:
    """One SMTP session per message through the e-mail channel's account."""

    def __init__(self, account: EmailAccount) -> None:
        self._account = account
        self.sender = account.sender

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer | None:
        """The account `subscribe_email_account` names; None when it names none (the page then
        offers no e-mail)."""
        account = subscribe_account(settings)
        return cls(account) if account is not None else None

    async def send(self, message: EmailMessage, to: str) -> None:
        try:
            await send_to_one(self._account, self._account.password(), message, to)
        except RecipientsRefused as error:
            raise AddressRefused(str(error)) from None


def confirmation(
    *,
    sender: str,
    to: str,
    language: str,
    areas: Sequence[str],
    confirm_url: str,
    unsubscribe_url: str,
) -> EmailMessage:
    """The double opt-in message: plain text (links are what it is for), one-click unsubscribe."""
    text = _TEXT.get(language, _TEXT["fr"])
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = text["subject"]
    message["Date"] = format_datetime(clock.now())
    domain = sender.rpartition("@")[2].strip(" >") or None
    message["Message-ID"] = make_msgid(domain=domain)  # short: a folded Message-ID reads badly
    message["Content-Language"] = language
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    listed = "\n".join(f"- {area}" for area in areas)
    message.set_content(text["body"].format(areas=listed, confirm=confirm_url, unsubscribe=unsubscribe_url))
    return message
