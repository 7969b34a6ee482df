"""Compose applies the charter to every text; a communicator's edit goes through the same check."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from alertcast import examples
from alertcast.channels.account import marker
from alertcast.clock import clock
from alertcast.models.alert import Draft
from alertcast.models.incident import Area, Category, Incident, Info
from alertcast.render.compose import check_edit, compose
from alertcast.render.length import count
from alertcast.render.parts import split_parts
from alertcast.render.reference import ROOM_TOKEN, as_posted, with_marker
from alertcast.render.templates import Templates
from alertcast.settings import ROOT

TEMPLATES = Templates(ROOT / "templates", site_base_url="https://alertes.example.fr")
NO_LINK = Templates(ROOT / "templates", site_base_url="")


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[None]:
    clock.set(lambda: datetime(2026, 12, 3, 5, 0, tzinfo=UTC))
    try:
        yield
    finally:
        clock.set(None)


def road(**changes: object) -> Incident:
    info = {
        "language": "fr",
        "category": Category.ROAD_CLOSURE,
        "event": "Fermeture de route",
        "sender_name": "Direction des routes du Département",
        "headline": "Route D 934 fermée entre Arras et Cambrai",
        "description": "Un poids lourd est immobilisé en travers de la chaussée au niveau de Vis-en-Artois. "
        "Les services techniques sont sur place et le dépannage est en cours.",
        "instruction": "Suivez la déviation par la D 939.",
        "onset": datetime(2026, 12, 3, 6, 30, tzinfo=UTC),
        "expires": datetime(2026, 12, 3, 13, 0, tzinfo=UTC),
        "areas": [Area(area_desc="Vis-en-Artois")],
        **changes,
    }
    return Incident(
        identifier="d934",
        sender="routes@departement-exemple.fr",
        sent=datetime(2026, 12, 3, 5, 0, tzinfo=UTC),
        info=[Info.model_validate(info)],
    )


def test_a_blocking_finding_marks_only_that_text_blocked_with_its_span() -> None:
    incident = road(instruction="Suivez la déviation. Contact : 06 12 34 56 78.")
    composition = compose(incident, ["x", "sms"], TEMPLATES)
    x, sms = composition.texts
    [phone] = [finding for finding in x.findings if finding.rule == "personal_data.phone"]
    assert x.blocked and "personal_data.phone" in x.reason
    assert x.text[phone.start : phone.end] == "06 12 34 56 78"
    # The SMS (3 segments by default) now has room for the whole advice: the same number blocks it.
    assert sms.dropped == [] and sms.blocked and "personal_data.phone" in sms.reason
    assert "06 12 34 56 78" in sms.text


def test_incident_findings_go_into_the_draft_once() -> None:
    incident = road(instruction="", expires=datetime(2026, 12, 3, 4, 0, tzinfo=UTC), onset=None)
    composition = compose(incident, ["x", "email"], TEMPLATES)
    assert sorted((f.rule, f.path) for f in composition.findings) == [
        ("facts.advice", "info[0].instruction"),
        ("facts.when", "info[0].onset"),
        ("times.expired", "info[0].expires"),
    ]
    assert composition.blocked
    draft = Draft(
        alert_id="a",
        incident_key=incident.key,
        version=1,
        received_at=incident.sent,
        incident=incident,
        texts=composition.texts,
        findings=composition.findings,
        blocked=composition.blocked,
        problems=composition.problems,
    )
    again = Draft.model_validate_json(draft.model_dump_json())
    assert again == draft and again.texts[0].findings == draft.texts[0].findings


def test_too_long_drops_optional_parts_in_order_and_never_cuts() -> None:
    long_description = " ".join(["Les services techniques sont sur place."] * 12)
    composition = compose(road(description=long_description), ["x", "mastodon", "email"], TEMPLATES)
    x, mastodon, email = composition.texts
    assert x.dropped == ["details"] and mastodon.dropped == ["details"] and email.dropped == []
    assert x.text.endswith("#InfoRoute"), "hashtags come back once the details are gone"
    rendered = TEMPLATES.render("x", "road_closure", "fr", {**_context(road(description=long_description))})
    whole_parts = {part.text for part in split_parts(rendered)}
    assert all(line in whole_parts for line in x.text.split("\n"))
    assert count("x", x.text).fits and (x.length, x.limit, x.unit) == (
        count("x", x.text).length,
        280,
        "weighted",
    )


def _context(incident: Incident) -> dict[str, object]:
    from alertcast.render.compose import context_for

    return context_for(incident, incident.info[0], "fr", TEMPLATES.env.filters["shortlink"](incident))


def test_mandatory_parts_that_cannot_fit_block_with_the_reason() -> None:
    # Without a link to the alert page nothing can carry the rest of a long instruction: blocked,
    # the mandatory parts shown whole for a human to shorten.
    [x] = compose(road(instruction="Suivez la déviation. " * 20), ["x"], NO_LINK).texts
    assert x.blocked and x.reason.startswith("the mandatory parts alone take")
    assert x.dropped == ["hashtags", "details"]
    assert ("Suivez la déviation. " * 20).strip() in x.text and "Route D 934 fermée" in x.text


def test_a_long_instruction_becomes_its_first_sentence_and_a_pointer_to_the_link() -> None:
    [x, sms] = compose(road(instruction="Suivez la déviation. " * 20), ["x", "sms"], TEMPLATES).texts
    assert not x.blocked and x.dropped == ["details", "advice (full)"]
    lines = x.text.split("\n")
    assert lines[1] == "Suivez la déviation. Consignes complètes : lien ci-dessous."
    assert lines[-2].startswith("https://alertes.example.fr/alerts/")
    assert not sms.blocked and sms.dropped == ["advice (full)"]
    # A single sentence too long for the network: the pointer alone stands for it.
    [x] = compose(
        road(instruction="Suivez la déviation " + "puis la D 939 " * 30 + "."), ["x"], TEMPLATES
    ).texts
    assert not x.blocked and x.dropped == ["details", "advice (full)"]
    assert x.text.split("\n")[1] == "Consignes complètes : lien ci-dessous."


def test_a_long_list_of_areas_becomes_the_first_ones_and_how_many_others() -> None:
    areas = [
        Area(area_desc=name) for name in ["Arras", "Bapaume", *(f"Commune numéro {n}" for n in range(14))]
    ]
    x, email = compose(road(areas=areas), ["x", "email"], TEMPLATES).texts
    assert "\nArras, Bapaume, Commune numéro 0 et 13 autres\n" in x.text
    assert x.dropped == ["details", "where (full)"] and not x.blocked and x.findings == []
    assert "Commune numéro 13" in email.text and email.dropped == []
    [english] = compose(road(areas=areas, language="en"), ["bluesky"], TEMPLATES).texts
    assert "\nArras, Bapaume, Commune numéro 0 and 13 others\n" in english.text


def test_a_long_headline_becomes_its_first_sentence_then_the_event() -> None:
    first = "Route D 934 fermée entre Arras et Cambrai après un accident."
    headline = first + " " + "Un poids lourd est en travers de la chaussée au niveau de Vis-en-Artois. " * 2
    [bluesky] = compose(road(headline=headline.strip()), ["bluesky"], TEMPLATES).texts
    assert bluesky.text.startswith(first + "\n") and bluesky.dropped == ["details", "what (full)"]
    [sms] = compose(road(headline=("Route D 934 fermée " * 25).strip()), ["sms"], TEMPLATES).texts
    assert sms.text.startswith("Fermeture de route\n") and sms.dropped == ["what (full)"]
    assert not sms.blocked and "Suivez la déviation par la D 939." in sms.text


def test_sms_counts_segments_and_keeps_gsm_7() -> None:
    incident = road(headline="Route D 934 fermée – l’accès est coupé")
    [sms] = compose(incident, ["sms"], TEMPLATES).texts
    assert "l'accès" in sms.text and " - " in sms.text, "typographic marks made plain for GSM-7"
    # Up to 3 concatenated segments by default (153 septets each): the whole alert, advice too.
    assert (sms.unit, sms.segments, sms.limit, sms.dropped) == ("septets", 2, 459, [])
    # An account limited to one message: 160 septets, and this alert cannot fit in them.
    [one] = compose(incident, ["sms"], TEMPLATES, limits={"sms": 1}).texts
    assert (one.limit, one.blocked) == (160, True) and "(2 segments) on sms" in one.reason


def test_a_communicators_edit_that_trips_a_rule_is_blocked_and_the_fix_passes() -> None:
    incident = road()
    edited = check_edit(
        "x",
        "Route D 934 fermée à cause de l'incompétence du transporteur. Appelez le 06 12 34 56 78.",
        "fr",
        incident,
    )
    assert edited.blocked
    rules = {finding.rule for finding in edited.findings if finding.blocking}
    assert "personal_data.phone" in rules
    assert edited.reason.startswith("blocking charter findings:")
    fixed = check_edit(
        "x", "Route D 934 fermée entre Arras et Cambrai. Suivez la déviation par la D 939.", "fr", incident
    )
    assert not fixed.blocked and fixed.findings == [] and fixed.reason == ""
    posted = as_posted("x", fixed.text, "fr")  # the adapter's reference line counts too
    assert posted.startswith(fixed.text) and posted.endswith(ROOM_TOKEN)
    assert (fixed.length, fixed.limit, fixed.unit) == (count("x", posted).length, 280, "weighted")


def test_an_edit_too_long_for_the_network_is_blocked_not_shortened() -> None:
    text = "Route D 934 fermée entre Arras et Cambrai. " * 10
    edited = check_edit("bluesky", text, "fr", road())
    assert edited.blocked and "over the limit of 300" in edited.reason
    assert edited.text == text.strip()
    assert check_edit("mastodon", text, "fr", road(), limit=1000).blocked is False


def test_an_edit_in_a_language_without_lexicon_warns() -> None:
    edited = check_edit("x", "Väg D 934 stängd mellan Arras och Cambrai.", "sv", road())
    assert not edited.blocked
    assert [finding.rule for finding in edited.findings] == ["charter.language_unsupported"]


def test_decomposed_accents_are_published_composed() -> None:
    """Most parts are already NFC and kept as they are; a decomposed one is still composed."""
    headline = "Route D 934 fermée à Écoust"
    decomposed = unicodedata.normalize("NFD", headline)
    assert decomposed != headline
    [text] = compose(road(headline=decomposed), ["mastodon"], TEMPLATES).texts
    assert text.text.startswith(headline + "\n")
    assert unicodedata.is_normalized("NFC", text.text)


def test_a_text_fits_with_its_reference_even_where_x_does_not_count_its_link_as_a_link() -> None:
    """X counts a link as 23 only when it has a domain: a site served from an address (the
    demo's 127.0.0.1) is counted letter by letter, and the reference the adapter puts in its
    fragment with it. Fitted without it, some texts were refused by the X adapter (288 of 280)."""
    served_from_an_address = Templates(ROOT / "templates", site_base_url="http://127.0.0.1:8080")
    link = "http://127.0.0.1:8080/alerts/f87031aa22fe66d8.html"
    fitted = 0
    for minutes in range(0, 24 * 60, 37):  # the times written in the texts, so their lengths
        now = clock.now() + timedelta(minutes=minutes)
        for incident in examples.incidents(now, suffix="fit"):
            for text in compose(incident, ["x"], served_from_an_address, link=link, limits={"x": 280}).texts:
                posted = with_marker(text.text, marker(f"{incident.identifier}:1:x:a"), text.language)
                assert text.blocked or count("x", posted, limit=280).fits, posted
                fitted += not text.blocked
    assert fitted > 100
