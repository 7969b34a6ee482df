"""Grammar and spelling against the real LanguageTool server (one per session, warm).

`alertcast check` reports LanguageTool's findings with its suggestion, and every template of
templates/ writes French and English that LanguageTool finds nothing to say about, for every
sample of ../shared/samples/ (what the samples' own free text says is theirs, not ours).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alertcast.charter import grammar
from alertcast.charter.sentences import split
from alertcast.ingest.detect import parse_document
from alertcast.models.incident import Incident
from alertcast.render.compose import compose
from alertcast.render.environment import first_sentence
from alertcast.render.length import CHANNELS, sms_plain
from alertcast.render.templates import Templates
from alertcast.settings import ROOT

pytestmark = pytest.mark.servers

SAMPLES = ROOT.parent / "shared" / "samples"
TEMPLATES = Templates(ROOT / "templates", site_base_url="https://alertes.example.fr")


def _incident_file(folder: Path, description: str) -> Path:
    now = datetime.now(UTC)
    incident = {
        "identifier": "grammar-test-1",
        "sender": "routes@departement-exemple.fr",
        "sent": now.isoformat(),
        "status": "Actual",
        "msg_type": "Alert",
        "scope": "Public",
        "info": [
            {
                "language": "fr",
                "category": "road_closure",
                "event": "Fermeture de route",
                "urgency": "Immediate",
                "severity": "Moderate",
                "certainty": "Observed",
                "sender_name": "Direction des routes du Département",
                "headline": "Route D 934 fermée entre Arras et Cambrai",
                "description": description,
                "instruction": "Suivez la déviation par la D 939.",
                "onset": (now + timedelta(hours=1)).isoformat(),
                "expires": (now + timedelta(days=3)).isoformat(),
                "areas": [{"area_desc": "Vis-en-Artois"}],
            }
        ],
    }
    path = folder / "incident.json"
    path.write_text(json.dumps(incident, ensure_ascii=False))
    return path


def test_check_reports_grammar_and_spelling_with_languagetools_suggestion(
    languagetool_url: str, tmp_path: Path
) -> None:
    path = _incident_file(
        tmp_path, "Les routes est fermées jusqu'à 8 décembre. La circulation est intérdite à Vis-en-Artois."
    )
    env = {**os.environ, "ALERTCAST_LANGUAGETOOL_URL": languagetool_url}
    done = subprocess.run(
        [sys.executable, "-m", "alertcast", "check", str(path), "--channel", "website"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    output = done.stdout
    assert done.returncode == 1, output + done.stderr  # warnings: a person decides
    assert "warn grammar.error at" in output and "(jusqu'au)" in output, output
    assert "(sont)" in output, output  # les routes est -> sont
    assert "warn spelling.misspelling at" in output and "(interdite)" in output, output
    assert output.count("spelling.misspelling") == 1, output  # Vis-en-Artois is the incident's place
    assert "grammar not checked" not in done.stderr


def _field_texts(incident: Incident) -> list[str]:
    """The incident's own words, in every form a template may print them."""
    values: list[str] = [incident.sender]
    for info in incident.info:
        values += [info.headline or "", info.description or "", info.instruction or "", info.event or ""]
        values += [info.sender_name or "", info.web or ""]
        values += [area.area_desc for area in info.areas]
    forms: list[str] = []
    for value in filter(None, values):
        for variant in (value, " ".join(value.split())):
            forms += [variant, sms_plain(variant), first_sentence(variant)]
            forms += [line.strip() for line in variant.splitlines()]
            forms += [part.strip() for part in variant.replace(";", ",").split(",")]
            forms += [sentence for _, sentence in split(variant)]
    return sorted({form for form in forms if form.strip()}, key=len, reverse=True)


def _samples() -> list[Path]:
    return sorted(path for path in SAMPLES.rglob("*") if path.suffix in (".xml", ".json", ".pb"))


def test_every_template_writes_correct_french_and_english_for_every_sample(languagetool_url: str) -> None:
    checker = grammar.GrammarChecker(languagetool_url, timeout_s=60)
    ours: list[str] = []
    texts = 0
    for path in [*_samples(), *sorted((ROOT / "deploy" / "examples").glob("*.json"))]:
        for incident in parse_document(path.read_bytes(), source="test").incidents:
            composition = compose(incident, list(CHANNELS), TEMPLATES, checker=checker)
            forms = _field_texts(incident)
            for text in composition.texts:
                texts += 1
                covered = [False] * len(text.text)
                for form in forms:
                    start = text.text.find(form)
                    while start != -1:
                        covered[start : start + len(form)] = [True] * len(form)
                        start = text.text.find(form, start + 1)
                for finding in text.findings:
                    if not finding.rule.startswith(("grammar.", "spelling.")):
                        continue
                    if not all(covered[finding.start : finding.end]):  # words the template wrote
                        line = text.text[max(0, finding.start - 40) : finding.end + 20]
                        ours.append(f"{path.name} {text.channel}/{text.language}: {finding.rule} "
                                    f"{finding.excerpt!r} ({finding.suggestion}) in ...{line!r}")  # fmt: skip
    assert texts > 500
    assert not ours, "\n".join(ours)


def test_an_incidents_channels_cost_one_request_per_language_and_nothing_the_second_time(
    languagetool_url: str,
) -> None:
    checker = grammar.GrammarChecker(languagetool_url, timeout_s=60)
    document = SAMPLES / "cap" / "eccc-naads-wind-warning-update-fr-en.xml"
    (incident,) = parse_document(document.read_bytes(), source="test").incidents
    first = compose(incident, list(CHANNELS), TEMPLATES, checker=checker)
    assert checker.requests == 2  # French and English, every channel's sentences at once
    again = compose(incident, list(CHANNELS), TEMPLATES, checker=checker)
    assert checker.requests == 2
    assert [t.findings for t in again.texts] == [t.findings for t in first.texts]
