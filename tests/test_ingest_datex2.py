"""DATEX II v2/v3 situation intake against real publications, and made-up faults."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alertcast.clock import clock
from alertcast.ingest.datex2 import parse_datex2
from alertcast.ingest.result import ParseResult
from alertcast.models.incident import Category, Certainty, MsgType, Scope, Severity, Urgency
from alertcast.models.problem import Problem

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
DATEX = SAMPLES / "datex2"


def parse(name: str, **kwargs: str) -> ParseResult:
    return parse_datex2((DATEX / name).read_bytes(), source="poller", **kwargs)


def rules(problems: list[Problem]) -> set[tuple[str, str]]:
    return {(p.path, p.rule) for p in problems}


# name, situation ids, sender, categories, languages of the first situation
SAMPLES_TABLE = [
    (
        "fr-bisonfute-tipi-v2-situation-vehicle-obstruction.xml",
        ["260724-000456"],
        "fr:Tipi",
        [Category.TRAFFIC],
        ["fr"],
    ),
    ("fi-fintraffic-v2-situation-roadworks.xml", ["GUID50467344"], "datex2", [Category.ROAD_CLOSURE], ["fi"]),
    (
        "nl-ndw-v3-messagecontainer-situations-roadworks.xml",
        ["RWS01_SM1162215_D2_WWA", "RWS01_SM1168188_D2_WWA"],
        "nl:NDWNL",
        [Category.TRAFFIC, Category.ROAD_CLOSURE],
        ["fr", "en"],
    ),
    (
        "nl-ndw-v3-messagecontainer-srti-obstruction.xml",
        ["NDW08_9d8afcc1-fd11-44f5-9653-0efae246856a_SIT"],
        "nl:NDWNL",
        [Category.TRAFFIC],
        ["nl"],
    ),
    (
        "fi-fintraffic-v3.5-payload-ferry-interruption.xml",
        ["GUID50456943"],
        "fi:FTA",
        [Category.TRANSPORT_DISRUPTION],
        ["fi"],
    ),
]


def test_every_sample_is_listed() -> None:
    assert {p.name for p in DATEX.glob("*.xml")} == {row[0] for row in SAMPLES_TABLE}


@pytest.mark.parametrize(("name", "ids", "sender", "categories", "languages"), SAMPLES_TABLE)
def test_sample(
    name: str, ids: list[str], sender: str, categories: list[Category], languages: list[str]
) -> None:
    result = parse(name)
    assert result.problems == []
    assert result.format == "datex2"
    assert [i.identifier for i in result.incidents] == ids
    assert {i.sender for i in result.incidents} == {sender}
    assert [i.info[0].category for i in result.incidents] == categories
    assert [info.language for info in result.incidents[0].info] == languages
    for incident in result.incidents:
        assert incident.msg_type == MsgType.ALERT
        assert incident.source == "poller"
        assert all(info.areas for info in incident.info)


def test_bisonfute_vehicle_obstruction() -> None:
    incident = parse("fr-bisonfute-tipi-v2-situation-vehicle-obstruction.xml").incidents[0]
    assert incident.sent == datetime(2026, 7, 24, 6, 6, 4, 287000, tzinfo=UTC)  # situationVersionTime
    (info,) = incident.info
    assert info.event == "Véhicule en panne"
    assert info.headline.startswith("Véhicule en panne – Charenton-le-Pont, A4")
    assert "Sur 500 m" in info.description and "De Strasbourg vers Paris" in info.description
    assert (info.severity, info.certainty, info.urgency) == (
        Severity.MODERATE,
        Certainty.OBSERVED,
        Urgency.IMMEDIATE,
    )
    assert info.sender_name == "Direction interdépartementale des routes/DIR Île-de-France"
    assert info.onset == datetime(2026, 7, 24, 6, 4, 50, tzinfo=UTC) and info.expires is None
    (area,) = info.areas
    assert "A0004" in area.area_desc
    circle = area.circles[0]
    assert (circle.center.lat, circle.center.lon) == (48.821583, 2.3988867) and circle.radius_km == 0.1
    assert [(g.value_name, g.value) for g in area.geocodes] == [("alertc:F:32", "14494")]


def test_fintraffic_roadworks_road_closed() -> None:
    result = parse("fi-fintraffic-v2-situation-roadworks.xml")
    assert rules(result.warnings) == {("publicationCreator", "sender_defaulted")}
    info = result.incidents[0].info[0]
    assert info.category == Category.ROAD_CLOSURE
    assert info.severity == Severity.SEVERE
    assert info.headline == "Tie 11698, eli Sipoonkirkontie, Sipoo. Tietyö."
    assert "Tie on suljettu liikenteeltä" in info.description
    assert info.onset == datetime(2026, 7, 19, 21, 0, tzinfo=UTC)
    assert info.expires == datetime(2026, 7, 31, 20, 59, 59, 999000, tzinfo=UTC)
    assert {g.value for g in info.areas[0].geocodes} == {"7628", "7627"}
    assert (
        parse("fi-fintraffic-v2-situation-roadworks.xml", sender="fintraffic").incidents[0].sender
        == "fintraffic"
    )


def test_ndw_roadworks_without_comments_get_generated_french_and_english() -> None:
    second = parse("nl-ndw-v3-messagecontainer-situations-roadworks.xml").incidents[1]
    french, english = second.info
    assert french.event == "Route fermée" and english.event == "Road closed"
    assert "Déviation" in french.description and "Diversion" in english.description
    assert french.expires == datetime(2026, 7, 25, 4, 0, tzinfo=UTC)
    assert len(french.areas[0].circles) >= 2  # points and line ends as small circles


def test_ferry_interruption_is_restricted_transport_disruption() -> None:
    incident = parse("fi-fintraffic-v3.5-payload-ferry-interruption.xml").incidents[0]
    assert incident.scope == Scope.RESTRICTED
    info = incident.info[0]
    assert info.severity == Severity.SEVERE
    assert info.urgency == Urgency.EXPECTED
    assert "Lauttaliikenne keskeytetään" in info.description
    assert "   " not in info.description  # pretty-printing indentation is dropped


def test_srti_nanosecond_times() -> None:
    incident = parse("nl-ndw-v3-messagecontainer-srti-obstruction.xml").incidents[0]
    assert incident.sent == datetime(2026, 7, 24, 20, 5, 0, 43328, tzinfo=UTC)
    assert incident.info[0].headline == "Botsabsorber"


BISON = (DATEX / "fr-bisonfute-tipi-v2-situation-vehicle-obstruction.xml").read_text(encoding="utf-8")


def test_bare_v2_situation_publication() -> None:
    payload = re.search(r"<payloadPublication.*</payloadPublication>", BISON, re.S)
    assert payload is not None
    bare = payload.group(0).replace(
        "<payloadPublication ", '<payloadPublication xmlns="http://datex2.eu/schema/2/2_0" '
    )
    result = parse_datex2(bare)
    assert result.ok
    assert result.incidents[0].identifier == "260724-000456"
    assert result.incidents[0].sender == "fr:Tipi"


FERRY = (DATEX / "fi-fintraffic-v3.5-payload-ferry-interruption.xml").read_text(encoding="utf-8")
FERRY_END = "<com:overallEndTime>2025-11-27T07:50:00.000Z</com:overallEndTime>"
RECORD = "situation[0].situationRecord[0]"


def test_template_placeholder_end_time_is_a_warning_and_the_alert_is_open_ended() -> None:
    """Issue #16: publications in the wild carry a placeholder where an optional end time goes."""
    assert FERRY_END in FERRY
    result = parse_datex2(
        FERRY.replace(FERRY_END, "<com:overallEndTime>${overallEndTime}</com:overallEndTime>")
    )
    assert result.problems == []
    (incident,) = result.incidents
    assert incident.identifier == "GUID50456943"
    assert incident.info[0].expires is None  # the field is left out: no end
    assert incident.info[0].onset == datetime(2025, 11, 27, 7, 20, tzinfo=UTC)
    (warning,) = result.warnings
    assert (warning.path, warning.value, warning.rule) == (
        f"{RECORD}.validity.overallEndTime",
        "${overallEndTime}",
        "datetime",
    )
    assert "left out" in warning.message and warning.hint


def test_unreadable_start_time_is_a_warning_and_urgency_unknown() -> None:
    result = parse_datex2(
        BISON.replace("<overallStartTime>2026-07-24T08:04:50.000+02:00", "<overallStartTime>demain")
    )
    assert result.problems == []
    assert rules(result.warnings) == {(f"{RECORD}.validity.overallStartTime", "datetime")}
    (info,) = result.incidents[0].info
    assert info.onset is None
    assert info.urgency == Urgency.UNKNOWN  # neither "now" nor "later" can be claimed


def test_unreadable_version_times_fall_back_with_warnings() -> None:
    broken = BISON.replace(
        "<situationVersionTime>2026-07-24T08:06:04.287+02:00", "<situationVersionTime>{{version}}"
    ).replace(
        "<situationRecordVersionTime>2026-07-24T08:06:04.287+02:00",
        "<situationRecordVersionTime>2026-07-24 08h06",
    )
    result = parse_datex2(broken)
    assert result.problems == []
    assert rules(result.warnings) == {
        ("situation[0].situationVersionTime", "datetime"),
        (f"{RECORD}.situationRecordVersionTime", "datetime"),
    }
    # sent falls back on the publication time, which is still readable
    assert result.incidents[0].sent == datetime(2026, 7, 24, 6, 6, 4, 879000, tzinfo=UTC)


def test_every_time_unreadable_still_gives_the_situation_at_intake_time() -> None:
    fixed = datetime(2026, 7, 24, 7, 0, tzinfo=UTC)
    broken = re.sub(r"(Time>)2026-07-24T[0-9:.+]+<", r"\1N/A<", BISON)
    clock.set(lambda: fixed)
    try:
        result = parse_datex2(broken)
    finally:
        clock.set(None)
    assert result.problems == []
    assert result.incidents[0].sent == fixed
    paths = {p.path for p in result.warnings if p.rule == "datetime"}
    assert {"publicationTime", "situation[0].situationVersionTime"} <= paths
    assert ("situation[0].situationVersionTime", "sent_defaulted") in rules(result.warnings)


def test_unknown_coded_values_are_warnings() -> None:
    broken = BISON.replace("<overallSeverity>medium", "<overallSeverity>extreme").replace(
        "<probabilityOfOccurrence>certain", "<probabilityOfOccurrence>sure"
    )
    result = parse_datex2(broken)
    assert result.problems == []
    assert rules(result.warnings) == {
        ("situation[0].overallSeverity", "enum"),
        (f"{RECORD}.probabilityOfOccurrence", "enum"),
    }
    info = result.incidents[0].info[0]
    assert (info.severity, info.certainty) == (Severity.UNKNOWN, Certainty.UNKNOWN)


def test_unreadable_coordinates_are_warnings_and_left_out() -> None:
    broken = BISON.replace("<latitude>48.821583</latitude>", "<latitude>48,821583</latitude>")
    result = parse_datex2(broken)
    assert result.problems == []
    (warning,) = result.warnings
    assert warning.rule == "coordinates" and warning.value == "48,821583 2.3988867"
    assert warning.path.startswith(f"{RECORD}.groupOfLocations.") and warning.path.endswith(
        ".pointCoordinates"
    )
    (area,) = result.incidents[0].info[0].areas
    assert area.circles == [] and area.geocodes  # the point is left out, the ALERT-C code stays


def test_bad_language_attributes_are_warnings() -> None:
    one_letter = BISON.replace('<value lang="fr">Sur 500 m', '<value lang="f">Sur 500 m', 1)
    result = parse_datex2(one_letter)
    assert result.problems == []
    (warning,) = result.warnings
    assert (warning.rule, warning.value) == ("language", "f")
    assert warning.path == f"{RECORD}.generalPublicComment[0].comment.values.value[0]@lang"
    assert [info.language for info in result.incidents[0].info] == ["fr"]

    mixed_case = parse_datex2(BISON.replace('<value lang="fr">Sur 500 m', '<value lang="FR">Sur 500 m', 1))
    assert mixed_case.problems == [] and mixed_case.warnings == []
    assert [info.language.lower() for info in mixed_case.incidents[0].info] == ["fr"]  # one info, not two
    assert "Sur 500 m" in mixed_case.incidents[0].info[0].description


def test_what_a_situation_cannot_exist_without_still_refuses_it() -> None:
    no_record = re.sub(r"<situationRecord .*</situationRecord>", "", BISON, flags=re.S)
    assert rules(parse_datex2(no_record).problems) == {("situation[0].situationRecord", "required")}
    no_id = BISON.replace('<situation id="260724-000456" version="1">', "<situation>")
    assert parse_datex2(no_id).incidents == []


def test_lifecycle_end_becomes_a_cancel() -> None:
    ended = BISON.replace(
        "<probabilityOfOccurrence>",
        "<management><lifeCycleManagement><end>true</end></lifeCycleManagement></management><probabilityOfOccurrence>",
    )
    (incident,) = parse_datex2(ended).incidents
    assert incident.msg_type == MsgType.CANCEL
    assert incident.key == "fr:Tipi/260724-000456"


def test_wrong_namespace_and_unsupported_publications() -> None:
    wrong = parse_datex2(BISON.replace("http://datex2.eu/schema/2/2_0", "urn:example"))
    assert rules(wrong.problems) == {("d2LogicalModel", "namespace")}
    measured = parse_datex2(
        '<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<payloadPublication xsi:type="MeasuredDataPublication"/></d2LogicalModel>'
    )
    assert rules(measured.problems) == {("d2LogicalModel", "unsupported_publication")}


def test_situation_without_id() -> None:
    result = parse_datex2(BISON.replace('<situation id="260724-000456" version="1">', "<situation>"))
    assert rules(result.problems) == {("situation[0].id", "required")}


def test_hostile_xml_is_refused() -> None:
    hostile = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        + BISON.split("?>", 1)[1]
    )
    result = parse_datex2(hostile)
    assert rules(result.problems) == {("", "xml_forbidden_construct")}
    assert "root:" not in result.model_dump_json()
