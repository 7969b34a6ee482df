"""The charter's fast paths (translate tables, precompiled patterns, cached lookups) give what
the plain per-character and per-word code they replaced gave, on any text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alertcast.charter.folding import fold, fold_char, fold_with_map

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
