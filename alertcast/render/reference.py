"""The reference some adapters add to a post so a restarted worker can find it (the marker,
`ac-` and 12 hex digits): the fragment of the text's last link, which costs nothing where a
link counts as a fixed weight, else a last line `réf. ac-...`. Compose leaves room for that
line on those channels, or a text that fits exactly would be refused by the network."""

from __future__ import annotations

MARKER_PREFIX = "ac-"
MARKER_DIGITS = 12
REFERENCE_LABELS = {"fr": "réf.", "en": "ref."}
#: The channels whose adapters add the reference (channels.account.with_marker).
MARKED_CHANNELS = frozenset({"x", "mastodon", "facebook"})


def reference_line(token: str, language: str = "fr") -> str:
    return f"\n\n{REFERENCE_LABELS.get(language, REFERENCE_LABELS['en'])} {token}"


def room_for_reference(channel: str) -> str:
    """What the channel's adapter appends to a text without a link (the longest label), or ''."""
    if channel not in MARKED_CHANNELS:
        return ""
    label = max(REFERENCE_LABELS.values(), key=len)
    return f"\n\n{label} {MARKER_PREFIX}{'0' * MARKER_DIGITS}"
