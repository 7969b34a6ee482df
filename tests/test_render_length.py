"""Length counting against each network's documented rules.

X cases marked "conformance" are from twitter-text's conformance/validate.yml
(WeightedTweetsWithDiscountedEmojiCounterTest, config v3).
"""

from __future__ import annotations

import pytest
import regex

from alertcast.render.length import (
    CHANNELS,
    COUNTABLE,
    DEFAULT_LIMITS,
    GSM7_BASIC,
    GSM7_EXTENSION,
    count,
    graphemes,
    sms_before_after,
    sms_encoding,
    sms_plain,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦, 7 code points
FLAG_FR = "\U0001f1eb\U0001f1f7"
E_ACUTE = "\u00e9"
E_DECOMPOSED = "e\u0301"
LONG_URL = "https://www.pas-de-calais.gouv.fr/Actualites/Routes/fermeture-de-la-route-departementale-934"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi http://test.co", 26),  # conformance
        ("http://test.co", 23),  # conformance
        ("H\U0001f431\u263a" + FAMILY, 7),  # conformance: family sequence = 2
        ("\U0001f637\U0001f47e\U0001f621\U0001f525\U0001f4a9", 10),  # conformance
        ("\U0001f64b\U0001f3fd\U0001f468\u200d\U0001f3a4", 4),  # conformance: skin tone, ZWJ
        ("1\u20e3", 2),  # conformance: keycap
        (LONG_URL, 23),
        ("Route fermée " + LONG_URL, 13 + 23),
        (E_ACUTE, 1),
        (E_DECOMPOSED, 1),  # NFC first: é counts 1 however typed
        ("Arrêté préfectoral", 18),
        (FLAG_FR, 2),
        ("日本語", 6),  # CJK = 2
    ],
)
def test_x_weighted_length(text: str, expected: int) -> None:
    assert count("x", text).length == expected
    assert count("x", text).unit == "weighted"


def test_x_limit_280_with_family_emoji_conformance() -> None:
    assert count("x", FAMILY * 140).length == 280
    assert count("x", FAMILY * 140).fits
    assert not count("x", FAMILY * 141).fits


def test_x_cjk_overflow_conformance() -> None:
    assert count("x", "故" * 140).fits
    assert count("x", "故" * 160).length == 320
    assert not count("x", "故" * 160).fits


def test_x_accented_280_fits_and_281_does_not() -> None:
    assert count("x", "é" * 280).fits
    assert not count("x", "é" * 281).fits
    assert count("x", E_DECOMPOSED * 280).fits


def test_x_limit_and_url_weight_parameters() -> None:
    assert count("x", "http://test.co", url_weight=30).length == 30
    assert not count("x", "a" * 11, limit=10).fits


def test_mastodon_counts_urls_as_23_and_mentions_without_domain() -> None:
    assert count("mastodon", LONG_URL).length == 23
    assert count("mastodon", "Infos : " + LONG_URL + ".").length == 8 + 23 + 1
    assert count("mastodon", "@prefecture62@social.gouv.fr merci").length == len("@prefecture62 merci")
    assert count("mastodon", "@prefecture62 merci").length == len("@prefecture62 merci")


def test_mastodon_counts_graphemes() -> None:
    assert count("mastodon", FAMILY).length == 1
    assert count("mastodon", FLAG_FR).length == 1
    assert count("mastodon", E_DECOMPOSED).length == 1


def test_mastodon_limit_and_url_weight_come_from_the_instance() -> None:
    assert count("mastodon", "a" * 500).fits
    assert not count("mastodon", "a" * 501).fits
    assert count("mastodon", "a" * 501, limit=5000).fits
    assert count("mastodon", LONG_URL, url_weight=30).length == 30


def test_bluesky_counts_graphemes_up_to_300() -> None:
    assert count("bluesky", FAMILY).length == 1
    assert count("bluesky", FLAG_FR).length == 1
    assert count("bluesky", E_DECOMPOSED + E_ACUTE).length == 2
    assert count("bluesky", LONG_URL).length == len(LONG_URL)
    assert count("bluesky", "é" * 300).fits
    assert not count("bluesky", "é" * 301).fits
    assert count("bluesky", FAMILY * 300).fits
    assert count("bluesky", "x").unit == "graphemes"


def test_text_counted_without_matching_clusters_counts_what_they_count() -> None:
    """`graphemes` counts text made of COUNTABLE characters instead of matching clusters: exact
    only if none of them joins the one before it (CR LF excepted), which every pair checks."""
    cluster = regex.compile(r"\X")
    countable = [chr(code) for low, high in COUNTABLE for code in range(low, high + 1)]
    for first in countable:
        for second in countable:
            pair = first + second
            assert graphemes(pair) == len(cluster.findall(pair)), repr(pair)
    mixed = "Mise à jour – Arrêté\r\n\r\r\n« Fin » 5 €…"
    assert graphemes(mixed) == len(cluster.findall(mixed)) == len(mixed) - 2
    assert graphemes("Arr" + E_DECOMPOSED + "t" + FLAG_FR) == 6
    assert graphemes("a\u200db") == 2  # ZWJ joins: not countable


def test_telegram_counts_utf16_units() -> None:
    assert count("telegram", "\U0001f637").length == 2
    assert count("telegram", FAMILY).length == 11
    assert count("telegram", E_DECOMPOSED).length == 2
    assert count("telegram", "a" * 4096).fits
    assert not count("telegram", "a" * 4097).fits
    assert count("telegram", "\U0001f637" * 2048).fits
    assert not count("telegram", "\U0001f637" * 2049).fits


def test_facebook_matrix_and_unlimited_channels() -> None:
    assert count("facebook", "a" * 63_206).fits
    assert not count("facebook", "a" * 63_207).fits
    assert count("matrix", "é").length == 2
    assert count("matrix", "é").unit == "bytes"
    for channel in ("website", "webhook", "email"):
        length = count(channel, "a" * 1_000_000)
        assert length.fits
        assert length.limit is None


def test_every_channel_id_is_counted() -> None:
    assert set(CHANNELS) == {
        "website",
        "webhook",
        "email",
        "mastodon",
        "bluesky",
        "matrix",
        "x",
        "facebook",
        "telegram",
        "sms",
        "webpush",
        "email_subscribers",
    }
    for channel in CHANNELS:
        assert count(channel, "Route fermée").channel == channel


def test_unknown_channel_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown channel"):
        count("myspace", "hello")


def test_gsm7_table_is_gsm_03_38() -> None:
    assert len(GSM7_BASIC) == 127  # 128 positions less ESC
    assert set("\f^{}\\[~]|€") == set(GSM7_EXTENSION)
    for char in "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r":
        assert char in GSM7_BASIC, char
    for char in "çêâîôûëïáíóúÈÀÙ’`«»œ":
        assert char not in GSM7_BASIC and char not in GSM7_EXTENSION, char


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Route fermée à Arras", "gsm7"),  # é and à are GSM-7
        ("Fête annulée", "ucs2"),  # ê is not
        ("Garçon", "ucs2"),  # GSM has Ç, not ç
        ("CIRCULATION À ARRAS", "ucs2"),  # nor À
        ("Aujourd’hui", "ucs2"),  # the typographic apostrophe forces UCS-2
        ("Aujourd'hui", "gsm7"),
        ("Amende 135 €", "gsm7"),
        ("Route ferme" + E_DECOMPOSED, "ucs2"),  # counted as given: renderers send NFC
    ],
)
def test_sms_encoding(text: str, encoding: str) -> None:
    assert sms_encoding(text) == encoding
    assert count("sms", text).encoding == encoding


def test_sms_gsm7_segments() -> None:
    single = count("sms", "é" * 160, limit=1)
    assert (single.length, single.segments, single.fits, single.unit) == (160, 1, True, "septets")
    two = count("sms", "a" * 161, limit=1)
    assert (two.segments, two.fits) == (2, False)
    assert count("sms", "a" * 306).segments == 2
    assert count("sms", "a" * 307).segments == 3


def test_sms_extension_characters_count_two_and_are_not_split() -> None:
    assert count("sms", "€" * 80).length == 160
    assert count("sms", "€" * 80).segments == 1
    assert count("sms", "€" * 81).segments == 2
    # 306 septets would be 2 segments, but the escape sequence cannot straddle two.
    text = "a" * 152 + "€" + "a" * 152
    assert count("sms", text).length == 306
    assert count("sms", text).segments == 3


def test_sms_ucs2_segments() -> None:
    assert count("sms", "ê" * 70).segments == 1
    assert count("sms", "ê" * 71).segments == 2
    assert count("sms", "ê" * 134).segments == 2
    assert count("sms", "ê" * 135).segments == 3
    emoji = count("sms", "\U0001f637")
    assert (emoji.length, emoji.unit, emoji.encoding) == (2, "utf16", "ucs2")
    # a surrogate pair is not split either
    assert count("sms", "ê" * 66 + "\U0001f637" + "ê" * 66).segments == 3


def test_sms_limit_is_a_number_of_segments() -> None:
    assert count("sms", "a" * 161, limit=2).fits
    assert count("sms", "a" * 161, limit=2).limit == 306
    assert count("sms", "ê" * 71, limit=2).limit == 134
    assert count("sms", "a" * 160, limit=1).limit == 160
    assert count("sms", "ê" * 70, limit=1).limit == 70
    assert count("sms", "").segments == 0


def test_sms_default_is_three_segments() -> None:
    """An alert SMS may take up to 3 concatenated segments, as emergency SMS services send."""
    assert DEFAULT_LIMITS["sms"] == 3
    assert (count("sms", "a" * 459).limit, count("sms", "a" * 459).fits) == (459, True)
    assert (count("sms", "a" * 460).segments, count("sms", "a" * 460).fits) == (4, False)
    assert (count("sms", "ê" * 201).limit, count("sms", "ê" * 201).fits) == (201, True)
    assert (count("sms", "ê" * 202).segments, count("sms", "ê" * 202).fits) == (4, False)
    # an escape sequence never straddles two segments, even at the last boundary
    assert count("sms", "a" * 152 + "€" + "a" * 305).segments == 4


def test_gsm7_has_exactly_these_french_letters() -> None:
    # GSM 03.38 basic table: é è ù ì ò à É Ç are in it; ê â î ô û ë ï ç œ are not (nor À È Ù Ê Œ).
    for char in "éèùìòàÉÇ":
        assert sms_encoding(char) == "gsm7", char
    for char in "êâîôûëïçœÀÈÙÊÂÎÔÛŒ":
        assert sms_encoding(char) == "ucs2", char


@pytest.mark.parametrize(
    ("written", "plain"),
    [
        ("Aujourd’hui", "Aujourd'hui"),
        ("l‘école", "l'école"),
        ("« Restez chez vous »", '"Restez chez vous"'),
        ("«\u00a0Restez chez vous\u00a0»", '"Restez chez vous"'),
        ("«\u202fRestez\u202f»", '"Restez"'),
        ("“Stay home”", '"Stay home"'),
        (
            "Attention\u00a0: route fermée\u202f; déviation\u00a0! Pourquoi\u202f?",
            "Attention : route fermée ; déviation ! Pourquoi ?",
        ),
        ("de 8 h – 18 h — ou plus…", "de 8 h - 18 h - ou plus..."),
        ("10\u2009000 foyers", "10 000 foyers"),
        ("Saint‑Omer", "Saint-Omer"),
    ],
)
def test_sms_plain_makes_typography_gsm7(written: str, plain: str) -> None:
    assert sms_plain(written) == plain
    assert sms_encoding(written) == "ucs2"
    assert sms_encoding(plain) == "gsm7"


def test_sms_plain_never_strips_letters() -> None:
    letters = "Arrêté : fête, pâtes, île, côte, sûr, Noël, naïf, garçon, œuf, cœur, Ève, À bientôt"
    assert sms_plain(letters) == letters
    assert sms_encoding(sms_plain(letters)) == "ucs2"
    assert sms_plain("L’île") == "L'île"  # the apostrophe goes, the î stays: still UCS-2
    assert sms_encoding(sms_plain("L’île")) == "ucs2"


def test_sms_before_after_reports_the_saving() -> None:
    text = "Vigilance orange\u00a0: l’accès aux berges est interdit jusqu’à demain 18 h. " * 2
    length = sms_before_after(text)
    assert (length.encoding_before, length.segments_before) == ("ucs2", 3)
    assert (length.encoding, length.segments) == ("gsm7", 1)
    assert length.length == len(sms_plain(text))
    honest = sms_before_after("La fête de l’été est annulée.")
    assert (honest.encoding_before, honest.encoding) == ("ucs2", "ucs2")
    assert count("sms", "x").segments_before is None  # count alone measures as given
