"""A text as the SMPP `short_message` octets of its SMS segments, and back.

Why it matters: an emergency SMS must reach every handset whole. An operator's gateway takes
raw octets (smpp34 sends `short_message` as given and leaves "GSM 7-bit / UCS-2 text encoding
of the payload to the caller", its COMPLIANCE.md), so the encoding, the split into segments and
the concatenation headers are ours.

- Encoding: GSM 03.38 (3GPP TS 23.038) 7-bit default alphabet when every character is in it or
  in its extension table (`^{}\\[~]|€` and form feed, sent as ESC + code: 2 septets), with
  `data_coding` 0x00 (the SMSC default alphabet); else UCS-2 (UTF-16 big-endian, `data_coding`
  0x08). French: é è à ù É Ç are GSM-7; ê â î ô û ë ï ç œ and the typographic apostrophe ’ are
  not, and any one of them turns the whole text into UCS-2.
- Octets: GSM-7 goes *unpacked*, one septet per octet, as SMPP 3.4 carries data_coding 0 (the
  SMSC packs septets for the air interface); 153 septets and a 6-octet UDH make 159 octets,
  within SMPP's 254.
- Segments: one SMS holds 160 septets or 70 UTF-16 units. A longer text is split into
  segments of 153 septets / 67 units, each starting with a concatenation UDH
  `05 00 03 <reference> <total> <sequence>` (8-bit reference, esm_class UDHI 0x40), so the
  handset joins them. A character is never cut: an escaped GSM-7 character (ESC + code) and a
  UTF-16 surrogate pair (an emoji) stay in one segment, where smpplib's splitter can cut an
  escape in two (its FIXME) and the handset shows garbage at the boundary. The counts agree
  with `alertcast.render.length.count("sms", ...)`, which compose fits texts to.

Pure functions over frozen pydantic models: the channel sends `Segment.short_message` with
`Segment.data_coding` and `Segment.esm_class`; tests and the test gateway read them back with
`decode_part` / `reassemble`.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

#: The GSM 03.38 default alphabet in code order (0x00-0x7F); 0x1B is ESC, never a character.
GSM7_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
ESC = 0x1B
GSM7_CODES: dict[str, int] = {char: code for code, char in enumerate(GSM7_TABLE) if code != ESC}
#: The extension table: reached through ESC, two septets each.
GSM7_EXTENSION_CODES: dict[str, int] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_EXTENSION_CHARS = {code: char for char, code in GSM7_EXTENSION_CODES.items()}

#: Concatenation UDH: length 5, IEI 0x00 (8-bit reference), IE length 3, then ref, total, seq.
UDH_CONCAT_8BIT = bytes([0x05, 0x00, 0x03])
#: esm_class bit saying short_message starts with a User Data Header.
ESM_CLASS_UDHI = 0x40
MAX_SEGMENTS = 255  #: an 8-bit total


class Encoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


#: SMPP data_coding of each encoding: 0x00 SMSC default alphabet (GSM-7), 0x08 UCS-2.
DATA_CODING: dict[Encoding, int] = {Encoding.GSM7: 0x00, Encoding.UCS2: 0x08}
#: Units one SMS holds alone, and each segment of a concatenated one (the UDH takes the rest).
SINGLE: dict[Encoding, int] = {Encoding.GSM7: 160, Encoding.UCS2: 70}
PER_SEGMENT: dict[Encoding, int] = {Encoding.GSM7: 153, Encoding.UCS2: 67}


def encoding_for(text: str) -> Encoding:
    """GSM-7 when every character has a GSM-7 code (default or extension table), else UCS-2."""
    gsm = all(char in GSM7_CODES or char in GSM7_EXTENSION_CODES for char in text)
    return Encoding.GSM7 if gsm else Encoding.UCS2


def units(char: str, encoding: Encoding) -> int:
    """What one character costs: septets in GSM-7 (2 when escaped), UTF-16 units in UCS-2."""
    if encoding is Encoding.GSM7:
        return 2 if char in GSM7_EXTENSION_CODES else 1
    return 2 if ord(char) > 0xFFFF else 1


def encode_gsm7(text: str) -> bytes:
    """Unpacked GSM-7: one septet per octet, ESC (0x1B) before an extension-table code."""
    out = bytearray()
    for char in text:
        if char in GSM7_CODES:
            out.append(GSM7_CODES[char])
        elif char in GSM7_EXTENSION_CODES:
            out += bytes([ESC, GSM7_EXTENSION_CODES[char]])
        else:
            raise ValueError(f"{char!r} (U+{ord(char):04X}) is not in the GSM 03.38 alphabet")
    return bytes(out)


def decode_gsm7(data: bytes) -> str:
    """Unpacked GSM-7 back to text. As 3GPP TS 23.038 asks of a receiver, an escape followed by
    a code the extension table lacks shows the default table's character; a trailing lone ESC
    (a cut escape, which `split` never makes) shows nothing."""
    chars: list[str] = []
    escaped = False
    for octet in data:
        if octet > 0x7F:
            raise ValueError(f"octet 0x{octet:02X} is not a GSM-7 septet")
        if escaped:
            chars.append(_EXTENSION_CHARS.get(octet) or GSM7_TABLE[octet])
            escaped = False
        elif octet == ESC:
            escaped = True
        else:
            chars.append(GSM7_TABLE[octet])
    return "".join(chars)


def encode_text(text: str, encoding: Encoding) -> bytes:
    if encoding is Encoding.GSM7:
        return encode_gsm7(text)
    return text.encode("utf-16-be")


def decode_text(data: bytes, data_coding: int) -> str:
    """The text of a payload (UDH removed) by its data_coding: 0x08 UCS-2, 0x00 GSM-7."""
    if data_coding == DATA_CODING[Encoding.UCS2]:
        return data.decode("utf-16-be")
    if data_coding == DATA_CODING[Encoding.GSM7]:
        return decode_gsm7(data)
    raise ValueError(f"data_coding 0x{data_coding:02X} is neither GSM-7 (0x00) nor UCS-2 (0x08)")


class Concatenation(BaseModel):
    """Where a segment sits in its message (the concatenation UDH)."""

    model_config = ConfigDict(frozen=True)

    reference: int = Field(ge=0, le=0xFFFF)
    total: int = Field(ge=1, le=MAX_SEGMENTS)
    seq: int = Field(ge=1, le=MAX_SEGMENTS)

    def udh(self) -> bytes:
        return UDH_CONCAT_8BIT + bytes([self.reference & 0xFF, self.total, self.seq])


class Segment(BaseModel):
    """One SMS to submit: its characters, encoding and place in the message."""

    model_config = ConfigDict(frozen=True)

    encoding: Encoding
    text: str
    concatenation: Concatenation | None = None

    @property
    def seq(self) -> int:
        return self.concatenation.seq if self.concatenation is not None else 1

    @property
    def total(self) -> int:
        return self.concatenation.total if self.concatenation is not None else 1

    @property
    def data_coding(self) -> int:
        return DATA_CODING[self.encoding]

    @property
    def esm_class(self) -> int:
        return ESM_CLASS_UDHI if self.concatenation is not None else 0x00

    @property
    def udh(self) -> bytes:
        return self.concatenation.udh() if self.concatenation is not None else b""

    @property
    def short_message(self) -> bytes:
        """The SMPP short_message: the UDH (if any), then the encoded characters."""
        return self.udh + encode_text(self.text, self.encoding)


def split(text: str, reference: int) -> list[Segment]:
    """`text` as the segments to submit, in order (none for an empty text). `reference` (0-255)
    names the message in each concatenation UDH; one SMS that fits alone carries no UDH."""
    if not 0 <= reference <= 0xFF:
        raise ValueError(f"an 8-bit concatenation reference is 0-255, not {reference}")
    if not text:
        return []
    encoding = encoding_for(text)
    if encoding is Encoding.UCS2 and any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        raise ValueError("the text holds a lone UTF-16 surrogate: it cannot be sent")
    costs = [units(char, encoding) for char in text]
    if sum(costs) <= SINGLE[encoding]:
        return [Segment(encoding=encoding, text=text)]
    chunks: list[str] = []
    start, used = 0, 0
    for index, cost in enumerate(costs):
        if used + cost > PER_SEGMENT[encoding]:  # the whole character goes to the next segment
            chunks.append(text[start:index])
            start, used = index, 0
        used += cost
    chunks.append(text[start:])
    if len(chunks) > MAX_SEGMENTS:
        raise ValueError(f"the text needs {len(chunks)} segments; concatenation allows {MAX_SEGMENTS}")
    return [
        Segment(
            encoding=encoding,
            text=chunk,
            concatenation=Concatenation(reference=reference, total=len(chunks), seq=seq),
        )
        for seq, chunk in enumerate(chunks, start=1)
    ]


class Part(Protocol):
    """What a gateway received of one segment (a submit_sm); `Segment` is one too."""

    @property
    def data_coding(self) -> int: ...

    @property
    def esm_class(self) -> int: ...

    @property
    def short_message(self) -> bytes: ...


def parse_udh(short_message: bytes, esm_class: int) -> tuple[Concatenation | None, bytes]:
    """The concatenation header (8- or 16-bit reference) and the payload after the UDH. Other
    information elements are skipped; no UDHI bit, no header."""
    if not esm_class & ESM_CLASS_UDHI:
        return None, short_message
    if not short_message or short_message[0] + 1 > len(short_message):
        raise ValueError("esm_class says a UDH is present, but short_message does not hold one")
    length = short_message[0]
    header, payload = short_message[1 : 1 + length], short_message[1 + length :]
    found: Concatenation | None = None
    at = 0
    while at + 2 <= len(header):
        iei, size = header[at], header[at + 1]
        value = header[at + 2 : at + 2 + size]
        if iei == 0x00 and size == 3:
            found = Concatenation(reference=value[0], total=value[1], seq=value[2])
        elif iei == 0x08 and size == 4:
            found = Concatenation(reference=int.from_bytes(value[:2], "big"), total=value[2], seq=value[3])
        at += 2 + size
    return found, payload


def decode_part(part: Part) -> tuple[Concatenation | None, str]:
    """One segment as a handset reads it: its place in the message and its own text."""
    concatenation, payload = parse_udh(part.short_message, part.esm_class)
    return concatenation, decode_text(payload, part.data_coding)


def reassemble(parts: Iterable[Part]) -> str:
    """The message the segments of one message make, in any order, each decoded on its own as a
    handset does (so a cut escape or surrogate would show). Refuses a mix of messages, a
    missing or repeated segment."""
    decoded = [decode_part(part) for part in parts]
    if not decoded:
        return ""
    if len(decoded) == 1 and decoded[0][0] is None:
        return decoded[0][1]
    headers: list[Concatenation] = []
    for concatenation, _ in decoded:
        if concatenation is None:
            raise ValueError("a segment of a concatenated message has no concatenation header")
        headers.append(concatenation)
    if len({(h.reference, h.total) for h in headers}) != 1:
        raise ValueError("the segments belong to different messages (reference or total differ)")
    seqs = sorted(h.seq for h in headers)
    if seqs != list(range(1, headers[0].total + 1)):
        raise ValueError(f"segments {seqs} do not make a message of {headers[0].total}")
    return "".join(text for _, text in sorted(decoded, key=lambda item: item[0].seq if item[0] else 0))
