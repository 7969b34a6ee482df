"""The site's single writer: a publish writes what it changes and nothing else, and agrees byte for
byte with a full build. Pure code with an injected clock: every `now` here is a fixed date."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
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
    Urgency,
)
from alertcast.site.atom_feed import ATOM_NS, atom_feed
from alertcast.site.builder import build_site
from alertcast.site.cap_writer import CAP_MEDIA_TYPE, CAP_NS, resolve_timezone, xml_bytes
from alertcast.site.incremental import SiteBuilder
from alertcast.site.json_index import alerts_index, alerts_json
from alertcast.site.model import PublishedAlert, PublishedVersion
from alertcast.site.views import alert_view, archive_order, current_order

NOW = datetime(2024, 12, 3, 6, 30, tzinfo=UTC)  # mardi 3 décembre, 7 h 30 in Paris
SENDER = "pref62"
ARRAS = Area(area_desc="Arras", geocodes=[Geocode(value_name="INSEE", value="62041")])
LENS = Area(area_desc="Lens", geocodes=[Geocode(value_name="INSEE", value="62498")])
CALAIS = Area(area_desc="Calais", geocodes=[Geocode(value_name="INSEE", value="62193")])
LISTS = {"index.html", "feed.atom", "cap.xml", "alerts.json"}
A = f"{{{ATOM_NS}}}"


def block(headline: str, *areas: Area, **changes: Any) -> Info:
    values: dict[str, Any] = {
        "category": Category.ROAD_CLOSURE,
        "event": "Fermeture de route",
        "urgency": Urgency.IMMEDIATE,
        "severity": Severity.MODERATE,
        "certainty": Certainty.OBSERVED,
        "sender_name": "Préfecture du Pas-de-Calais",
        "headline": headline,
        "description": "La circulation est interrompue.\n\nUne déviation est en place.",
        "instruction": "Évitez le secteur.",
        "areas": list(areas or [ARRAS]),
    }
    values.update(changes)
    return Info(**values)


def alert(alert_id: str, *infos: Info, sent: datetime = NOW - timedelta(minutes=30)) -> PublishedAlert:
    first = Incident(identifier=alert_id, sender=SENDER, sent=sent, info=list(infos))
    return PublishedAlert(
        alert_id=alert_id, versions=[PublishedVersion(version=1, incident=first, published_at=sent)]
    )


def follow(published: PublishedAlert, msg_type: MsgType, at: datetime, *infos: Info) -> PublishedAlert:
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


def cancel(published: PublishedAlert, at: datetime) -> PublishedAlert:
    return follow(published, MsgType.CANCEL, at)


def files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def stamps(site: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(site).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in site.rglob("*")
        if p.is_file()
    }


def names(site: Path, changed: list[Path]) -> set[str]:
    return {p.relative_to(site).as_posix() for p in changed}


def headlines(site: Path, name: str) -> list[str]:
    tree = html.fromstring((site / name).read_bytes())
    return [h.text_content() for h in tree.xpath("//main//article/*[self::h2 or self::h3]")]


def page_links(site: Path, name: str) -> dict[str, str]:
    tree = html.fromstring((site / name).read_bytes())
    return {a.get("rel"): a.get("href") for a in tree.xpath("//nav[@class='pages']//a")}


def json_ids(site: Path) -> tuple[list[str], list[str]]:
    index = json.loads((site / "alerts.json").read_bytes())
    return [a["id"] for a in index["current"]], [a["id"] for a in index["ended"]]


def feed_ids(site: Path, name: str) -> list[str]:
    root = etree.fromstring((site / name).read_bytes())
    return [link.get("href") for link in root.iter(f"{A}link") if link.get("rel") != "self"]


def area(code: str) -> set[str]:
    """An area's page and its two feeds."""
    return {f"areas/{code}.html", f"areas/{code}.atom", f"areas/{code}.json"}


#: The feeds of the Pas-de-Calais, which every area of these tests is in.
PAS_DE_CALAIS = {"departements/62.atom", "departements/62.json"}


def test_a_publish_writes_the_alert_its_areas_and_the_lists_and_nothing_else(tmp_path: Path) -> None:
    builder = SiteBuilder(tmp_path)
    builder.load(
        [
            alert("road", block("Route fermée")),
            alert("bus", block("Cars supprimés", LENS)),
            alert("wind", block("Vent violent", CALAIS)),
            cancel(alert("old", block("Ancienne", LENS)), NOW - timedelta(hours=1)),
        ],
        NOW,
    )
    before = stamps(tmp_path)
    changed = builder.publish(alert("flood", block("Crue", ARRAS, LENS), sent=NOW), NOW)
    assert names(tmp_path, changed) == {
        "alerts/flood.html",
        "cap/flood-v1.xml",
        *area("62041"),
        *area("62498"),
        *PAS_DE_CALAIS,
        *LISTS,
    }
    after = stamps(tmp_path)
    untouched = {name for name in before if name not in names(tmp_path, changed)}
    assert untouched and all(after[name] == before[name] for name in untouched)
    assert all(after[name] != before.get(name) for name in names(tmp_path, changed))
    # Published again as it is, at the same time: nothing to write, nothing touched.
    assert builder.publish(alert("flood", block("Crue", ARRAS, LENS), sent=NOW), NOW) == []
    assert stamps(tmp_path) == after


def test_an_update_that_moves_an_alert_rewrites_its_old_and_new_areas(tmp_path: Path) -> None:
    road = alert("road", block("Route fermée", ARRAS))
    builder = SiteBuilder(tmp_path)
    builder.load([road, alert("bus", block("Cars supprimés", CALAIS))], NOW)
    moved = follow(road, MsgType.UPDATE, NOW, block("Route fermée à Lens", LENS))
    changed = names(tmp_path, builder.publish(moved, NOW + timedelta(minutes=1)))
    assert changed == {
        "alerts/road.html",
        "cap/road-v2.xml",
        *area("62041"),
        *area("62498"),
        *PAS_DE_CALAIS,
        *LISTS,
    }
    assert "Aucune alerte en cours." in (tmp_path / "areas/62041.html").read_text()
    assert headlines(tmp_path, "areas/62498.html") == ["Route fermée à Lens"]


def test_a_full_build_and_a_sequence_of_publishes_give_identical_folders(tmp_path: Path) -> None:
    options: dict[str, Any] = {"base_url": "https://alertes.example.fr", "archive_page_size": 2}
    t0 = NOW - timedelta(days=3)
    storm = alert("storm", block("Tempête", CALAIS, severity=Severity.SEVERE), sent=t0)
    ice = alert("ice", block("Verglas", ARRAS, expires=t0 + timedelta(hours=5)), sent=t0)
    bilingual = alert(
        "park",
        block("Parc fermé", Area(area_desc="Parc Rondeau")),
        block("Park closed", Area(area_desc="Rondeau Park"), language="en"),
        sent=t0 + timedelta(hours=1),
    )
    early = [alert(f"e{n}", block(f"Ancienne {n}", LENS), sent=t0 + timedelta(minutes=n)) for n in range(5)]
    steps: list[tuple[datetime, PublishedAlert | None]] = [
        (t0 + timedelta(hours=2), bilingual),
        *(
            (t0 + timedelta(hours=2, minutes=n), cancel(e, t0 + timedelta(hours=2, minutes=n)))
            for n, e in enumerate(early)
        ),
        (t0 + timedelta(hours=6), None),  # ice expires
        (
            t0 + timedelta(days=1),
            follow(storm, MsgType.UPDATE, t0 + timedelta(days=1), block("Tempête", LENS)),
        ),
        (NOW - timedelta(hours=2), cancel(bilingual, NOW - timedelta(hours=2))),  # e* and ice leave the lists
        (NOW, alert("flood", block("Crue", ARRAS, LENS), sent=NOW)),
    ]
    incremental = tmp_path / "incremental"
    builder = SiteBuilder(incremental, **options)
    builder.load([storm, ice, *early], t0)
    held = {a.alert_id: a for a in [storm, ice, *early]}
    for at, published in steps:
        if published is None:
            assert builder.refresh(at)
        else:
            builder.publish(published, at)
            held[published.alert_id] = published
    full = tmp_path / "full"
    build_site(list(held.values()), full, now=NOW, **options)
    built, kept = files(full), files(incremental)
    assert sorted(built) == sorted(kept)
    assert [name for name in built if built[name] != kept[name]] == []
    assert {"archive.html", "archive/1.html", "archive/2.html", "archive/3.html"} <= set(built)


@pytest.mark.parametrize("seed", range(3))
def test_random_publishes_and_refreshes_agree_with_a_full_build_at_every_step(
    tmp_path: Path, seed: int
) -> None:
    """Publishes, updates that move areas, cancels, expiries, ends leaving the lists, the
    clock jumping (and going back a little): after each publish, the same folder as a full build."""
    rng = random.Random(seed)
    places = [ARRAS, LENS, CALAIS, Area(area_desc="Vallée de la Canche")]
    options: dict[str, Any] = {"archive_page_size": 2, "ended_kept": timedelta(hours=5)}
    now, held = NOW, dict[str, PublishedAlert]()
    builder = SiteBuilder(tmp_path / "incremental", **options)
    builder.load([], now)
    for step in range(20):
        now += timedelta(minutes=rng.choice([-20, 0, 30, 120, 600, 3000]))
        expires = now + timedelta(minutes=rng.choice([10, 100, 1000]))
        areas = rng.sample(places, rng.randint(1, 2))
        ids, choice = sorted(held), rng.random()
        if choice < 0.2 and ids:
            builder.refresh(now)
            continue
        if choice < 0.5 or not ids:
            published = alert(f"a{step}", block(f"Alerte {step}", *areas, expires=expires), sent=now)
        elif choice < 0.8:
            update = block(f"Suite {step}", *areas, expires=expires)
            published = follow(held[rng.choice(ids)], MsgType.UPDATE, now, update)
        else:
            published = cancel(held[rng.choice(ids)], now)
        held[published.alert_id] = published
        builder.publish(published, now)
        build_site(list(held.values()), tmp_path / "full", now=now, **options)
        assert files(tmp_path / "incremental") == files(tmp_path / "full"), step


def test_the_year_turning_redraws_every_page_once(tmp_path: Path) -> None:
    new_year = datetime(2024, 12, 31, 23, 30, tzinfo=UTC)  # 0 h 30 on 1 January in Paris
    alerts = [
        alert(
            "road",
            block("Route fermée", expires=new_year + timedelta(days=2)),
            sent=new_year - timedelta(hours=3),
        ),
        cancel(
            alert("old", block("Ancienne", LENS), sent=new_year - timedelta(days=1)),
            new_year - timedelta(hours=4),
        ),
    ]
    builder = SiteBuilder(tmp_path / "incremental")
    builder.load(alerts, new_year - timedelta(hours=1))
    changed = names(tmp_path / "incremental", builder.refresh(new_year))
    assert {"alerts/road.html", "alerts/old.html", "areas/62041.html", "archive.html"} <= changed
    assert "mardi 31 décembre 2024" in (tmp_path / "incremental/alerts/road.html").read_text()
    build_site(alerts, tmp_path / "full", now=new_year)
    assert files(tmp_path / "full") == files(tmp_path / "incremental")


def test_an_expiry_passing_moves_the_alert_at_the_next_refresh(tmp_path: Path) -> None:
    expires = NOW + timedelta(hours=1)
    builder = SiteBuilder(tmp_path)
    builder.load(
        [alert("fog", block("Brouillard", expires=expires)), alert("road", block("Route", LENS))], NOW
    )
    assert builder.next_refresh() == expires
    assert builder.refresh(NOW + timedelta(minutes=30)) == []
    changed = names(tmp_path, builder.refresh(expires))
    # cap.xml stays: the CAP message did not change, and it says itself when it expires.
    assert changed == {
        "alerts/fog.html",
        *area("62041"),
        *PAS_DE_CALAIS,
        "archive.html",
        *(LISTS - {"cap.xml"}),
    }
    assert headlines(tmp_path, "archive.html") == ["Brouillard"]
    assert "Cette alerte a expiré" in (tmp_path / "alerts/fog.html").read_text()
    assert builder.next_refresh() == expires + timedelta(hours=48)


def test_ended_alerts_leave_the_lists_after_ended_kept_but_keep_their_page_and_archive_place(
    tmp_path: Path,
) -> None:
    ended_at = NOW - timedelta(hours=1)
    storm = cancel(alert("storm", block("Tempête", LENS), sent=NOW - timedelta(hours=3)), ended_at)
    builder = SiteBuilder(tmp_path, ended_kept=timedelta(hours=24))
    builder.load([storm, alert("road", block("Route fermée"))], NOW)
    assert json_ids(tmp_path) == (["road"], ["storm"])
    assert "alerts/storm.html" in feed_ids(tmp_path, "feed.atom")
    assert "cap/storm-v2.xml" in feed_ids(tmp_path, "cap.xml")
    assert headlines(tmp_path, "areas/62498.html") == ["Tempête"]
    assert builder.next_refresh() == ended_at + timedelta(hours=24)
    page = (tmp_path / "alerts/storm.html").stat()

    assert builder.refresh(ended_at + timedelta(hours=23)) == []
    changed = names(tmp_path, builder.refresh(ended_at + timedelta(hours=24)))
    assert changed == {*area("62498"), *PAS_DE_CALAIS, *LISTS}
    assert json_ids(tmp_path) == (["road"], [])
    assert "alerts/storm.html" not in feed_ids(tmp_path, "feed.atom")
    assert "cap/storm-v2.xml" not in feed_ids(tmp_path, "cap.xml")
    assert headlines(tmp_path, "areas/62498.html") == []
    assert headlines(tmp_path, "archive.html") == ["Tempête"]
    assert (tmp_path / "alerts/storm.html").stat().st_mtime_ns == page.st_mtime_ns
    assert (tmp_path / "cap/storm-v2.xml").is_file()
    assert builder.next_refresh() is None


def test_archive_pages_hold_page_size_alerts_newest_first_and_keep_their_content(tmp_path: Path) -> None:
    def ended(n: int) -> PublishedAlert:
        return cancel(
            alert(f"e{n}", block(f"Fin {n}"), sent=NOW - timedelta(days=1)), NOW + timedelta(minutes=n)
        )

    builder = SiteBuilder(tmp_path, archive_page_size=2)
    builder.load([ended(n) for n in range(1, 6)], NOW + timedelta(minutes=5))
    assert headlines(tmp_path, "archive.html") == ["Fin 5"]
    assert headlines(tmp_path, "archive/2.html") == ["Fin 4", "Fin 3"]
    assert headlines(tmp_path, "archive/1.html") == ["Fin 2", "Fin 1"]
    assert page_links(tmp_path, "archive.html") == {"next": "archive/2.html"}
    assert page_links(tmp_path, "archive/2.html") == {"prev": "../archive.html", "next": "../archive/1.html"}
    assert page_links(tmp_path, "archive/1.html") == {"prev": "../archive/2.html"}

    # One more end: only the newest page changes.
    changed = names(tmp_path, builder.publish(ended(6), NOW + timedelta(minutes=6)))
    assert {name for name in changed if name.startswith("archive")} == {"archive.html"}
    assert headlines(tmp_path, "archive.html") == ["Fin 6", "Fin 5"]
    # The newest page is full: the next end starts a page, and the one before links to it.
    before = stamps(tmp_path)
    expired = alert("e7", block("Fin 7", expires=NOW + timedelta(minutes=7)), sent=NOW - timedelta(days=1))
    changed = names(tmp_path, builder.publish(expired, NOW + timedelta(minutes=7)))
    assert {name for name in changed if name.startswith("archive")} == {
        "archive.html",
        "archive/3.html",
        "archive/2.html",
    }
    assert headlines(tmp_path, "archive.html") == ["Fin 7"]
    assert headlines(tmp_path, "archive/3.html") == ["Fin 6", "Fin 5"]
    assert page_links(tmp_path, "archive/2.html") == {
        "prev": "../archive/3.html",
        "next": "../archive/1.html",
    }
    assert stamps(tmp_path)["archive/1.html"] == before["archive/1.html"]

    # An expired alert extended by an update leaves the archive; the page no longer needed goes.
    revived = follow(
        expired,
        MsgType.UPDATE,
        NOW + timedelta(minutes=8),
        block("Prolongée", expires=NOW + timedelta(hours=2)),
    )
    changed = names(tmp_path, builder.publish(revived, NOW + timedelta(minutes=8)))
    assert "archive/3.html" in changed and not (tmp_path / "archive/3.html").exists()
    assert headlines(tmp_path, "archive.html") == ["Fin 6", "Fin 5"]


def test_cap_xml_is_an_atom_index_linking_cap_files_not_embedding_them(tmp_path: Path) -> None:
    alerts = [
        alert(
            f"a{n:02d}",
            block(f"La RD {n} est fermée entre Arras et Lens", ARRAS, LENS, description="Texte. " * 200),
            block(f"Road RD {n} closed", ARRAS, LENS, language="en"),
            sent=NOW - timedelta(minutes=n),
        )
        for n in range(50)
    ]
    build_site(alerts, tmp_path, now=NOW, base_url="https://alertes.example.fr/")
    data = (tmp_path / "cap.xml").read_bytes()
    assert len(data) <= 100_000
    root = etree.fromstring(data)
    assert root.tag == f"{A}feed"
    assert root.find(f".//{{{CAP_NS}}}alert") is None
    entries = root.findall(f"{A}entry")
    assert len(entries) == 50
    for entry in entries:
        assert entry.findtext(f"{A}id", "").startswith("urn:uuid:")
        assert entry.findtext(f"{A}title") and entry.findtext(f"{A}updated")
        assert entry.find(f"{A}content") is None
        (link,) = entry.findall(f"{A}link[@type='{CAP_MEDIA_TYPE}']")
        assert link.get("rel") == "alternate"
        href = link.get("href", "")
        assert href.startswith("https://alertes.example.fr/cap/")
        document = etree.parse(str(tmp_path / href.removeprefix("https://alertes.example.fr/")))
        assert document.getroot().tag == f"{{{CAP_NS}}}alert"


def test_feeds_and_json_put_together_from_kept_entries_are_the_whole_serializations() -> None:
    tz = resolve_timezone("Europe/Paris")
    alerts = [
        alert("road", block("Route fermée\n\nsuite", LENS)),
        cancel(alert("storm", block("Tempête")), NOW - timedelta(minutes=5)),
        alert("en", block("Road closed", language="en")),
    ]
    views = [alert_view(a, now=NOW, tz=tz, language="fr") for a in alerts]
    feed = atom_feed(views, now=NOW, tz=tz, language="fr")
    reparsed = etree.fromstring(feed, etree.XMLParser(remove_blank_text=True))
    assert xml_bytes(reparsed) == feed
    assert atom_feed([], now=NOW, tz=tz, language="fr") == xml_bytes(
        etree.fromstring(
            atom_feed([], now=NOW, tz=tz, language="fr"), etree.XMLParser(remove_blank_text=True)
        )
    )
    current = current_order([v for v in views if not v.ended])
    ended = archive_order([v for v in views if v.ended])
    whole = alerts_index(current, ended, now=NOW, language="fr").model_dump_json().encode()
    assert alerts_json(current, ended, now=NOW, language="fr") == whole


def test_an_alert_id_that_is_not_a_file_name_is_refused(tmp_path: Path) -> None:
    builder = SiteBuilder(tmp_path)
    with pytest.raises(RuntimeError, match="load"):
        builder.publish(alert("early", block("Trop tôt")), NOW)
    builder.load([], NOW)
    with pytest.raises(ValueError, match="not a file name"):
        builder.publish(alert("../escape", block("Non")), NOW)
    with pytest.raises(ValueError, match="appears twice"):
        builder.load([alert("one", block("Une")), alert("one", block("Une"))], NOW)


def pages_in(site: Path, name: str) -> list[str]:
    """The alert pages a feed's entries link to (not their CAP documents)."""
    return [href for href in feed_ids(site, name) if href.endswith(".html")]


def test_each_commune_and_departement_has_its_own_bounded_atom_and_json_feeds(tmp_path: Path) -> None:
    builder = SiteBuilder(tmp_path)
    builder.load(
        [alert("road", block("Route fermée", ARRAS)), alert("bus", block("Cars supprimés", LENS))], NOW
    )
    assert pages_in(tmp_path, "areas/62041.atom") == ["alerts/road.html"]  # Arras: its alert only
    assert pages_in(tmp_path, "areas/62498.atom") == ["alerts/bus.html"]
    assert sorted(pages_in(tmp_path, "departements/62.atom")) == ["alerts/bus.html", "alerts/road.html"]
    root = etree.fromstring((tmp_path / "areas/62041.atom").read_bytes())
    # Entries link from the site's root: the feed says where that is, one folder up.
    assert root.get("{http://www.w3.org/XML/1998/namespace}base") == "../"
    assert root.findtext(f"{A}title") is not None and "Arras" in root.findtext(f"{A}title", "")
    current = json.loads((tmp_path / "departements/62.json").read_text())["current"]
    assert sorted(entry["id"] for entry in current) == ["bus", "road"]
    # Ended and past the kept window: out of the area's feeds too, as out of the site's.
    builder.publish(cancel(alert("road", block("Route fermée", ARRAS)), NOW), NOW)
    builder.refresh(NOW + timedelta(hours=49))
    assert pages_in(tmp_path, "areas/62041.atom") == []
    assert pages_in(tmp_path, "departements/62.atom") == ["alerts/bus.html"]
