"""Phone numbers in a text, read with `phonenumbers` and sorted into service, line or mobile.

Why a library and not a regex: a regex knows French 06/07 and nothing else, while an alert
may carry a British mobile, a Belgian or Swiss one, or a Réunion mobile written "0692 ..."; and
the kind of a number (mobile, landline, toll-free, shared-cost) is metadata that changes with
each numbering plan, which `phonenumbers` keeps current.

Reading: `PhoneNumberMatcher` with leniency POSSIBLE over the text, region FR first (national
"03 21 21 20 00", international "+44 7700 900123" and "0033 ..."), then GB for what FR could
not read (a UK national number is 11 digits from 0, "07700 900123", which no French number is).
POSSIBLE rather than VALID so that fictional or newly opened ranges (Ofcom's 07700 900xxx,
"07 12 ...") still count: a number that looks private is treated as private. A French national
number that FR's metadata does not know is tried in the overseas plans (0692 Réunion mobile,
0590 Guadeloupe landline). Short numbers (112, 15, 17, 18, 114, 3117...) are never matched.

Kinds: `service` (toll-free 080x, shared-cost 081x/082x, UAN 0806/0300, premium) is a public
service line; `mobile` (and pager, personal numbering) is someone's phone; `line` (fixed,
fixed-or-mobile, VoIP 09, or unknown) is a switchboard unless a person is named next to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from phonenumbers import Leniency, PhoneNumber, PhoneNumberFormat, PhoneNumberMatcher, PhoneNumberType

from alertcast.charter.personal_lexicon import contacts

Kind = Literal["service", "mobile", "line"]

_SERVICE = {
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.UAN,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.VOICEMAIL,
}
_MOBILE = {PhoneNumberType.MOBILE, PhoneNumberType.PAGER, PhoneNumberType.PERSONAL_NUMBER}


@dataclass(frozen=True)
class PhoneMatch:
    """One number found in a text: where, as written, in E.164, and what kind it is."""

    start: int
    end: int
    raw: str
    e164: str
    kind: Kind


def e164(number: str, region: str = "FR") -> str | None:
    """A number as written anywhere (the body's list, a text) in E.164, or None if unreadable."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    return _resolve(parsed, number)[0]


def _resolve(number: PhoneNumber, raw: str) -> tuple[str, int]:
    """E.164 and type, trying the overseas plans for a French number FR does not know."""
    if not phonenumbers.is_valid_number(number) and number.country_code == 33:
        for region in contacts().overseas:
            try:
                overseas = phonenumbers.parse(raw, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(overseas):
                number = overseas
                break
    formatted = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return formatted, phonenumbers.number_type(number)


def _kind(number_type: int, formatted: str, valid: bool) -> Kind:
    if number_type in _SERVICE:
        return "service"
    if number_type in _MOBILE:
        return "mobile"
    if not valid:
        for code, prefixes in contacts().mobile_prefixes.items():
            national = formatted[1 + len(code) :]
            if formatted.startswith("+" + code) and national.startswith(prefixes):
                return "mobile"
    return "line"


def _national_digits(raw: str) -> str:
    return "".join(char for char in raw if char.isdigit())


#: Six digits or more, with only what numbers are written with between them: no French, British
#: or overseas number is shorter, so a text without such a run has none (most alerts: their
#: digits are dates, hours, road numbers) and the matchers, the charter's costliest step on such
#: a text, are not run.
_THIN_SPACES = str.maketrans({"\u202f": " ", "\u2009": " ", "\u2007": " "})
_DIGIT_RUN = re.compile(r"\d(?:[\s.\-/()]*\d){5,}")
_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


def _part_of_an_identifier(text: str, start: int, end: int, links: list[tuple[int, int]]) -> bool:
    """Inside a link, digits glued to a letter or a digit belong to an identifier, not to a phone
    number: an alert page's name is 16 hex digits, and "0612345678" appears in about one in a
    thousand of them, which blocked that alert for a mobile number no one wrote. A number that
    stands apart in a link is still one ("wa.me/+33612345678", "?tel=0612345678")."""
    glued = (start > 0 and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum())
    return glued and any(link_start <= start and end <= link_end for link_start, link_end in links)


#: A word of letters and digits with at least one letter (`[^\W_]` is what `str.isalnum` takes).
_IDENTIFIER = re.compile(r"[^\W_]*[^\W\d_][^\W_]*")


def _identifiers_blanked(text: str, links: list[tuple[int, int]]) -> str:
    """`text` with every word of a link that holds a letter made of letters only.

    A number the matcher could find and `_part_of_an_identifier` would keep is bounded, in a
    link, by characters that are not letters or digits, and is digits and separators: each of
    its words is all digits, and stays. So a text whose only run of digits is in such a word
    (an alert page's name, "…/alerts/e2b9e507fb7ef641.html", has six digits in a row in one
    text of four) has no number to find, and the matchers are not run for it."""
    pieces, position = [], 0
    for start, end in links:
        pieces.append(text[position:start])
        pieces.append(_IDENTIFIER.sub(lambda word: "x" * len(word.group(0)), text[start:end]))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def find_numbers(text: str) -> list[PhoneMatch]:
    """Every phone number in `text`, in order, with its kind; emergency short codes excluded."""
    if not _DIGIT_RUN.search(text):
        return []
    links = [match.span() for match in _LINK.finditer(text)]
    if links and not _DIGIT_RUN.search(_identifiers_blanked(text, links)):
        return []
    data = contacts()
    found: list[PhoneMatch] = []
    # French typography groups digits with narrow or thin no-break spaces, which phonenumbers
    # does not read as separators: it is given plain spaces, one for one (the offsets hold).
    readable = text.translate(_THIN_SPACES)
    for index, region in enumerate(data.regions):
        for match in PhoneNumberMatcher(readable, region, leniency=Leniency.POSSIBLE):
            start, end = match.start, match.end
            if match.raw_string.startswith("(") and ")" not in match.raw_string:
                start += 1  # "(03 21 45 67 89)": the bracket is the text's, not the number's
            if any(start < other.end and other.start < end for other in found):
                continue
            if _part_of_an_identifier(text, start, end, links):
                continue
            raw = text[start:end]
            written = _national_digits(raw)
            if written in data.emergency_numbers:
                continue
            if (
                index > 0
                and not raw.lstrip().startswith("+")
                and not (written.startswith("0") and not written.startswith("00") and len(written) == 11)
            ):
                continue  # later regions only read national numbers the first could not
            formatted, number_type = _resolve(match.number, readable[start:end])
            valid = number_type != PhoneNumberType.UNKNOWN
            found.append(PhoneMatch(start, end, raw, formatted, _kind(number_type, formatted, valid)))
    return sorted(found, key=lambda match: match.start)
