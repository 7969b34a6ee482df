"""CAP index feeds: the entries a poller fetches, from real Atom and RSS indexes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alertcast.ingest.feeds import parse_feed

FEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "feeds"


def test_krisinformation_atom() -> None:
    feed = parse_feed((FEEDS / "krisinformation-se-cap12.atom").read_bytes())
    assert feed.format == "atom" and feed.problems == [] and feed.warnings == []
    assert len(feed.entries) == 4
    first = feed.entries[0]
    assert first.id == "http://api.krisinformation.se/v1/capmessage/11337sv?format=xml"
    assert first.link == "http://api.krisinformation.se/v1/capmessage/11337sv?format=xml"
    assert first.updated == datetime(2018, 11, 21, 11, 52, 6, tzinfo=UTC)


def test_nws_cap11_index() -> None:
    feed = parse_feed((FEEDS / "nws-alerts-index-cap11.atom").read_bytes())
    assert [e.link.rsplit("x=", 1)[1][:2] for e in feed.entries] == ["CT", "DC"]
    assert feed.entries[0].updated == datetime(2010, 8, 31, 3, 4, tzinfo=UTC)


def test_usgs_prefers_the_cap_typed_link() -> None:
    feed = parse_feed((FEEDS / "usgs-earthquakes-with-cap-links.atom").read_bytes())
    (entry,) = feed.entries
    assert entry.id == "urn:earthquake-usgs-gov:us:b000qfgs"
    assert entry.link == "http://earthquake.usgs.gov/earthquakes/eventpage/usb000qfgs.cap"


def test_nyalert_rss() -> None:
    feed = parse_feed((FEEDS / "nyalert-cap-index.rss").read_bytes())
    assert feed.format == "rss"
    assert [e.id for e in feed.entries] == ["NYAlert-ALLHAZALERT-3167113", "NYAlert-ALLHAZALERT-3162202"]
    assert feed.entries[1].link.endswith("capID=NYAlert-ALLHAZALERT-3162202")
    assert feed.entries[0].updated == datetime(2011, 2, 4, 20, 20, tzinfo=UTC)


def test_relative_links_missing_links_and_bad_dates() -> None:
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://example.org/cap/">'
        '<entry><id>a</id><updated>yesterday</updated><link href="a.xml"/></entry>'
        "<entry><id>b</id></entry></feed>"
    )
    feed = parse_feed(atom)
    assert [(e.id, e.link, e.updated) for e in feed.entries] == [("a", "https://example.org/cap/a.xml", None)]
    assert {(w.path, w.rule) for w in feed.warnings} == {
        ("feed.entry[0].updated", "datetime"),
        ("feed.entry[1]", "entry_without_link"),
    }


def test_not_a_feed_and_hostile_feed() -> None:
    assert {p.rule for p in parse_feed(b"<html/>").problems} == {"unknown_format"}
    hostile = b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss>&x;</rss>'
    assert {p.rule for p in parse_feed(hostile).problems} == {"xml_forbidden_construct"}
    assert {p.rule for p in parse_feed(b"<rss><channel>").problems} == {"xml_syntax"}
