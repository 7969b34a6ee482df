"""GTFS-Realtime Service Alerts intake: real feeds (protobuf and proto3 JSON) and made-up edge cases."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from google.transit import gtfs_realtime_pb2 as gtfs

from alertcast.clock import clock
from alertcast.ingest.gtfs_rt import parse_gtfs_rt, parse_gtfs_rt_json
from alertcast.models.incident import Category, Certainty, MsgType, Severity, Urgency

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
GTFS = SAMPLES / "gtfs-rt"


def feed(*entities: gtfs.FeedEntity, timestamp: int = 1_767_225_600) -> bytes:
    message = gtfs.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    if timestamp:
        message.header.timestamp = timestamp
    message.entity.extend(entities)
    return message.SerializeToString()


def alert_entity(entity_id: str = "a1", **fields: object) -> gtfs.FeedEntity:
    entity = gtfs.FeedEntity(id=entity_id)
    entity.alert.header_text.translation.add(text="Ligne 3 : grève", language="")
    entity.alert.informed_entity.add(route_id="3")
    for name, value in fields.items():
        setattr(entity.alert, name, value)
    return entity


def test_bibus_protobuf_and_json_give_the_same_incidents() -> None:
    binary = parse_gtfs_rt((GTFS / "bibus-brest-alerts.pb").read_bytes(), source="poller")
    converted = parse_gtfs_rt_json((GTFS / "bibus-brest-alerts.converted.json").read_bytes(), source="poller")
    assert binary.format == "gtfs-rt" and converted.format == "gtfs-rt-json"
    assert binary.problems == converted.problems == []
    assert len(binary.incidents) == 12
    assert [i.model_dump() for i in binary.incidents] == [i.model_dump() for i in converted.incidents]


def test_bibus_alerts_are_french_detours() -> None:
    result = parse_gtfs_rt((GTFS / "bibus-brest-alerts.pb").read_bytes())
    first = result.incidents[0]
    assert first.identifier == "2ea09850-74d9-4db7-a537-d97d821956e8"
    assert first.sender == "gtfs-rt"
    assert first.sent == datetime(2021, 12, 16, 15, 29, 2, tzinfo=UTC)
    (info,) = first.info
    assert info.language == "fr"  # untagged translations take the default language
    assert info.category == Category.TRANSPORT_DISRUPTION
    assert info.event == "detour (construction)"
    assert info.headline == "L 45 Prolongation des travaux rue de Kermaria jusqu'au 24/12"
    assert "Arrêts non desservis" in info.description
    assert info.web == "https://www.bibus.fr/deviation/20265cf9-6a99-403e-9ddb-4290b852c00a.pdf"
    assert info.onset == datetime(2021, 9, 14, 16, 0, tzinfo=UTC)
    assert info.expires == datetime(2021, 12, 24, 17, 0, tzinfo=UTC)
    assert info.areas[0].area_desc == "ligne 45"
    assert [(g.value_name, g.value) for g in info.areas[0].geocodes] == [("gtfs_route_id", "45")]
    assert Counter(i.info[0].event for i in result.incidents) == {
        "detour (construction)": 11,
        "reduced service": 1,
    }


def test_default_language_argument_and_sender() -> None:
    result = parse_gtfs_rt(
        (GTFS / "bibus-brest-alerts.pb").read_bytes(), sender="bibus", default_language="br"
    )
    assert {i.info[0].language for i in result.incidents} == {"br"}
    assert {i.sender for i in result.incidents} == {"bibus"}


def test_bart_significant_delay() -> None:
    for name, parser in (("bart-alerts.pb", parse_gtfs_rt), ("bart-alerts.json", parse_gtfs_rt_json)):
        result = parser((GTFS / name).read_bytes())
        assert result.problems == [] and result.warnings == []
        (incident,) = result.incidents
        assert incident.identifier == "BSA_187874"
        assert incident.sent == datetime(2019, 8, 7, 17, 45, 42, tzinfo=UTC)
        (info,) = incident.info
        assert info.language == "en-US"
        assert info.severity == Severity.MODERATE  # SIGNIFICANT_DELAYS ranks above a detour
        assert info.event == "significant delays (medical emergency)"
        assert info.headline.startswith("There is a major delay at Montgomery St.")
        assert info.web == "http://www.bart.gov/schedules/advisories"
        assert info.onset is None and info.expires is None
        assert info.urgency == Urgency.IMMEDIATE
        assert [(g.value_name, g.value) for g in info.areas[0].geocodes] == [("gtfs_agency_id", "BART")]


def test_mbta_feed() -> None:
    result = parse_gtfs_rt((GTFS / "mbta-alerts.pb").read_bytes())
    assert result.problems == []
    assert len(result.incidents) == 51
    assert {i.info[0].language for i in result.incidents} == {"en"}
    severities = Counter(i.info[0].severity for i in result.incidents)
    assert severities[Severity.MODERATE] == 3  # the NO_SERVICE alerts
    names = {g.value_name for i in result.incidents for a in i.info[0].areas for g in a.geocodes}
    assert names == {"gtfs_agency_id", "gtfs_route_id", "gtfs_route_type", "gtfs_stop_id", "gtfs_trip_id"}
    assert all(len(a.area_desc) <= 500 for i in result.incidents for a in i.info[0].areas)


def test_strike_cause_and_severity_level() -> None:
    entity = alert_entity(
        cause=gtfs.Alert.STRIKE, effect=gtfs.Alert.NO_SERVICE, severity_level=gtfs.Alert.SEVERE
    )
    (incident,) = parse_gtfs_rt(feed(entity)).incidents
    info = incident.info[0]
    assert info.category == Category.STRIKE
    assert info.severity == Severity.SEVERE
    assert info.event == "no service (strike)"


def test_future_period_is_expected_and_likely() -> None:
    entity = alert_entity()
    entity.alert.active_period.add(start=1_767_300_000, end=1_767_400_000)
    info = parse_gtfs_rt(feed(entity)).incidents[0].info[0]
    assert (info.urgency, info.certainty) == (Urgency.EXPECTED, Certainty.LIKELY)
    assert info.onset == datetime.fromtimestamp(1_767_300_000, tz=UTC)


def test_several_languages_become_several_infos() -> None:
    entity = alert_entity()
    entity.alert.header_text.translation.add(text="Line 3: strike", language="en")
    entity.alert.description_text.translation.add(text="Pas de service.", language="fr")
    infos = parse_gtfs_rt(feed(entity)).incidents[0].info
    assert [(i.language, i.headline) for i in infos] == [("fr", "Ligne 3 : grève"), ("en", "Line 3: strike")]
    assert infos[0].description == "Pas de service." and infos[1].description == ""
    assert infos[1].areas[0].area_desc == "route 3" and infos[0].areas[0].area_desc == "ligne 3"


def test_deleted_entity_cancels_the_alert() -> None:
    entity = gtfs.FeedEntity(id="a1", is_deleted=True)
    (incident,) = parse_gtfs_rt(feed(entity), sender="bibus").incidents
    assert incident.msg_type == MsgType.CANCEL
    assert incident.identifier == "a1.deleted"
    assert [(r.sender, r.identifier) for r in incident.references] == [("bibus", "a1")]
    assert incident.key == "bibus/a1"


def test_long_header_is_cut_and_kept_whole_in_the_description() -> None:
    entity = alert_entity()
    del entity.alert.header_text.translation[:]
    entity.alert.header_text.translation.add(text="mot " * 300)
    info = parse_gtfs_rt(feed(entity)).incidents[0].info[0]
    assert len(info.headline) <= 500 and info.headline.endswith("…")
    assert info.description.startswith("mot mot")


def test_bad_entities_are_refused_one_by_one() -> None:
    good = alert_entity("ok")
    no_id = alert_entity("")
    backwards = alert_entity("backwards")
    backwards.alert.active_period.add(start=1_767_400_000, end=1_767_300_000)
    result = parse_gtfs_rt(feed(good, no_id, backwards))
    assert [i.identifier for i in result.incidents] == ["ok"]
    assert {(p.path, p.rule) for p in result.problems} == {
        ("entity[1].id", "required"),
        ("entity[2].info.0.expires", "expires_before_onset"),
    }


def test_escaped_identifier_is_a_warning() -> None:
    result = parse_gtfs_rt(feed(alert_entity("a b,c")))
    assert result.incidents[0].identifier == "a%20b%2Cc"
    assert {(p.path, p.rule) for p in result.warnings} == {("entity[0].id", "identifier_escaped")}


def test_missing_timestamp_uses_the_clock() -> None:
    fixed = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    clock.set(lambda: fixed)
    try:
        result = parse_gtfs_rt(feed(alert_entity(), timestamp=0))
    finally:
        clock.set(None)
    assert result.incidents[0].sent == fixed
    assert {(p.path, p.rule) for p in result.warnings} == {("header.timestamp", "sent_defaulted")}


def test_not_a_feed() -> None:
    assert {p.rule for p in parse_gtfs_rt(b"\x00\x01garbage").problems} == {"protobuf_decode"}
    assert {(p.path, p.rule) for p in parse_gtfs_rt(b"").problems} == {
        ("header.gtfs_realtime_version", "required")
    }
    assert {(p.path, p.rule) for p in parse_gtfs_rt(feed()).problems} == {("entity", "empty")}
    assert {p.rule for p in parse_gtfs_rt_json(b'{"header": 3}').problems} == {"gtfs_rt_json"}


def test_non_alert_entities_are_reported() -> None:
    vehicle = gtfs.FeedEntity(id="v1")
    vehicle.vehicle.vehicle.id = "bus-1"
    result = parse_gtfs_rt(feed(alert_entity(), vehicle))
    assert len(result.incidents) == 1
    assert {(p.path, p.rule, p.value) for p in result.warnings} == {("entity", "non_alert_entities", 1)}


def test_unknown_json_fields_are_a_warning() -> None:
    text = (GTFS / "bart-alerts.json").read_text().replace('"cause"', '"madeUpField": 1, "cause"')
    result = parse_gtfs_rt_json(text)
    assert len(result.incidents) == 1
    assert {p.rule for p in result.warnings} == {"unknown_fields"}


# --- issue #16: open bounds written as 0 or as the largest 64-bit value -------------------------

MAX_UINT64 = 2**64 - 1
PERIOD = "entity[0].alert.active_period[0]"


def period_entity(**bounds: int) -> gtfs.FeedEntity:
    entity = alert_entity()
    entity.alert.active_period.add(**bounds)
    return entity


def test_end_at_the_largest_64_bit_value_is_no_end_with_a_warning() -> None:
    result = parse_gtfs_rt(feed(period_entity(start=1_767_200_000, end=MAX_UINT64)))
    assert result.problems == []
    (warning,) = result.warnings
    assert (warning.path, warning.value, warning.rule) == (f"{PERIOD}.end", MAX_UINT64, "timestamp_range")
    assert "no end" in warning.message
    (info,) = result.incidents[0].info
    assert info.expires is None
    assert info.onset == datetime.fromtimestamp(1_767_200_000, tz=UTC)
    assert info.urgency == Urgency.IMMEDIATE


def test_the_same_in_proto3_json_where_uint64_is_a_string() -> None:
    text = (
        '{"header": {"gtfsRealtimeVersion": "2.0", "timestamp": "1767225600"}, "entity": [{"id": "a1", '
        '"alert": {"activePeriod": [{"start": "1767200000", "end": "18446744073709551615"}], '
        '"informedEntity": [{"routeId": "3"}], '
        '"headerText": {"translation": [{"text": "Ligne 3 : travaux"}]}}}]}'
    )
    result = parse_gtfs_rt_json(text)
    assert result.problems == []
    assert {(p.path, p.rule) for p in result.warnings} == {(f"{PERIOD}.end", "timestamp_range")}
    assert result.incidents[0].info[0].expires is None


def test_zero_end_and_zero_start_are_open_bounds_with_warnings() -> None:
    result = parse_gtfs_rt(feed(period_entity(start=0, end=0)))
    assert result.problems == []
    assert {(p.path, p.value, p.rule) for p in result.warnings} == {
        (f"{PERIOD}.start", 0, "timestamp_zero"),
        (f"{PERIOD}.end", 0, "timestamp_zero"),
    }
    (info,) = result.incidents[0].info
    assert (info.onset, info.expires, info.urgency) == (None, None, Urgency.IMMEDIATE)


def test_a_start_no_date_can_hold_is_left_out_and_urgency_unknown() -> None:
    for start in (MAX_UINT64, 10**15):
        result = parse_gtfs_rt(feed(period_entity(start=start, end=1_767_400_000)))
        assert result.problems == []
        assert {(p.path, p.value, p.rule) for p in result.warnings} == {
            (f"{PERIOD}.start", start, "timestamp_range")
        }
        (info,) = result.incidents[0].info
        assert info.onset is None and info.expires == datetime.fromtimestamp(1_767_400_000, tz=UTC)
        assert info.urgency == Urgency.UNKNOWN


def test_one_open_ended_period_among_others_makes_the_alert_open_ended() -> None:
    entity = period_entity(start=1_767_200_000, end=1_767_300_000)
    entity.alert.active_period.add(start=1_767_300_000, end=MAX_UINT64)
    result = parse_gtfs_rt(feed(entity))
    assert {p.path for p in result.warnings} == {"entity[0].alert.active_period[1].end"}
    assert result.incidents[0].info[0].expires is None


def test_an_end_before_the_start_is_still_refused() -> None:
    result = parse_gtfs_rt(feed(period_entity(start=1_767_400_000, end=1_767_300_000)))
    assert result.incidents == []
    assert {p.rule for p in result.problems} == {"expires_before_onset"}


# --- issue #16: text that is not text --------------------------------------------------------


def test_invalid_utf8_in_a_protobuf_string_refuses_that_entity_by_its_path() -> None:
    good = alert_entity("ok")
    bad = alert_entity("XX")
    bad.alert.header_text.translation.add(text="YY", language="en")
    data = feed(good, bad).replace(b"XX", b"\xc0\xaf").replace(b"YY", b"\xed\xa0")
    result = parse_gtfs_rt(data)
    assert [i.identifier for i in result.incidents] == ["ok"]
    assert {(p.path, p.value, p.rule) for p in result.problems} == {
        ("entity[1].id", "\\xc0\\xaf", "invalid_utf8"),
        ("entity[1].alert.header_text.translation[1].text", "\\xed\\xa0", "invalid_utf8"),
    }
    result.model_dump_json()


def test_a_lone_surrogate_in_json_refuses_that_entity_and_keeps_the_others() -> None:
    document = json.loads((GTFS / "bibus-brest-alerts.converted.json").read_text())
    document["entity"][1]["alert"]["headerText"]["translation"][0]["text"] = "\ud800 travaux"
    result = parse_gtfs_rt_json(json.dumps(document))
    assert len(result.incidents) == 11
    (problem,) = result.problems
    assert (problem.path, problem.rule) == (
        "entity[1].alert.headerText.translation[0].text",
        "unpaired_surrogate",
    )
    assert problem.value == "\\ud800 travaux"
    result.model_dump_json()

    document["header"]["gtfsRealtimeVersion"] = "2.\udfff"
    refused = parse_gtfs_rt_json(json.dumps(document))
    assert refused.incidents == []
    assert ("header.gtfsRealtimeVersion", "unpaired_surrogate") in {
        (p.path, p.rule) for p in refused.problems
    }
