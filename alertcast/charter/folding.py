"""Case- and accent-folding that remembers where every folded character came from.

Lexicon phrases must match "Incompétents", "incompetents" and a decomposed "incompe\u0301tents"
alike (a communicator typing fast at night drops accents), yet a Finding must point at the
exact characters of the text as written. So we fold a copy and keep an index map back.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_APOSTROPHES = {"\u2019": "'", "\u02bc": "'", "\u2018": "'", "`": "'"}
_DASHES = {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-"}


@lru_cache(maxsize=4096)
def fold_char(char: str) -> str:
    """The folded form of one character: lower case, no accents, one apostrophe, one hyphen.
    Cached: texts use a few hundred distinct characters, and each was decomposed anew (7 % of
    the charter's time per text, measured A/B in one process)."""
    if char in _APOSTROPHES:
        return _APOSTROPHES[char]
    if char in _DASHES:
        return _DASHES[char]
    if char == "\u00a0" or char == "\u202f":
        return " "
    decomposed = unicodedata.normalize("NFD", char)
    base = "".join(part for part in decomposed if not unicodedata.combining(part))
    return base.lower()


def fold(text: str) -> str:
    return "".join(fold_char(char) for char in text)


@dataclass(frozen=True)
class Folded:
    """A folded text and, for each folded character, the index of its source character."""

    original: str
    text: str
    origin: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a folded span back to the original text, keeping trailing combining marks."""
        if start >= len(self.origin):
            return len(self.original), len(self.original)
        original_start = self.origin[start]
        original_end = self.origin[end - 1] + 1 if end > start else original_start
        while original_end < len(self.original) and unicodedata.combining(self.original[original_end]):
            original_end += 1
        return original_start, original_end


def fold_with_map(text: str) -> Folded:
    pieces: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = fold_char(char)
        pieces.append(folded)
        origin.extend([index] * len(folded))
    return Folded(original=text, text="".join(pieces), origin=tuple(origin))
