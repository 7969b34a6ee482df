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
from functools import lru_cache

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


@lru_cache(maxsize=8)
def _label_patterns(labels: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """Each label's pattern, compiled once per charter rather than escaped and looked up in
    re's cache for every text. Built as before, quirk included: a label written with ' gets
    `['['’]]`, which wants a stray "]" and so matches nothing; its twin written with ’
    ("FIN D’ALERTE") is the one that matches both apostrophes."""
    patterns = []
    for label in labels:
        pattern = re.escape(label).replace("'", "['’]").replace("’", "['’]")
        patterns.append(re.compile(rf"(?<!\w){pattern}(?!\w)"))
    return tuple(patterns)


def _label_mask(text: str, charter: Charter) -> bytearray:
    """Per character, 1 inside one of the system's labels (bytes filled by slices)."""
    masked = bytearray(len(text))
    for pattern in _label_patterns(charter.labels):
        for match in pattern.finditer(text):
            masked[match.start() : match.end()] = b"\x01" * (match.end() - match.start())
    return masked


def _is_shouting(word: str, charter: Charter) -> bool:
    if word in charter.acronyms:
        return False
    return (
        dictionary.is_word(charter.language, word)
        or dictionary.is_word_ignoring_accents(charter.language, word)
        or word.lower() in charter.words
    )


def _shouts(word: str, charter: Charter) -> bool:
    """A word in capitals that reads as shouting: letters only, all capitals, a real word."""
    letters = [char for char in word if char.isalpha()]
    if not letters or not all(char.isupper() for char in letters):
        return False
    if any(char.isdigit() for char in word) or "_" in word:
        return False
    return _is_shouting(word, charter)


def _capitals(charter: Charter, text: str) -> list[Finding]:
    """Runs of words in capitals, each reported from its first to its last shouting word.

    Only the words in capitals are looked at: a word with a lower-case letter ends a run, as
    its letters, never in _RUN_GAP, do between two capital words. This walked every word with
    a token object, list copies and a per-character label mask built anew: 250 µs of a
    380-character text, the charter's costliest rule; a text without a word in capitals (most)
    now costs one pass of isupper()."""
    if not dictionary.has_dictionary(charter.language):
        return []  # without a dictionary, acronyms cannot be told from shouting
    if not any(map(str.isupper, _WORD.findall(text))):  # most texts, in C: no match objects
        return []
    capitals = [match for match in _WORD.finditer(text) if match.group(0).isupper()]
    masked = _label_mask(text, charter)
    findings: list[Finding] = []
    run: list[tuple[int, int, bool]] = []  # (start, end, shouting) of consecutive capital words

    def close() -> None:
        shouting = [(start, end) for start, end, shouts in run if shouts]
        long_enough = any(end - start >= 3 for start, end in shouting)
        if shouting and (long_enough or len(shouting) >= 2):
            start, end = shouting[0][0], shouting[-1][1]
            findings.append(
                charter.finding(
                    "style.capitals", "warn", _CAPITALS, start=start, end=end, excerpt=text[start:end]
                )
            )
        run.clear()

    for match in capitals:
        start, end = match.span()
        if masked.find(1, start, end) >= 0:  # a label, always exempt, ends the run
            close()
            continue
        if run and not _RUN_GAP.fullmatch(text, run[-1][1], start):
            close()
        run.append((start, end, _shouts(match.group(0), charter)))
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
