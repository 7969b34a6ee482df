"""Text length as each network counts it, so a text is never refused or cut by the network.

Every network counts differently, and the difference bites on exactly the texts we send:
links (X and Mastodon count every URL as 23), emoji (X counts a whole ZWJ family as 2,
Bluesky and Mastodon as 1 grapheme, Telegram as 11 UTF-16 units), and accents (an SMS with
"ê" or a typographic apostrophe falls from GSM-7's 160 characters to UCS-2's 70).

- x: weighted length of X's twitter-text config v3 (twitter-text-parser 3.0.0, which passes
  the official conformance suite): URL = 23, emoji sequence = 2, CJK = 2, text NFC-normalised
  first (a decomposed "é" counts 1). Limit 280. Counted by `x_length` over that package's rules,
  as its `parse_tweet` counts, at a tenth of its cost.
- mastodon: grapheme clusters, every http(s) URL = 23, "@user@domain" counts as "@user"
  (Mastodon's StatusLengthValidator). Limit 500; instances report their own limit and URL
  weight, hence the parameters.
- bluesky: grapheme clusters of the record text (300). Links count in full: a client may show
  a shortened label, but the record's text is what the PDS validates.
- telegram: UTF-16 code units of a text message (4,096).
- facebook: 63,206, counted in UTF-16 code units (never fewer than characters, so safe).
- matrix: UTF-8 bytes of the body. An event is capped at 65,536 bytes and carries the text
  twice (body and formatted_body) plus its envelope, so we allow 32,000.
- sms: GSM 03.38 7-bit default alphabet when every character is in it (the extension table's
  ^{}\\[~]|€ and form feed take 2 septets), else UCS-2 (UTF-16 units). One segment holds
  160 septets / 70 units; concatenated, 153 / 67 each, and an escape sequence or a surrogate
  pair is never split. For sms, `limit` is the number of segments allowed: default 3, as
  emergency SMS services send (a whole alert with its instruction: 459 GSM-7 characters, 201
  once UCS-2); an account may set its own (1 for a one-message service). Length.limit is that
  many segments' capacity (160 / 70 for one segment, 153 / 67 per segment beyond).
- website, webhook, email, email_subscribers: no limit (length in code points).
Texts are counted as given: renderers should NFC-normalise (decomposed accents cost more in
Telegram, Facebook and SMS).

SMS-safe French (`sms_plain`): French typography that adds no meaning but is missing from
GSM 03.38 (the apostrophe ’, « », “ ”, dashes, …, and the non-breaking spaces before : ; ! ?)
turns a whole SMS into UCS-2: 70 characters a segment instead of 160, often three segments
instead of one. It is replaced by its GSM-7 equivalent (' " - ... and a plain space). Letters
are never touched: GSM-7 has é è ù ì ò à É Ç but not ê â î ô û ë ï ç œ, and a text that needs
them is counted as UCS-2, honestly ("Arrêté" stays "Arrêté", never "Arrete").
"""

from __future__ import annotations

import re
from typing import Literal, get_args

import regex
from pydantic import BaseModel, ConfigDict

from alertcast.render.x_length import weighted_length

Channel = Literal[
    "website",
    "webhook",
    "email",
    "mastodon",
    "bluesky",
    "matrix",
    "x",
    "facebook",
    "telegram",
    "sms",
    "webpush",
    "email_subscribers",
]
CHANNELS: tuple[str, ...] = get_args(Channel)

DEFAULT_LIMITS: dict[str, int | None] = {
    "website": None,
    "webhook": None,
    "email": None,
    "mastodon": 500,
    "bluesky": 300,
    "matrix": 32_000,
    "x": 280,
    "facebook": 63_206,
    "telegram": 4_096,
    "sms": 3,
    # A notification's body: phones show about four lines, and the payload must fit one
    # encrypted record (alertcast/subscriptions/webpush.py); the alert's page has the rest.
    "webpush": 300,
    "email_subscribers": None,
}
DEFAULT_URL_WEIGHT = 23
SMS_SINGLE = {"gsm7": 160, "ucs2": 70}
SMS_CONCATENATED = {"gsm7": 153, "ucs2": 67}

# GSM 03.38 default alphabet, in table order (0x00-0x7F), without ESC (0x1B).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table, reached through ESC: two septets each.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
_GSM7 = GSM7_BASIC | GSM7_EXTENSION

#: Typography without meaning outside GSM-7, and its GSM-7 equivalent (letters never change).
SMS_TYPOGRAPHY = str.maketrans(
    {
        "\u2019": "'",  # ’
        "\u2018": "'",  # ‘
        "\u02bc": "'",  # ʼ
        "\u201a": "'",  # ‚
        "\u2039": '"',  # ‹
        "\u203a": '"',  # ›
        "\u201c": '"',  # “
        "\u201d": '"',  # ”
        "\u201e": '"',  # „
        "\u00ab": '"',  # «
        "\u00bb": '"',  # »
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # –
        "\u2014": "-",  # —
        "\u2026": "...",  # …
        "\u00a0": " ",  # no-break space (before : ; ! ? in French)
        "\u202f": " ",  # narrow no-break space
        "\u2009": " ",  # thin space
        "\u2007": " ",  # figure space
        "\u200b": "",  # zero-width space
        "\u2060": "",  # word joiner
    }
)
#: The spaces French puts inside guillemets: « texte » becomes "texte", not " texte ".
_GUILLEMET_SPACES = re.compile("(\u00ab)[ \u00a0\u202f\u2009]+|[ \u00a0\u202f\u2009]+(\u00bb)")

_GRAPHEME = regex.compile(r"\X")
_MASTODON_URL = re.compile(r"(?<![\w/])https?://[^\s<>\"]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)]}'\"…"
_MASTODON_MENTION = re.compile(r"(?<![=/\w])@(\w+)@[\w.-]+\w", re.UNICODE)


class Length(BaseModel):
    """How long a text is for one channel, in that channel's unit, and whether it fits."""

    model_config = ConfigDict(frozen=True)

    channel: str
    length: int
    limit: int | None
    fits: bool
    unit: str
    segments: int | None = None
    encoding: str | None = None
    segments_before: int | None = None
    encoding_before: str | None = None


#: Latin text (below U+0300: letters, their accents precomposed, IPA, spacing modifiers), general
#: punctuation (dashes, quotes, ellipsis; not ZWJ, ZWNJ nor the invisible controls) and
#: currency signs: no character among them joins the one before it in a grapheme cluster but
#: LF after CR (test_render_length checks every pair against the `\X` pattern).
COUNTABLE = ((0x0000, 0x02FF), (0x2010, 0x2027), (0x2030, 0x205E), (0x20A0, 0x20C0))
_JOINS_CLUSTERS = re.compile(
    "[^" + "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in COUNTABLE) + "]"
)


def graphemes(text: str) -> int:
    """Grapheme clusters: matched one by one, or counted when every character is countable
    (nearly every French or English alert, "Mise à jour – ..." included). Matching them was
    0.52 s of 1.05 s of fitting in a profile of 400 incidents on five channels (mastodon and
    bluesky measure each form they try)."""
    if _JOINS_CLUSTERS.search(text) is None:
        return len(text) - text.count("\r\n")
    return len(_GRAPHEME.findall(text))


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _x(text: str, limit: int, url_weight: int) -> Length:
    length, valid = weighted_length(text, limit, url_weight)
    return Length(channel="x", length=length, limit=limit, fits=valid, unit="weighted")


def mastodon_countable(text: str, url_weight: int = DEFAULT_URL_WEIGHT) -> str:
    """The text as Mastodon measures it: URLs as url_weight x's, mentions without domain."""

    def url(match: re.Match[str]) -> str:
        found = match.group(0)
        stripped = found.rstrip(_URL_TRAILING)
        return "x" * url_weight + found[len(stripped) :]

    return _MASTODON_MENTION.sub(r"@\1", _MASTODON_URL.sub(url, text))


def _sms_segments(units: list[int], single: int, per_segment: int) -> int:
    """Segments needed, never splitting one character's units across two segments."""
    total = sum(units)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for size in units:
        if used + size > per_segment:
            segments += 1
            used = 0
        used += size
    return segments


def sms_plain(text: str) -> str:
    """`text` with its meaningless non-GSM typography made GSM-7; letters left as they are."""
    return _GUILLEMET_SPACES.sub(lambda match: match.group(1) or match.group(2), text).translate(
        SMS_TYPOGRAPHY
    )


def sms_before_after(text: str, *, limit: int | None = None) -> Length:
    """The SMS length of `sms_plain(text)`, with what `text` itself would have taken in
    `segments_before` / `encoding_before`: the saving the plain typography bought."""
    before = count("sms", text, limit=limit)
    after = count("sms", sms_plain(text), limit=limit)
    return after.model_copy(update={"segments_before": before.segments, "encoding_before": before.encoding})


def sms_encoding(text: str) -> str:
    return "gsm7" if _GSM7.issuperset(text) else "ucs2"


def _sms(text: str, max_segments: int) -> Length:
    encoding = sms_encoding(text)
    if encoding == "gsm7":
        units = [2 if char in GSM7_EXTENSION else 1 for char in text]
        unit = "septets"
    else:
        units = [2 if ord(char) > 0xFFFF else 1 for char in text]
        unit = "utf16"
    segments = _sms_segments(units, SMS_SINGLE[encoding], SMS_CONCATENATED[encoding])
    capacity = SMS_SINGLE[encoding] if max_segments <= 1 else SMS_CONCATENATED[encoding] * max_segments
    return Length(
        channel="sms",
        length=sum(units),
        limit=capacity,
        fits=segments <= max_segments,
        unit=unit,
        segments=segments,
        encoding=encoding,
    )


def count(channel: str, text: str, *, limit: int | None = None, url_weight: int | None = None) -> Length:
    """Measure `text` as `channel` does. `limit` and `url_weight` override the defaults
    (a Mastodon instance reports its own); for sms, `limit` is the number of segments."""
    if channel not in DEFAULT_LIMITS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    chosen = limit if limit is not None else DEFAULT_LIMITS[channel]
    weight = url_weight if url_weight is not None else DEFAULT_URL_WEIGHT
    if channel == "x":
        assert chosen is not None
        return _x(text, chosen, weight)
    if channel == "sms":
        assert chosen is not None
        return _sms(text, chosen)
    if channel == "mastodon":
        length, unit = graphemes(mastodon_countable(text, weight)), "graphemes"
    elif channel == "bluesky":
        length, unit = graphemes(text), "graphemes"
    elif channel in ("telegram", "facebook"):
        length, unit = utf16_units(text), "utf16"
    elif channel == "matrix":
        length, unit = len(text.encode("utf-8")), "bytes"
    else:
        length, unit = len(text), "characters"
    fits = chosen is None or length <= chosen
    return Length(channel=channel, length=length, limit=chosen, fits=fits, unit=unit)
