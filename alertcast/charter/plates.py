"""Vehicle registration plates of France (SIV and the older FNI) and of the United Kingdom.

A plate names its keeper as surely as a name does (GDPR): a witness's or a suspect's car is
described by make and colour, never by plate. What looks like a plate but is not must pass:
roads (D 934, A1, N 17, RN 43, M25), times (14 H 30), postcodes (62000, SW1A 1AA), INSEE codes
(62041, 2A004) and dates (12 MAI 2024). So each format is matched as issued:
- SIV (France since 2009): AB-123-CD, AB 123 CD, AB123CD; letters never I, O, U; SS never
  issued as a letter pair (WW is a temporary plate: still a vehicle, still flagged).
- FNI (France until 2009, still on the road): 1-4 digits, 2-3 letters, then the département:
  01-95 (not 20), 2A, 2B or 971-976 ("1234 AB 56", "123 ABC 75", "45 AB 2A", "12 ABC 974").
  Single-letter series ("123 A 75") are left out: "14 H 30" is a time far more often. Letter
  groups that are acronyms (TER, TGV, RER...) or month abbreviations are not plates.
- UK (since 2001): two letters, two digits (the age identifier: 02-29 or 51-79), three
  letters, with or without the space ("AB12 CDE", "BD51SMR"); letters I and Q never used.
Letters must be capitals: a plate written in lower case is rare, a word is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SIV = re.compile(r"(?<![\w-])([A-HJ-NP-TV-Z]{2})[- ]?\d{3}[- ]?([A-HJ-NP-TV-Z]{2})(?![\w-])")
FNI = re.compile(
    r"(?<![\w-])\d{1,4}[- ]?([A-HJ-NP-Z]{2,3})[- ]?(0[1-9]|1\d|2[1-9AB]|[3-8]\d|9[0-5]|97[1-6])(?![\w-])"
)
UK = re.compile(r"(?<![\w-])[A-HJ-PR-Y]{2}(0[2-9]|[12]\d|5[1-9]|[67]\d) ?[A-HJ-PR-Z]{3}(?![\w-])")
_MONTHS = frozenset(
    [
        "JAN",
        "FEB",
        "FEV",
        "FÉV",
        "MAR",
        "APR",
        "AVR",
        "MAY",
        "MAI",
        "JUN",
        "JUIN",
        "JUI",
        "JUL",
        "AUG",
        "AOU",
        "AOÛ",
        "SEP",
        "SEPT",
        "OCT",
        "NOV",
        "DEC",
        "DÉC",
    ]
)


def plate_spans(text: str, acronyms: Iterable[str] = ()) -> list[tuple[int, int]]:
    """Spans of what looks like a registration plate, in text order."""
    not_letters = _MONTHS | frozenset(acronyms)
    spans: list[tuple[int, int]] = []
    for match in SIV.finditer(text):
        if "SS" not in (match.group(1), match.group(2)):
            spans.append((match.start(), match.end()))
    for match in FNI.finditer(text):
        if match.group(1) not in not_letters:
            spans.append((match.start(), match.end()))
    for match in UK.finditer(text):
        spans.append((match.start(), match.end()))
    spans = sorted(set(spans))
    return [
        span for span in spans if not any(o != span and o[0] <= span[0] and span[1] <= o[1] for o in spans)
    ]
