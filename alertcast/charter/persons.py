"""Where a text names a private person: the signal that turns a landline into personal data.

A town hall's switchboard is public; the same kind of number next to "M. Dupont" or "Jean
Dupont" is someone's home. Without a named-entity model (a later addition), a name is:
- a civility followed by a capitalised word that is not a function ("M. Dupont", "Mrs Jones";
  not "M. le Maire", "Madame la Préfète");
- a listed first name followed by a capitalised surname ("Jean Dupont", "Mary JONES"), unless
  a street or building word comes just before ("rue Jean Jaurès", "collège Marie Curie") or
  it is part of a hyphenated place ("Saint-Jean").
Both lists are data (lexicons/personal/names.yaml). Precision is preferred over recall: a
false name would block a public number.
"""

from __future__ import annotations

from functools import lru_cache

import regex

from alertcast.charter.personal_lexicon import names

_SURNAME = r"(\p{Lu}[\p{L}'’]*(?:-\p{Lu}[\p{L}'’]*)*)"
_LINKS = frozenset({"de", "du", "des", "d", "la", "le", "l", "of", "the"})
_WORD_BEFORE = regex.compile(r"([\p{L}.-]+)['’\s]*$")


@lru_cache(maxsize=1)
def _patterns() -> tuple[regex.Pattern[str], regex.Pattern[str]]:
    data = names()
    civilities = sorted(data.civilities, key=len, reverse=True)
    firsts = sorted(data.first_names, key=len, reverse=True)
    civility = regex.compile(
        r"(?<![\p{L}\d.])(?:" + "|".join(regex.escape(c) for c in civilities) + r")(?!\p{L})\s+" + _SURNAME
    )
    first = regex.compile(
        r"(?<![\p{L}\d'’-])(?:"
        + "|".join(regex.escape(f) for f in firsts)
        + r")\s+"
        + _SURNAME
        + r"(?!\p{L})"
    )
    return civility, first


def _after_place_word(text: str, start: int) -> bool:
    """Whether the words just before `start` make what follows a place ("rue", "collège de")."""
    before = text[max(0, start - 40) : start]
    for _ in range(3):
        match = _WORD_BEFORE.search(before)
        if match is None:
            return False
        word = match.group(1).lower().rstrip(".")
        if word in names().places_before:
            return True
        if word not in _LINKS:
            return False
        before = before[: match.start()]
    return False


def person_spans(text: str) -> list[tuple[int, int]]:
    """Spans of what looks like a private person's name, in text order."""
    civility, first = _patterns()
    titles = {title.lower() for title in names().titles}
    spans: list[tuple[int, int]] = []
    for match in civility.finditer(text):
        if match.group(1).lower() not in titles:
            spans.append((match.start(), match.end()))
    for match in first.finditer(text):
        surname = match.group(1)
        if surname.lower() in titles or len(surname) < 2 or _after_place_word(text, match.start()):
            continue
        if not any(start <= match.start() < end for start, end in spans):
            spans.append((match.start(), match.end()))
    return sorted(spans)
