"""The charter's fast paths (translate tables, precompiled patterns, cached lookups) give what
the plain per-character and per-word code they replaced gave, on any text."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from alertcast.charter import dictionary, spelling, style
from alertcast.charter.folding import fold, fold_char, fold_with_map
from alertcast.charter.lexicon import load_charter

#: Characters that fold to nothing, to two characters, or to another one.
TRICKY = st.sampled_from(
    list("aéÉeE ’'`‘ʼ-‐‑‒–—\u00a0\u202f\u0301\u0300\u0327İıßﬁœŒÆ가각ো\U0001f6a7\u200d\ufe0f7\n")
)
TEXTS = st.one_of(st.text(), st.lists(TRICKY, max_size=40).map("".join))


def reference_fold_with_map(text: str) -> tuple[str, tuple[int, ...]]:
    pieces: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = fold_char(char)
        pieces.append(folded)
        origin.extend([index] * len(folded))
    return "".join(pieces), tuple(origin)


@given(TEXTS)
def test_folding_by_translate_is_folding_char_by_char(text: str) -> None:
    folded = fold_with_map(text)
    assert (folded.text, folded.origin) == reference_fold_with_map(text)
    assert fold(text) == folded.text


def test_a_decomposed_accent_keeps_the_map_exact() -> None:
    folded = fold_with_map("Incompe\u0301tents")
    assert folded.text == "incompetents"
    assert folded.span(0, len(folded.text)) == (0, len("Incompe\u0301tents"))
    assert folded.origin[8] == 9  # the "t" after the dropped accent


WORDY = st.one_of(
    st.text(),
    st.lists(
        st.sampled_from(
            [
                "Route",
                "ROUTE",
                "route",
                " ",
                "7h30",
                "D934",
                "A4",
                "https://x.fr/a",
                "#alerte",
                "@maire",
                "a.b@c.fr",
                "ⅻ",
                "AB",
                "É",
                "l’",
                "-",
                "²",
                "FERMÉE",
                "Ça",
                "İ",
                "ß",
                "x",
            ]
        ),
        max_size=12,
    ).map("".join),
)


def reference_exempt(text: str, start: int, end: int) -> bool:
    skipped = [False] * len(text)
    for match in spelling._SKIP.finditer(text):
        for index in range(match.start(), match.end()):
            skipped[index] = True
    if any(skipped[start:end]):
        return True
    if (start > 0 and text[start - 1].isdigit()) or (end < len(text) and text[end].isdigit()):
        return True
    letters = [char for char in text[start:end] if char.isalpha()]
    return len(letters) > 1 and all(char.isupper() for char in letters)


@given(WORDY)
def test_spelling_exempts_the_words_it_exempted_word_by_word(text: str) -> None:
    skipped = spelling.skipped_spans(text)
    for match in spelling._WORD.finditer(text):
        assert spelling.exempt(text, match.start(), match.end(), skipped) == reference_exempt(
            text, match.start(), match.end()
        ), match.group(0)


@given(WORDY)
def test_a_dictionary_word_is_what_the_spell_checker_says(text: str) -> None:
    checker = dictionary._checker("fr")
    assert checker is not None
    for word in [*text.split(), "Fermée", "FERMÉE", "fermee", "Ça", "ÇA"]:
        assert dictionary.is_word("fr", word) == (word.lower() in checker)


def reference_capitals(text: str) -> list[tuple[int, int]]:
    """The capitals rule as it walked every word (spans of its findings)."""
    charter = load_charter("fr")
    masked = [False] * len(text)
    for label in charter.labels:
        pattern = re.escape(label).replace("'", "['’]").replace("’", "['’]")
        for match in re.finditer(rf"(?<!\w){pattern}(?!\w)", text):
            for index in range(match.start(), match.end()):
                masked[index] = True
    tokens: list[tuple[int, int, bool]] = []
    for match in re.finditer(r"\w+", text):
        word = match.group(0)
        letters = [char for char in word if char.isalpha()]
        shouting = (
            bool(letters)
            and all(char.isupper() for char in letters)
            and not any(masked[match.start() : match.end()])
            and not any(char.isdigit() for char in word)
            and "_" not in word
            and style._is_shouting(word, charter)
        )
        tokens.append((match.start(), match.end(), shouting))
    found: list[tuple[int, int]] = []
    run: list[tuple[int, int, bool]] = []

    def close() -> None:
        shouting = [token for token in run if token[2]]
        if shouting and (any(end - start >= 3 for start, end, _ in shouting) or len(shouting) >= 2):
            found.append((shouting[0][0], shouting[-1][1]))
        run.clear()

    for start, end, shouting in tokens:
        if not text[start:end].isupper() or any(masked[start:end]):
            close()
            continue
        if run and not re.fullmatch(r"[\s'’\-,:;/]*", text[run[-1][1] : start]):
            close()
        run.append((start, end, shouting))
    close()
    return found


CAPITAL_PIECES = st.sampled_from(
    [
        "ROUTE",
        "FERMÉE",
        "FERMEE",
        "Route",
        "route",
        "SNCF",
        "A4",
        "RN",
        "EXERCICE",
        "FIN D'ALERTE",
        "FIN D’ALERTE",
        "TEST",
        "OK",
        "DE",
        "LA",
        " ",
        ", ",
        " - ",
        " / ",
        "’",
        "'",
        ". ",
        "\n",
        "7",
        "_",
        "ⅻ",
        "É",
        "ÉTÉ",
        "İ",
        "ǅ",
        "x",
        "AB12",
        "DANGER",
    ]
)


@given(st.lists(CAPITAL_PIECES, max_size=14).map("".join))
def test_the_capitals_rule_finds_what_the_word_by_word_walk_found(text: str) -> None:
    findings = style._capitals(load_charter("fr"), text)
    assert [(f.start, f.end) for f in findings] == reference_capitals(text)


def _lexicon_words(language: str) -> list[str]:
    """The words the language's phrases are made of, sets' items included."""
    charter = load_charter(language)
    words: set[str] = set()
    for phrases in charter.matchers.values():
        for matcher in phrases:
            phrase = getattr(matcher.entry, "phrase", None) or ""
            words.update(re.split(r"[\s{}()|]+", phrase))
    return sorted(word for word in words if word)


LEXICON_TEXTS = st.lists(
    st.sampled_from([*_lexicon_words("fr"), *_lexicon_words("en"), " ", " ", ", ", "’", "'", "grévistes"]),
    max_size=10,
).map(" ".join)


@given(LEXICON_TEXTS, st.sampled_from(["fr", "en"]))
def test_the_phrase_index_passes_every_matcher_that_matches(text: str, language: str) -> None:
    folded = fold_with_map(text)
    for phrases in load_charter(language).matchers.values():
        every = [(matcher, list(matcher.spans(folded))) for matcher in phrases]
        chosen = phrases.candidates(folded)
        assert [found for found in every if found[1]] == [
            (matcher, spans) for matcher in chosen if (spans := list(matcher.spans(folded)))
        ]
        assert chosen == [matcher for matcher in phrases if matcher in chosen]  # list order kept
