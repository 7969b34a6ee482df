"""Grammar and spelling by LanguageTool: a wrong agreement or a typo at 23:30 costs trust.

LanguageTool (a local HTTP server, see alertcast/languagetool.py) knows grammar, which the
offline word lists of spelling.py cannot: "les routes est fermées", "jusqu'à 8 décembre"
(alertcast's own rule, deploy/languagetool/classpath/). What it reports becomes a
`spelling.misspelling` or `grammar.error` finding with LanguageTool's message and its first
replacement as the suggestion; whether that blocks or warns is `RULES` below.

Cost: a warm server answers a request in 0.1–0.3 s whatever its size, so a text is cut into
sentences, each distinct (language, sentence) is asked once and kept (LRU), and the sentences
of a text not seen yet go in one request. The channels' copies of an incident share most
sentences (same headline, same instruction): only the first copy pays.

The body's own words (`words:` of its lexicon) and its places (places.yaml, the incident's
areas and sender) are not misspellings, whatever LanguageTool's dictionary says; URLs,
hashtags, times, road numbers and acronyms are not judged (spelling.exempt).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alertcast.charter import spelling
from alertcast.charter.lexicon import Charter, Message
from alertcast.charter.sentences import split
from alertcast.errors import ServiceError
from alertcast.http import make_sync_client
from alertcast.i18n import N_
from alertcast.models.finding import Finding, Level

log = logging.getLogger(__name__)

#: LanguageTool's verdict → the charter's rule and level. Spelling and grammar warn: the
#: checker can be wrong on a name or a technical phrase, and a person decides.
RULES: dict[str, tuple[str, Level]] = {
    "misspelling": ("spelling.misspelling", "warn"),
    "grammar": ("grammar.error", "warn"),
    "unavailable": ("grammar.unavailable", "warn"),
}

#: Rules turned off, each for a reason: texts are fitted per network (SMS replaces typographic
#: marks by their GSM-7 equivalents, length.sms_plain) and built from parts (a title, a list
#: of areas, a link), so typography-only remarks would be noise on every text.
DISABLED_RULES: dict[str, str] = {
    "FRENCH_WHITESPACE": "non-breaking space before : ; ! ?: SMS has none (GSM-7), posts vary",
    "FRENCH_WHITESPACE_STRICT": "non-breaking space, strict variant: same reason",
    "APOS_TYP": "typographic apostrophe: SMS uses the straight one (GSM-7)",
    "APOS_INCORRECT": "straight apostrophe after an elision: SMS needs it (GSM-7)",
    "TIRET": "dash kinds: SMS uses the plain hyphen (GSM-7)",
    "TIRET_LONG_1": "long dash kinds: SMS uses the plain hyphen (GSM-7)",
    "EN_QUOTES": "typographic quotes: SMS uses the straight ones (GSM-7)",
    "DASH_RULE": "dash kinds: SMS uses the plain hyphen (GSM-7)",
    "WHITESPACE_RULE": "spaces are the fitting's business (parts are joined per channel)",
    "CONSECUTIVE_SPACES": "double spaces come from joined parts, never shown twice by networks",
    "UPPERCASE_SENTENCE_START": "a part may start with a road or place written in lower case",
    "PUNCTUATION_PARAGRAPH_END": "parts (title, areas, link) are lines without final stop",
    "FR_SPLIT_WORDS_HYPHEN": "place names keep their own hyphenation",
    "EN_DATE_WEEKDAY_CURRENTYEAR": "assumes the current year: feeds' texts date from other years",
}

#: French rule categories that are typographic only (same reasons as DISABLED_RULES).
DISABLED_CATEGORIES: dict[str, str] = {
    "TYPOGRAPHY": "typographic marks vary by network (English)",
    "CAT_TYPOGRAPHIE": "typographic marks vary by network (French)",
    "PUNCTUATION": "en dash in ranges (4-6 feet): the SMS has only the hyphen",
    "STYLE": "style advice (numbers in letters, British words for American ones): not errors, and "
    "feeds write in their own variant",
    "REDUNDANCY": 'style advice ("send an email" -> "email"), not an error',
}

_JOINER = "\n\n"  # sentences of one request: a paragraph each, so no rule spans two


class GrammarUnavailable(ServiceError, RuntimeError):
    """The LanguageTool server did not answer: the text is checked without it."""


class Match(BaseModel):
    """One LanguageTool remark, its span in Python characters of the text checked."""

    model_config = ConfigDict(frozen=True)

    start: int
    end: int
    rule_id: str
    category: str
    issue_type: str
    message: str
    replacements: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "misspelling" if self.issue_type == "misspelling" else "grammar"


class _Value(BaseModel):
    value: str = ""


class _Category(BaseModel):
    id: str = ""


class _Rule(BaseModel):
    id: str
    issue_type: str = Field(default="", alias="issueType")
    category: _Category = Field(default_factory=_Category)


class _RawMatch(BaseModel):
    message: str
    offset: int = Field(ge=0)
    length: int = Field(ge=0)
    replacements: list[_Value] = Field(default_factory=list)
    rule: _Rule


class Answer(BaseModel):
    """The part of LanguageTool's /v2/check answer we read (the rest is ignored)."""

    matches: list[_RawMatch]


def language_code(language: str) -> str | None:
    """LanguageTool's code for a text's language, or None when it is not checked.

    French variants share the French rules; English is British unless the text says US (the
    plain "en" has no spell checker in LanguageTool). One pipeline per code is kept warm.
    """
    code = language.strip().replace("_", "-").lower()
    if code.split("-")[0] == "fr":
        return "fr"
    if code.split("-")[0] == "en":
        return "en-US" if code == "en-us" else "en-GB"
    return None


def _python_offsets(text: str) -> list[int]:
    """For each UTF-16 offset (Java's string index, LanguageTool's), the Python index."""
    index: list[int] = []
    for position, char in enumerate(text):
        index.extend([position] * (2 if ord(char) > 0xFFFF else 1))
    index.append(len(text))
    return index


def split_answer(answer: Answer, batch: str, starts: list[int]) -> list[list[Match]]:
    """The matches of one request, per sentence, with spans relative to that sentence.

    `starts` are where each sentence begins in `batch` (Python indices, increasing)."""
    to_python = _python_offsets(batch)
    per_sentence: list[list[Match]] = [[] for _ in starts]
    bounds = [*starts[1:], len(batch) + len(_JOINER)]
    for raw in answer.matches:
        if raw.offset + raw.length >= len(to_python):
            continue
        start, end = to_python[raw.offset], to_python[raw.offset + raw.length]
        for number, (first, after) in enumerate(zip(starts, bounds, strict=True)):
            if first <= start < after:
                limit = after - len(_JOINER) - first
                per_sentence[number].append(
                    Match(
                        start=start - first,
                        end=min(end - first, limit),
                        rule_id=raw.rule.id,
                        category=raw.rule.category.id,
                        issue_type=raw.rule.issue_type,
                        message=raw.message,
                        replacements=tuple(r.value for r in raw.replacements[:3]),
                    )
                )
                break
    return per_sentence


def request_data(language: str, text: str) -> dict[str, str]:
    """The form of a /v2/check request (the warm-up uses it too: LanguageTool keeps one
    pipeline per set of options, and the first request of a set takes seconds)."""
    return {
        "language": language,
        "text": text,
        "disabledRules": ",".join(DISABLED_RULES),
        "disabledCategories": ",".join(DISABLED_CATEGORIES),
    }


class GrammarChecker:
    """A client of one LanguageTool server, with a cache of its answers per sentence.

    Thread-safe: the worker composes in a thread, the web process may check edits in several.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        cache_size: int = 20_000,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        # a local server: a refused connection is known at once, so fail over to offline fast
        self.client = client or make_sync_client(timeout_s, connect_s=2.0)
        self.cache_size = cache_size
        self.cache: OrderedDict[tuple[str, str], tuple[Match, ...]] = OrderedDict()
        self.lock = threading.Lock()
        self.requests = 0  # how many times the server was asked (tests and benchmarks read it)

    def supports(self, language: str) -> bool:
        return language_code(language) is not None

    def prefetch(self, texts: list[tuple[str, str]]) -> None:
        """Ask for every sentence of these (text, language) not known yet: one request per
        language, the languages at once. Compose calls it with all the channels' texts of an
        incident, so each text's own check then finds its sentences cached."""
        wanted: dict[str, list[str]] = {}
        for text, language in texts:
            code = language_code(language)
            if code is not None:
                wanted.setdefault(code, []).extend(sentence for _, sentence in split(text))
        asks = {code: self._missing(code, found) for code, found in wanted.items()}
        asks = {code: missing for code, missing in asks.items() if missing}
        if len(asks) == 1:
            ((code, missing),) = asks.items()
            self._ask(code, missing)
        elif asks:
            with ThreadPoolExecutor(len(asks)) as pool:
                for future in [pool.submit(self._ask, code, missing) for code, missing in asks.items()]:
                    future.result()

    def check(self, text: str, language: str) -> list[Match]:
        """Every remark on `text`, spans in its Python characters; GrammarUnavailable if the
        server does not answer (nothing is cached then)."""
        code = language_code(language)
        if code is None:
            return []
        pieces = split(text)
        missing = self._missing(code, [sentence for _, sentence in pieces])
        if missing:
            self._ask(code, missing)
        found: list[Match] = []
        with self.lock:
            known = {sentence: self.cache.get((code, sentence), ()) for _, sentence in pieces}
        for start, sentence in pieces:
            found += [
                match.model_copy(update={"start": match.start + start, "end": match.end + start})
                for match in known[sentence]
            ]
        return found

    def _missing(self, code: str, wanted: list[str]) -> list[str]:
        """The distinct sentences not in the cache (those in it become the most recent)."""
        missing = []
        with self.lock:
            for sentence in dict.fromkeys(wanted):
                if (code, sentence) in self.cache:
                    self.cache.move_to_end((code, sentence))
                else:
                    missing.append(sentence)
        return missing

    def _ask(self, code: str, missing: list[str]) -> dict[str, tuple[Match, ...]]:
        starts, position = [], 0
        for sentence in missing:
            starts.append(position)
            position += len(sentence) + len(_JOINER)
        batch = _JOINER.join(missing)
        try:
            response = self.client.post(f"{self.url}/v2/check", data=request_data(code, batch))
            response.raise_for_status()
            answer = Answer.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as error:
            raise GrammarUnavailable(f"LanguageTool at {self.url}: {error}") from error
        self.requests += 1
        results = {
            sentence: tuple(matches)
            for sentence, matches in zip(missing, split_answer(answer, batch, starts), strict=True)
        }
        with self.lock:
            for sentence, matches in results.items():
                self.cache[(code, sentence)] = matches
                self.cache.move_to_end((code, sentence))
            while len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return results


_DEFAULT = Message(message="%(message)s", suggestion="%(suggestion)s")  # LanguageTool's own words
_UNAVAILABLE = Message(
    message=N_("Grammar was not checked: the LanguageTool server did not answer (%(reason)s)."),
    suggestion=N_("Check the text by reading it again; see `alertcast languagetool status`."),
)


def findings(charter: Charter, text: str, matches: list[Match]) -> list[Finding]:
    """LanguageTool's remarks as charter findings, the body's own words left alone."""
    skipped = spelling.skipped_spans(text)
    found = []
    for match in matches:
        if not 0 <= match.start < match.end <= len(text):
            continue
        excerpt = text[match.start : match.end]
        if match.kind == "misspelling" and (
            spelling.exempt(text, match.start, match.end, skipped) or spelling.body_word(excerpt, charter)
        ):
            continue
        rule, level = RULES[match.kind]
        suggestion = match.replacements[0] if match.replacements else ""
        found.append(
            charter.finding(
                rule,
                level,
                _DEFAULT,
                start=match.start,
                end=match.end,
                excerpt=excerpt,
                message=match.message,
                suggestion=suggestion,
            )
        )
    return found


def unavailable(charter: Charter, error: GrammarUnavailable) -> Finding:
    rule, level = RULES["unavailable"]
    return charter.finding(rule, level, _UNAVAILABLE, reason=str(error))


@lru_cache(maxsize=4)
def checker_for(url: str, timeout_s: float) -> GrammarChecker:
    """One checker (one cache, one connection pool) per server for the whole process."""
    return GrammarChecker(url, timeout_s=timeout_s)


def configured() -> GrammarChecker | None:
    """The checker of ALERTCAST_LANGUAGETOOL_URL, or None (said once in the log)."""
    from alertcast.settings import get_settings

    settings = get_settings()
    if not settings.languagetool_url:
        _say_unchecked()
        return None
    return checker_for(settings.languagetool_url, settings.http_timeout_s)


@lru_cache(maxsize=1)
def _say_unchecked() -> None:
    log.warning(
        "ALERTCAST_LANGUAGETOOL_URL is not set: grammar is not checked, spelling uses the offline "
        "word lists (`alertcast languagetool up` starts a server)"
    )
