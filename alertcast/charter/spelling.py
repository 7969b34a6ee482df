"""Spelling: a typo at 23:30 costs trust. Warn only, with a correction when one is close.

Offline dictionaries (pyspellchecker) know common words but not local names: a capitalised
word is accepted when it is one of the body's places (places.yaml, extendable) or the
incident's own area or sender names. Words the language pipeline (nlp.py) names as a person,
place or organisation are left alone too: on real texts they were nearly all the noise.
Numbers, times ("7h30"), road numbers ("D934"), URLs, domain names,
e-mail addresses, hashtags, mentions and acronyms (words in capitals) are not checked.
French elisions ("l'autoroute", "jusqu'à") and compounds ("Pas-de-Calais") are checked piece
by piece when the whole is not a dictionary word.
"""

from __future__ import annotations

import re

from alertcast.charter import dictionary, nlp
from alertcast.charter.folding import Folded
from alertcast.charter.lexicon import Charter, Message
from alertcast.i18n import N_
from alertcast.models.finding import Finding

_DEFAULT = Message(message=N_('"%(excerpt)s": word not in the dictionary.'), suggestion="")
#: The suggestion in every reader's language: a correction, a place name to add, or neither.
_SUGGESTIONS = (
    N_("Did you mean %(corrections)s?"),
    N_("If it is a place name, add it to places.yaml."),
    N_("Check the spelling."),
)
#: The rule's words with each suggestion, made once rather than copied for every unknown word.
_DEFAULTS = {hint_id: _DEFAULT.model_copy(update={"suggestion": hint_id}) for hint_id in _SUGGESTIONS}
_EMAIL = r"[\w.+-]+@[\w.-]+"
#: A domain name, whatever its top-level domain (.be, .ch, .lu, .bzh, .paris...): words joined
#: by dots, the last in lower-case ASCII letters. A sentence's full stop is followed by a space,
#: or by a capital where the space was forgotten: neither is taken for a domain.
_DOMAIN = r"\b[\w-]+(?:\.[\w-]+)*\.(?-i:[a-z]{2,63})\b\S*"
_SKIPPED = (
    r"https?://\S+",
    r"www\.\S+",
    _EMAIL,
    r"[#@][\w.@-]+",
    _DOMAIN,
)
_SKIP = re.compile("|".join(_SKIPPED), re.IGNORECASE)
#: The same for a text without "@" (most): the e-mail alternative, which cannot match there,
#: was tried from every position of every word and cost half of the whole scan.
_SKIP_WITHOUT_AT = re.compile("|".join(part for part in _SKIPPED if part != _EMAIL), re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_PIECES = re.compile(r"['’\-]")

_HINTS = {
    "fr": (
        "Vouliez-vous écrire {words} ?",
        "« {word} »",
        " ou ",
        "S'il s'agit d'un nom de lieu, ajoutez-le à places.yaml.",
        "Vérifiez l'orthographe.",
    ),
    "en": (
        "Did you mean {words}?",
        '"{word}"',
        " or ",
        "If it is a place name, add it to places.yaml.",
        "Check the spelling.",
    ),
}


def _known(piece: str, charter: Charter) -> bool:
    if len(piece) <= 1 or piece.lower() in charter.words:
        return True
    if piece[:1].isupper() and charter.is_place_token(piece):
        return True
    return dictionary.is_word(charter.language, piece)


def _is_correct(word: str, charter: Charter) -> bool:
    if _known(word, charter):
        return True
    pieces = [piece for piece in _PIECES.split(word) if piece]
    return len(pieces) > 1 and all(_known(piece, charter) for piece in pieces)


def _hint(word: str, charter: Charter) -> tuple[str, str, str]:
    """The suggestion in the text's language, its msgid and the corrections it names."""
    did_you_mean, quoted, joiner, place, check = _HINTS.get(charter.language, _HINTS["en"])
    pieces = [piece for piece in _PIECES.split(word) if piece and not _known(piece, charter)]
    target = pieces[0] if pieces else word
    found = dictionary.corrections(charter.language, target)
    if found:
        corrections = [word.replace(target, best) for best in found]
        words = joiner.join(quoted.format(word=correction) for correction in corrections)
        return did_you_mean.format(words=words), _SUGGESTIONS[0], ", ".join(corrections)
    if word[:1].isupper():
        return place, _SUGGESTIONS[1], ""
    return check, _SUGGESTIONS[2], ""


def skipped_spans(text: str) -> bytearray:
    """Per character, 1 inside a URL, an e-mail address, a hashtag or a mention (never checked).
    Bytes, not a list of booleans: filled by slices and searched by `find` (C), not by Python
    loops over each character and each word."""
    skipped = bytearray(len(text))
    for match in (_SKIP if "@" in text else _SKIP_WITHOUT_AT).finditer(text):
        skipped[match.start() : match.end()] = b"\x01" * (match.end() - match.start())
    return skipped


def exempt(text: str, start: int, end: int, skipped: bytearray) -> bool:
    """Words no spelling check judges: URLs and such, times and road numbers, acronyms."""
    if skipped.find(1, start, end) >= 0:
        return True
    if (start > 0 and text[start - 1].isdigit()) or (end < len(text) and text[end].isdigit()):
        return True  # 7h30, D934, A4: times and road numbers
    piece = text[start:end]
    if piece.islower():  # most words: a cased letter and no capital, so no run of capitals
        return False
    letters = [char for char in piece if char.isalpha()]
    return len(letters) > 1 and all(char.isupper() for char in letters)  # shouting is style's business


def body_word(word: str, charter: Charter) -> bool:
    """A word of the body's own dictionary, or a place or name it knows (capitalised): LanguageTool
    does not know them, and says so (grammar.py drops those matches)."""
    pieces = [piece for piece in _PIECES.split(word) if piece] or [word]
    return (
        all(
            piece.lower() in charter.words or (piece[:1].isupper() and charter.is_place_token(piece))
            for piece in pieces
        )
        or word.lower() in charter.words
    )


def check(charter: Charter, folded: Folded) -> list[Finding]:
    if not dictionary.has_dictionary(charter.language):
        return []
    text = folded.original
    skipped = skipped_spans(text)
    names: list[tuple[int, int]] | None = None  # places, people, bodies: not typos
    findings = []
    for match in _WORD.finditer(text):
        word, start, end = match.group(0), match.start(), match.end()
        if dictionary.is_word(charter.language, word):  # most words: known, whatever else is true
            continue
        if exempt(text, start, end, skipped) or _is_correct(word, charter):
            continue
        if names is None:  # only once a word is unknown: most texts have none
            names = nlp.proper_name_spans(text, charter.language)
        if any(s < end and start < e for s, e in names):
            continue
        hint, hint_id, corrections = _hint(word, charter)
        values = {"suggestion": hint, "corrections": corrections} if corrections else {"suggestion": hint}
        findings.append(
            charter.finding(
                "spelling.unknown", "warn", _DEFAULTS[hint_id], start=start, end=end, excerpt=word, **values
            )
        )
    return findings
