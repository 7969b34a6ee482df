"""A real SMTP server (aiosmtpd) that demands STARTTLS and AUTH, for the e-mail adapter's tests.

aiosmtpd's command line has STARTTLS but no AUTH, so it is started through its `Controller`
(its own thread and event loop) with `require_starttls`, `auth_required` and an authenticator
that knows one test user. The certificate is self-signed, made by openssl at start with
subjectAltName DNS:localhost and IP:127.0.0.1; tests give it to the adapter as its CA, so
certificate verification stays on. Every message and every AUTH attempt is recorded with
whether TLS was active, so tests can assert the adapter really used both.
"""

from __future__ import annotations

import email
import email.policy
import secrets
import ssl
import subprocess
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from . import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> EmailMessage:
        # As a mail client reads it: line ends back to \n.
        parsed = email.message_from_bytes(self.data.replace(b"\r\n", b"\n"), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass(frozen=True)
class AuthAttempt:
    mechanism: str
    login: str
    tls: bool
    accepted: bool


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.unknown: set[str] = set()  # addresses refused for good at RCPT, as a bounce would be

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.unknown:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        content = envelope.original_content or b""
        self.messages.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                data=content,
                tls=session.ssl is not None,
                login=login,
            )
        )
        return "250 2.0.0 Message accepted"


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()
        self.attempts: list[AuthAttempt] = []

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and secrets.compare_digest(auth_data.login, self.user)
            and secrets.compare_digest(auth_data.password, self.password)
        )
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?"
        self.attempts.append(AuthAttempt(mechanism, login, session.ssl is not None, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate valid for localhost and 127.0.0.1 (cert, key)."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class SmtpServer:
    """One running server on 127.0.0.1; `messages` and `auth_attempts` are what it saw."""

    user = "alertes@prefecture.test"

    def __init__(self, folder: Path) -> None:
        self.password = secrets.token_urlsafe(12)
        self.cert, key = make_certificate(folder)
        self.port = free_port()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self._mailbox = _Mailbox()
        self._authenticator = _Authenticator(self.user, self.password)
        self._controller = Controller(
            self._mailbox,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=self._authenticator,
        )

    @property
    def messages(self) -> list[Received]:
        return self._mailbox.messages

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        return self._authenticator.attempts

    def refuse(self, address: str) -> None:
        """Answer 550 (no such user) to this recipient from now on."""
        self._mailbox.unknown.add(address.lower())

    def start(self) -> None:
        self._controller.start()  # returns once the server answers its greeting

    def stop(self) -> None:
        self._controller.stop()
