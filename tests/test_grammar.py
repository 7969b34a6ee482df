"""The LanguageTool client's pure parts: sentences, offsets, cache, the rule table, fallback.

The answer below was recorded from the real LanguageTool 6.8 server (`alertcast languagetool
up`) for the two sentences of BATCH; the behaviour against the live server is in
test_grammar_servers.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from servers import free_port

from alertcast.charter import grammar
from alertcast.charter.engine import check_text
from alertcast.charter.lexicon import load_charter
from alertcast.charter.sentences import split

BATCH = "Les routes est fermées 🚧 jusqu'à 8 décembre.\n\nLa circulation est intérdite à Vis-en-Artois."


def _match(message: str, offset: int, length: int, values: list[str], rule: str, issue: str, cat: str) -> Any:
    return {
        "message": message,
        "offset": offset,
        "length": length,
        "replacements": [{"value": value} for value in values],
        "rule": {"id": rule, "issueType": issue, "category": {"id": cat}},
    }


RECORDED = {
    "matches": [
        _match("Le verbe devrait être à la 3ᵉ personne du pluriel.", 11, 3, ["sont"],
               "ACCORD_SUJET_VERBE", "uncategorized", "CAT_GRAMMAIRE"),
        _match("Vérifiez l’accord entre le participe passé et le sujet.", 15, 7, ["fermé", "fermée"],
               "ETRE_VPPA_OU_ADJ", "uncategorized", "CAT_GRAMMAIRE"),
        _match("Devant une date, « à le » se contracte en « au » : écrivez « jusqu’au ».", 26, 7,
               ["jusqu'au"], "ALERTCAST_JUSQUA_DATE", "grammar", "CAT_ALERTCAST"),
        _match("Faute de frappe possible trouvée.", 66, 9, ["interdite", "interdit"],
               "FR_SPELLING_RULE", "misspelling", "TYPOS"),
    ]
}  # fmt: skip


def test_sentences_are_cut_at_line_ends_and_full_stops_with_their_offsets() -> None:
    text = "Route fermée.  Déviation par la D 939.\n\nSource : Département\n"
    found = split(text)
    assert found == [(0, "Route fermée."), (15, "Déviation par la D 939."), (40, "Source : Département")]
    assert all(text[start : start + len(sentence)] == sentence for start, sentence in found)


def test_java_offsets_after_an_emoji_map_to_python_characters_and_to_their_sentence() -> None:
    first, second = BATCH.split("\n\n")
    per_sentence = grammar.split_answer(grammar.Answer.model_validate(RECORDED), BATCH, [0, len(first) + 2])
    assert [second[m.start : m.end] for m in per_sentence[1]] == ["intérdite"]
    excerpts = [first[m.start : m.end] for m in per_sentence[0]]
    # LanguageTool counts 🚧 as two (UTF-16): without the mapping "jusqu'à" would be " jusqu'".
    assert excerpts == ["est", "fermées", "jusqu'à"]


class Recorded:
    """A transport answering the recorded JSON and counting what it was asked."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        self.texts.append(form["text"])
        assert "FRENCH_WHITESPACE" in form["disabledRules"].split(",")
        return httpx.Response(200, content=json.dumps(RECORDED).encode())


def _checker(transport: Recorded, cache_size: int = 100) -> grammar.GrammarChecker:
    client = httpx.Client(transport=httpx.MockTransport(transport))
    return grammar.GrammarChecker("http://languagetool.invalid", client=client, cache_size=cache_size)


def test_each_distinct_sentence_is_asked_once_in_one_request_then_served_from_the_cache() -> None:
    transport = Recorded()
    checker = _checker(transport)
    text = BATCH.replace("\n\n", "\n")  # one line break: another channel's layout
    matches = checker.check(text, "fr-FR")
    assert transport.texts == [BATCH]
    assert [(text[m.start : m.end], m.replacements[0]) for m in matches] == [
        ("est", "sont"),
        ("fermées", "fermé"),
        ("jusqu'à", "jusqu'au"),
        ("intérdite", "interdite"),
    ]
    again = checker.check("Titre\n" + text, "fr")  # the same sentences, shifted: nothing asked
    assert len(transport.texts) == 2 and transport.texts[1] == "Titre"
    assert [m.start - 6 for m in again] == [m.start for m in matches]
    checker.prefetch([(text, "fr"), (text, "en")])  # English is another cache entry
    assert len(transport.texts) == 3


def test_the_cache_keeps_the_most_recent_sentences() -> None:
    transport = Recorded()
    checker = _checker(transport, cache_size=2)
    checker.check("Un.\nDeux.", "fr")
    checker.check("Un.", "fr")  # Un. is now the most recent
    checker.check("Trois.", "fr")  # Deux. leaves
    assert list(key[1] for key in checker.cache) == ["Un.", "Trois."]


def test_findings_follow_the_rule_table_and_leave_the_bodys_words_alone() -> None:
    charter = load_charter("fr").with_proper_nouns(["Kermaria"])
    text = "La circulation est intérdite rue de Kermaria."
    matches = [
        grammar.Match(start=19, end=28, rule_id="FR_SPELLING_RULE", category="TYPOS",
                      issue_type="misspelling", message="Faute de frappe possible trouvée.",
                      replacements=("interdite",)),
        grammar.Match(start=36, end=44, rule_id="FR_SPELLING_RULE", category="TYPOS",
                      issue_type="misspelling", message="Faute de frappe possible trouvée.",
                      replacements=("Kerma ria",)),
        grammar.Match(start=0, end=2, rule_id="X", category="CAT_GRAMMAIRE", issue_type="uncategorized",
                      message="m", replacements=()),
    ]  # fmt: skip
    found = grammar.findings(charter, text, matches)
    assert [(f.rule, f.level, f.excerpt, f.suggestion) for f in found] == [
        ("spelling.misspelling", grammar.RULES["misspelling"][1], "intérdite", "interdite"),
        ("grammar.error", grammar.RULES["grammar"][1], "La", ""),
    ]


def test_a_server_that_does_not_answer_falls_back_to_the_offline_spelling_with_a_warning() -> None:
    checker = grammar.GrammarChecker(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    found = check_text("La circulaton est interdite.", "fr", checker=checker)
    rules = [finding.rule for finding in found]
    assert "spelling.unknown" in rules  # the offline word lists still caught the typo
    assert "grammar.unavailable" in rules
    assert not checker.cache


def test_languages_without_languagetool_rules_are_not_asked() -> None:
    transport = Recorded()
    assert _checker(transport).check("Carretera cortada.", "es") == []
    assert transport.texts == []
    assert grammar.language_code("en-US") == "en-US" and grammar.language_code("en-CA") == "en-GB"
    assert grammar.language_code("fr-CA") == "fr"


@pytest.mark.parametrize("rule", sorted(grammar.DISABLED_RULES) + sorted(grammar.DISABLED_CATEGORIES))
def test_every_disabled_rule_says_why(rule: str) -> None:
    reason = {**grammar.DISABLED_RULES, **grammar.DISABLED_CATEGORIES}[rule]
    assert len(reason) > 10


def test_the_sms_says_jusquau_before_a_date_and_jusqua_before_an_hour() -> None:
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from alertcast.clock import clock
    from alertcast.ingest.detect import parse_document
    from alertcast.render.compose import compose
    from alertcast.render.templates import Templates
    from alertcast.settings import ROOT

    data = (Path(__file__).resolve().parent / "data" / "check-clean.json").read_bytes()
    (incident,) = parse_document(data, source="test").incidents
    templates = Templates(ROOT / "templates")
    clock.set(lambda: datetime(2026, 12, 3, 5, 0, tzinfo=UTC))
    try:
        same_day = compose(incident, ["sms"], templates).texts[0].text
        info = incident.info[0]
        assert info.expires is not None
        later = incident.model_copy(
            update={"info": [info.model_copy(update={"expires": info.expires + timedelta(days=2)})]}
        )
        two_days = compose(later, ["sms"], templates).texts[0].text
    finally:
        clock.set(None)
    assert ", jusqu'à 14 h." in same_day
    assert ", jusqu'au 5 décembre à 14 h." in two_days
