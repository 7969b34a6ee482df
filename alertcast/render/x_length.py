"""X's weighted length, counted over twitter-text's own rules without its per-character walk.

`twitter_text.parse_tweet` (twitter-text-parser 3.0.0, which passes the official conformance
suite) cost 1.2 ms a 235-character alert text (0.10 ms here): it scans every position of the
text with one regular expression that alternates every multi-code-point emoji (about 1,400
branches, tried in turn at each digit, since keycaps start with one), then weighs each
character by walking the config's ranges in Python. Fitting measures about six forms of every
alert for X, so this was half of composing an incident for every channel (cProfile on
`bench/compose.py`).

Here the same rules, from the same package, in the same order: the text NFC-normalised and
its line endings made "\\n"; URLs from twitter-text's extractor weigh `transformed_url_length`;
emoji matches of its own emoji expression weigh `default_weight` once each (a URL starting at
the same place wins, and whatever starts inside an entity already counted is skipped); every
other character weighs its range's weight, or `default_weight`; the text is invalid if a
character the walk visits is one of twitter-text's invalid characters, or if its weighted
length is 0 or over the limit. What changes is only the cost:
- the emoji expression runs only when the text holds a character an emoji can start with, or,
  for the keycaps that start with a digit, # or *, the U+FE0F or U+20E3 each of them carries:
  most alert texts have none;
- character weights are looked up in a table filled once per character.
`tests/test_x_length.py` checks it against `parse_tweet` on every example's texts, on
emoji, URLs, CJK and invalid characters, and on random texts.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from twitter_text.config import config as _twitter_config  # type: ignore[import-untyped]
from twitter_text.extract_urls import extract_urls_with_indices  # type: ignore[import-untyped]
from twitter_text.get_character_weight import get_character_weight  # type: ignore[import-untyped]
from twitter_text.regexp.emoji import emoji as _EMOJI  # type: ignore[import-untyped]
from twitter_text.regexp.emoji import emoji_list as _EMOJI_LIST
from twitter_text.regexp.invalid_chars import invalid_chars as _INVALID  # type: ignore[import-untyped]

CONFIG: dict[str, Any] = _twitter_config["version3"]
_KEYCAP_MARKS = "\ufe0f\u20e3"
_LINE_ENDINGS = re.compile(r"\r\n|\r|\n")


def _emoji_starts() -> frozenset[str]:
    """The characters whose presence lets an emoji match: each emoji's first code point, except
    for a keycap (1️⃣, #⃣) whose marks stand in for its digit, # or * (else every text with a
    digit would be scanned); an ASCII start without those marks would be kept as it is."""
    starts: set[str] = set()
    for entry in _EMOJI_LIST:
        code_points = [chr(int(code, 16)) for code in entry.codepoint.split()]
        marks = [mark for mark in _KEYCAP_MARKS if mark in code_points[1:]]
        starts.update(marks if code_points[0].isascii() and marks else code_points[0])
    return frozenset(starts)  # a set, not a character class: `re` scans a large one per character


_MAY_START_AN_EMOJI = _emoji_starts()


class _Weights(dict[str, int]):
    """Character -> its weight in the config's ranges, computed by twitter-text on first sight."""

    def __missing__(self, char: str) -> int:
        weight = int(get_character_weight(char, CONFIG))
        if len(self) < 65536:  # a hostile text must not grow it to the whole of Unicode
            self[char] = weight
        return weight


_WEIGHTS = _Weights()


def _plain(text: str, start: int, end: int) -> tuple[int, bool]:
    """Weight of text[start:end] counted character by character, and whether one is invalid."""
    piece = text[start:end]
    return sum(map(_WEIGHTS.__getitem__, piece)), _INVALID.search(piece) is not None


def weighted_length(text: str, limit: int, url_weight: int) -> tuple[int, bool]:
    """(weighted length, valid) as `parse_tweet(text, {**v3, max_weighted_tweet_length: limit,
    transformed_url_length: url_weight})` gives them."""
    normalized = _LINE_ENDINGS.sub("\n", unicodedata.normalize("NFC", text))
    entities: dict[int, tuple[int, int]] = {}  # start -> (end, weight); a URL wins a tie
    if not _MAY_START_AN_EMOJI.isdisjoint(normalized):
        for match in _EMOJI.finditer(normalized):
            entities[match.start()] = (match.end(), CONFIG["default_weight"])
    for url in extract_urls_with_indices(normalized):
        start, end = url["indices"][0], url["indices"][0] + len(url["url"])
        entities[start] = (end, url_weight * CONFIG["scale"])
    total, invalid, position = 0, False, 0
    for start in sorted(entities):
        if start < position:
            continue  # inside an entity already counted, as parse_tweet's walk skips it
        end, weight = entities[start]
        weight_before, invalid_before = _plain(normalized, position, start)
        total += weight_before + weight
        # the walk visits an entity's last character only
        invalid = invalid or invalid_before or _INVALID.search(normalized, end - 1, end) is not None
        position = end
    weight_after, invalid_after = _plain(normalized, position, len(normalized))
    length = int((total + weight_after) / CONFIG["scale"])
    return length, not (invalid or invalid_after) and 0 < length <= limit
