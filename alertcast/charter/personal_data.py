"""Personal data: a private mobile number, a personal e-mail, a licence plate. All block.

A text posted to five networks cannot be recalled: a duty officer's own mobile or a witness's
plate, once out, stays out (GDPR). Short emergency numbers (112, 15, 17, 18, 114) and the
body's published numbers and official domains are, of course, allowed.
Only French mobiles (06/07, +33 6/7) are taken as private: landlines are mostly services.
"""

from __future__ import annotations

import re

from alertcast.charter.folding import Folded
from alertcast.charter.lexicon import Charter, Message, digits
from alertcast.models.finding import Finding

_PHONE_MESSAGE = Message(
    message='"{excerpt}" looks like a private mobile phone number.',
    suggestion="Give a public service number or an emergency number.",
)
_EMAIL_MESSAGE = Message(
    message='"{excerpt}" is an e-mail address outside the official domains.',
    suggestion="Use a service address on one of the body's official domains.",
)
_PLATE_MESSAGE = Message(
    message='"{excerpt}" looks like a vehicle registration plate: personal data.',
    suggestion="Describe the vehicle without its registration.",
)

_SEPARATOR = r"[ .\-\u00a0\u202f]?"
MOBILE = re.compile(
    r"(?<![\d+])(?:(?:\+|00)[ \u00a0]?33[ \u00a0]?(?:\(0\)[ \u00a0]?)?|0)[67]"
    + rf"(?:{_SEPARATOR}\d{{2}}){{4}}(?!\d)"
)
EMAIL = re.compile(r"(?<![\w.+@-])[\w.+-]+@((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,})")
# SIV plates since 2009: two letters, three digits, two letters; I, O and U are never used.
_PLATE_LETTERS = "[A-HJ-NP-TV-Z]{2}"
PLATE = re.compile(rf"(?<![\w-]){_PLATE_LETTERS}[- ]?\d{{3}}[- ]?{_PLATE_LETTERS}(?![\w-])")


def _finding(rule: str, start: int, end: int, text: str, said: Message) -> Finding:
    return Finding(
        rule=rule,
        level="block",
        start=start,
        end=end,
        excerpt=text[start:end],
        message=said.message,
        suggestion=said.suggestion,
    )


def is_official(domain: str, charter: Charter) -> bool:
    domain = domain.lower().rstrip(".")
    return any(domain == official or domain.endswith("." + official) for official in charter.official_domains)


def check(charter: Charter, folded: Folded) -> list[Finding]:
    text = folded.original
    findings = []
    for match in MOBILE.finditer(text):
        if digits(match.group(0)) in charter.public_numbers:
            continue
        said = charter.say("personal_data.phone", _PHONE_MESSAGE, excerpt=match.group(0))
        findings.append(_finding("personal_data.phone", match.start(), match.end(), text, said))
    for match in EMAIL.finditer(text):
        if is_official(match.group(1), charter):
            continue
        said = charter.say("personal_data.email", _EMAIL_MESSAGE, excerpt=match.group(0))
        findings.append(_finding("personal_data.email", match.start(), match.end(), text, said))
    for match in PLATE.finditer(text):
        letters = re.sub(r"[^A-Z]", "", match.group(0))
        if "SS" in (letters[:2], letters[2:]):
            continue  # never issued
        said = charter.say("personal_data.plate", _PLATE_MESSAGE, excerpt=match.group(0))
        findings.append(_finding("personal_data.plate", match.start(), match.end(), text, said))
    return findings
