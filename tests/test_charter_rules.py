from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from alertcast.charter import Finding, blocking, check_incident, check_text
from alertcast.charter.lexicon import LexiconError, load_charter
from alertcast.clock import clock
from alertcast.models.incident import Area, Category, Incident, Info, MsgType, Reference

LABELLED = Path(__file__).parent / "data" / "charter_labelled.yaml"
DEV = [
    case for case in yaml.safe_load(LABELLED.read_text(encoding="utf-8")) if case.get("split", "dev") == "dev"
]

LEVELS = {
    "neutrality.opinion": "block",
    "neutrality.partisan": "block",
    "neutrality.praise": "block",
    "neutrality.blame": "block",
    "neutrality.political": "block",
    "neutrality.borderline": "warn",
    "style.capitals": "warn",
    "style.punctuation": "warn",
    "style.emoji": "warn",
    "style.alarmist": "warn",
    "personal_data.phone": "block",
    "personal_data.email": "block",
    "personal_data.plate": "block",
    "spelling.unknown": "warn",
    "charter.language_unsupported": "warn",
}


def rules(findings: list[Finding]) -> set[str]:
    return {finding.rule for finding in findings}


def test_labelled_set_is_large_enough() -> None:
    assert sum(case["language"] == "fr" for case in DEV) >= 40
    assert sum(case["language"] == "en" for case in DEV) >= 20
    fired = {rule for case in DEV for rule in case["expected"]}
    assert fired >= set(LEVELS) - {"charter.language_unsupported"}
    assert sum(not case["expected"] for case in DEV) >= 30


@pytest.mark.parametrize("case", DEV, ids=[case["text"][:50] for case in DEV])
def test_labelled_sentence(case: dict[str, Any]) -> None:
    findings = check_text(case["text"], case["language"])
    assert rules(findings) == set(case["expected"]), [(f.rule, f.excerpt) for f in findings]
    for finding in findings:
        assert case["text"][finding.start : finding.end] == finding.excerpt
        assert finding.level == LEVELS[finding.rule]
        assert finding.message and finding.suggestion
    assert [f.start for f in findings] == sorted(f.start for f in findings)


def test_the_brief_example_pair() -> None:
    assert check_text("La route D 934 est fermée entre Arras et Cambrai", "fr") == []
    findings = check_text("La route est ENFIN rouverte grâce à notre maire", "fr")
    assert blocking(findings)
    praise = [f for f in findings if f.rule == "neutrality.praise"]
    assert [f.excerpt for f in praise] == ["grâce à notre maire"]
    assert praise[0].message.startswith("« grâce à notre maire »")  # French text, French message


@pytest.mark.parametrize(
    "word",
    ["scandaleux", "scandaleuse", "scandaleuses", "honteux", "honteuse", "incompétents", "Incompétentes"],
)
def test_french_inflections_block(word: str) -> None:
    findings = check_text(f"Cette décision est {word}.", "fr")
    assert [(f.rule, f.excerpt, f.level) for f in findings] == [("neutrality.opinion", word, "block")]


def test_malheureusement_and_heureusement_are_borderline_warnings() -> None:
    for word in ("Malheureusement", "Heureusement"):
        findings = check_text(f"{word}, le concert est annulé.", "fr")
        assert [(f.rule, f.excerpt, f.level) for f in findings] == [("neutrality.borderline", word, "warn")]
        assert not blocking(findings)


def test_heureusement_does_not_match_inside_malheureusement() -> None:
    findings = check_text("Malheureusement, la route est fermée.", "fr")
    assert [f.excerpt for f in findings] == ["Malheureusement"]


def test_decomposed_accents_match_and_the_span_keeps_the_combining_mark() -> None:
    text = unicodedata.normalize("NFD", "Des élus incompétents.")
    findings = [f for f in check_text(text, "fr") if f.rule == "neutrality.opinion"]
    assert len(findings) == 1
    assert unicodedata.normalize("NFC", findings[0].excerpt) == "incompétents"
    assert text[findings[0].start : findings[0].end] == findings[0].excerpt


def test_typographic_apostrophe_matches_like_the_straight_one() -> None:
    assert "neutrality.opinion" in rules(check_text("C’est une honte.", "fr"))
    assert "neutrality.opinion" in rules(check_text("C'est une honte.", "fr"))


def test_rn_is_a_party_but_rn_43_is_a_road() -> None:
    assert rules(check_text("Le RN appelle à manifester.", "fr")) == {"neutrality.partisan"}
    assert check_text("La RN 43 est fermée.", "fr") == []
    assert check_text("La RN43 est fermée.", "fr") == []


def test_capitals_exempt_acronyms_roads_and_system_labels() -> None:
    for text in (
        "EXERCICE EXERCICE EXERCICE : la SNCF et l'INSEE testent le dispositif sur l'A4.",
        "FIN D'ALERTE : trafic normal sur le RER B.",
        "FIN D’ALERTE : trafic normal.",
        "END OF ALERT: traffic is back to normal.",
    ):
        language = "en" if text.startswith("END") else "fr"
        assert "style.capitals" not in rules(check_text(text, language)), text


def test_capitals_flag_shouted_words() -> None:
    findings = check_text("Restez chez vous, NE SORTEZ PAS.", "fr")
    assert [(f.rule, f.excerpt) for f in findings] == [("style.capitals", "NE SORTEZ PAS")]


def test_emoji_allowance_counts_sequences_once() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    assert check_text(f"⚠️ {family} Route fermée.", "fr") == []
    findings = check_text("⚠️🚧🚨 Route fermée.", "fr")
    assert [(f.rule, f.excerpt) for f in findings] == [("style.emoji", "🚨")]
    assert "3" in findings[0].message


def test_official_short_numbers_and_landlines_are_not_personal_data() -> None:
    for text in (
        "Appelez le 112, le 15, le 17, le 18 ou le 114.",
        "Standard de la préfecture : 03 21 21 20 00.",
        "Numéro national : 3114.",
    ):
        assert check_text(text, "fr") == [], text


@pytest.mark.parametrize(
    "number",
    [
        "06 12 34 56 78",
        "0612345678",
        "07.98.76.54.32",
        "+33 6 12 34 56 78",
        "+33612345678",
        "0033 7 12 34 56 78",
    ],
)
def test_mobile_numbers_block(number: str) -> None:
    findings = check_text(f"Contact : {number}.", "fr")
    assert [(f.rule, f.excerpt, f.level) for f in findings] == [("personal_data.phone", number, "block")]


def test_official_domains_and_mastodon_handles_are_not_personal_e_mail() -> None:
    assert check_text("Écrivez à pref-communication@pas-de-calais.gouv.fr.", "fr") == []
    assert check_text("Suivez @prefet62@social.gouv.fr pour les mises à jour.", "fr") == []
    assert rules(check_text("Écrivez à jean@orange.fr.", "fr")) == {"personal_data.email"}


def test_plates() -> None:
    assert rules(check_text("Voiture AB-123-CD.", "fr")) == {"personal_data.plate"}
    assert rules(check_text("Voiture AB123CD.", "fr")) == {"personal_data.plate"}
    assert check_text("Voiture IO-123-UU.", "fr") == []  # I, O, U are never used


def test_spelling_ignores_urls_hashtags_numbers_and_knows_incident_places(incident: Incident) -> None:
    text = "Route fermée à Wimereux 7h30, voir https://exemple.fr/xyzzy #Wimereux @mairie_wimereux."
    # Since issue #18 a name the French model tags as a place is not a spelling warning either.
    assert check_text(text, "fr") == []
    assert check_text(text, "fr", incident=incident) == []


@pytest.mark.parametrize(
    "domain", ["ville.bruxelles.be", "mairie-arras.bzh", "vd.ch", "alertcast.invalid", "www.quebec.ca/routes"]
)
def test_spelling_skips_domain_names_of_any_top_level_domain(domain: str) -> None:
    # Only .fr, .com, .org, .net, .eu and .gouv were known: a Belgian, Swiss or Breton body's
    # own domain in "Source : ..." was two unknown words on every alert it sent.
    assert check_text(f"Source : {domain}", "fr") == []


def test_spelling_still_checks_words_glued_by_a_full_stop() -> None:
    findings = check_text("La chausée.Demain la route rouvre.", "fr")
    assert [(f.rule, f.excerpt) for f in findings] == [("spelling.unknown", "chausée")]


def test_spelling_suggests_a_correction() -> None:
    findings = check_text("La chausée est glissante.", "fr")
    assert [(f.rule, f.excerpt) for f in findings] == [("spelling.unknown", "chausée")]
    assert "chaussée" in findings[0].suggestion


def test_unsupported_language_gives_one_warning_and_never_crashes() -> None:
    findings = check_text("Die Straße ist gesperrt.", "de")
    assert [(f.rule, f.level) for f in findings] == [("charter.language_unsupported", "warn")]
    assert [f.rule for f in check_text("Rufen Sie 06 12 34 56 78 an.", "de")] == [
        "charter.language_unsupported",
        "personal_data.phone",
    ]
    assert [f.rule for f in check_text("x", "")] == ["charter.language_unsupported"]
    assert [f.rule for f in check_text("x", "../../etc/passwd")] == ["charter.language_unsupported"]


def test_language_tags_use_their_primary_subtag() -> None:
    assert rules(check_text("C'est scandaleux.", "fr-FR")) == {"neutrality.opinion"}
    assert rules(check_text("This is outrageous.", "en_GB")) == {"neutrality.opinion"}


def test_a_body_extends_the_lexicons_without_code(tmp_path: Path) -> None:
    (tmp_path / "fr.yaml").write_text(
        "opinion: [calamiteux, {phrase: 'quelle gabegie', suggestion: 'Dites les faits.'}]\n"
        "sets: {group: [trottinettistes]}\nwords: [trottinettistes]\n"
        "exclude: {borderline: [malheureusement]}\n",
        encoding="utf-8",
    )
    (tmp_path / "places.yaml").write_text("places: [Wimereux]\n", encoding="utf-8")
    (tmp_path / "common.yaml").write_text(
        "official_domains: [ville-exemple.fr]\npublic_numbers: ['+33 6 12 34 56 78']\nacronyms: [CRAC]\n",
        encoding="utf-8",
    )
    text = (
        "Malheureusement un bilan calamiteux, quelle gabegie, à cause des trottinettistes. "
        "Wimereux : 06 12 34 56 78, accueil@ville-exemple.fr, le CRAC."
    )
    assert rules(check_text(text, "fr")) == {
        "neutrality.borderline",
        "personal_data.phone",
        "personal_data.email",
        "spelling.unknown",
    }
    findings = check_text(text, "fr", extra_dir=tmp_path)
    assert [(f.rule, f.excerpt) for f in findings] == [
        ("neutrality.opinion", "calamiteux"),
        ("neutrality.opinion", "quelle gabegie"),
        ("neutrality.blame", "à cause des trottinettistes"),
    ]
    assert findings[1].suggestion == "Dites les faits."


def test_a_body_can_add_a_language(tmp_path: Path) -> None:
    (tmp_path / "de.yaml").write_text("opinion: [skandalös]\n", encoding="utf-8")
    findings = check_text("Das ist skandalös.", "de", extra_dir=tmp_path)
    assert [(f.rule, f.excerpt) for f in findings] == [("neutrality.opinion", "skandalös")]


def test_a_broken_lexicon_says_where(tmp_path: Path) -> None:
    (tmp_path / "fr.yaml").write_text("blame: ['à cause des {inconnus}']\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"fr\.yaml.*inconnus"):
        load_charter("fr", tmp_path)
    (tmp_path / "en.yaml").write_text("opinions: [typo]\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"en\.yaml"):
        load_charter("en", tmp_path)


def test_finding_to_problem() -> None:
    finding = check_text("C'est scandaleux.", "fr")[0]
    problem = finding.to_problem()
    assert (problem.path, problem.value, problem.rule) == ("text[6:16]", "scandaleux", "neutrality.opinion")


# --- facts and times, on the Incident ------------------------------------------------------

NOW = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[None]:
    clock.set(lambda: NOW)
    yield
    clock.set(None)


def make_info(**changes: Any) -> Info:
    fields: dict[str, Any] = {
        "language": "fr",
        "category": Category.ROAD_CLOSURE,
        "event": "Fermeture de route",
        "headline": "La D 934 est fermée entre Arras et Cambrai",
        "sender_name": "Conseil départemental du Pas-de-Calais",
        "instruction": "Empruntez la déviation par la D 939.",
        "onset": NOW + timedelta(hours=1),
        "expires": NOW + timedelta(hours=10),
        "areas": [Area(area_desc="D 934 entre Arras et Wimereux")],
    }
    fields.update(changes)
    return Info(**fields)


def make_incident(*infos: Info, msg_type: MsgType = MsgType.ALERT) -> Incident:
    references = [Reference(sender="cd62", identifier="1")] if msg_type != MsgType.ALERT else []
    return Incident(
        identifier="2", sender="cd62", sent=NOW, msg_type=msg_type, references=references, info=list(infos)
    )


@pytest.fixture
def incident() -> Incident:
    return make_incident(make_info())


def test_a_complete_incident_is_clean(incident: Incident) -> None:
    assert check_incident(incident) == []


def test_missing_facts() -> None:
    info = make_info(areas=[], onset=None, effective=None, instruction="", sender_name=None, expires=None)
    findings = check_incident(make_incident(info))
    assert [(f.rule, f.level, f.path) for f in findings] == [
        ("facts.where", "block", "info[0].areas"),
        ("facts.when", "block", "info[0].onset"),
        ("facts.advice", "warn", "info[0].instruction"),
    ]
    assert all(f.start == f.end == 0 and f.excerpt == "" for f in findings)


def test_missing_what_and_source_on_an_unvalidated_incident() -> None:
    info = make_info().model_copy(update={"event": " ", "headline": " ", "sender_name": ""})
    incident = make_incident(make_info()).model_copy(update={"info": [info], "sender": ""})
    assert {f.rule for f in check_incident(incident)} == {"facts.what", "facts.source"}


def test_facts_are_checked_per_language_and_not_for_a_cancel() -> None:
    english = make_info(language="en", instruction="")
    assert [f.path for f in check_incident(make_incident(make_info(), english))] == ["info[1].instruction"]
    assert check_incident(make_incident(msg_type=MsgType.CANCEL)) == []


def test_expiry_before_effective_blocks() -> None:
    info = make_info(
        onset=NOW + timedelta(hours=1), effective=NOW + timedelta(hours=5), expires=NOW + timedelta(hours=3)
    )
    findings = check_incident(make_incident(info))
    assert [(f.rule, f.level) for f in findings] == [("times.expires_before_onset", "block")]
    assert "effective" in findings[0].message


def test_expired_alert_blocks_and_past_onset_warns() -> None:
    info = make_info(onset=NOW - timedelta(days=3), expires=NOW - timedelta(days=1))
    findings = check_incident(make_incident(info))
    assert [(f.rule, f.level) for f in findings] == [("times.expired", "block"), ("times.onset_past", "warn")]


def test_recent_onset_is_fine_and_an_update_may_have_a_past_onset() -> None:
    assert check_incident(make_incident(make_info(onset=NOW - timedelta(minutes=30)))) == []
    old = make_info(onset=NOW - timedelta(days=2))
    assert check_incident(make_incident(old, msg_type=MsgType.UPDATE)) == []


def test_samples_from_2011_are_fine_with_a_replaced_clock() -> None:
    sample_now = datetime(2011, 3, 1, 8, 0, tzinfo=UTC)
    clock.set(lambda: sample_now)
    info = make_info(onset=sample_now + timedelta(hours=1), expires=sample_now + timedelta(hours=5))
    assert check_incident(make_incident(info)) == []


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200), language=st.sampled_from(["fr", "en", "de", "fr-CA", ""]))
def test_any_text_gives_valid_sorted_spans(text: str, language: str) -> None:
    findings = check_text(text, language)
    assert [f.start for f in findings] == sorted(f.start for f in findings)
    for finding in findings:
        assert 0 <= finding.start <= finding.end <= len(text)
        assert text[finding.start : finding.end] == finding.excerpt
