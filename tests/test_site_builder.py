"""The public site: what citizens, journalists and aggregators read during a crisis."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
import xmlschema
from jinja2.exceptions import SecurityError
from lxml import etree, html

from alertcast.models.incident import (
    Area,
    Category,
    Certainty,
    Geocode,
    Incident,
    Info,
    MsgType,
    Reference,
    Severity,
    Status,
    Urgency,
)
from alertcast.site import atomic
from alertcast.site.builder import build_site
from alertcast.site.cap_writer import CAP_NS
from alertcast.site.model import PublishedAlert, PublishedVersion
from alertcast.site.pages import DEFAULT_TEMPLATES

XSD = Path(__file__).resolve().parents[1].parent / "shared" / "schemas" / "CAP-v1.2.xsd"
NOW = datetime(2024, 12, 3, 6, 30, tzinfo=UTC)  # mardi 3 décembre, 7 h 30 in Paris
SENDER = "pref62"
ARRAS = Area(area_desc="Arras", geocodes=[Geocode(value_name="INSEE", value="62041")])
LENS = Area(area_desc="Lens", geocodes=[Geocode(value_name="INSEE", value="62498")])


def block(headline: str, severity: Severity = Severity.MODERATE, **changes: Any) -> Info:
    values: dict[str, Any] = {
        "category": Category.ROAD_CLOSURE,
        "event": "Fermeture de route",
        "urgency": Urgency.IMMEDIATE,
        "severity": severity,
        "certainty": Certainty.OBSERVED,
        "sender_name": "Préfecture du Pas-de-Calais",
        "headline": headline,
        "description": "La circulation est interrompue.\n\nUne déviation est en place.",
        "instruction": "Évitez le secteur.",
        "web": "https://www.pas-de-calais.gouv.fr/alertes",
        "areas": [ARRAS],
    }
    values.update(changes)
    return Info(**values)


def alert(
    alert_id: str,
    *infos: Info,
    sent: datetime = NOW - timedelta(minutes=30),
    status: Status = Status.ACTUAL,
) -> PublishedAlert:
    first = Incident(identifier=alert_id, sender=SENDER, sent=sent, status=status, info=list(infos))
    return PublishedAlert(
        alert_id=alert_id, versions=[PublishedVersion(version=1, incident=first, published_at=sent)]
    )


def follow(published: PublishedAlert, msg_type: MsgType, at: datetime, *infos: Info) -> PublishedAlert:
    """Add an Update or a Cancel of the alert's latest version, as the website channel does."""
    latest = published.latest
    number = published.versions[-1].version + 1
    incident = Incident(
        identifier=f"{published.alert_id}-v{number}",
        sender=SENDER,
        sent=at,
        msg_type=msg_type,
        references=[Reference(sender=SENDER, identifier=latest.identifier, sent=latest.sent)],
        info=list(infos),
    )
    return published.with_version(number, incident, at)


def build(alerts: Sequence[PublishedAlert], site: Path, **options: Any) -> list[Path]:
    return build_site(alerts, site, now=NOW, **options)


def page(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


def headlines(site: Path, name: str) -> list[str]:
    tree = html.fromstring((site / name).read_bytes())
    return [h.text_content() for h in tree.xpath("//main//article/*[self::h2 or self::h3]")]


@pytest.fixture(scope="module")
def cap_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def test_index_lists_current_alerts_most_severe_first_then_most_recent(tmp_path: Path) -> None:
    alerts = [
        alert("minor", block("Minor", Severity.MINOR), sent=NOW - timedelta(minutes=1)),
        alert("severe-old", block("Severe old", Severity.SEVERE), sent=NOW - timedelta(hours=2)),
        alert("extreme", block("Extreme", Severity.EXTREME), sent=NOW - timedelta(hours=5)),
        alert("severe-new", block("Severe new", Severity.SEVERE), sent=NOW - timedelta(minutes=10)),
        alert("unknown", block("Unknown", Severity.UNKNOWN), sent=NOW),
    ]
    build(alerts, tmp_path)
    assert headlines(tmp_path, "index.html") == ["Extreme", "Severe new", "Severe old", "Minor", "Unknown"]
    index = page(tmp_path, "index.html")
    # Severity is written in words, not only shown by a colour.
    assert "Gravité&nbsp;: <strong>extrême</strong>" in index
    assert "Gravité&nbsp;: <strong>non précisée</strong>" in index
    assert "Arras" in index


def test_index_weighs_under_50_kb_with_50_alerts(tmp_path: Path) -> None:
    long_text = "La circulation est interrompue dans les deux sens. " * 20
    alerts = [
        alert(
            f"a{n:03d}",
            block(
                f"La RD {n} est fermée entre Arras et Lens après un accident de poids lourd",
                description=long_text,
            ),
            block(f"Road RD {n} closed between Arras and Lens", language="en", areas=[ARRAS, LENS]),
            sent=NOW - timedelta(minutes=n),
        )
        for n in range(50)
    ]
    build(alerts, tmp_path)
    size = (tmp_path / "index.html").stat().st_size
    print(f"index.html with 50 alerts: {size} bytes")
    assert len(headlines(tmp_path, "index.html")) == 50
    assert size < 50_000


def test_a_cancelled_alert_moves_to_the_archive_with_its_ended_banner(tmp_path: Path) -> None:
    storm = alert("storm", block("Tempête sur le littoral", Severity.SEVERE))
    road = alert("road", block("Route fermée"))
    cancelled = follow(storm, MsgType.CANCEL, NOW - timedelta(minutes=5))
    build([cancelled, road], tmp_path)

    assert headlines(tmp_path, "index.html") == ["Route fermée"]
    assert headlines(tmp_path, "archive.html") == ["Tempête sur le littoral"]
    storm_page = page(tmp_path, "alerts/storm.html")
    assert '<div class="banner ended">' in storm_page
    assert "Fin d&#39;alerte</strong> – <time" in storm_page
    assert "L&#39;émetteur a mis fin à cette alerte" in storm_page
    # Both versions, newest first: the end, then the alert it ends.
    tree = html.fromstring(storm_page.encode())
    versions = [h.text_content() for h in tree.xpath("//section[contains(@class, 'version')]/h2")]
    assert versions == ["Fin d'alerte – mardi 3 décembre à 7 h 25", "Alerte – mardi 3 décembre à 7 h 00"]
    assert '<div class="banner ended">' not in page(tmp_path, "alerts/road.html")

    index = json.loads(page(tmp_path, "alerts.json"))
    assert [a["id"] for a in index["current"]] == ["road"]
    assert [(a["id"], a["end_reason"]) for a in index["ended"]] == [("storm", "cancel")]


def test_an_expired_alert_moves_to_the_archive_too(tmp_path: Path) -> None:
    expired = alert(
        "ice", block("Verglas", expires=NOW - timedelta(minutes=1)), sent=NOW - timedelta(hours=3)
    )
    running = alert("fog", block("Brouillard", expires=NOW + timedelta(minutes=1)))
    build([expired, running], tmp_path)
    assert headlines(tmp_path, "index.html") == ["Brouillard"]
    assert headlines(tmp_path, "archive.html") == ["Verglas"]
    ice = page(tmp_path, "alerts/ice.html")
    assert "Cette alerte a expiré" in ice
    assert "mardi 3 décembre à 7 h 29" in ice
    assert json.loads(page(tmp_path, "alerts.json"))["ended"][0]["end_reason"] == "expire"


def test_hostile_incident_text_is_shown_as_plain_text(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script> {{ 7*7 }} {% raw %}\x07"
    published = alert(
        "xss",
        block(
            hostile,
            description=f"<img src=x onerror=alert(1)> {hostile}",
            web="javascript:alert(1)",
            areas=[Area(area_desc='<b onmouseover="x">Arras</b>')],
        ),
    )
    build([published], tmp_path)
    for name in ("index.html", "alerts/xss.html", "archive.html"):
        text = page(tmp_path, name)
        assert "<script>" not in text and "<img" not in text and "<b " not in text
        assert "49" not in text
    alert_page = page(tmp_path, "alerts/xss.html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} {% raw %}" in alert_page
    assert 'href="javascript:' not in alert_page
    assert "\x07" not in alert_page
    feed = feedparser.parse((tmp_path / "feed.atom").read_bytes())
    assert not feed.bozo
    assert feed.entries[0].title == "<script>alert(1)</script> {{ 7*7 }} {% raw %}"


def test_atom_feed_has_one_entry_per_alert_updated_with_its_latest_version(tmp_path: Path) -> None:
    first = alert("flood", block("Crue de la Scarpe", Severity.SEVERE, category=Category.FLOOD))
    updated = follow(
        first, MsgType.UPDATE, NOW - timedelta(minutes=3), block("Crue de la Scarpe : décrue", Severity.MINOR)
    )
    other = alert("bus", block("Cars scolaires supprimés", category=Category.SCHOOL_TRANSPORT))
    build([updated, other], tmp_path, base_url="https://alertes.example.fr")

    feed = feedparser.parse((tmp_path / "feed.atom").read_bytes())
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "Alertes"
    assert len(feed.entries) == 2
    entries = {e.link: e for e in feed.entries}
    flood = entries["https://alertes.example.fr/alerts/flood.html"]
    assert flood.title == "Crue de la Scarpe : décrue"
    assert flood.updated == "2024-12-03T07:27:00+01:00"
    assert flood.id.startswith("urn:uuid:")
    assert "https://alertes.example.fr/cap/flood-v2.xml" in [link.href for link in flood.links]


def test_cap_feed_is_an_index_linking_each_alerts_latest_document_and_each_validates(
    tmp_path: Path, cap_schema: xmlschema.XMLSchema
) -> None:
    first = alert(
        "wind",
        block("Vent violent", Severity.SEVERE, category=Category.WEATHER),
        block("High winds", Severity.SEVERE, language="en", category=Category.WEATHER),
    )
    updated = follow(
        first,
        MsgType.UPDATE,
        NOW - timedelta(minutes=20),
        block("Vent violent : renforcement", Severity.EXTREME, category=Category.WEATHER),
    )
    ended = follow(updated, MsgType.CANCEL, NOW - timedelta(minutes=2))
    build([ended, alert("road", block("Route fermée"))], tmp_path, base_url="https://alertes.example.fr")

    feed_bytes = (tmp_path / "cap.xml").read_bytes()
    parsed = feedparser.parse(feed_bytes)
    assert not parsed.bozo, parsed.bozo_exception
    # One entry per alert (the ended one too, for a while: its Cancel is how aggregators learn
    # the end), newest message first, each linking its CAP document rather than carrying it.
    assert [e.title for e in parsed.entries] == ["Fin d'alerte : Vent violent : renforcement", "Route fermée"]
    assert etree.fromstring(feed_bytes).find(f".//{{{CAP_NS}}}alert") is None
    cap_links = [
        [link.href for link in entry.links if link.type == "application/cap+xml"] for entry in parsed.entries
    ]
    assert cap_links == [
        ["https://alertes.example.fr/cap/wind-v3.xml"],
        ["https://alertes.example.fr/cap/road-v1.xml"],
    ]
    assert parsed.entries[0].updated == "2024-12-03T07:28:00+01:00"
    assert [t.term for t in parsed.entries[0].tags] == ["Cancel"]

    documents = {
        path.name: etree.parse(str(path)).getroot() for path in sorted((tmp_path / "cap").glob("*.xml"))
    }
    assert sorted(documents) == ["road-v1.xml", "wind-v1.xml", "wind-v2.xml", "wind-v3.xml"]
    for document in documents.values():
        cap_schema.validate(document)
    assert documents["wind-v1.xml"].findtext(f"{{{CAP_NS}}}references") is None
    assert (
        documents["wind-v2.xml"].findtext(f"{{{CAP_NS}}}references")
        == "pref62,wind,2024-12-03T07:00:00+01:00"
    )
    assert documents["wind-v3.xml"].findtext(f"{{{CAP_NS}}}msgType") == "Cancel"
    assert documents["wind-v3.xml"].findtext(f"{{{CAP_NS}}}references") == (
        "pref62,wind-v2,2024-12-03T07:10:00+01:00 pref62,wind,2024-12-03T07:00:00+01:00"
    )


def test_alert_page_shows_each_language_with_its_own_lang(tmp_path: Path) -> None:
    published = alert(
        "bilingual",
        block("Route fermée", expires=NOW + timedelta(hours=5)),
        block("Road closed", language="en", expires=NOW + timedelta(hours=5)),
        block("Carretera cerrada", language="es"),
    )
    build([published], tmp_path)
    tree = html.fromstring((tmp_path / "alerts/bilingual.html").read_bytes())
    assert tree.get("lang") == "fr"
    sections = tree.xpath("//section[contains(@class, 'block')]")
    assert [s.get("lang") for s in sections] == ["fr", "en", "es"]
    fr, en, _es = (s.text_content() for s in sections)
    assert "Fin prévue" in fr and "mardi 3 décembre à 12 h 30" in fr and "Consignes" in fr
    assert "Expected end" in en and "Tuesday 3 December at 12:30" in en and "What to do" in en
    # No Spanish words on the site: its labels say which language they are in.
    assert sections[2].xpath(".//dt")[0].get("lang") == "fr"


def test_an_english_only_alert_keeps_its_language_on_the_index(tmp_path: Path) -> None:
    build([alert("en-only", block("Road closed", language="en"))], tmp_path)
    heading = html.fromstring((tmp_path / "index.html").read_bytes()).xpath("//main//article/h2")[0]
    assert heading.get("lang") == "en"


def test_french_dates_as_people_write_them(tmp_path: Path) -> None:
    published = alert(
        "dates",
        block(
            "Coupure d'eau",
            onset=datetime(2024, 12, 3, 17, 5, tzinfo=UTC),
            expires=datetime(2025, 1, 2, 7, 0, tzinfo=UTC),
        ),
        sent=datetime(2024, 12, 3, 6, 0, tzinfo=UTC),
    )
    build([published], tmp_path)
    text = page(tmp_path, "alerts/dates.html")
    assert 'Publiée <time datetime="2024-12-03T07:00:00+01:00">mardi 3 décembre à 7 h 00</time>' in text
    assert "mardi 3 décembre à 18 h 05" in text
    assert "jeudi 2 janvier 2025 à 8 h 00" in text  # another year says which
    assert 'Page mise à jour <time datetime="2024-12-03T07:30:00+01:00">mardi 3 décembre à 7 h 30' in page(
        tmp_path, "index.html"
    )


def test_area_pages_by_insee_code_else_by_description(tmp_path: Path) -> None:
    first = alert("rd", block("Route fermée", areas=[ARRAS, LENS, Area(area_desc="Vallée de la Canche")]))
    narrowed = follow(
        first, MsgType.UPDATE, NOW - timedelta(minutes=5), block("Route fermée à Arras", areas=[ARRAS])
    )
    build(
        [
            narrowed,
            alert(
                "ice",
                block(
                    "Verglas",
                    areas=[
                        Area(area_desc="Arras centre", geocodes=[Geocode(value_name="insee", value="62041")])
                    ],
                ),
            ),
        ],
        tmp_path,
    )

    assert sorted(p.name for p in (tmp_path / "areas").glob("*.html")) == [
        "62041.html",
        "62498.html",
        "vallee-de-la-canche.html",
    ]
    # Each page has its feeds beside it.
    assert {p.stem for p in (tmp_path / "areas").glob("*.atom")} == {"62041", "62498", "vallee-de-la-canche"}
    assert {p.stem for p in (tmp_path / "areas").glob("*.json")} == {"62041", "62498", "vallee-de-la-canche"}
    arras = html.fromstring((tmp_path / "areas/62041.html").read_bytes())
    assert arras.xpath("//h1")[0].text_content() == "Arras"
    assert sorted(h.text_content() for h in arras.xpath("//article/h3")) == [
        "Route fermée à Arras",
        "Verglas",
    ]
    # The update dropped Lens: the alert is no longer current there.
    lens = page(tmp_path, "areas/62498.html")
    assert "Aucune alerte en cours." in lens and "Alertes terminées dans cette zone" in lens


def test_pages_have_landmarks_skip_link_and_headings_in_order(tmp_path: Path) -> None:
    storm = follow(
        alert("storm", block("Tempête", Severity.SEVERE)),
        MsgType.UPDATE,
        NOW,
        block("Tempête", Severity.EXTREME),
    )
    build([storm, alert("road", block("Route"))], tmp_path)
    for name in ("index.html", "archive.html", "alerts/storm.html", "areas/62041.html"):
        tree = html.fromstring((tmp_path / name).read_bytes())
        assert tree.get("lang") == "fr"
        assert tree.xpath("//header") and tree.xpath("//nav") and tree.xpath("//main[@id='main']")
        assert tree.xpath("//body/a[@class='skip'][@href='#main']")
        levels = [int(h.tag[1]) for h in tree.iter("h1", "h2", "h3", "h4", "h5", "h6")]
        assert levels[0] == 1 and levels.count(1) == 1, name
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), (name, levels)
        assert not tree.xpath("//script[not(@src)]"), "no inline script"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_text_colours_contrast_at_least_4_5_to_1_and_focus_is_visible() -> None:
    css = (DEFAULT_TEMPLATES / "assets" / "site.css").read_text()
    body_background = "#ffffff"
    checked = 0
    for selector, rules in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        colour = re.search(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{6})", rules)
        background = re.search(r"background:\s*(#[0-9a-fA-F]{6})", rules)
        if not colour:
            continue
        fg, bg = (
            _luminance(colour.group(1)),
            _luminance(background.group(1) if background else body_background),
        )
        ratio = (max(fg, bg) + 0.05) / (min(fg, bg) + 0.05)
        assert ratio >= 4.5, (selector.strip(), ratio)
        checked += 1
    assert checked >= 5
    assert ":focus-visible" in css and "outline: 3px solid" in css


def test_writes_are_atomic_and_leave_no_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alerts = [alert("one", block("Première"))]
    build(alerts, tmp_path)
    assert not [p for p in tmp_path.rglob("*") if atomic.TEMP_SUFFIX in p.name or p.name.startswith(".")]
    assert oct((tmp_path / "index.html").stat().st_mode & 0o777) == oct(atomic.FILE_MODE)
    before = page(tmp_path, "index.html")

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        build([*alerts, alert("two", block("Deuxième"))], tmp_path)
    monkeypatch.undo()
    assert page(tmp_path, "index.html") == before  # the old page is whole, not half written
    assert not [p for p in tmp_path.rglob("*") if atomic.TEMP_SUFFIX in p.name]


def test_an_unchanged_rebuild_writes_nothing_and_a_change_rewrites_only_what_changed(tmp_path: Path) -> None:
    alerts = [alert("one", block("Première")), alert("two", block("Deuxième", areas=[LENS]))]
    first = build(alerts, tmp_path)
    assert tmp_path / "index.html" in first and tmp_path / "assets" / "site.css" in first
    assert build(alerts, tmp_path) == []
    changed = build([follow(alerts[0], MsgType.UPDATE, NOW, block("Première, suite")), alerts[1]], tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in changed}
    assert {"alerts/one.html", "cap/one-v2.xml", "index.html", "feed.atom", "cap.xml", "alerts.json"} <= names
    assert "alerts/two.html" not in names and "areas/62498.html" not in names


def test_withdrawn_alerts_keep_their_permanent_page_unless_pruned(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "one.json").write_text("{}")
    (tmp_path / "robots.txt").write_text("User-agent: *\n")
    build(
        [alert("one", block("Première")), alert("gone", block("Publiée par erreur", areas=[LENS]))], tmp_path
    )
    kept = build([alert("one", block("Première"))], tmp_path)
    assert (tmp_path / "alerts" / "gone.html").exists()
    assert tmp_path / "alerts" / "gone.html" not in kept
    pruned = build([alert("one", block("Première"))], tmp_path, prune=True)
    assert {p.relative_to(tmp_path).as_posix() for p in pruned} == {
        "alerts/gone.html",
        "cap/gone-v1.xml",
        "areas/62498.html",
        "areas/62498.atom",
        "areas/62498.json",
    }
    assert not (tmp_path / "alerts" / "gone.html").exists()
    assert (tmp_path / "data" / "one.json").exists() and (tmp_path / "robots.txt").exists()


def test_alerts_json_indexes_current_and_ended_alerts_for_apps(tmp_path: Path) -> None:
    ended = follow(alert("old", block("Ancienne")), MsgType.CANCEL, NOW - timedelta(minutes=1))
    drill = alert("drill", block("Exercice de sécurité civile", Severity.SEVERE), status=Status.EXERCISE)
    build([ended, drill], tmp_path, base_url="https://alertes.example.fr/")
    index = json.loads(page(tmp_path, "alerts.json"))
    assert index["language"] == "fr" and len(index["digest"]) == 16
    (current,) = index["current"]
    assert current["id"] == "drill" and current["status"] == "Exercise"
    assert current["severity"] == "Severe" and current["severity_label"] == "forte"
    assert current["area"] == "Arras"
    assert current["areas"][0]["url"] == "https://alertes.example.fr/areas/62041.html"
    assert current["url"] == "https://alertes.example.fr/alerts/drill.html"
    assert current["cap_url"] == "https://alertes.example.fr/cap/drill-v1.xml"
    assert current["sent"] == "2024-12-03T06:00:00Z"
    assert [a["id"] for a in index["ended"]] == ["old"]
    assert "EXERCICE" in page(tmp_path, "index.html")
    script = html.fromstring((tmp_path / "index.html").read_bytes()).xpath("//script")[0]
    assert script.get("data-digest") == index["digest"] and script.get("src") == "assets/refresh.js"


def test_templates_can_be_overridden_and_are_sandboxed(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES, templates)
    archive = templates / "archive.html.j2"
    archive.write_text(archive.read_text().replace("<h1>{{ t.archive }}</h1>", "<h1>Alertes passées</h1>"))
    site = tmp_path / "site"
    build([], site, templates_dir=templates)
    assert "<h1>Alertes passées</h1>" in page(site, "archive.html")
    assert "Aucune alerte en cours." in page(site, "index.html")

    archive.write_text("{{ t.__class__.__mro__ }}")
    with pytest.raises(SecurityError):
        build([], site, templates_dir=templates)


def test_a_bilingual_alert_makes_one_area_page_per_place_not_per_language(tmp_path: Path) -> None:
    published = alert(
        "park",
        block("Fermeture du parc", areas=[Area(area_desc="Parc Rondeau")]),
        block("Park closed", language="en", areas=[Area(area_desc="Rondeau Park")]),
    )
    build([published], tmp_path)
    assert [p.name for p in (tmp_path / "areas").glob("*.html")] == ["parc-rondeau.html"]
