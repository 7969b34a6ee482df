"""SMS encoding and segmentation (alertcast.sms.encoding): what a handset receives, octet by octet.

A citizen must read the alert whole: the right alphabet (GSM-7 only when every character is
in it), segments that join (UDH 05 00 03 ref total seq), and no character cut at a boundary
(an escaped GSM-7 character or a UTF-16 surrogate pair), each segment decoded on its own as a
handset does.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertcast.render.length import GSM7_BASIC, GSM7_EXTENSION, SMS_CONCATENATED, SMS_SINGLE, count
from alertcast.sms.encoding import (
    DATA_CODING,
    ESC,
    ESM_CLASS_UDHI,
    GSM7_CODES,
    GSM7_EXTENSION_CODES,
    GSM7_TABLE,
    PER_SEGMENT,
    SINGLE,
    Concatenation,
    Encoding,
    Segment,
    decode_gsm7,
    decode_part,
    encode_gsm7,
    encoding_for,
    parse_udh,
    reassemble,
    split,
    units,
)

#: GSM-7 French: é è à ù É Ç are in the default alphabet.
GSM7_FRENCH = "Vents violents à Arras : évacuez la zone près de l'église. Où ? Écoles fermées, Ça passera."
#: ê ç and the typographic apostrophe ’ are not: the whole text goes UCS-2.
UCS2_WORDS = ["Arrêté", "ça", "l’église", "Forêt", "leçon", "maïs", "cœur", "« Restez »"]
#: 150 UTF-16 units: three UCS-2 segments (67 + 67 + 16), where GSM-7 would need one.
THREE_SEGMENTS = (
    "Arrêté préfectoral : vents violents jusqu’à 130 km/h sur le littoral. "
    "Restez chez vous, ne vous approchez pas des côtes et suivez les consignes. Merci"
)


def test_the_alphabet_is_the_one_compose_counts_with() -> None:
    assert len(GSM7_TABLE) == 128 and GSM7_TABLE[ESC] == "\x1b"
    assert set(GSM7_CODES) == GSM7_BASIC
    assert set(GSM7_EXTENSION_CODES) == GSM7_EXTENSION
    assert {e.value: n for e, n in SINGLE.items()} == SMS_SINGLE
    assert {e.value: n for e, n in PER_SEGMENT.items()} == SMS_CONCATENATED


def test_french_with_e_acute_grave_and_a_grave_is_gsm7() -> None:
    assert encoding_for(GSM7_FRENCH) is Encoding.GSM7
    [segment] = split(GSM7_FRENCH, 1)
    assert segment.data_coding == 0x00 and segment.esm_class == 0 and segment.udh == b""
    assert max(segment.short_message) < 0x80  # unpacked: one septet per octet
    assert segment.short_message[:5] == encode_gsm7("Vents")
    assert encode_gsm7("é") == b"\x05" and encode_gsm7("è") == b"\x04" and encode_gsm7("à") == b"\x7f"
    assert decode_gsm7(segment.short_message) == GSM7_FRENCH


@pytest.mark.parametrize("word", UCS2_WORDS)
def test_one_character_outside_gsm7_turns_the_text_ucs2(word: str) -> None:
    text = f"Vents violents à Arras. {word}"
    assert encoding_for(text) is Encoding.UCS2
    [segment] = split(text, 1)
    assert segment.data_coding == 0x08
    assert segment.short_message == text.encode("utf-16-be")


def test_extension_characters_are_escaped_and_cost_two_septets() -> None:
    assert encode_gsm7("€") == bytes([ESC, 0x65])
    assert encode_gsm7("[x]") == bytes([ESC, 0x3C, 0x78, ESC, 0x3E])
    assert units("€", Encoding.GSM7) == 2 and units("e", Encoding.GSM7) == 1
    assert len(split("€" * 80, 1)) == 1  # 160 septets
    assert len(split("€" * 81, 1)) == 2
    with pytest.raises(ValueError, match=r"not in the GSM 03\.38 alphabet"):
        encode_gsm7("ê")


@pytest.mark.parametrize(
    ("encoding", "char", "single", "per_segment"),
    [(Encoding.GSM7, "a", 160, 153), (Encoding.UCS2, "ê", 70, 67)],
)
def test_segment_sizes(encoding: Encoding, char: str, single: int, per_segment: int) -> None:
    [alone] = split(char * single, 9)
    assert alone.concatenation is None and alone.encoding is encoding
    first, second = split(char * (single + 1), 9)
    assert len(first.text) == per_segment and len(second.text) == single + 1 - per_segment
    assert first.concatenation == Concatenation(reference=9, total=2, seq=1)


def test_a_three_segment_french_alert() -> None:
    assert len(THREE_SEGMENTS.encode("utf-16-be")) // 2 == 150
    segments = split(THREE_SEGMENTS, 0xA7)
    assert len(segments) == 3 == count("sms", THREE_SEGMENTS).segments
    assert [len(s.text) for s in segments] == [67, 67, 16]
    for seq, segment in enumerate(segments, start=1):
        assert segment.encoding is Encoding.UCS2 and segment.data_coding == DATA_CODING[Encoding.UCS2]
        assert segment.esm_class == ESM_CLASS_UDHI
        assert segment.short_message[:6] == bytes([0x05, 0x00, 0x03, 0xA7, 3, seq])
        assert len(segment.short_message) <= 140  # 6-octet UDH + 134 octets: one SMS on the air
    assert reassemble(reversed(segments)) == THREE_SEGMENTS


def test_a_three_segment_gsm7_alert_fits_smpp() -> None:
    text = ((GSM7_FRENCH + " ") * 5)[:400]
    segments = split(text, 3)
    assert len(segments) == 3 and all(s.encoding is Encoding.GSM7 for s in segments)
    assert [len(s.text) for s in segments[:2]] == [153, 153]
    assert all(len(s.short_message) <= 6 + 153 for s in segments)  # under SMPP's 254 octets
    assert reassemble(segments) == text


def test_an_escape_is_never_cut_at_a_segment_boundary() -> None:
    # 152 septets, then € (ESC + 0x65) would be septets 153 and 154: it goes whole to segment 2.
    text = "a" * 152 + "€" + "b" * 10
    first, second = split(text, 5)
    assert first.text == "a" * 152 and second.text.startswith("€")
    assert first.short_message[-1] != ESC
    assert second.short_message[6:8] == bytes([ESC, 0x65])
    assert decode_part(first)[1] + decode_part(second)[1] == text
    # One septet short of the boundary: the escape still fits, whole.
    first, _ = split("a" * 151 + "€" + "b" * 10, 5)
    assert first.text.endswith("€") and len(encode_gsm7(first.text)) == 153


def test_a_surrogate_pair_is_never_cut_at_a_segment_boundary() -> None:
    text = "ê" * 66 + "🌀" + "x" * 10  # the emoji would be units 67 and 68
    first, second = split(text, 5)
    assert first.text == "ê" * 66 and second.text.startswith("🌀")
    assert decode_part(second)[1] == second.text  # each half decodes on its own
    assert reassemble([first, second]) == text


def test_what_a_handset_shows_of_a_cut_escape() -> None:
    # What smpplib's splitter could send (its FIXME): ESC at the end of one part, the code in
    # the next. Decoded part by part, as handsets do, the euro sign is lost.
    assert decode_gsm7(bytes([0x61, ESC])) + decode_gsm7(bytes([0x65])) == "ae"
    assert decode_gsm7(bytes([ESC, 0x61])) == "a"  # unknown escape: the default table's character


def test_udh_reading() -> None:
    segment = Segment(
        encoding=Encoding.GSM7, text="abc", concatenation=Concatenation(reference=1, total=2, seq=2)
    )
    assert parse_udh(segment.short_message, segment.esm_class) == (segment.concatenation, b"abc")
    sixteen_bit = bytes([0x06, 0x08, 0x04, 0x12, 0x34, 2, 1]) + b"abc"
    assert parse_udh(sixteen_bit, ESM_CLASS_UDHI) == (Concatenation(reference=0x1234, total=2, seq=1), b"abc")
    assert parse_udh(b"\x05\x00\x03", 0) == (None, b"\x05\x00\x03")  # no UDHI bit: no header
    with pytest.raises(ValueError, match="UDH"):
        parse_udh(b"\x09\x00", ESM_CLASS_UDHI)


def test_reassembly_refuses_what_is_not_one_whole_message() -> None:
    a1, a2, a3 = split(THREE_SEGMENTS, 1)
    b1, _, _ = split(THREE_SEGMENTS, 2)
    with pytest.raises(ValueError, match="do not make a message of 3"):
        reassemble([a1, a3])
    with pytest.raises(ValueError, match="different messages"):
        reassemble([a1, a2, b1])
    assert reassemble([]) == ""


def test_bounds() -> None:
    assert split("", 0) == []
    with pytest.raises(ValueError, match="0-255"):
        split("a", 256)
    with pytest.raises(ValueError, match="concatenation allows 255"):
        split("a" * 153 * 256, 0)
    with pytest.raises(ValueError, match="lone UTF-16 surrogate"):
        split("a\ud800", 0)


#: Texts close to what is sent: French letters in and out of GSM-7, escapes, emoji, line ends.
_FRENCH = st.lists(
    st.sampled_from([*"aeiouxyz ,.:'\nÉéèàùÇç’êôœ«»€[]{}^~|\\", "🌀", "⚠️", "🇫🇷"]), max_size=700
).map("".join)


@given(text=st.one_of(_FRENCH, st.text(max_size=600)), reference=st.integers(0, 255))
def test_round_trip(text: str, reference: int) -> None:
    segments = split(text, reference)
    assert reassemble(segments) == text
    assert len(segments) == (count("sms", text, limit=255).segments or 0)
    for segment in segments:
        cost = sum(units(char, segment.encoding) for char in segment.text)
        limit = SINGLE if segment.concatenation is None else PER_SEGMENT
        assert cost <= limit[segment.encoding]
        assert decode_part(segment)[1] == segment.text  # every part reads alone
