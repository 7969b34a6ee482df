"""A received e-mail, as bytes, turned into the `Reply` every network's reader hands over.

Pure (no IMAP, no clock of its own) so the hard part, reading what mail clients really send,
is tested in milliseconds; `email_replies` fetches the bytes and calls `to_reply`.

What a citizen's e-mail becomes, and why:
- author: the bare From address, lower-cased. It is how the console answers; the display name
  and the rest of the headers are personal data nobody needs.
- text: the reply part only. Mail clients quote the whole alert under the answer ("> " lines,
  "Le ... a écrit :" / "On ... wrote:", Outlook's "-----Original Message-----" or "De : /
  Envoyé :" block) and add signatures, full of phone numbers the moderation would flag for
  nothing. text/plain is preferred; an HTML-only mail is turned into text by a parser that
  keeps no markup, runs nothing and drops quoted blocks; links stay visible as URLs so
  moderation sees scam links. Undecodable bytes become U+FFFD, never an exception.
- at: the Date header, unless missing, unreadable or later than the server's INTERNALDATE
  by more than an hour (a sender's clock in the future must not shorten the 72-hour circuit).
- alert: the first Message-ID of In-Reply-To, then References from the nearest ancestor
  back, that `alert_of` knows (the email channel's Message-IDs, read from its receipts).
- conversation: e-mail is private, so one citizen's thread is theirs: the first message of
  the thread that is not one of ours (their first reply), not our alert mail, which every
  recipient answers separately.
Automatic mail (RFC 3834 Auto-Submitted, delivery reports, vacation notices) and copies of our
own alert e-mails are skipped, each with its reason: replies from people only.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from alertcast.replies.model import Reply, reply_id

log = logging.getLogger(__name__)

#: Message-ID (without <>) -> alert id, for the Message-IDs our email channel set.
AlertOf = Callable[[str], str | None]

#: The shape of `alertcast.channels.email.message_id`, without its angle brackets.
OUR_MESSAGE_ID = re.compile(r"^alertcast\.[0-9a-f]{32}@")
#: Longest reply text kept; a longer one ends with TRUNCATED (moderation reads it all).
TEXT_LIMIT = 20_000
TRUNCATED = " […]"
#: A Date later than the server's arrival time by more than this is a wrong clock.
DATE_SKEW = timedelta(hours=1)


@dataclass(frozen=True)
class Received:
    """One message as the server gave it."""

    raw: bytes
    where: str  #: for logs: "UID 12 of INBOX (UIDVALIDITY 7)"
    internal_date: datetime | None = None
    #: the message was bigger than this many bytes: only its headers and start were fetched
    cut_at: int | None = None


@dataclass(frozen=True)
class Skipped:
    """A message deliberately not turned into a reply, and why (logged, counted)."""

    where: str
    reason: str


def to_reply(received: Received, alert_of: AlertOf, now: datetime) -> Reply | Skipped:
    """The reply a message carries, or why it is skipped. Never raises on a message's
    content: whatever cannot be read is said in the text, so no reply is lost silently."""
    message = message_from_bytes(received.raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    own_id = _first_id(_header(message, "Message-ID"))
    skip = _automatic(message, own_id)
    if skip:
        return Skipped(received.where, skip)
    parents = _ids(_header(message, "In-Reply-To"))
    references = _ids(_header(message, "References"))
    alert_id = None
    for candidate in [*parents, *reversed(references)]:
        alert_id = alert_of(candidate)
        if alert_id:
            break
        if OUR_MESSAGE_ID.match(candidate):
            log.warning(
                "%s answers our message <%s>, which no e-mail receipt names: kept as a mention",
                received.where,
                candidate,
            )
    native = own_id or "sha256-" + hashlib.sha256(received.raw).hexdigest()[:32]
    in_reply_to = parents[0] if parents else (references[-1] if references else None)
    theirs = [i for i in references if not OUR_MESSAGE_ID.match(i)]
    text = reply_text(message, received.where)
    if received.cut_at is not None:
        text = text.rstrip() + TRUNCATED
    return Reply(
        id=reply_id("email", native),
        network="email",
        author=_author(message, received.where),
        text=text,
        url=None,
        at=_time(message, received, now),
        alert_id=alert_id,
        in_reply_to=in_reply_to,
        conversation=theirs[0] if theirs else native,
    )


def thread_entry(post_id: str | None, alert_id: str) -> tuple[str, str] | None:
    """(Message-ID, alert id) from an email receipt's post_id, the key `alert_of` looks up."""
    found = _ids(post_id or "")
    return (found[0], alert_id) if found else None


# --- headers ------------------------------------------------------------------------------------


def _header(message: EmailMessage, name: str) -> str:
    """One header as text; its raw form when the parser chokes on it (8-bit garbage)."""
    try:
        value = message.get(name)
        return "" if value is None else str(value)
    except Exception:  # the parser of one bad header must not lose the message
        for key, raw in message.raw_items():
            if key.lower() == name.lower():
                return str(raw).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return ""


def _ids(value: str) -> list[str]:
    """Message-IDs of a header, without brackets, in order; bare ones from broken clients too."""
    found = re.findall(r"<([^<>\s]+)>", value) or [w for w in value.split() if "@" in w]
    return list(dict.fromkeys(i.strip("<>") for i in found))


def _first_id(value: str) -> str | None:
    found = _ids(value)
    return found[0] if found else None


def _automatic(message: EmailMessage, own_id: str | None) -> str | None:
    if own_id and OUR_MESSAGE_ID.match(own_id):
        return f"one of our own alert e-mails (<{own_id}>)"
    auto = _header(message, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return f"automatic message (Auto-Submitted: {auto})"
    if _content_type(message) == "multipart/report":
        return "a delivery or read report (multipart/report)"
    if _header(message, "Precedence").strip().lower() in {"bulk", "junk", "auto_reply"}:
        return f"automatic message (Precedence: {_header(message, 'Precedence').strip()})"
    if _header(message, "X-Autoreply") or _header(message, "X-Autorespond"):
        return "automatic message (X-Autoreply)"
    return None


def _author(message: EmailMessage, where: str) -> str:
    try:
        addresses = [addr for _, addr in getaddresses([_header(message, "From")]) if "@" in addr]
    except Exception:  # getaddresses on garbage
        addresses = []
    if not addresses:
        log.warning("%s: no readable From address; author kept as 'unknown'", where)
        return "unknown"
    local, _, domain = addresses[0].strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def _time(message: EmailMessage, received: Received, now: datetime) -> datetime:
    arrived = received.internal_date
    raw = _header(message, "Date")
    try:
        sent = parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError, IndexError):
        sent = None
    if sent is not None and sent.tzinfo is None:  # "-0000": UTC, origin unknown (RFC 5322)
        sent = sent.replace(tzinfo=UTC)
    if sent is not None and (arrived is None or sent <= arrived + DATE_SKEW):
        return sent.astimezone(UTC)
    if arrived is not None:
        if raw:
            log.info("%s: Date %r unreadable or after arrival: arrival time used", received.where, raw)
        return arrived.astimezone(UTC)
    log.warning("%s: no Date and no arrival time: read time used", received.where)
    return now


# --- body ---------------------------------------------------------------------------------------


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def reply_text(message: EmailMessage, where: str = "message") -> str:
    """The citizen's own words: text/plain preferred, else HTML as text; quotes removed."""
    plain, html_part = _body_parts(message)
    text = _decode(plain, where) if plain is not None else ""
    if not text.strip() and html_part is not None:
        text = html_to_text(_decode(html_part, where))
    if plain is None and html_part is None:
        kinds = sorted({_content_type(part) for part in message.walk() if not part.is_multipart()})
        return f"(no text in this message: {', '.join(kinds) or 'empty'})"
    own = strip_quotes(text)
    if len(own) > TEXT_LIMIT:
        own = own[:TEXT_LIMIT].rstrip() + TRUNCATED
    return own


def _body_parts(message: EmailMessage) -> tuple[Message | None, Message | None]:
    """The text/plain and text/html parts meant as the body (not attachments, not forwarded)."""
    found: dict[str, Message | None] = {"plain": None, "html": None}
    for subtype in found:
        try:
            found[subtype] = message.get_body(preferencelist=(subtype,))
        except Exception:  # a malformed structure: fall back to a walk
            found[subtype] = None
    if found["plain"] is None and found["html"] is None:
        for part in message.walk():
            kind = _content_type(part)
            if kind in ("text/plain", "text/html") and part.get_content_disposition() != "attachment":
                found["plain" if kind == "text/plain" else "html"] = part
                break
    return found["plain"], found["html"]


def _decode(part: Message, where: str) -> str:
    """Bytes in the declared charset; an unknown or lying charset falls back to UTF-8, then
    Windows-1252 (what unlabelled French mail usually is), replacing what still fails."""
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else str(payload or "").encode("utf-8", "replace")
    declared = part.get_content_charset() or "us-ascii"
    for charset in (declared, "utf-8"):
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    log.info("%s: text not valid %s nor UTF-8: read as Windows-1252", where, declared)
    return data.decode("cp1252", errors="replace")


_ATTRIBUTION = re.compile(r"^\s*(le|on)\s.{0,400}?(a\s+écrit|wrote)\s*:?\s*$", re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(original message|message d'origine|message original)\s*-{2,}|_{20,})\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\**(de|from)\s*:", re.IGNORECASE)
_HEADER_SENT = re.compile(r"^\s*\**(envoyé|sent|date)\s*:", re.IGNORECASE)


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _attribution(lines: list[str], i: int) -> int:
    """How many lines (1-3: clients wrap it) the attribution starting at line i takes, or 0."""
    for size in (1, 2, 3):
        if i + size > len(lines):
            break
        if size > 1 and not _wrapped(lines[i + size - 1]):
            break  # a blank line, or another sentence starting "Le"/"On": not one wrapped line
        if _ATTRIBUTION.match(" ".join(lines[i : i + size])):
            return size
    return 0


def _wrapped(line: str) -> bool:
    return bool(line.strip()) and not _quoted(line) and not re.match(r"\s*(le|on)\s", line, re.IGNORECASE)


def strip_quotes(text: str) -> str:
    """Drop quoted lines, attributions and signatures; answers written between quotes stay.
    When nothing is left (only quotes), the whole text is kept: a reply is never emptied."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip() == "--" or _SEPARATOR.match(line):
            break  # a signature, or an unmarked quote down to the end
        if _HEADER_FROM.match(line) and any(_HEADER_SENT.match(n) for n in lines[i + 1 : i + 4]):
            break  # Outlook's "De : / Envoyé :" block: the original follows, unmarked
        size = _attribution(lines, i)
        if size:
            after = next((n for n in lines[i + size :] if n.strip()), None)
            if after is None or _quoted(after):
                i += size  # the quote follows marked with ">": answers between stay
                continue
            break  # "... wrote:" then the original unmarked: everything below is quoted
        if not _quoted(line):
            kept.append(line.rstrip())
        i += 1
    own = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return own or text.strip()


class _HtmlText(HTMLParser):
    """Text of an HTML body: no tags, scripts or styles; quoted blocks left out."""

    SKIPPED = frozenset({"script", "style", "head", "title", "template", "blockquote"})
    QUOTE_MARKS = ("gmail_quote", "moz-cite-prefix", "yahoo_quoted", "divrplyfwdmsg", "appendonsend")
    BREAKS = frozenset(
        {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr"}
    )
    VOID = frozenset(
        {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip: list[str] = []  # open tags of the skipped region, innermost last
        self._links: list[tuple[str | None, int]] = []  # href, where its text starts

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            if not self._skip and tag in self.BREAKS:
                self.parts.append("\n")
            return
        marks = " ".join(v or "" for k, v in attrs if k in ("class", "id")).lower()
        if self._skip or tag in self.SKIPPED or any(m in marks for m in self.QUOTE_MARKS):
            self._skip.append(tag)
            return
        if tag in self.BREAKS:
            self.parts.append("\n")
        if tag == "a":
            self._links.append((dict(attrs).get("href"), len(self.parts)))

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag in self._skip:  # close up to the matching tag (unclosed ones inside too)
                while self._skip and self._skip.pop() != tag:
                    pass
            return
        if tag == "a" and self._links:
            href, start = self._links.pop()
            shown = "".join(self.parts[start:])
            if href and href.lower().startswith(("http://", "https://")) and href not in shown:
                self.parts.append(f" <{href}>")  # the real target: what a scam link hides
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
