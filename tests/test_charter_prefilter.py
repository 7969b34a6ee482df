"""Cheap checks before costly ones, never changing what is found: a phrase's fixed words are
looked for before its regex runs (phrases.Matcher.required), and a text with no pictogram is
not walked grapheme by grapheme (style.emoji_spans)."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from alertcast.charter import check_text, style
from alertcast.charter.folding import fold_with_map
from alertcast.charter.lexicon import load_charter
from alertcast.charter.phrases import required_words
from alertcast.charter.style import emoji_spans


def test_a_phrase_s_required_words_are_its_fixed_words_folded() -> None:
    assert required_words("à cause des {group}") == ("a", "cause", "des")
    assert required_words("grâce à (notre|nos) élus") == ("grace", "a", "elus")
    assert required_words("(ces {group}|ces gens)") == ()  # nothing fixed: the regex always runs
    assert required_words("LFI") == ("LFI",)  # an acronym is matched as written


PIECES = st.sampled_from(
    [
        "les grévistes ont choisi de bloquer",
        "à cause des grévistes",
        "grâce à nos élus",
        "Incompe\u0301tents !",
        "LFI",
        "lfi",
        "La route D 934 est fermée",
        "c’est honteux",
        "C'EST HONTEUX",
        " ",
        "\u00a0",
        ", ",
    ]
)


@given(st.lists(PIECES, min_size=1, max_size=6).map("".join))
def test_the_words_checked_first_never_hide_a_match(text: str) -> None:
    folded = fold_with_map(text)
    charter = load_charter("fr")
    for matchers in charter.matchers.values():
        for matcher in matchers:
            unfiltered = dataclasses.replace(matcher, required=())
            assert list(matcher.spans(folded)) == list(unfiltered.spans(folded)), matcher.entry


def test_emoji_are_still_counted_and_plain_text_has_none() -> None:
    text = "Route fermée 🚧 déviation ➡️ par la D 917 🚗"
    assert [text[start:end] for start, end in emoji_spans(text)] == ["🚧", "➡️", "🚗"]
    assert emoji_spans("Route fermée, déviation par la D 917.") == []
    assert any(f.rule == "style.emoji" for f in check_text("Attention 🚧🚧🚧🚧 route fermée", "fr"))


EMOJI_PIECES = st.sampled_from(
    [
        "Route",
        " ",
        "\n",
        "🚧",
        "➡️",
        "👨\u200d👩\u200d👧",
        "🇫🇷",
        "1\ufe0f\u20e3",
        "👍🏽",
        "©",
        "e\u0301",
        "é",
        "D 917",
    ]
)


@given(st.lists(EMOJI_PIECES, min_size=1, max_size=12).map("".join))
def test_the_walk_from_the_first_pictogram_finds_what_the_whole_walk_finds(text: str) -> None:
    whole = [(m.start(), m.end()) for m in style._GRAPHEME.finditer(text) if style.is_emoji(m.group(0))]
    assert emoji_spans(text) == whole
