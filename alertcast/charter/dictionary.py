"""The offline word lists behind the spelling and capitals rules (pyspellchecker).

pyspellchecker ships its dictionaries inside the wheel, so nothing is downloaded at run time.
Loading one takes about 0.1 s, so each language is loaded once per process.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

from spellchecker import SpellChecker

from alertcast.charter.folding import fold


@lru_cache(maxsize=1)
def available() -> frozenset[str]:
    folder = resources.files("spellchecker").joinpath("resources")
    return frozenset(
        entry.name.split(".")[0] for entry in folder.iterdir() if entry.name.endswith(".json.gz")
    )


@lru_cache(maxsize=8)
def _checker(language: str) -> SpellChecker | None:
    if language not in available():
        return None
    # distance 1 keeps suggestions instant; a communicator sees them as they type.
    return SpellChecker(language=language, distance=1)


@lru_cache(maxsize=8)
def _folded_words(language: str) -> frozenset[str]:
    checker = _checker(language)
    if checker is None:
        return frozenset()
    return frozenset(fold(word) for word in checker.word_frequency.dictionary)


def has_dictionary(language: str) -> bool:
    return _checker(language) is not None


@lru_cache(maxsize=8)
def _lowered_words(language: str) -> Mapping[str, int] | None:
    """The checker's own word table, keyed in lower case (it is not case-sensitive)."""
    checker = _checker(language)
    return None if checker is None else checker.word_frequency.dictionary


def is_word(language: str, word: str) -> bool:
    """Spelled exactly as a dictionary word (ignoring case).

    Looked up in the checker's table directly: `word in checker` re-checks the type and lowers
    the word again, which made the lookup twice as dear (450 ns against 210), on every word of
    every text."""
    words = _lowered_words(language)
    return words is not None and word.lower() in words


def is_word_ignoring_accents(language: str, word: str) -> bool:
    """A dictionary word once accents are dropped: capitals often lose them ("FERMEE")."""
    return fold(word) in _folded_words(language)


def corrections(language: str, word: str, limit: int = 3) -> list[str]:
    """The likeliest corrections, most frequent first (empty when none is close)."""
    return list(_corrections(language, word, limit))


@lru_cache(maxsize=8192)
def _corrections(language: str, word: str, limit: int) -> tuple[str, ...]:
    """Cached: the same unknown words (place names, acronyms) come back in every alert, and
    computing edit candidates is the costliest step of the whole charter."""
    checker = _checker(language)
    if checker is None or len(word) > 30:  # edits of a very long token cost more than they help
        return ()
    found = checker.candidates(word.lower()) or set()
    ranked = sorted(
        (c for c in found if c != word.lower()), key=lambda c: (-checker.word_usage_frequency(c), c)
    )
    return tuple(c.capitalize() if word[:1].isupper() else c for c in ranked[:limit])
