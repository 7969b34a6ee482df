"""Opinion worded freely (issue #18): structural patterns, neutral twins, held-out bounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from alertcast.charter import check_text, nlp
from alertcast.charter.lexicon import LexiconError

LABELLED = Path(__file__).parent / "data" / "charter_labelled.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))


def rules(text: str, language: str) -> set[str]:
    return {finding.rule for finding in check_text(text, language)}


@pytest.mark.parametrize(
    ("text", "language", "rule"),
    [
        (
            "Le conservatoire a rouvert grâce à l'énergie de Mme Bertrand, adjointe à la culture.",
            "fr",
            "neutrality.praise",
        ),
        ("Le député Luc Garnier a obtenu la réouverture de la maternité.", "fr", "neutrality.praise"),
        (
            "Malgré les coupes budgétaires du gouvernement, la cantine reste ouverte.",
            "fr",
            "neutrality.political",
        ),
        (
            "Les bureaux de vote ouvrent à 8 h ; soutenez ceux qui travaillent pour vous.",
            "fr",
            "neutrality.political",
        ),
        ("Les grévistes ont choisi de priver les familles de cantine.", "fr", "neutrality.blame"),
        (
            "Les habitants du hameau n'ont pas respecté l'interdiction de faire du feu.",
            "fr",
            "neutrality.blame",
        ),
        ("la situation est hors de contrôle sur la rocade.", "fr", "style.alarmist"),
        ("Thanks to the hard work of Councillor Singh, the pool has reopened.", "en", "neutrality.praise"),
        ("Despite the government's cuts, the library stays open.", "en", "neutrality.political"),
        ("Striking drivers have chosen to strand commuters.", "en", "neutrality.blame"),
        ("the worst is yet to come for the valley.", "en", "style.alarmist"),
    ],
)
def test_structural_patterns_fire(text: str, language: str, rule: str) -> None:
    findings = [f for f in check_text(text, language) if f.rule == rule]
    assert findings, check_text(text, language)
    for finding in findings:
        assert text[finding.start : finding.end] == finding.excerpt
        assert finding.level == ("warn" if rule == "style.alarmist" else "block")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Le conservatoire rouvre lundi à 9 h.", "fr"),
        ("Le député tient sa permanence vendredi en mairie.", "fr"),
        ("Grâce à la décrue, la route de la vallée est rouverte.", "fr"),
        ("Malgré la pluie, le marché est maintenu.", "fr"),
        ("Les bureaux de vote ouvrent à 8 h ; munissez-vous d'une pièce d'identité.", "fr"),
        ("Les syndicats ont déposé un préavis de grève pour jeudi.", "fr"),
        ("Les habitants doivent respecter l'interdiction de faire du feu.", "fr"),
        ("La commune a obtenu la reconnaissance de l'état de catastrophe naturelle.", "fr"),
        ("The pool reopens on Monday.", "en"),
        ("Thanks to drier weather, the park has reopened.", "en"),
        ("Drivers must not ignore the diversion signs.", "en"),
    ],
)
def test_neutral_twins_stay_clean(text: str, language: str) -> None:
    assert check_text(text, language) == []


def test_messages_are_in_the_text_language() -> None:
    fr = [f for f in check_text("Malgré le désengagement de l'État, le car circule.", "fr")]
    assert fr and fr[0].message.startswith("«")
    en = [f for f in check_text("Despite the government's cuts, the bus runs.", "en")]
    assert en and en[0].message.startswith('"')


def test_proper_names_are_not_spelling_warnings() -> None:
    assert check_text("Les écoles de Wimereux et de Hardelot sont fermées.", "fr") == []
    assert check_text("Bus line 5 is diverted via Ashbourne Road.", "en") == []
    assert {f.excerpt for f in check_text("La chausée est glissante.", "fr")} == {"chausée"}


def test_a_body_adds_and_drops_patterns(tmp_path: Path) -> None:
    from alertcast.charter.lexicon import load_charter
    from alertcast.charter.opinion import compiled

    (tmp_path / "patterns").mkdir()
    (tmp_path / "patterns" / "fr.yaml").write_text(
        "blame:\n  - name: local-squatters\n    tokens: [{LEMMA: squatteur}, {LEMMA: saccager}]\n"
        "exclude: [group-chooses, group-chooses-nearby]\n",
        encoding="utf-8",
    )
    load_charter.cache_clear()
    compiled.cache_clear()
    assert "neutrality.blame" in {
        f.rule for f in check_text("Des squatteurs saccagent le parc.", "fr", extra_dir=tmp_path)
    }
    assert "neutrality.blame" not in {
        f.rule for f in check_text("Les grévistes ont choisi de bloquer.", "fr", extra_dir=tmp_path)
    }
    (tmp_path / "patterns" / "fr.yaml").write_text(
        "blame:\n  - {name: x, tokens: [{LEMMA: {IN: [$nope]}}]}\n"
    )
    compiled.cache_clear()
    with pytest.raises(LexiconError):
        check_text("Texte.", "fr", extra_dir=tmp_path)
    compiled.cache_clear()


def test_parses_are_cached_per_sentence() -> None:
    """The second check parses nothing, and each sentence's parse is in the cache. (Counting
    the second check's hits no longer tells: a text whose words are all known is not asked
    for its proper names, and opinion.py keeps its matches per sentence.)"""
    text = "La route de la digue est fermée. Le pont reste ouvert."
    check_text(text, "fr")
    before = nlp.cache_info()
    check_text(text, "fr")
    for sentence in ("La route de la digue est fermée.", "Le pont reste ouvert."):
        nlp.parse("fr", sentence)
    after = nlp.cache_info()
    assert after["misses"] == before["misses"] and after["hits"] >= before["hits"] + 2


def test_a_sentence_with_other_numbers_is_not_parsed_again() -> None:
    """An alert storm: one wording, other road and exit numbers, one parse."""
    first = "Ralentissement n° 17 sur la rocade nord entre les sorties 3 et 5."
    second = "Ralentissement n° 42 sur la rocade nord entre les sorties 6 et 8."
    check_text(first, "fr")
    before = nlp.cache_info()
    check_text(second, "fr")
    assert nlp.parse("fr", second) is nlp.parse("fr", first)
    assert nlp.cache_info()["misses"] == before["misses"]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_heldout_split_meets_the_bounds(language: str) -> None:
    """The issue's bar, on sentences written before the rules and never tuned on."""
    cases = [c for c in CASES if c.get("split") == "heldout" and c["language"] == language]
    forbidden = [c for c in cases if c["expected"]]
    neutral = [c for c in cases if not c["expected"]]
    caught = blocked = warned = 0
    for case in forbidden:
        caught += set(case["expected"]) <= rules(case["text"], language)
    for case in neutral:
        levels = {f.level for f in check_text(case["text"], language)}
        blocked += "block" in levels
        warned += "warn" in levels
    assert caught / len(forbidden) >= 0.90
    assert blocked / len(neutral) <= 0.02
    assert warned / len(neutral) <= 0.10


def test_labelled_set_size_and_splits() -> None:
    assert len(CASES) >= 400
    assert sum(c["language"] == "fr" for c in CASES) >= 250
    assert sum(c.get("split") == "heldout" for c in CASES) >= 0.35 * len(CASES)


def test_the_pipelines_are_installed() -> None:
    """spaCy and its French model are dependencies: without them the structural rules would be
    silent, so a missing install fails here rather than hiding behind a skip."""
    assert nlp.pipeline("fr") is not None and nlp.pipeline("en") is not None


def test_sentences_differing_only_in_numbers_or_links_share_one_parse() -> None:
    """Every alert's text ends with its own page's address: without this, that sentence was a
    new spaCy parse for every incident of a storm (most of compose's CPU)."""
    one = "Plus d'informations : https://alertes.example.fr/alerts/4a941dfc844e04eb.html"
    other = "Plus d'informations : https://alertes.example.fr/alerts/0d2c5e9a71b3f608.html"
    assert nlp.cache_key(one) == nlp.cache_key(other)
    assert len(nlp.cache_key(one)) == len(one)  # offsets into the sentence still hold
    assert nlp.cache_key("La D 934 rouvre à 18 h.") == nlp.cache_key("La D 917 rouvre à 20 h.")
    assert nlp.cache_key("Les grévistes ont choisi") != nlp.cache_key("Les riverains ont choisi")
