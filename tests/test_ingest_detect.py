"""The one format detector: every sample lands in its parser, whatever door it came through."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertcast.ingest.detect import FORMATS, detect, detect_format, parse_document

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
EXPECTED = {"cap": "cap", "datex2": "datex2"}


def sample_files() -> list[Path]:
    return sorted(p for d in ("cap", "datex2", "gtfs-rt") for p in (SAMPLES / d).iterdir())


def expected_format(path: Path) -> str:
    if path.parent.name == "gtfs-rt":
        return "gtfs-rt" if path.suffix == ".pb" else "gtfs-rt-json"
    return EXPECTED[path.parent.name]


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_sample_is_detected_and_parsed(path: Path) -> None:
    data = path.read_bytes()
    assert detect_format(data) == expected_format(path)
    result = parse_document(data, source="cli")
    assert result.format == expected_format(path)
    if path.name.startswith("invalid-"):
        assert result.problems and not result.incidents
    else:
        assert result.ok, [p.line() for p in result.problems]
        assert all(i.source == "cli" for i in result.incidents)


@pytest.mark.parametrize("path", sorted((SAMPLES / "feeds").iterdir()), ids=lambda p: p.name)
def test_index_feeds_are_not_incidents(path: Path) -> None:
    detection = detect(path.read_bytes())
    assert detection.format == "unknown"
    assert detection.problem is not None and detection.problem.rule == "unknown_format"
    assert "feed" in detection.problem.message


def test_alertcast_json() -> None:
    body = b'{"identifier": "x1", "sender": "ville", "sent": "2026-01-01T08:00:00+01:00", "info": []}'
    assert detect_format(body, "application/json") == "json"
    result = parse_document(body)
    assert result.format == "json"
    assert {p.rule for p in result.problems} == {"info_required"}
    assert detect_format(b"[]") == "json"
    assert detect_format(b"{not json") == "json"


def test_content_type_breaks_ties_only() -> None:
    cap = (SAMPLES / "cap" / "oasis-example2-thunderstorm-warning-polygon.xml").read_bytes()
    assert detect_format(cap, "application/json") == "cap"  # the content is recognisable: it wins
    assert detect_format(b"", "application/cap+xml; charset=utf-8") == "cap"
    assert detect_format(b"\x00\x01", "application/x-protobuf") == "gtfs-rt"
    assert {p.rule for p in parse_document(b"\x00\x01", "application/x-protobuf").problems} == {
        "protobuf_decode"
    }
    assert detect_format(b"<alert><broken", None) == "cap"
    assert {p.rule for p in parse_document(b"<alert><broken").problems} == {"xml_syntax"}


def test_unknown_format_names_the_accepted_ones() -> None:
    for data, content_type in ((b"hello world", None), (b"", None), (b"<html><body/></html>", "text/html")):
        result = parse_document(data, content_type)
        assert result.format == "unknown"
        (problem,) = result.problems
        assert problem.rule == "unknown_format"
        assert "CAP" in problem.hint and "DATEX II" in problem.hint and "GTFS-Realtime" in problem.hint


def test_hostile_xml_goes_to_the_cap_parser_and_is_refused() -> None:
    data = (SAMPLES / "cap" / "invalid-xxe-doctype-entities.xml").read_bytes()
    assert detect_format(data) == "cap"
    assert {p.rule for p in parse_document(data).problems} == {"xml_forbidden_construct"}


def test_formats_constant() -> None:
    assert set(FORMATS) == {"json", "cap", "datex2", "gtfs-rt", "gtfs-rt-json"}
