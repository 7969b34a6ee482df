"""Opinion worded freely: praise, political framing, blame and alarm found by structure.

Word lists catch "grâce à notre maire" but not "la piscine a rouvert grâce à l'engagement de
Mme Lefèvre", nor "les grévistes ont choisi de pénaliser les usagers", which hold no listed
word. Here the patterns are spaCy patterns over lemmas, parts of speech, dependencies and
entities, kept as YAML data (`lexicons/patterns/<language>.yaml`) that a body extends or
prunes like its lexicons (ALERTCAST_CHARTER_DIR/patterns/<language>.yaml):

- `tokens:` a spaCy Matcher pattern (a sequence of token conditions);
- `dependency:` a spaCy DependencyMatcher pattern (needs a parser: French);
- `unless:` token patterns; if one matches in the sentence, the pattern does not fire
  ("catastrophe naturelle" is a legal term, not alarm).
In token conditions, `LEMMA` and `LOWER` compare accent- and case-folded, and a value
"$name" stands for the list `sets: {name: [...]}` (lemmas), so one entry covers inflections.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alertcast.charter import nlp
from alertcast.charter.folding import Folded, fold
from alertcast.charter.lexicon import Charter, LexiconError, Message
from alertcast.charter.phrases import PhraseList
from alertcast.charter.sentences import split
from alertcast.i18n import N_
from alertcast.models.finding import Finding, Level

#: Pattern family -> (rule id, level, default message). Levels follow the charter's table.
FAMILIES: dict[str, tuple[str, Level, Message]] = {
    "praise": (
        "neutrality.praise",
        "block",
        Message(
            message=N_(
                '"%(excerpt)s" praises an elected official or team: public communication stays neutral.'
            ),
            suggestion=N_('Say only who decided ("by order of the council"), without thanks or praise.'),
        ),
    ),
    "political": (
        "neutrality.political",
        "block",
        Message(
            message=N_(
                '"%(excerpt)s" frames the fact politically (an authority, a budget, a call to support).'
            ),
            suggestion=N_(
                "State the fact alone, without saying who deserves credit or blame, or whom to support."
            ),
        ),
    ),
    "blame": (
        "neutrality.blame",
        "block",
        Message(
            message=N_('"%(excerpt)s" blames a group of people.'),
            suggestion=N_('State the cause factually ("due to industrial action").'),
        ),
    ),
    "alarmist": (
        "style.alarmist",
        "warn",
        Message(
            message=N_('"%(excerpt)s" is an alarmist word: a crisis message must stay calm.'),
            suggestion=N_("Describe the risk and what to do in measured words."),
        ),
    ),
}


class Pattern(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    tokens: list[dict[str, Any]] | None = None
    dependency: list[dict[str, Any]] | None = None
    unless: list[list[dict[str, Any]]] = Field(default_factory=list)


class PatternFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sets: dict[str, list[str]] = Field(default_factory=dict)
    praise: list[Pattern] = Field(default_factory=list)
    political: list[Pattern] = Field(default_factory=list)
    blame: list[Pattern] = Field(default_factory=list)
    alarmist: list[Pattern] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list, description="pattern names to drop")


def _values(value: Any, sets: dict[str, list[str]]) -> Any:
    """Fold strings and expand "$set" items inside a condition's value."""
    if isinstance(value, str):
        if value.startswith("$"):
            raise LexiconError(f"set {value} can only be used inside IN / NOT_IN")
        return fold(value).lower()
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for op, items in value.items():
            if isinstance(items, list):
                expanded: list[str] = []
                for item in items:
                    if isinstance(item, str) and item.startswith("$"):
                        if item[1:] not in sets:
                            raise LexiconError(f"unknown set {item}")
                        expanded.extend(fold(word).lower() for word in sets[item[1:]])
                    else:
                        expanded.append(fold(str(item)).lower())
                out[op] = expanded
            else:
                out[op] = items
        return out
    return value


def _condition(attrs: dict[str, Any], sets: dict[str, list[str]]) -> dict[str, Any]:
    """LEMMA and LOWER become folded custom attributes; the rest is spaCy's own syntax."""
    out: dict[str, Any] = {}
    extensions: dict[str, Any] = {}
    for key, value in attrs.items():
        if key == "LEMMA":
            extensions["flemma"] = _values(value, sets)
        elif key == "LOWER":
            extensions["ftext"] = _values(value, sets)
        else:
            out[key] = value
    if extensions:
        out["_"] = extensions
    return out


@dataclass
class _Compiled:
    language: str
    matcher: Any
    dependency: Any
    unless: Any
    names: dict[str, tuple[str, str]]  # match key -> (family, pattern name)


def _sources(language: str, extra_dir: Path | None) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    packaged = resources.files("alertcast.charter").joinpath("lexicons", "patterns", f"{language}.yaml")
    if packaged.is_file():
        found.append((f"patterns/{language}.yaml", yaml.safe_load(packaged.read_text("utf-8")) or {}))
    if extra_dir is not None:
        path = extra_dir / "patterns" / f"{language}.yaml"
        if path.is_file():
            found.append((str(path), yaml.safe_load(path.read_text("utf-8")) or {}))
    return found


@lru_cache(maxsize=16)
def compiled(language: str, extra_dir: Path | None = None) -> _Compiled | None:
    """The language's patterns merged (ours, then the body's) and compiled once per process."""
    pipeline = nlp.pipeline(language)
    sources = _sources(language, extra_dir)
    if pipeline is None or not sources:
        return None
    from spacy.matcher import DependencyMatcher, Matcher

    files: list[PatternFile] = []
    for name, data in sources:
        try:
            files.append(PatternFile.model_validate(data))
        except ValidationError as error:
            raise LexiconError(f"{name}: {error}") from error
    sets: dict[str, list[str]] = {}
    for file in files:
        for set_name, items in file.sets.items():
            sets.setdefault(set_name, []).extend(items)
    excluded = {name for file in files for name in file.exclude}
    matcher, dependency, unless = (
        Matcher(pipeline.vocab),
        DependencyMatcher(pipeline.vocab),
        Matcher(pipeline.vocab),
    )
    has_parser = "parser" in pipeline.pipe_names
    names: dict[str, tuple[str, str]] = {}
    for file in files:
        for family in FAMILIES:
            for pattern in getattr(file, family):
                if pattern.name in excluded:
                    continue
                key = f"{family}:{pattern.name}"
                try:
                    if pattern.tokens:
                        matcher.add(key, [[_condition(t, sets) for t in pattern.tokens]])
                    if pattern.dependency and has_parser:
                        dep = [
                            {**node, "RIGHT_ATTRS": _condition(node.get("RIGHT_ATTRS", {}), sets)}
                            for node in pattern.dependency
                        ]
                        dependency.add(key, [dep])
                    if pattern.unless:
                        unless.add(key, [[_condition(t, sets) for t in seq] for seq in pattern.unless])
                except (ValueError, KeyError) as error:
                    raise LexiconError(f"patterns/{language}.yaml, {key}: {error}") from error
                names[key] = (family, pattern.name)
    return _Compiled(language, matcher, dependency, unless, names)


def _sentence_matches(rules: _Compiled, doc: Any) -> list[tuple[str, int, int]]:
    """(family, start char, end char) in the sentence; cached with the parse by the caller."""
    vocab = doc.vocab.strings
    cancelled = {vocab[key] for key, _, _ in rules.unless(doc)} if len(rules.unless) else set()
    spans: list[tuple[str, int, int]] = []
    for key, start, end in rules.matcher(doc):
        name = vocab[key]
        if name not in cancelled:
            spans.append((rules.names[name][0], doc[start].idx, doc[end - 1].idx + len(doc[end - 1].text)))
    if len(rules.dependency):
        for key, ids in rules.dependency(doc):
            name = vocab[key]
            if name not in cancelled:
                first, last = doc[min(ids)], doc[max(ids)]
                spans.append((rules.names[name][0], first.idx, last.idx + len(last.text)))
    return spans


@lru_cache(maxsize=8192)
def _matches(language: str, extra_dir: Path | None, sentence: str) -> tuple[tuple[str, int, int], ...]:
    rules = compiled(language, extra_dir)
    doc = nlp.parse(language, sentence)
    if rules is None or doc is None:
        return ()
    return tuple(_sentence_matches(rules, doc))


def _merge(spans: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """One finding per family and overlapping region: the widest span wins."""
    kept: list[tuple[str, int, int]] = []
    for family, start, end in sorted(spans, key=lambda s: (s[0], s[1], -s[2])):
        if kept and kept[-1][0] == family and start < kept[-1][2]:
            last = kept[-1]
            kept[-1] = (family, last[1], max(last[2], end))
        else:
            kept.append((family, start, end))
    return kept


def check(charter: Charter, folded: Folded, extra_dir: Path | None = None) -> list[Finding]:
    """Findings of the structural patterns, minus what a listed phrase already reported."""
    if compiled(charter.language, extra_dir) is None:
        return []
    text = folded.original
    spans: list[tuple[str, int, int]] = []
    for offset, sentence in split(text):
        spans.extend(
            (f, offset + s, offset + e)
            for f, s, e in _matches(charter.language, extra_dir, nlp.cache_key(sentence))
        )
    merged = _merge(spans)
    if not merged:  # most texts: no pattern matched, so no listed phrase can cancel one
        return []
    listed = {
        (family, start, end)
        for family in FAMILIES
        for matcher in charter.matchers.get(family, PhraseList()).candidates(folded)
        for start, end in matcher.spans(folded)
    }
    findings: list[Finding] = []
    for family, start, end in merged:
        if any(f == family and s < end and start < e for f, s, e in listed):
            continue
        rule, level, default = FAMILIES[family]
        findings.append(charter.finding(rule, level, default, start=start, end=end, excerpt=text[start:end]))
    return findings
