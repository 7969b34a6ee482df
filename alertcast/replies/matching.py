"""Phrase search in a folded text, shared by the insult lexicon and the routing keywords.

Citizens type fast, on phones, without accents: "prefecture" must find "Préfecture", yet a
reason must point at the characters as written, so matching runs on `fold_with_map`'s copy
and spans are mapped back. Word boundaries keep "con" out of "conduite".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from alertcast.charter.folding import Folded, fold


@lru_cache(maxsize=1024)
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A folded phrase as a pattern: any run of spaces between words, and a word boundary only
    at an end that is a word character (so "€" or "$" still match right after a digit)."""
    words = fold(phrase).split()
    if not words:
        raise ValueError("an empty phrase matches everywhere")
    body = r"\s+".join(re.escape(word) for word in words)
    head = r"(?<!\w)" if re.match(r"\w", words[0]) else ""
    tail = r"(?!\w)" if re.search(r"\w$", words[-1]) else ""
    return re.compile(head + body + tail)


def find_phrases(folded: Folded, phrases: Iterable[str]) -> Iterator[tuple[str, int, int]]:
    """Each (phrase, start, end) found, the span in the original text, in text order."""
    found = []
    for phrase in phrases:
        for match in phrase_pattern(phrase).finditer(folded.text):
            start, end = folded.span(match.start(), match.end())
            found.append((phrase, start, end))
    return iter(sorted(found, key=lambda hit: (hit[1], hit[2])))


def contains_any(folded: Folded, phrases: Iterable[str]) -> bool:
    return any(phrase_pattern(phrase).search(folded.text) for phrase in phrases)
