"""The charter's word lists: YAML data shipped in the package, extendable without code.

A public body knows its own place names, acronyms, official domains and phone numbers, and
may want to add a word it considers partisan locally. It drops YAML files with the same names
(`common.yaml`, `places.yaml`, `fr.yaml`, `en.yaml`, or a new `<language>.yaml`) into one
directory (ALERTCAST_CHARTER_DIR); their lists are added to ours. A list may also be pruned
with `exclude: {list_name: [entries]}`, so a body that accepts "malheureusement" can say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alertcast.charter.folding import fold
from alertcast.charter.phrases import PhraseList, compile_entry
from alertcast.communes import name_tokens, split_name
from alertcast.errors import ConfigurationError
from alertcast.models.finding import Finding, Level

#: The phrase lists of a language file, each checked by one rule.
PHRASE_LISTS = ("opinion", "borderline", "alarmist", "partisan", "praise", "blame")


class Entry(BaseModel):
    """One lexicon entry: a phrase (see phrases.py for its small syntax) or an expert regex."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phrase: str | None = None
    regex: str | None = None
    message: str = ""
    suggestion: str = ""

    def key(self) -> str:
        return self.phrase if self.phrase is not None else f"regex:{self.regex}"


def _entries(value: Any) -> Any:
    if isinstance(value, list):
        return [{"phrase": item} if isinstance(item, str) else item for item in value]
    return value


class Message(BaseModel):
    """A rule's words. In a lexicon: in its language, values as `{excerpt}`. In the code (a
    rule's default): msgids marked `N_()`, values as `%(excerpt)s`, said through the catalogs."""

    model_config = ConfigDict(extra="forbid")

    message: str
    suggestion: str = ""


class LanguageFile(BaseModel):
    """`<language>.yaml`: phrase lists, named sets used as {name} in phrases, extra words."""

    model_config = ConfigDict(extra="forbid")

    opinion: list[Entry] = Field(default_factory=list)
    borderline: list[Entry] = Field(default_factory=list)
    alarmist: list[Entry] = Field(default_factory=list)
    partisan: list[Entry] = Field(default_factory=list)
    praise: list[Entry] = Field(default_factory=list)
    blame: list[Entry] = Field(default_factory=list)
    sets: dict[str, list[str]] = Field(default_factory=dict)
    words: list[str] = Field(default_factory=list, description="accepted by the spelling rule")
    messages: dict[str, Message] = Field(default_factory=dict)
    exclude: dict[str, list[str]] = Field(default_factory=dict)

    _coerce = field_validator(*PHRASE_LISTS, mode="before")(_entries)


class CommonFile(BaseModel):
    """`common.yaml`: what does not depend on the language of the text."""

    model_config = ConfigDict(extra="forbid")

    acronyms: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    official_domains: list[str] = Field(default_factory=list)
    public_numbers: list[str] = Field(default_factory=list)
    emoji_allowance: int | None = Field(default=None, ge=0)
    exclude: dict[str, list[str]] = Field(default_factory=dict)


class PlacesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    places: list[str] = Field(default_factory=list)
    exclude: dict[str, list[str]] = Field(default_factory=dict)


class LexiconError(ConfigurationError, ValueError):
    """A lexicon file is not what the charter expects; says which file and why."""


def digits(number: str) -> str:
    """A French phone number reduced to its national digits, so formats compare equal."""
    only = "".join(char for char in number if char.isdigit())
    if number.strip().startswith("+33") or only.startswith("0033"):
        only = "0" + only[4:] if only.startswith("0033") else "0" + only[2:]
    return only


@dataclass(frozen=True)
class Charter:
    """Everything the rules need for one language, merged and compiled once."""

    language: str
    matchers: dict[str, PhraseList]
    words: frozenset[str]
    messages: dict[str, Message]
    acronyms: frozenset[str]
    labels: tuple[str, ...]
    official_domains: tuple[str, ...]
    public_numbers: frozenset[str]
    places: frozenset[str]
    place_tokens: frozenset[str]
    emoji_allowance: int
    supported: bool = True
    extra_proper_nouns: frozenset[str] = field(default_factory=frozenset)
    own_messages: frozenset[str] = field(default_factory=frozenset)  # rules the body's lexicon words

    def finding(
        self,
        rule: str,
        level: Level,
        default: Message,
        *,
        start: int = 0,
        end: int = 0,
        excerpt: str = "",
        path: str | None = None,
        message_of: str | None = None,
        **values: str,
    ) -> Finding:
        """A finding of `rule` worded by `default`'s msgids, so each reader gets it in their
        language; stored in the lexicon's words (the text's language) when it has some, those
        of `message_of` for a variant of the rule. The body's own words for a rule are kept as
        the body wrote them, in every language."""
        key = message_of or rule
        chosen = self.messages.get(key)
        filled = _Defaulting({"excerpt": excerpt, **values})
        words = (chosen.message.format_map(filled), chosen.suggestion.format_map(filled)) if chosen else None
        ids = ("", "") if key in self.own_messages else (default.message, default.suggestion)
        return Finding.said(
            rule, level, *ids, start=start, end=end, excerpt=excerpt, path=path, written=words, **values
        )

    def with_proper_nouns(self, names: Iterable[str]) -> Charter:
        """A copy that also knows these names (an incident's areas and sender)."""
        tokens = frozenset(token for name in names for token in split_name(name))
        if not tokens:
            return self
        return Charter(**{**self.__dict__, "extra_proper_nouns": self.extra_proper_nouns | tokens})

    def is_place_token(self, token: str) -> bool:
        """One of the body's places, the incident's own names, or any French commune's."""
        return token in self.place_tokens or token in self.extra_proper_nouns or token in name_tokens()


class _Defaulting(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _read(path_name: str, text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise LexiconError(f"{path_name}: not valid YAML: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LexiconError(f"{path_name}: expected a mapping of lists at the top level")
    return data


def _packaged(name: str) -> str | None:
    resource = resources.files("alertcast.charter").joinpath("lexicons", name)
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


def _sources(name: str, extra_dir: Path | None) -> list[tuple[str, dict[str, Any]]]:
    """The packaged file then the body's file of the same name, each as parsed YAML."""
    found: list[tuple[str, dict[str, Any]]] = []
    packaged = _packaged(name)
    if packaged is not None:
        found.append((f"alertcast/charter/lexicons/{name}", _read(name, packaged)))
    if extra_dir is not None:
        path = extra_dir / name
        if path.is_file():
            found.append((str(path), _read(str(path), path.read_text(encoding="utf-8"))))
    return found


def _merge(model: type[BaseModel], sources: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Validate each file, then add lists together (scalars: the last file wins)."""
    merged: dict[str, Any] = {}
    excluded: dict[str, set[str]] = {}
    for name, data in sources:
        try:
            parsed = model.model_validate(data)
        except ValidationError as error:
            raise LexiconError(f"{name}: {error}") from error
        for key, value in parsed:
            if key == "exclude":
                for list_name, items in value.items():
                    excluded.setdefault(list_name, set()).update(fold(item) for item in items)
            elif isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            elif isinstance(value, dict):
                target = merged.setdefault(key, {})
                for sub_key, sub_value in value.items():
                    if isinstance(sub_value, list):
                        target.setdefault(sub_key, []).extend(sub_value)
                    else:
                        target[sub_key] = sub_value
            elif value is not None:
                merged[key] = value
    for list_name, items in excluded.items():
        if list_name.startswith("sets."):
            sets = merged.get("sets", {})
            name = list_name.removeprefix("sets.")
            if name in sets:
                sets[name] = [item for item in sets[name] if fold(item) not in items]
        elif isinstance(merged.get(list_name), list):
            merged[list_name] = [
                value
                for value in merged[list_name]
                if fold(value.key() if isinstance(value, Entry) else str(value)) not in items
            ]
    return merged


def supported_languages(extra_dir: Path | None = None) -> set[str]:
    """Languages with a lexicon, packaged or added by the body."""
    languages = {
        entry.name.removesuffix(".yaml")
        for entry in resources.files("alertcast.charter").joinpath("lexicons").iterdir()
        if entry.name.endswith(".yaml")
    }
    if extra_dir is not None and extra_dir.is_dir():
        languages |= {path.stem for path in extra_dir.glob("*.yaml")}
    return languages - {"common", "places"}


def primary_language(language: str) -> str:
    """'fr-FR' and 'fr_CA' both use the 'fr' lexicon."""
    return language.strip().lower().replace("_", "-").split("-")[0]


@lru_cache(maxsize=32)
def load_charter(language: str, extra_dir: Path | None = None) -> Charter:
    """The merged, compiled charter for a language.

    A language without a lexicon still gets the language-independent lists (domains, phone
    numbers) with `supported=False`: personal data must be caught in any language.
    Cached: texts are checked on every keystroke of a communicator's edit.
    """
    code = primary_language(language)
    valid = code.isalpha() and code.isascii() and code not in ("common", "places")
    language_sources = _sources(f"{code}.yaml", extra_dir) if valid else []
    lexicon = LanguageFile.model_validate(_merge(LanguageFile, language_sources))
    common = CommonFile.model_validate(_merge(CommonFile, _sources("common.yaml", extra_dir)))
    places = PlacesFile.model_validate(_merge(PlacesFile, _sources("places.yaml", extra_dir)))
    matchers: dict[str, PhraseList] = {}
    for list_name in PHRASE_LISTS:
        compiled = []
        for entry in getattr(lexicon, list_name):
            try:
                compiled.append(compile_entry(entry.phrase, entry.regex, lexicon.sets, entry))
            except ValueError as error:
                raise LexiconError(
                    f"{code}.yaml, list {list_name}, entry {entry.key()!r}: {error}"
                ) from error
        matchers[list_name] = PhraseList.of(tuple(compiled))
    return Charter(
        language=code,
        matchers=matchers,
        words=frozenset(word.lower() for word in lexicon.words),
        messages=lexicon.messages,
        acronyms=frozenset(common.acronyms),
        labels=tuple(sorted(set(common.labels), key=len, reverse=True)),
        official_domains=tuple(domain.lower().lstrip("@.") for domain in common.official_domains),
        public_numbers=frozenset(digits(number) for number in common.public_numbers),
        places=frozenset(places.places),
        place_tokens=frozenset(token for place in places.places for token in split_name(place)),
        emoji_allowance=common.emoji_allowance if common.emoji_allowance is not None else 2,
        supported=bool(language_sources),
        own_messages=frozenset(
            rule
            for name, data in language_sources
            if extra_dir is not None and name == str(extra_dir / f"{code}.yaml")
            for rule in data.get("messages") or {}
        ),
    )
