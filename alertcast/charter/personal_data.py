"""Personal data: a private phone number, a personal e-mail, a licence plate. All block.

A text posted to five networks cannot be recalled: a duty officer's own mobile or a witness's
plate, once out, stays out (GDPR). What is public passes:
- emergency and national short numbers (112, 15, 17, 18, 114, 3117...), service numbers
  (toll-free, shared-cost), the body's own numbers (common.yaml `public_numbers`, compared in
  E.164 so "03 21 21 20 00" and "+33 3 21 21 20 00" are one number) and any landline with no
  person named next to it (a switchboard);
- e-mail addresses on the body's domains (`official_domains`), and service mailboxes
  (contact@, mairie@, accueil@...) on public-sector domains (gov.uk, gouv.fr...).
What is private blocks: any mobile, French or foreign (phones.py); a landline within a few
words of a person's name in the same sentence (persons.py: "Jean Dupont au 03 21 45 67 89");
any other e-mail address; a plate of France or the UK (plates.py).
Messages are stored in the text's lexicon's words (fr.yaml, en.yaml `messages`), English
otherwise; the console says them in the reader's language (the catalogs).
"""

from __future__ import annotations

import re
from functools import lru_cache

from alertcast.charter.folding import Folded
from alertcast.charter.lexicon import Charter, Message
from alertcast.charter.personal_lexicon import contacts
from alertcast.charter.persons import person_spans
from alertcast.charter.phones import e164, find_numbers
from alertcast.charter.plates import plate_spans
from alertcast.i18n import N_
from alertcast.models.finding import Finding

_PHONE_MESSAGE = Message(
    message=N_('"%(excerpt)s" looks like a private mobile phone number.'),
    suggestion=N_(
        "Give a public service number (switchboard, published duty number) or an emergency number."
    ),
)
_PHONE_PERSON_MESSAGE = Message(
    message=N_('"%(excerpt)s" is given next to a person\'s name ("%(person)s"): a private number.'),
    suggestion=N_("Give the service's switchboard or a published duty number, without the person's name."),
)
_EMAIL_MESSAGE = Message(
    message=N_('"%(excerpt)s" is an e-mail address outside the official domains.'),
    suggestion=N_("Use a service address on one of the body's official domains."),
)
_PLATE_MESSAGE = Message(
    message=N_('"%(excerpt)s" looks like a vehicle registration plate: personal data.'),
    suggestion=N_("Describe the vehicle without its registration."),
)

EMAIL = re.compile(r"(?<![\w.+@-])([\w.+-]+)@((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,})")
#: How far a name may stand from a landline and still be its owner: words between them.
NAME_WINDOW_WORDS = 8
_SENTENCE_END = re.compile(r"[.!?;\n](?:\s|$)")
_WORDS = re.compile(r"\w+")


def _under(domain: str, parents: tuple[str, ...]) -> bool:
    domain = domain.lower().rstrip(".")
    return any(domain == parent or domain.endswith("." + parent) for parent in parents)


def is_official(domain: str, charter: Charter) -> bool:
    return _under(domain, charter.official_domains)


def is_public_contact(mailbox: str, domain: str, charter: Charter) -> bool:
    """The body's own domains allow any address; public-sector ones only a service mailbox."""
    if is_official(domain, charter):
        return True
    data = contacts()
    return mailbox.lower() in data.role_mailboxes and _under(domain, data.public_domains)


@lru_cache(maxsize=32)
def _listed(public_numbers: frozenset[str]) -> frozenset[str]:
    """The body's numbers in E.164 (they are stored as national digits by the lexicon)."""
    listed = set()
    for number in public_numbers:
        formatted = e164(number if number.startswith("0") or len(number) <= 6 else "+" + number)
        listed.add(formatted or number)
    return frozenset(listed)


def _near(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The nearest name in the same sentence within NAME_WINDOW_WORDS words of [start, end)."""
    best: tuple[int, tuple[int, int]] | None = None
    for span in spans:
        gap = text[span[1] : start] if span[1] <= start else text[end : span[0]] if span[0] >= end else ""
        if _SENTENCE_END.search(gap):
            continue
        words = len(_WORDS.findall(gap))
        if words <= NAME_WINDOW_WORDS and (best is None or words < best[0]):
            best = (words, span)
    return best[1] if best else None


def _phones(charter: Charter, text: str) -> list[Finding]:
    findings = []
    listed = _listed(charter.public_numbers)
    persons: list[tuple[int, int]] | None = None
    for number in find_numbers(text):
        if number.e164 in listed or number.kind == "service":
            continue
        rule, default, values = "personal_data.phone", _PHONE_MESSAGE, {}
        if number.kind != "mobile":
            persons = person_spans(text) if persons is None else persons
            person = _near(text, number.start, number.end, persons)
            if person is None:
                continue  # a landline alone is a switchboard
            rule, default = "personal_data.phone_person", _PHONE_PERSON_MESSAGE
            values = {"person": text[person[0] : person[1]]}
        findings.append(
            charter.finding(
                "personal_data.phone",
                "block",
                default,
                start=number.start,
                end=number.end,
                excerpt=number.raw,
                message_of=rule,
                **values,
            )
        )
    return findings


def check(charter: Charter, folded: Folded) -> list[Finding]:
    text = folded.original
    findings = _phones(charter, text)
    for match in EMAIL.finditer(text):
        if is_public_contact(match.group(1), match.group(2), charter):
            continue
        findings.append(
            charter.finding(
                "personal_data.email",
                "block",
                _EMAIL_MESSAGE,
                start=match.start(),
                end=match.end(),
                excerpt=match.group(0),
            )
        )
    for start, end in plate_spans(text, charter.acronyms):
        findings.append(
            charter.finding(
                "personal_data.plate", "block", _PLATE_MESSAGE, start=start, end=end, excerpt=text[start:end]
            )
        )
    return findings
