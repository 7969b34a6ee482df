"""Every public sample, rendered for every channel: within the network's limit, or blocked with
the reason where even the mandatory parts alone cannot fit (never cut, never silently long)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alertcast.clock import clock
from alertcast.ingest.detect import parse_document
from alertcast.models.incident import Incident
from alertcast.render.compose import compose
from alertcast.render.length import CHANNELS, count
from alertcast.render.reference import as_posted
from alertcast.render.templates import Templates
from alertcast.settings import ROOT

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
# The IPAWS Cancel has no info block, so no text: see its own test below.
FILES = sorted(
    [
        path
        for path in (SAMPLES / "cap").glob("*.xml")
        if not path.name.startswith("invalid-") and path.name != "ipaws-athoc-cancel-no-info-signed.xml"
    ]
    + list((SAMPLES / "gtfs-rt").iterdir())
    + list((SAMPLES / "datex2").iterdir())
)
TEMPLATES = Templates(ROOT / "templates", site_base_url="https://alertes.example.fr")

# Where the mandatory parts alone exceed the network's limit even at their shortest forms (the
# list of areas as "A, B and 12 others", the instruction as its first sentence and a pointer to
# the alert page, the headline as the event name; SMS up to 3 segments): none today.
# Nothing may block on length unless it is listed here.
TOO_LONG: dict[str, set[str]] = {}
#: Parts a text may never lose: only their shorter forms may stand in for them.
MANDATORY = {"what", "where", "when", "advice", "link"}
POINTERS = ("Consignes complètes : lien ci-dessous.", "Full instructions: link below.")
# A notification has no link in its text: touching it opens the alert's page.
TAP = ("Consignes complètes : touchez la notification.", "Full instructions: tap the notification.")


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.fixture
def at_sent() -> Iterator[list[Incident]]:
    """Set the clock to each incident's sent time while it renders; restored afterwards."""
    current: list[Incident] = []
    clock.set(lambda: current[0].sent)
    try:
        yield current
    finally:
        clock.set(None)


@pytest.mark.parametrize("path", FILES, ids=_name)
def test_every_sample_fits_every_channel_or_is_blocked_for_a_reason(
    path: Path, at_sent: list[Incident]
) -> None:
    result = parse_document(path.read_bytes(), source="test")
    assert result.incidents and not result.problems
    too_long: set[str] = set()
    for incident in result.incidents:
        at_sent[:] = [incident]
        composition = compose(incident, list(CHANNELS), TEMPLATES)
        assert not [p for p in composition.problems if p.rule.startswith("template")]
        assert {text.channel for text in composition.texts} == set(CHANNELS)
        for text in composition.texts:
            measured = count(text.channel, as_posted(text.channel, text.text, text.language))
            assert (measured.length, measured.limit) == (text.length, text.limit)
            assert "\x02" not in text.text and "\x03" not in text.text
            blockers = [finding for finding in text.findings if finding.blocking]
            assert not MANDATORY & set(text.dropped), (text.channel, text.dropped)
            if "advice (full)" in text.dropped and text.channel == "webpush":
                assert any(pointer in text.text for pointer in TAP)
            elif "advice (full)" in text.dropped:  # the rest of the instruction is one link away
                assert any(pointer in text.text for pointer in POINTERS)
                assert "\nhttps://alertes.example.fr/alerts/" in text.text
            if measured.fits:
                assert text.blocked == bool(blockers), text.reason
                continue
            # Too long: only when every optional part is already gone, and said so.
            too_long.add(text.channel)
            assert text.blocked and "mandatory parts alone" in text.reason
            assert text.channel in TOO_LONG.get(_name(path), set()), (text.channel, text.text)
    assert too_long == TOO_LONG.get(_name(path), set())


def test_an_ipaws_cancel_without_info_renders_nothing_and_says_so(at_sent: list[Incident]) -> None:
    incident = parse_document(
        (SAMPLES / "cap" / "ipaws-athoc-cancel-no-info-signed.xml").read_bytes()
    ).incidents[0]
    at_sent[:] = [incident]
    composition = compose(incident, list(CHANNELS), TEMPLATES)
    assert composition.texts == []
    assert [problem.rule for problem in composition.problems] == ["nothing_to_render"]


def test_a_language_without_lexicon_warns_and_renders_with_french_labels(at_sent: list[Incident]) -> None:
    path = SAMPLES / "cap" / "lenient-krisinformation-se-vma-nonstandard-area.xml"
    incident = parse_document(path.read_bytes()).incidents[0]
    at_sent[:] = [incident]
    composition = compose(incident, ["email", "x"], TEMPLATES)
    for text in composition.texts:
        assert text.language == "sv-SE"
        assert "charter.language_unsupported" in {finding.rule for finding in text.findings}
    email = composition.texts[0]
    assert "Source : Sveriges Radio" in email.text and "Lieu : Gävleborgs län" in email.text


def test_bilingual_samples_render_both_languages(at_sent: list[Incident]) -> None:
    path = SAMPLES / "cap" / "eccc-naads-wind-warning-update-fr-en.xml"
    incident = parse_document(path.read_bytes()).incidents[0]
    at_sent[:] = [incident]
    texts = compose(incident, ["mastodon"], TEMPLATES).texts
    assert [text.language for text in texts] == ["fr-CA", "en-CA"]
    assert texts[0].text.startswith("Mise à jour – ") and texts[1].text.startswith("Update – ")
    assert "Depuis le mercredi 9 janvier à 3 h 16" in texts[0].text
