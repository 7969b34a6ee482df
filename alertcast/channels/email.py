"""E-mail to distribution lists, over SMTP submission with STARTTLS and AUTH.

One account = one submission server login sending to one set of list addresses. The password
comes from an environment variable or a secret file, read when needed, never logged nor put in
an error message. The server's certificate is verified (system CAs, or `ca_file`); STARTTLS is
mandatory: a server that does not offer it gets no credentials.

stdlib `smtplib` run in a thread (`asyncio.to_thread`), not aiosmtplib: one short session per
delivery does not need an async client, and it keeps the dependency list unchanged.

Threading: the first message's Message-ID is derived from its delivery key; an update or an end
is a new message with `In-Reply-To` (the latest message) and `References` (the first one, then
the latest), and a subject "Mise à jour : ..." / "Fin d'alerte : ..." built on the first
subject, so readers see the state in their inbox list and mail clients group the alert.

Crash safety: SMTP offers no way to ask whether a message was accepted, so `find_existing`
raises `LookupUnsupported` and a person decides. A message sent again carries the same
Message-ID (and `X-Alertcast-Delivery`), so archives and clients that drop duplicate Message-IDs
show it once, and a person can tell it is the same delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alertcast.channels.account import (
    Accounts,
    Secret,
    headline_of,
    is_exercise,
    language_of,
    text_as_rendered,
)
from alertcast.channels.base import AccountHealth, LookupUnsupported
from alertcast.clock import clock
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.errors import ConfigurationError
from alertcast.models.alert import DeliveryRequest
from alertcast.models.post import PostResult
from alertcast.render.compose import END_LABELS, EXERCISE_LABELS
from alertcast.replies.actions import ReplyAction
from alertcast.settings import Settings

#: What an update's and an end's subject start with, per language.
#: The subject of an answer to a citizen (their own subject is not kept with their reply).
ANSWER_SUBJECT = "Re: votre message"
SUBJECT_STATES = {
    "update": {"fr": "Mise à jour : ", "en": "Update: "},
    "end": {"fr": "Fin d'alerte : ", "en": "End of alert: "},
}


class EmailAccount(BaseModel):
    """One SMTP submission login and the list addresses it sends to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="account id in deliveries")
    host: str = Field(min_length=1, description="submission server")
    port: int = Field(default=587, ge=1, le=65535, description="submission port (STARTTLS)")
    username: str = Field(min_length=1)
    password_env: str | None = Field(default=None, description="environment variable holding the password")
    password_file: Path | None = Field(default=None, description="file holding the password (a secret mount)")
    sender: str = Field(description='From: "Préfecture du Nord <alertes@nord.gouv.fr>"')
    to: list[str] = Field(min_length=1, description="distribution list addresses")
    ca_file: Path | None = Field(default=None, description="CA bundle to trust instead of the system's")
    html: bool = Field(default=False, description="add an HTML alternative (escaped text)")
    exercise: bool = Field(default=False, description="may receive Exercise/Test messages")
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("sender")
    @classmethod
    def _sender_has_domain(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError("sender needs an address with a domain (it also names the Message-IDs)")
        return value

    @model_validator(mode="after")
    def _one_password_source(self) -> EmailAccount:
        self._password().check()
        return self

    def _password(self) -> Secret:
        return Secret("password", self.password_env, self.password_file, keep_spaces=True)

    @property
    def domain(self) -> str:
        return parseaddr(self.sender)[1].rsplit("@", 1)[1]

    def where(self) -> str:
        return f"e-mail account {self.name} ({self.username} at {self.host}:{self.port})"

    def password_source(self) -> str:
        return self._password().source()

    def password(self) -> str:
        """Read now, so a rotated secret is used without a restart."""
        return self._password().read(self.where())


def message_id(delivery_key: str, domain: str) -> str:
    """Stable per delivery: the same delivery sent again carries the same Message-ID."""
    return f"<alertcast.{hashlib.sha256(delivery_key.encode()).hexdigest()[:32]}@{domain}>"


def topic_of(request: DeliveryRequest, previous: PostResult | None) -> str:
    """The alert's subject without state: the first message's, so every message reads alike."""
    if previous is not None and previous.details.get("topic"):
        return str(previous.details["topic"])
    topic = " ".join(headline_of(request).split()) or END_LABELS[language_of(request)]
    if is_exercise(request):
        topic = f"[{EXERCISE_LABELS[language_of(request)]}] {topic}"
    return topic


def build_message(
    account: EmailAccount,
    request: DeliveryRequest,
    subject: str,
    previous: PostResult | None,
    footer: str = "",
) -> EmailMessage:
    """`footer`: a last paragraph after the rendered text (a subscriber's unsubscribe link)."""
    text = text_as_rendered(request) + (f"\n\n-- \n{footer}" if footer else "")
    message = EmailMessage()
    message["From"] = account.sender
    message["To"] = ", ".join(account.to)
    message["Subject"] = subject
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = message_id(request.delivery_key, account.domain)
    if previous is not None:
        root = previous.post_id or ""
        latest = str(previous.details.get("latest", {}).get("post_id") or root)
        message["In-Reply-To"] = latest
        message["References"] = " ".join(dict.fromkeys(i for i in (root, latest) if i))
    message["Content-Language"] = language_of(request)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the list
    message["X-Alertcast-Delivery"] = request.delivery_key
    message.set_content(text)
    if account.html:
        lines = "<br>\n".join(html.escape(line) for line in text.split("\n"))
        message.add_alternative(
            f"<!doctype html>\n<html><body><p>{lines}</p></body></html>\n", subtype="html"
        )
    return message


class EmailChannel:
    id = "email"

    def __init__(self, accounts: Sequence[EmailAccount]) -> None:
        self._accounts = Accounts("e-mail", accounts)

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def account(self, name: str) -> EmailAccount:
        return self._accounts.named(name)

    async def publish(self, request: DeliveryRequest) -> PostResult:
        account = self._accounts.for_request(request, "sent")
        topic = topic_of(request, None)
        return await self._send(account, build_message(account, request, topic, None), topic)

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """A reply in the alert's thread: mail cannot be edited once delivered."""
        return await self._reply(request, previous, "update")

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        return await self._reply(request, previous, "end")

    async def _reply(self, request: DeliveryRequest, previous: PostResult, state: str) -> PostResult:
        account = self._accounts.for_request(request, "sent")
        topic = topic_of(request, previous)
        subject = SUBJECT_STATES[state][language_of(request)] + topic
        return await self._send(account, build_message(account, request, subject, previous), topic)

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        same = message_id(request.delivery_key, self.account(request.account).domain)
        raise LookupUnsupported(
            "SMTP cannot say whether a message was accepted before a crash; "
            f"a message sent again would carry the same Message-ID {same}"
        )

    # --- answering a citizen's e-mail (alertcast.replies.actions; nothing to hide in mail) ----

    async def answer(self, action: ReplyAction) -> PostResult:
        """A mail to the citizen in their thread: `In-Reply-To` their message, `References` the
        thread's first one then theirs, a Message-ID from the action's id (sent again, it is
        the same message to clients that drop duplicates)."""
        account = self.account(action.account or next(iter(self._accounts), ""))
        address = parseaddr(action.author)[1]
        if "@" not in address:
            raise PermanentError(f"{account.where()}: no address to answer ({action.author!r})")
        message = EmailMessage()
        message["From"] = account.sender
        message["To"] = address
        message["Subject"] = ANSWER_SUBJECT
        message["Date"] = format_datetime(clock.now())
        message["Message-ID"] = message_id(action.action_id, account.domain)
        message["In-Reply-To"] = f"<{action.target}>"
        message["References"] = " ".join(
            f"<{i}>" for i in dict.fromkeys((action.conversation, action.target))
        )
        message["Content-Language"] = "fr"
        message["X-Alertcast-Action"] = action.action_id
        message.set_content(action.text or "")
        return await self._send(account.model_copy(update={"to": [address]}), message, ANSWER_SUBJECT)

    async def find_answer(self, action: ReplyAction) -> PostResult | None:
        account = self.account(action.account or next(iter(self._accounts), ""))
        raise LookupUnsupported(
            "SMTP cannot say whether a message was accepted before a crash; sent again, the answer "
            f"would carry the same Message-ID {message_id(action.action_id, account.domain)}"
        )

    async def check(self, account: str) -> AccountHealth:
        """Connect, STARTTLS (certificate verified), AUTH, NOOP, QUIT: never sends."""
        health = AccountHealth(channel=self.id, account=account, ok=False)
        try:
            config = self.account(account)
            await asyncio.to_thread(smtp_session, config, config.password(), None)
        except PermanentError as error:
            return health.model_copy(update={"can_post": False, "problem": str(error)})
        except TransientError as error:
            return health.model_copy(update={"problem": str(error)})
        return health.model_copy(update={"ok": True, "can_post": True})

    async def aclose(self) -> None:
        """Nothing held open: each delivery is one SMTP session."""

    async def _send(self, account: EmailAccount, message: EmailMessage, topic: str) -> PostResult:
        refused = await asyncio.to_thread(smtp_session, account, account.password(), message)
        return PostResult(
            post_id=str(message["Message-ID"]),
            url=None,
            details={
                "subject": str(message["Subject"]),
                "topic": topic,
                "to": list(account.to),
                # accepted for some lists, refused for others: sent, but worth a look
                "refused": {
                    rcpt: f"{code} {reply.decode(errors='replace')}"
                    for rcpt, (code, reply) in refused.items()
                },
            },
        )


def subscribe_account(settings: Settings) -> EmailAccount | None:
    """The account that writes to subscribers (`subscribe_email_account`: confirmation mails and
    alerts); None when none is named. A name that is not an account is refused at start."""
    name = settings.subscribe_email_account
    if not name:
        return None
    for entry in settings.email_accounts:
        if entry.get("name") == name:
            return EmailAccount.model_validate(entry)
    raise ConfigurationError(
        f"ALERTCAST_SUBSCRIBE_EMAIL_ACCOUNT names {name!r}, which is not in ALERTCAST_EMAIL_ACCOUNTS"
    )


class RecipientsRefused(PermanentError):
    """The server refuses the recipients for good (5xx): the address, not the account, is wrong."""


async def send_to_one(account: EmailAccount, password: str, message: EmailMessage, to: str) -> None:
    """`message` to one address through `account` (its own list replaced by `to`); a refused
    address is `RecipientsRefused`, whether the server refused it alone or "some" of one. The
    subscribers' mails and the subscribe pages' confirmations both."""
    refused = await asyncio.to_thread(
        smtp_session, account.model_copy(update={"to": [to]}), password, message
    )
    if refused:
        raise RecipientsRefused(f"{account.where()}: the server refused the recipient")


def smtp_session(
    account: EmailAccount, password: str, message: EmailMessage | None
) -> dict[str, tuple[int, bytes]]:
    """One SMTP session: STARTTLS, AUTH, then send `message` (or only NOOP). Runs in a thread.
    Returns the recipients the server refused when it accepted others. Public: the subscribe
    endpoints send their confirmation mails through it too (alertcast.web.subscribe_mail)."""
    context = ssl.create_default_context(cafile=str(account.ca_file) if account.ca_file else None)
    try:
        with smtplib.SMTP(
            account.host, account.port, local_hostname=account.domain, timeout=account.timeout_s
        ) as smtp:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise PermanentError(
                    f"{account.where()}: the server does not offer STARTTLS; "
                    "credentials are never sent unencrypted"
                )
            smtp.starttls(context=context)
            smtp.ehlo()
            smtp.login(account.username, password)
            if message is None:
                code, reply = smtp.noop()
                if code != 250:
                    raise smtplib.SMTPResponseException(code, reply)
                return {}
            return smtp.send_message(message, from_addr=parseaddr(account.sender)[1], to_addrs=account.to)
    except (PermanentError, TransientError):
        raise
    except Exception as error:
        raise classify(account, error) from None


def classify(account: EmailAccount, error: Exception) -> TransientError | PermanentError:
    """What a retry can fix (4xx, connection trouble) and what it cannot (5xx, refused login,
    untrusted certificate). Messages carry the server's reply, never the password."""
    where = account.where()
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = {rcpt: code for rcpt, (code, _) in error.recipients.items()}
        said = ", ".join(f"{rcpt}: {code}" for rcpt, code in codes.items())
        if all(400 <= code < 500 for code in codes.values()):
            return TransientError(f"{where}: recipients deferred ({said})")
        return RecipientsRefused(f"{where}: recipients refused ({said})")
    if isinstance(error, smtplib.SMTPResponseException):
        reply = _reply_text(error.smtp_error)
        if isinstance(error, smtplib.SMTPAuthenticationError) and error.smtp_code >= 500:
            return PermanentError(
                f"{where}: login refused ({error.smtp_code} {reply}); check the password in "
                f"{account.password_source()}"
            )
        kind = TransientError if 400 <= error.smtp_code < 500 else PermanentError
        return kind(f"{where}: the server answered {error.smtp_code} {reply}")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return TransientError(f"{where}: the server closed the connection ({error})")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return PermanentError(f"{where}: {error}")
    if isinstance(error, ssl.SSLCertVerificationError):
        return PermanentError(
            f"{where}: the server's certificate is not trusted ({error.verify_message}); "
            "set ca_file to the CA that signed it"
        )
    if isinstance(error, OSError):  # refused, unreachable, timed out, TLS handshake cut
        return TransientError(f"{where}: {type(error).__name__}: {error}")
    return PermanentError(f"{where}: {type(error).__name__}: {error}")


def _reply_text(reply: Any) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:300]
