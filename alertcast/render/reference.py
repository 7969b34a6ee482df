"""The reference some adapters add to a post so a restarted worker can find it (the marker,
`ac-` and 12 hex digits): the fragment of the text's last link, else a last line `réf. ac-...`.
Compose fits a text on those channels as the adapter will post it, reference included, or a
text that fits exactly would be refused by the network."""

from __future__ import annotations

import re
from collections.abc import Iterator

MARKER_PREFIX = "ac-"
MARKER_DIGITS = 12
REFERENCE_LABELS = {"fr": "réf.", "en": "ref."}
#: The channels whose adapters add the reference (`with_marker`).
MARKED_CHANNELS = frozenset({"x", "mastodon", "facebook"})
#: A reference as long as every real one, for counting a text before its delivery has a key.
ROOM_TOKEN = MARKER_PREFIX + "0" * MARKER_DIGITS

#: What networks turn into links: http(s) up to a space; trailing punctuation stays outside.
_URL = re.compile(r"(?<![\w/])https?://[^\s<>\"]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)]}'\"…"


def reference_line(token: str, language: str = "fr") -> str:
    return f"\n\n{REFERENCE_LABELS.get(language, REFERENCE_LABELS['en'])} {token}"


def with_marker(text: str, token: str, language: str = "fr") -> str:
    """The text carrying `token`: as the fragment of its last link (where X counts a link as 23
    whatever its length, and the page still opens at its top), else as a short last line
    `réf. ac-...` (a reference, like a file number)."""
    found = list(links(text))
    if found:
        start, link = found[-1]
        if "#" not in link:
            at = start + len(link)
            return f"{text[:at]}#{token}{text[at:]}"
    return text.rstrip() + reference_line(token, language)


def as_posted(channel: str, text: str, language: str = "fr") -> str:
    """`text` as the channel's adapter will post it, for fitting: with a reference as long as the
    real one on the channels that add one. A link's fragment is not always free: X counts a link
    as 23 only when it has a domain, and a site served from an address (the demo's 127.0.0.1)
    is counted letter by letter, fragment included."""
    return with_marker(text, ROOM_TOKEN, language) if channel in MARKED_CHANNELS else text


def links(text: str) -> Iterator[tuple[int, str]]:
    """(where it starts, the link) for each http(s) link in `text`, as networks find them:
    trailing punctuation stays outside."""
    for match in _URL.finditer(text):
        yield match.start(), match.group(0).rstrip(_URL_TRAILING)
