"""Texts cut into sentences, the unit every per-sentence cache of the charter keys on.

LanguageTool (grammar.py) and spaCy (nlp.py) are both asked one sentence at a time, so the same
sentence in another text, another channel's copy or another version is never checked twice.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def split(text: str) -> list[tuple[int, str]]:
    """(start, sentence) for each sentence: a line, cut after . ! ? … followed by a space;
    surrounding spaces are left out, and `start` is where the sentence itself begins."""
    found: list[tuple[int, str]] = []
    position = 0
    for line in text.split("\n"):
        start = 0
        for end_match in [*_SENTENCE_END.finditer(line), None]:
            end = end_match.start() if end_match else len(line)
            piece = line[start:end]
            stripped = piece.strip()
            if stripped:
                found.append((position + start + piece.index(stripped), stripped))
            if end_match:
                start = end_match.end()
        position += len(line) + 1
    return found
