"""A tiny phrase syntax, so a public body can extend the lexicons without writing regexes.

- words separated by spaces match any run of white space;
- `{name}` matches any item of the named set (e.g. "à cause des {group}");
- `(a|b|)` matches one of the alternatives, the empty one making the group optional;
- matching is on word boundaries, insensitive to case and accents ("incompetents" matches
  "incompétents"), and ’ and ' are the same apostrophe;
- a phrase written entirely in capitals ("LFI", "RN") is an acronym: it matches exactly, case
  and all, because "ps" or "lr" in lower case are not parties.
An entry may instead carry `regex:`, matched on the text as written, ignoring case.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from alertcast.charter.folding import Folded, fold

_TOKENS = re.compile(r"\{(\w+)\}|\(([^()]*)\)|[^{}()]+|.")


@dataclass(frozen=True)
class Matcher:
    """One compiled lexicon entry; `entry` is kept for its own message and suggestion."""

    pattern: re.Pattern[str]
    on_folded: bool
    entry: Any
    required: tuple[str, ...] = ()  # words the text must contain for the phrase to match

    def spans(self, folded: Folded) -> Iterator[tuple[int, int]]:
        """Spans in the original text (see Folded.span).

        A phrase's regex starts with a look-behind and often a set, so the engine tries it at
        every position of the text; its fixed words are looked for first, as plain substrings
        (a necessary condition: nothing the phrase matches is missed)."""
        text = folded.text if self.on_folded else folded.original
        if any(word not in text for word in self.required):
            return
        if self.on_folded:
            for match in self.pattern.finditer(folded.text):
                if match.end() > match.start():
                    yield folded.span(match.start(), match.end())
        else:
            for match in self.pattern.finditer(folded.original):
                if match.end() > match.start():
                    yield match.start(), match.end()


@dataclass(frozen=True)
class PhraseList:
    """A lexicon list's matchers, indexed by the longest of each one's required words.

    Every text met every matcher of every list, each a generator call and a scan for its
    words, before nearly all of them gave up: 150 per text, a sixth of the charter's time.
    Now each distinct key word is looked for once per list (one substring scan), and only the
    matchers whose key is in the text run; `spans` still checks all their words."""

    matchers: tuple[Matcher, ...] = ()
    unkeyed: tuple[int, ...] = ()  # matchers without a required word: always run
    keys: tuple[tuple[str, bool, tuple[int, ...]], ...] = ()  # (word, on folded text, matchers)

    @classmethod
    def of(cls, matchers: tuple[Matcher, ...]) -> PhraseList:
        keyed: dict[tuple[str, bool], list[int]] = {}
        unkeyed: list[int] = []
        for index, matcher in enumerate(matchers):
            if not matcher.required:
                unkeyed.append(index)
                continue
            key = max(matcher.required, key=len)
            keyed.setdefault((key, matcher.on_folded), []).append(index)
        keys = tuple((word, on_folded, tuple(indices)) for (word, on_folded), indices in keyed.items())
        return cls(matchers, tuple(unkeyed), keys)

    def __iter__(self) -> Iterator[Matcher]:
        return iter(self.matchers)

    def __len__(self) -> int:
        return len(self.matchers)

    def candidates(self, folded: Folded) -> list[Matcher]:
        """The matchers that may match `folded`, in list order (the first one of a span wins)."""
        chosen = set(self.unkeyed)
        for word, on_folded, indices in self.keys:
            if word in (folded.text if on_folded else folded.original):
                chosen.update(indices)
        return [self.matchers[index] for index in sorted(chosen)]


def is_acronym_phrase(phrase: str) -> bool:
    letters = [char for char in phrase if char.isalpha()]
    return bool(letters) and all(char.isupper() for char in letters) and "{" not in phrase


def _literal(text: str, exact: bool) -> str:
    source = text if exact else fold(text)
    out: list[str] = []
    in_space = False
    for char in source:
        if char.isspace():
            if not in_space:
                out.append(r"\s+")
            in_space = True
            continue
        in_space = False
        if char in "'\u2019" and exact:
            out.append("['\u2019]")
        else:
            out.append(re.escape(char))
    return "".join(out)


def _set(name: str, sets: Mapping[str, list[str]], exact: bool) -> str:
    if name not in sets:
        raise ValueError(f"unknown set {{{name}}}; define it under 'sets:'")
    items = sorted(sets[name], key=len, reverse=True)
    if not items:
        raise ValueError(f"set {{{name}}} is empty")
    return "(?:" + "|".join(_literal(item, exact) for item in items) + ")"


def _with_sets(option: str, sets: Mapping[str, list[str]], exact: bool) -> str:
    """An alternative may itself name a set: "(ces {group}|ces gens)"."""
    pieces = re.split(r"\{(\w+)\}", option)
    return "".join(
        _set(piece, sets, exact) if index % 2 else _literal(piece, exact)
        for index, piece in enumerate(pieces)
    )


def required_words(phrase: str) -> tuple[str, ...]:
    """The words a text must contain for `phrase` to match: those written outside any set or
    alternative, folded like the text they are looked for in (acronyms as written)."""
    exact = is_acronym_phrase(phrase)
    words: list[str] = []
    for token in _TOKENS.finditer(phrase.strip()):
        if token.group(1) is not None or token.group(2) is not None:
            continue
        literal = token.group(0) if exact else fold(token.group(0))
        words += [w for w in literal.split() if not (exact and any(c in w for c in "'\u2019"))]
    return tuple(dict.fromkeys(w for w in words if not any(c in w for c in "(){}")))


def phrase_pattern(phrase: str, sets: Mapping[str, list[str]]) -> tuple[str, bool]:
    """The regex source of a phrase and whether it matches the folded text."""
    exact = is_acronym_phrase(phrase)
    parts: list[str] = []
    for token in _TOKENS.finditer(phrase.strip()):
        set_name, alternatives = token.group(1), token.group(2)
        if set_name is not None:
            parts.append(_set(set_name, sets, exact))
        elif alternatives is not None:
            options = alternatives.split("|")
            parts.append("(?:" + "|".join(_with_sets(option, sets, exact) for option in options) + ")")
        else:
            if any(char in token.group(0) for char in "(){}"):
                raise ValueError("nested or unbalanced ( ) or { } in the phrase")
            parts.append(_literal(token.group(0), exact))
    body = "".join(parts)
    if not body:
        raise ValueError("empty phrase")
    return rf"(?<!\w){body}(?!\w)", not exact


def compile_entry(
    phrase: str | None, regex: str | None, sets: Mapping[str, list[str]], entry: Any
) -> Matcher:
    if (phrase is None) == (regex is None):
        raise ValueError("give either a phrase or a regex")
    try:
        if regex is not None:
            return Matcher(re.compile(regex, re.IGNORECASE), on_folded=False, entry=entry)
        assert phrase is not None
        source, on_folded = phrase_pattern(phrase, sets)
        required = required_words(phrase)
        return Matcher(re.compile(source), on_folded=on_folded, entry=entry, required=required)
    except re.error as error:
        raise ValueError(f"invalid pattern: {error}") from error
