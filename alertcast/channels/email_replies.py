"""Replies to our alert e-mails, read over IMAP: the e-mail channel's reading half.

Here, not in `alertcast/replies/`, because that package is the pure core and
`alertcast/channels/` is the only code that talks to a network (README); beside `email.py`
because the threading it undoes (Message-IDs, In-Reply-To, References) is that module's.
The message -> Reply part is pure and lives in `email_parsing`.

One poll = one IMAP session (TLS verified, or STARTTLS, never credentials in clear): log in
with the password from its env variable or secret file (read now, never logged, scrubbed from
every error text), EXAMINE the mailbox (read-only: the \\Seen flags people rely on are left
alone, BODY.PEEK), fetch the messages whose UID is above the cursor, oldest first, at most
`batch` of them. imap-tools (imaplib underneath) run in a thread, like `email.py`'s smtplib:
one short session per poll needs no async client. Parsing runs back in the caller's loop, so
`alert_of` and `seen` may read the caller's tables.

The cursor (`ImapCursor`) is the mailbox's UIDVALIDITY and the last UID read; the caller
persists it (in Kafka) after the replies are produced: a crash in between reads them again,
and `seen` drops what was already produced. A UIDVALIDITY change (mailbox restored, moved,
recreated) renumbers every message: the reader starts over from UID 1, and replies keep the
id they had (the Message-ID, or a digest of the message's bytes), so `seen` drops those
already produced: a restart from the start without repeats. Without `seen`, the consumer of
the replies must drop ids it already has.

A message bigger than `max_message_bytes` is read from its first bytes (headers and the start
of the text, marked cut). Nothing read is dropped silently: a message is a reply, or skipped
with its reason (automatic mail, our own alert mail, gone before it was read), logged and
returned in `ReplyBatch.skipped`; a message the parser chokes on becomes a reply carrying its
raw text.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import imaplib
import logging
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from imap_tools import MailBox, MailBoxStartTls
from imap_tools.errors import MailboxFolderSelectError, MailboxLoginError, UnexpectedCommandStatusError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from alertcast.channels.account import Secret
from alertcast.channels.email_parsing import TEXT_LIMIT, AlertOf, Received, Skipped, to_reply
from alertcast.clock import clock
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.replies.model import Reply, reply_id

log = logging.getLogger(__name__)

#: IMAP response codes (RFC 5530) that say "later", not "never".
TRANSIENT_CODES = ("UNAVAILABLE", "INUSE", "LIMIT", "SERVERBUG", "OVERQUOTA", "EXPUNGEISSUED")


class ImapAccount(BaseModel):
    """One mailbox where replies to an e-mail account's alerts arrive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="account id (cursor key)")
    host: str = Field(min_length=1)
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["tls", "starttls"] = Field(
        default="tls", description="tls: IMAPS (port 993, RFC 8314); starttls: port 143 then STARTTLS"
    )
    username: str = Field(min_length=1)
    password_env: str | None = Field(default=None, description="environment variable holding the password")
    password_file: Path | None = Field(default=None, description="file holding the password (a secret mount)")
    mailbox: str = Field(default="INBOX", min_length=1)
    ca_file: Path | None = Field(default=None, description="CA bundle to trust instead of the system's")
    timeout_s: float = Field(default=10.0, gt=0)
    max_message_bytes: int = Field(default=1_000_000, ge=10_000, description="bigger: read from its start")
    batch: int = Field(default=100, ge=1, le=1000, description="messages per poll at most")
    first_read: Literal["all", "new"] = Field(
        default="all", description="with no cursor yet: every message, or only those arriving from now"
    )

    @model_validator(mode="after")
    def _one_password_source(self) -> ImapAccount:
        self._password().check()
        return self

    def _password(self) -> Secret:
        return Secret("password", self.password_env, self.password_file, keep_spaces=True)

    def where(self) -> str:
        return f"IMAP account {self.name} ({self.username} at {self.host}:{self.port}, {self.mailbox})"

    def password_source(self) -> str:
        return self._password().source()

    def password(self) -> str:
        """Read now, so a rotated secret is used without a restart."""
        return self._password().read(self.where())


class ImapCursor(BaseModel):
    """How far one mailbox has been read. Persisted by the caller, keyed by `account`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str
    mailbox: str = "INBOX"
    uidvalidity: int | None = Field(default=None, ge=1, description="None: never read")
    last_uid: int = Field(default=0, ge=0)


@dataclass(frozen=True)
class ReplyBatch:
    replies: list[Reply]
    cursor: ImapCursor  #: persist it once the replies are produced
    skipped: list[Skipped] = field(default_factory=list)
    #: the UIDVALIDITY the cursor had, when the mailbox changed and was read again from the start
    restarted_from: int | None = None
    #: more messages wait beyond this batch: poll again without waiting for the interval
    more: bool = False


@dataclass(frozen=True)
class _Fetched:
    received: list[Received]
    gone: list[Skipped]
    cursor: ImapCursor
    restarted_from: int | None
    more: bool


async def read_replies(
    account: ImapAccount,
    cursor: ImapCursor | None,
    alert_of: AlertOf,
    seen: Callable[[str], bool] | None = None,
) -> ReplyBatch:
    """The replies that arrived after `cursor` (None: never read), and the cursor to persist.
    Raises TransientError (retry with the one retry policy) or PermanentError (fix the
    configuration); neither carries the password."""
    start = cursor or ImapCursor(account=account.name, mailbox=account.mailbox)
    password = account.password()
    fetched = await asyncio.to_thread(_fetch, account, password, start)
    replies: list[Reply] = []
    skipped = list(fetched.gone)
    now = clock.now()
    for received in fetched.received:
        try:
            outcome = to_reply(received, alert_of, now)
        except Exception as error:  # the parser's bug must not lose a citizen's message
            log.exception("%s: could not be parsed; kept with its raw text", received.where)
            outcome = _raw_reply(received, error, now)
        if isinstance(outcome, Skipped):
            log.info("%s skipped: %s", outcome.where, outcome.reason)
            skipped.append(outcome)
        elif seen is not None and seen(outcome.id):
            log.info("%s: reply %s already produced, not repeated", received.where, outcome.id)
        else:
            replies.append(outcome)
    return ReplyBatch(replies, fetched.cursor, skipped, fetched.restarted_from, fetched.more)


def _raw_reply(received: Received, error: Exception, now: datetime) -> Reply:
    digest = "sha256-" + hashlib.sha256(received.raw).hexdigest()[:32]
    text = received.raw.decode("utf-8", "replace")[:TEXT_LIMIT]
    return Reply(
        id=reply_id("email", digest),
        network="email",
        author="unknown",
        text=f"(message not understood: {type(error).__name__}; raw text follows)\n{text}",
        at=received.internal_date or now,
        conversation=digest,
    )


# --- the IMAP session (runs in a thread) --------------------------------------------------------


def _fetch(account: ImapAccount, password: str, cursor: ImapCursor) -> _Fetched:
    context = ssl.create_default_context(cafile=str(account.ca_file) if account.ca_file else None)
    box: MailBox | MailBoxStartTls | None = None
    try:
        if account.security == "tls":
            box = MailBox(account.host, account.port, timeout=account.timeout_s, ssl_context=context)
        else:
            box = MailBoxStartTls(account.host, account.port, timeout=account.timeout_s, ssl_context=context)
        _login(box, account.username, password)
        box.folder.set(account.mailbox, readonly=True)  # EXAMINE: flags untouched
        return _read_new(account, box.client, cursor)
    except (PermanentError, TransientError):
        raise
    except Exception as error:
        raise classify(account, error, password) from None
    finally:
        if box is not None:
            with contextlib.suppress(Exception):
                box.logout()


def _login(box: MailBox | MailBoxStartTls, username: str, password: str) -> None:
    if password.isascii() and username.isascii():
        box.login(username, password, initial_folder=None)
        return
    try:  # LOGIN is ASCII only: SASL PLAIN carries UTF-8 (RFC 4616)
        box.login_utf8(username, password, initial_folder=None)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as error:  # imaplib raises where LOGIN returned NO: one shape
        said = error.args[0] if error.args else b""
        raise MailboxLoginError(("NO", [said]), "OK") from None


def _selected(client: imaplib.IMAP4, name: str) -> int | None:
    value = client.untagged_responses.get(name, [None])[-1]
    return int(value) if isinstance(value, bytes) and value.strip().isdigit() else None


def _read_new(account: ImapAccount, client: imaplib.IMAP4, cursor: ImapCursor) -> _Fetched:
    where = account.where()
    uidvalidity, uidnext = _selected(client, "UIDVALIDITY"), _selected(client, "UIDNEXT")
    if uidvalidity is None:
        raise PermanentError(
            f"{where}: the server gave no UIDVALIDITY: replies cannot be read without repeats"
        )
    restarted_from = None
    after = cursor.last_uid
    if cursor.uidvalidity is None:
        if account.first_read == "new" and uidnext is not None:
            log.info("%s: first read, starting after UID %d (first_read: new)", where, uidnext - 1)
            return _Fetched([], [], _cursor(account, uidvalidity, uidnext - 1), None, False)
        after = 0
    elif cursor.uidvalidity != uidvalidity or cursor.mailbox != account.mailbox:
        log.warning(
            "%s: UIDVALIDITY %s -> %s (mailbox %s -> %s): every UID changed, reading again from the "
            "start; replies already produced keep their id and are not repeated",
            where,
            cursor.uidvalidity,
            uidvalidity,
            cursor.mailbox,
            account.mailbox,
        )
        restarted_from, after = cursor.uidvalidity, 0
    if uidnext is not None and uidnext <= after + 1:
        return _Fetched([], [], _cursor(account, uidvalidity, after), restarted_from, False)
    # "n:*" also answers the last message when n is past the end (RFC 3501): filtered below.
    listing = _command(client, "FETCH", f"{after + 1}:*", "(UID RFC822.SIZE INTERNALDATE)")
    found = sorted(item for item in (_meta(line) for line in listing) if item and item[0] > after)
    more = len(found) > account.batch
    received: list[Received] = []
    gone: list[Skipped] = []
    for uid, size, arrived in found[: account.batch]:
        label = f"UID {uid} of {account.mailbox} (UIDVALIDITY {uidvalidity}) on {account.name}"
        cut = size > account.max_message_bytes
        part = f"BODY.PEEK[]<0.{account.max_message_bytes}>" if cut else "BODY.PEEK[]"
        data = _command(client, "FETCH", str(uid), f"({part})")
        raw = b"".join(item[1] for item in data if isinstance(item, tuple) and isinstance(item[1], bytes))
        if not raw:
            gone.append(Skipped(label, "deleted before it could be read"))
            continue
        if cut:
            log.warning("%s: %d bytes, over %d: read from its start", label, size, account.max_message_bytes)
        received.append(Received(raw, label, arrived, account.max_message_bytes if cut else None))
    last = found[: account.batch][-1][0] if found else after
    log.info(
        "%s: %d new message(s) after UID %d, %s more", where, len(found), after, "some" if more else "no"
    )
    return _Fetched(received, gone, _cursor(account, uidvalidity, last), restarted_from, more)


def _cursor(account: ImapAccount, uidvalidity: int, last_uid: int) -> ImapCursor:
    return ImapCursor(
        account=account.name, mailbox=account.mailbox, uidvalidity=uidvalidity, last_uid=last_uid
    )


def _command(client: imaplib.IMAP4, command: str, *args: str) -> list[object]:
    status, data = client.uid(command, *args)
    if status != "OK":
        raise UnexpectedCommandStatusError((status, data), "OK")
    return [item for item in data if item is not None]


_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_INTERNALDATE = re.compile(rb'\bINTERNALDATE "([^"]+)"')


def _meta(line: object) -> tuple[int, int, datetime | None] | None:
    """(UID, size, arrival) of one line of a UID FETCH (UID RFC822.SIZE INTERNALDATE) answer."""
    text = line[0] if isinstance(line, tuple) else line
    if not isinstance(text, bytes) or not (uid := _UID.search(text)):
        return None
    size = _SIZE.search(text)
    date = _INTERNALDATE.search(text)
    arrived = None
    if date:
        with contextlib.suppress(ValueError):
            arrived = datetime.strptime(date.group(1).decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    return int(uid.group(1)), int(size.group(1)) if size else 0, arrived


# --- errors -------------------------------------------------------------------------------------


def classify(account: ImapAccount, error: Exception, password: str) -> TransientError | PermanentError:
    """What a retry can fix (connection trouble, a server busy or down) and what it cannot
    (refused login, untrusted certificate, no such mailbox). Texts never hold the password."""
    where = account.where()
    if isinstance(error, UnexpectedCommandStatusError):
        said = _scrub(_server_text(error.command_result[1]), password)
        transient = any(f"[{code}" in said.upper() for code in TRANSIENT_CODES)
        if isinstance(error, MailboxLoginError) and not transient:
            return PermanentError(
                f"{where}: login refused ({said}); check the username and the password in "
                f"{account.password_source()}"
            )
        if isinstance(error, MailboxFolderSelectError) and not transient:
            return PermanentError(f"{where}: mailbox {account.mailbox!r} cannot be read ({said})")
        kind = TransientError if transient else PermanentError
        return kind(f"{where}: the server answered {error.command_result[0]} {said}")
    if isinstance(error, ssl.SSLCertVerificationError):
        return PermanentError(
            f"{where}: the server's certificate is not trusted ({error.verify_message}); "
            "set ca_file to the CA that signed it"
        )
    if isinstance(error, imaplib.IMAP4.abort | OSError):  # cut, refused, timed out, TLS cut
        return TransientError(f"{where}: {type(error).__name__}: {_scrub(str(error), password)}")
    text = _scrub(str(error), password)
    if isinstance(error, imaplib.IMAP4.error) and "STARTTLS" in text.upper():
        return PermanentError(f"{where}: {text}; credentials are never sent unencrypted")
    return PermanentError(f"{where}: {type(error).__name__}: {text}")


def _server_text(data: object) -> str:
    items = data if isinstance(data, list | tuple) else [data]
    parts = [i.decode(errors="replace") if isinstance(i, bytes) else str(i) for i in items if i is not None]
    return " ".join(" ".join(parts).split())[:300]


def _scrub(text: str, password: str) -> str:
    """A server that echoes the command line must not put the password in our logs."""
    return text.replace(password, "<redacted>") if password else text
