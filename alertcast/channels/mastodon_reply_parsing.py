"""A Mastodon mention notification turned into the `Reply` every network's reader hands over.

Pure (no HTTP, no clock) so what servers really send is tested in milliseconds;
`mastodon_replies` fetches the pages and calls these functions.

What a mention becomes, and why:
- id: `mastodon:<status id>`, the id on the instance we read it from, the one our account
  answers with (`in_reply_to_id`); stable, so a second read of the same status is the same reply.
- author: the account's `acct` (`user` on our instance, `user@domain` elsewhere): the handle
  the console shows and a person can search.
- text: the status's HTML `content` as plain text (`html_to_text`): markup removed, entities
  decoded, scripts and styles dropped with their content, a link whose text hides its target
  shown with it, so moderation reads what a citizen sees and where a link really goes. A
  content warning (`spoiler_text`) comes first: it is part of what was written.
- url: the status's page (`url`, else its ActivityPub `uri`).
- at: the status's `created_at` (when the citizen wrote, not when we were notified).
- in_reply_to: the status it answers (`in_reply_to_id`), ours or not.
- alert and conversation (`place`): when it answers one of our statuses, the alert of that
  status; when it answers someone under our status, the alert of our nearest status above it
  (from `/api/v1/statuses/:id/context`); a mention elsewhere has no alert. The conversation is
  one citizen's thread under our post: their first status below our nearest one (the status
  itself when it answers us directly), so two citizens under one alert are two conversations
  with their own 72-hour circuit; a mention outside our threads is its thread's root.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

from pydantic import BaseModel, ConfigDict

from alertcast.replies.model import Reply, reply_id

AlertOf = Callable[[str], str | None]
TEXT_LIMIT = 20_000

#: Elements whose content is never text (a hostile or broken server could send them).
_DROPPED = frozenset({"script", "style", "template", "iframe", "object", "noscript", "svg", "math", "head"})
_BLOCKS = frozenset({"p", "div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6"})
_VOID = frozenset({"br", "img", "hr", "input", "meta", "link", "wbr", "source", "area", "col", "embed"})
#: C0/C1 controls and bidi overrides (they reorder what a person reads), but not \n and \t.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class _Text(HTMLParser):
    """Collects the visible text: one pass, no tree, nothing evaluated or fetched."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._dropped = 0  # depth inside elements whose content is not text
        self._links: list[tuple[str, int, bool]] = []  # (href, where its text starts, plain link)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self._dropped += 1
        elif self._dropped:
            return
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a":
            found = dict(attrs)
            classes = (found.get("class") or "").split()
            plain = not {"mention", "hashtag"} & set(classes)
            self._links.append((found.get("href") or "", len(self.parts), plain))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _DROPPED:  # <script/> opens nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self._dropped = max(self._dropped - 1, 0)
        elif self._dropped or tag in _VOID:
            return
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a" and self._links:
            href, start, plain = self._links.pop()
            shown = "".join(self.parts[start:]).strip()
            if plain and href.startswith(("http://", "https://")) and shown != href:
                # The displayed text is not where the link goes (or is Mastodon's shortened
                # form): moderation must see the target, so it follows in angle brackets.
                self.parts.append(f" <{href}>" if shown else href)

    def handle_data(self, data: str) -> None:
        if not self._dropped:
            self.parts.append(data)


def html_to_text(content: str) -> str:
    """Mastodon's status HTML as the plain text a citizen sees, safe to show anywhere once
    escaped by its template (this returns text, never markup)."""
    parser = _Text()
    parser.feed(content)
    parser.close()
    text = _INVISIBLE.sub("", "".join(parser.parts)).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()[:TEXT_LIMIT]


# --- the API's shapes --------------------------------------------------------------------------


class Account(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    acct: str = ""
    username: str = ""


class Status(BaseModel):
    """The fields of a status a reply needs."""

    model_config = ConfigDict(extra="ignore")

    id: str
    created_at: datetime
    account: Account
    content: str = ""
    spoiler_text: str = ""
    url: str | None = None
    uri: str | None = None
    visibility: str = "public"
    in_reply_to_id: str | None = None
    in_reply_to_account_id: str | None = None


class Notification(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    type: str
    status: Status | None = None


def notification_of(item: dict[str, Any]) -> Notification | None:
    """A notification of a page, None when it is not one (a server's oddity must not stop the
    read: it is skipped, logged by the caller)."""
    try:
        return Notification.model_validate(item)
    except ValueError:
        return None


def later(a: str | None, b: str) -> str:
    """The later of two ids: Mastodon's are numbers as strings (compared as numbers, so "99" <
    "100"), GoToSocial's ULIDs compare as text."""
    if a is None:
        return b
    if a.isdigit() and b.isdigit():
        return a if int(a) >= int(b) else b
    return a if a >= b else b


def needs_context(status: Status, our_id: str) -> bool:
    """Only a status answering someone else needs its ancestors to find our post above it."""
    return status.in_reply_to_id is not None and status.in_reply_to_account_id != our_id


def place(
    status: Status, our_id: str, alert_of: AlertOf, ancestors: Sequence[Status] = ()
) -> tuple[str | None, str]:
    """(alert id, conversation) of a status; `ancestors` root first, as the context API gives them."""
    if status.in_reply_to_id is None:
        return None, status.id
    if status.in_reply_to_account_id == our_id:
        return alert_of(status.in_reply_to_id), status.id
    chain = [a for a in ancestors if a.id != status.id]
    ours = [i for i, ancestor in enumerate(chain) if ancestor.account.id == our_id]
    if not ours:
        return None, chain[0].id if chain else status.in_reply_to_id
    nearest = ours[-1]
    conversation = chain[nearest + 1].id if nearest + 1 < len(chain) else status.id
    alert = next((found for i in reversed(ours) if (found := alert_of(chain[i].id))), None)
    return alert, conversation


def to_reply(status: Status, alert_id: str | None, conversation: str) -> Reply:
    text = html_to_text(status.content)
    warning = status.spoiler_text.strip()
    if warning:
        text = f"{_INVISIBLE.sub('', warning)}\n\n{text}".strip()
    return Reply(
        id=reply_id("mastodon", status.id),
        network="mastodon",
        author=status.account.acct or status.account.username or status.account.id,
        text=text,
        url=status.url or status.uri,
        at=status.created_at,
        alert_id=alert_id,
        in_reply_to=status.in_reply_to_id,
        conversation=conversation,
    )
