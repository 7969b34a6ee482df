"""Calm style: no shouting in capitals, no "!!!" or "?!", no wall of emoji, no alarmist words.

Panic spreads faster than facts; an alert that looks frantic is read as frantic. These only
warn: the communicator may have a reason (a label, a quoted sign).
Acronyms (SNCF, RN, A4, INSEE) are not shouting: a capitalised token is taken as shouting only
when it is a dictionary word of the text's language (accents ignored, since capitals often
lose them: "FERMEE") and is not listed as an acronym. The system's own labels (EXERCICE,
FIN D'ALERTE...) are always exempt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regex

from alertcast.charter import dictionary
from alertcast.charter.folding import Folded
from alertcast.charter.lexicon import Charter, Message
from alertcast.charter.listed import listed_findings
from alertcast.i18n import N_
from alertcast.models.finding import Finding

_CAPITALS = Message(
    message=N_('"%(excerpt)s" is written in capitals, which reads as shouting.'),
    suggestion=N_("Use lower case; the facts carry the seriousness, not the typography."),
)
_PUNCTUATION = Message(
    message=N_('"%(excerpt)s": repeated punctuation sounds alarmist.'),
    suggestion=N_("Use one exclamation or question mark at most, or a full stop."),
)
_EMOJI = Message(
    message=N_("%(count)s emoji: beyond %(allowance)s, the message loses clarity and seriousness."),
    suggestion=N_("Keep at most %(allowance)s useful pictograms (⚠️, 🚧)."),
)
_ALARMIST = Message(
    message=N_('"%(excerpt)s" is an alarmist word: a crisis message must stay calm.'),
    suggestion=N_("Describe the risk and what to do in measured words."),
)

_WORD = re.compile(r"\w+")
_RUN_GAP = re.compile(r"[\s'’\-,:;/]*")
_REPEATED = re.compile(r"[!?‼⁉⁈](?:[\s\u00a0\u202f]*[!?‼⁉⁈])+|[‼⁉⁈]")
_GRAPHEME = regex.compile(r"\X")
_PICTOGRAPHIC = regex.compile(r"\p{Extended_Pictographic}|[\U0001F1E6-\U0001F1FF]|\u20e3")
_TEXT_SYMBOLS = frozenset("©®™")


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    shouting: bool


def _label_mask(text: str, charter: Charter) -> list[bool]:
    masked = [False] * len(text)
    for label in charter.labels:
        pattern = re.escape(label).replace("'", "['’]").replace("’", "['’]")
        for match in re.finditer(rf"(?<!\w){pattern}(?!\w)", text):
            for index in range(match.start(), match.end()):
                masked[index] = True
    return masked


def _is_shouting(word: str, charter: Charter) -> bool:
    if word in charter.acronyms:
        return False
    return (
        dictionary.is_word(charter.language, word)
        or dictionary.is_word_ignoring_accents(charter.language, word)
        or word.lower() in charter.words
    )


def _capitals(charter: Charter, text: str) -> list[Finding]:
    if not dictionary.has_dictionary(charter.language):
        return []  # without a dictionary, acronyms cannot be told from shouting
    masked = _label_mask(text, charter)
    tokens: list[_Token] = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        letters = [char for char in word if char.isalpha()]
        if not letters or not all(char.isupper() for char in letters):
            tokens.append(_Token(match.start(), match.end(), shouting=False))
            continue
        if any(masked[match.start() : match.end()]) or any(char.isdigit() for char in word) or "_" in word:
            tokens.append(_Token(match.start(), match.end(), shouting=False))
            continue
        tokens.append(_Token(match.start(), match.end(), shouting=_is_shouting(word, charter)))
    findings: list[Finding] = []
    run: list[_Token] = []

    def close() -> None:
        shouting = [token for token in run if token.shouting]
        long_enough = any(token.end - token.start >= 3 for token in shouting)
        if shouting and (long_enough or len(shouting) >= 2):
            start, end = shouting[0].start, shouting[-1].end
            findings.append(
                charter.finding(
                    "style.capitals", "warn", _CAPITALS, start=start, end=end, excerpt=text[start:end]
                )
            )
        run.clear()

    for token in tokens:
        is_capital = text[token.start : token.end].isupper() and not any(masked[token.start : token.end])
        if not is_capital:
            close()
            continue
        if run and not _RUN_GAP.fullmatch(text[run[-1].end : token.start]):
            close()
        run.append(token)
    close()
    return findings


def _punctuation(charter: Charter, text: str) -> list[Finding]:
    findings = []
    for match in _REPEATED.finditer(text):
        findings.append(
            charter.finding(
                "style.punctuation",
                "warn",
                _PUNCTUATION,
                start=match.start(),
                end=match.end(),
                excerpt=match.group(0),
            )
        )
    return findings


def is_emoji(grapheme: str) -> bool:
    """A pictogram as readers see one: ZWJ families, flags and keycaps count once."""
    if grapheme in _TEXT_SYMBOLS:
        return False
    return _PICTOGRAPHIC.search(grapheme) is not None


def emoji_spans(text: str) -> list[tuple[int, int]]:
    """The graphemes that are pictograms, walked only from the space before the first pictogram
    to the last one: a whole text walked grapheme by grapheme cost most of the charter's style
    check. Before a space is a grapheme boundary (the space is no mark joining what precedes it,
    and a prepended sign before it is not written in alert texts)."""
    pictograms = [match.end() for match in _PICTOGRAPHIC.finditer(text)]
    if not pictograms:  # no pictogram anywhere: no grapheme to walk
        return []
    first = text.rfind(" ", 0, pictograms[0])
    spans = []
    for match in _GRAPHEME.finditer(text, max(first, 0)):
        if match.start() >= pictograms[-1]:
            break
        if is_emoji(match.group(0)):
            spans.append((match.start(), match.end()))
    return spans


def _emoji(charter: Charter, text: str) -> list[Finding]:
    spans = emoji_spans(text)
    if len(spans) <= charter.emoji_allowance:
        return []
    start, end = spans[charter.emoji_allowance][0], spans[-1][1]
    return [
        charter.finding(
            "style.emoji",
            "warn",
            _EMOJI,
            start=start,
            end=end,
            excerpt=text[start:end],
            count=str(len(spans)),
            allowance=str(charter.emoji_allowance),
        )
    ]


def check(charter: Charter, folded: Folded) -> list[Finding]:
    text = folded.original
    return [
        *_capitals(charter, text),
        *_punctuation(charter, text),
        *_emoji(charter, text),
        *listed_findings(charter, folded, "alarmist", "style.alarmist", "warn", _ALARMIST),
    ]
