"""X's weighted length gives what twitter-text's `parse_tweet` gives, on every kind of text."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twitter_text import parse_tweet  # type: ignore[import-untyped]

from alertcast import examples
from alertcast.render.compose import compose
from alertcast.render.length import CHANNELS
from alertcast.render.templates import Templates
from alertcast.render.x_length import CONFIG, weighted_length
from alertcast.settings import get_settings

TOKENS = [
    "a", "Z", "é", "e\u0301", "9", "0", " ", "\n", "\r\n", "\r", ".", "/", ":", "-", "#", "*",
    "日本", "한", "😷", "👨\u200d👩\u200d👧", "🇫🇷", "1️⃣", "1\u20e3", "#⃣", "©", "©\ufe0f", "™", "‼",
    "⚠️", "\ufe0f", "\u20e3", "\ufeff", "\u202a", "\u2028", "https://", "http://", "www.",
    "example.com", "alertes.gouv.fr/a/1", "t.co/abc", "(", ")", "?q=1", "@x", "\u00a0",
]  # fmt: skip


def parsed(text: str, limit: int = 280, url_weight: int = 23) -> tuple[int, bool]:
    options: dict[str, Any] = {
        **CONFIG,
        "max_weighted_tweet_length": limit,
        "transformed_url_length": url_weight,
    }
    result = parse_tweet(text, options)
    return result.weightedLength, bool(result.valid)


def example_texts() -> list[str]:
    templates = Templates(get_settings().templates_dir, site_base_url="https://alertes.example.fr")
    texts = {
        text.text
        for incident in examples.incidents()
        for text in compose(incident, list(CHANNELS), templates).texts
    }
    return sorted(texts)


def test_every_text_of_the_examples_weighs_what_parse_tweet_says() -> None:
    texts = example_texts()
    assert len(texts) > 10
    for text in texts:
        assert weighted_length(text, 280, 23) == parsed(text), text


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "Route fermée 🚧 ⚠️ jusqu'à 18 h",
        "famille 👨\u200d👩\u200d👧 drapeau 🇫🇷 touche 1️⃣ et #⃣ et 5\u20e3",
        "© ©\ufe0f ™ ‼ 9\ufe0f",
        "日本語のテキストと한국어",
        "voir https://alertes.example.fr/alerts/e2b9e507fb7ef641.html et www.example.com.",
        "lien😷https://example.com😷fin",
        "caché\ufeffici \u202aailleurs",
        "https://example.com/\ufeff",
        "e\u0301te\u0301 et \r\n lignes \r fin",
        "x" * 280,
        "x" * 281,
        "日" * 140,
        "日" * 141,
    ],
)
def test_the_hard_cases_weigh_what_parse_tweet_says(text: str) -> None:
    assert weighted_length(text, 280, 23) == parsed(text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
    st.integers(min_value=1, max_value=300),
    st.sampled_from([23, 0, 50]),
)
def test_texts_made_of_the_hard_parts_weigh_what_parse_tweet_says(
    text: str, limit: int, url_weight: int
) -> None:
    assert weighted_length(text, limit, url_weight) == parsed(text, limit, url_weight)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_weighs_what_parse_tweet_says(text: str) -> None:
    assert weighted_length(text, 280, 23) == parsed(text)
