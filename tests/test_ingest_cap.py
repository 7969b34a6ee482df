"""CAP intake against the real samples in ../shared/samples/cap, and against hand-made faults."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alertcast.ingest.cap import map_cap_category, parse_cap
from alertcast.ingest.result import ParseResult
from alertcast.models.incident import CapCategory, Category, MsgType, Scope, Severity, Urgency

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
CAP = SAMPLES / "cap"


def parse(name: str) -> ParseResult:
    return parse_cap((CAP / name).read_bytes(), source="test")


def problems(result: ParseResult) -> set[tuple[str, str]]:
    return {(p.path, p.rule) for p in result.problems}


def warnings(result: ParseResult) -> set[tuple[str, str]]:
    return {(p.path, p.rule) for p in result.warnings}


# name, identifier, sender, msg_type, references, languages, alertcast categories, areas per info
VALID = [
    (
        "eccc-naads-wind-warning-update-fr-en.xml",
        "urn:oid:2.49.0.1.124.3936999913.2019",
        "cap-pac@canada.ca",
        MsgType.UPDATE,
        3,
        ["fr-CA", "en-CA"],
        {Category.WEATHER},
        [1, 1],
    ),
    (
        "eccc-special-weather-statement-en-fr-polygon.xml",
        "urn:oid:2.49.0.1.124.3026064006.2019",
        "cap-pac@canada.ca",
        MsgType.ALERT,
        0,
        ["en-CA", "fr-CA"],
        {Category.WEATHER},
        [1, 1],
    ),
    (
        "eccc-snowfall-warning-update-signed-en-fr.xml",
        "2.49.0.1.124.f2c83f5f.2013",
        "cap-pac@ec.gc.ca",
        MsgType.UPDATE,
        9,
        ["en-CA", "fr-CA"],
        {Category.WEATHER},
        [2, 2],
    ),
    (
        "eccc-thunderstorm-watch-allclear-update-en-fr.xml",
        "2.49.0.1.124.6bddbc91.2012",
        "cap@ec.gc.ca",
        MsgType.UPDATE,
        2,
        ["en-CA", "fr-CA"],
        {Category.WEATHER},
        [2, 2],
    ),
    (
        "ipaws-athoc-cancel-no-info-signed.xml",
        "1017033100951096-517189320160225203219800_Cancel",
        "AtHoc",
        MsgType.CANCEL,
        1,
        [],
        set(),
        [],
    ),
    (
        "lenient-krisinformation-se-vma-nonstandard-area.xml",
        "11337sv",
        "https://www.krisinformation.se/",
        MsgType.ALERT,
        0,
        ["sv-SE"],
        {Category.OTHER},
        [2],
    ),
    (
        "nsw-rfs-structure-fire-circle-prefixed.xml",
        "tag:www.rfs.nsw.gov.au2011-10-06:40184",
        "webmaster@rfs.nsw.gov.au",
        MsgType.ALERT,
        0,
        ["en-AU"],
        {Category.OTHER},
        [1],
    ),
    (
        "nws-hurricane-warning-update-multipolygon.xml",
        "NWS-IDP-PROD-4412298-3677414",
        "w-nws.webmaster@noaa.gov",
        MsgType.UPDATE,
        8,
        ["en-US"],
        {Category.WEATHER},
        [1],
    ),
    (
        "oasis-example1-homeland-security-advisory.xml",
        "43b080713727",
        "hsas@dhs.gov",
        MsgType.ALERT,
        0,
        ["en-US"],
        {Category.OTHER},
        [1],
    ),
    (
        "oasis-example2-thunderstorm-warning-polygon.xml",
        "KSTO1055887203",
        "KSTO@NWS.NOAA.GOV",
        MsgType.ALERT,
        0,
        ["en-US"],
        {Category.WEATHER},
        [1],
    ),
    (
        "oasis-example3-earthquake-update-circle.xml",
        "TRI13970876.2",
        "trinet@caltech.edu",
        MsgType.UPDATE,
        1,
        ["en-US"],
        {Category.OTHER},
        [1],
    ),
    (
        "oasis-example4-amber-alert-en-es.xml",
        "KAR0-0306112239-SW",
        "KARO@CLETS.DOJ.CA.GOV",
        MsgType.ALERT,
        0,
        ["en-US", "es-US"],
        {Category.OTHER},
        [1, 1],
    ),
    (
        "smn-mexico-tropical-cyclone-update-es.xml",
        "avisossmn-ciclontropical-4063",
        "smn.cna.gob.mx",
        MsgType.UPDATE,
        1,
        ["es-419"],
        {Category.WEATHER},
        [1],
    ),
    (
        "usgs-earthquake-circle-iso8859-1.xml",
        "USGS-earthquakes-usB000D5T4.3947362.7.20121014T225304.360Z.0",
        "http://earthquake.usgs.gov/research/monitoring/anss/neic/",
        MsgType.ALERT,
        0,
        ["en-US"],
        {Category.OTHER},
        [1],
    ),
    (
        "wra-taiwan-reservoir-discharge-utf8-bom.xml",
        "WRA_ReservoirWarn_201405142010",
        "ddmt01@wra.gov.tw",
        MsgType.ALERT,
        0,
        ["zh-tw"],
        {Category.FLOOD},
        [1],
    ),
]


def test_every_valid_sample_is_listed() -> None:
    on_disk = {p.name for p in CAP.glob("*.xml") if not p.name.startswith("invalid-")}
    assert on_disk == {row[0] for row in VALID}


@pytest.mark.parametrize(
    ("name", "identifier", "sender", "msg_type", "references", "languages", "categories", "areas"), VALID
)
def test_valid_sample(
    name: str,
    identifier: str,
    sender: str,
    msg_type: MsgType,
    references: int,
    languages: list[str],
    categories: set[Category],
    areas: list[int],
) -> None:
    result = parse(name)
    assert result.problems == []
    assert result.format == "cap"
    assert len(result.incidents) == 1
    incident = result.incidents[0]
    assert incident.identifier == identifier
    assert incident.sender == sender
    assert incident.msg_type == msg_type
    assert incident.source == "test"
    assert len(incident.references) == references
    assert all(ref.sender == sender for ref in incident.references)
    assert [info.language for info in incident.info] == languages
    assert {info.category for info in incident.info} == categories
    assert [len(info.areas) for info in incident.info] == areas
    assert incident.sent.tzinfo is not None and incident.sent.utcoffset() == UTC.utcoffset(None)


def test_update_references_carry_sender_identifier_and_sent() -> None:
    incident = parse("oasis-example3-earthquake-update-circle.xml").incidents[0]
    (reference,) = incident.references
    assert reference.sender == "trinet@caltech.edu"
    assert reference.identifier == "TRI13970876.1"
    assert reference.sent == datetime(2003, 6, 12, 3, 30, tzinfo=UTC)
    assert incident.key == "trinet@caltech.edu/TRI13970876.1"
    circle = incident.info[0].areas[0].circles[0]
    assert (circle.center.lat, circle.center.lon, circle.radius_km) == (32.9525, -115.5527, 0)


def test_thunderstorm_polygon_geocodes_and_texts() -> None:
    result = parse("oasis-example2-thunderstorm-warning-polygon.xml")
    assert result.warnings == []
    info = result.incidents[0].info[0]
    assert info.language == "en-US"  # no <language>: CAP's default
    assert info.cap_categories == [CapCategory.MET]
    assert (info.urgency, info.severity) == (Urgency.IMMEDIATE, Severity.SEVERE)
    assert info.sender_name == "NATIONAL WEATHER SERVICE SACRAMENTO CA"
    assert info.headline == "SEVERE THUNDERSTORM WARNING"
    assert info.instruction.startswith("TAKE COVER")
    assert info.contact == "BARUFFALDI/JUSKIE"
    assert info.expires == datetime(2003, 6, 17, 23, 0, tzinfo=UTC)
    area = info.areas[0]
    assert len(area.polygons[0]) == 5 and area.polygons[0][0] == area.polygons[0][-1]
    assert [(g.value_name, g.value) for g in area.geocodes] == [
        ("SAME", "006109"),
        ("SAME", "006009"),
        ("SAME", "006003"),
    ]


def test_multipolygon_area_keeps_both_polygons() -> None:
    area = parse("nws-hurricane-warning-update-multipolygon.xml").incidents[0].info[0].areas[0]
    assert area.area_desc == "Acadia"
    assert len(area.polygons) == 2


def test_iso_8859_1_and_utf8_bom_documents() -> None:
    usgs = parse("usgs-earthquake-circle-iso8859-1.xml").incidents[0].info[0]
    assert "Usulután" in usgs.headline
    assert usgs.areas[0].circles[0].radius_km == 0.0
    taiwan = parse("wra-taiwan-reservoir-discharge-utf8-bom.xml").incidents[0].info[0]
    assert taiwan.headline == "明德水庫:洩洪中"
    assert taiwan.areas[0].geocodes[0].value == "1000512"


def test_text_input_with_a_latin1_declaration() -> None:
    text = (CAP / "usgs-earthquake-circle-iso8859-1.xml").read_bytes().decode("iso-8859-1")
    result = parse_cap(text)
    assert result.ok
    assert "Usulután" in result.incidents[0].info[0].headline


def test_signatures_are_ignored_without_warnings() -> None:
    for name in (
        "usgs-earthquake-circle-iso8859-1.xml",
        "ipaws-athoc-cancel-no-info-signed.xml",
        "eccc-snowfall-warning-update-signed-en-fr.xml",
    ):
        assert parse(name).warnings == [], name


def test_prefixed_document_with_two_blocks_in_one_language() -> None:
    result = parse("nsw-rfs-structure-fire-circle-prefixed.xml")
    assert warnings(result) == {("alert.info[1]", "info_merged")}
    info = result.incidents[0].info[0]
    assert info.cap_categories == [CapCategory.FIRE, CapCategory.MET]
    assert info.category == Category.OTHER  # a structure fire is not weather: Fire comes first
    (area,) = info.areas
    assert area.circles[0].radius_km == 25.0
    assert {g.value for g in area.geocodes} == {"AU-NSW", "2642"}
    assert "<br />" in info.description  # the escaped HTML is kept as text, not interpreted


def test_bilingual_texts_keep_their_language() -> None:
    incident = parse("oasis-example4-amber-alert-en-es.xml").incidents[0]
    spanish = incident.info_for("es")
    assert spanish is not None
    assert spanish.headline == "Alerta Amber en el condado de Los Ángeles"
    naads = parse("eccc-naads-wind-warning-update-fr-en.xml").incidents[0]
    assert naads.main_info is not None and naads.main_info.language == "fr-CA"
    assert naads.main_info.headline == "avertissement de vent en vigueur"


def test_cancel_without_info() -> None:
    incident = parse("ipaws-athoc-cancel-no-info-signed.xml").incidents[0]
    assert incident.info == []
    assert incident.references[0].identifier == "1017033100951096-517189320160225203219800"
    assert incident.key == "AtHoc/1017033100951096-517189320160225203219800"


def test_empty_references_element_is_a_warning() -> None:
    result = parse("eccc-special-weather-statement-en-fr-polygon.xml")
    assert warnings(result) == {("alert.references", "empty_references")}


def test_lenient_sample_is_accepted_with_one_warning_per_deviation() -> None:
    result = parse("lenient-krisinformation-se-vma-nonstandard-area.xml")
    assert result.ok
    assert warnings(result) == {
        ("alert.info[0].senderName", "element_order"),
        ("alert.info[0].resource", "element_order"),
        ("alert.info[0].resource[0].mimeType", "mime_type_case"),
        ("alert.info[0].area[0].Type", "unknown_element"),
        ("alert.info[0].area[0].Polygon", "unknown_element"),
        ("alert.info[0].area[1].Type", "unknown_element"),
        ("alert.info[0].area[1].Polygon", "unknown_element"),
    }
    polygon = next(w for w in result.warnings if w.path == "alert.info[0].area[0].Polygon")
    assert polygon.value == "16.5695265628148,61.4418656555802"  # the ignored content stays visible
    info = result.incidents[0].info[0]
    assert info.sender_name == "Sveriges Radio"
    assert [a.area_desc for a in info.areas] == ["Gävleborgs län", "Gävle"]
    assert info.web == "https://www.krisinformation.se/nyheter/2018/november/vma-gavle/"


# --- invalid samples ------------------------------------------------------------------------------


def test_invalid_missing_scope() -> None:
    result = parse("invalid-missing-scope.xml")
    assert result.incidents == []
    assert problems(result) == {("alert.scope", "required")}
    assert result.problems[0].hint


def test_invalid_wrong_namespace() -> None:
    result = parse("invalid-wrong-namespace.xml")
    assert result.incidents == []
    assert problems(result) == {("alert", "namespace")}
    assert result.problems[0].value == "{urn:oasis:names:tc:emergency:alerts:1.2}alert"
    assert "urn:oasis:names:tc:emergency:cap:1.2" in result.problems[0].hint


def test_invalid_cap11_empty_fields_and_broken_polygons() -> None:
    result = parse("invalid-cap11-namespace-empty-fields.xml")
    assert result.incidents == []
    assert problems(result) == {
        ("alert.info[0].urgency", "empty"),
        ("alert.info[0].severity", "empty"),
        ("alert.info[0].certainty", "empty"),
        ("alert.info[0].area[0].polygon[0]", "polygon_syntax"),
        ("alert.info[0].area[0].polygon[1]", "empty"),
    }
    stray = next(p for p in result.problems if p.rule == "polygon_syntax")
    assert stray.value == "+40.85,-118.09,"
    assert warnings(result) == {("alert.references", "empty_references")}


def test_invalid_xxe_is_refused_before_any_entity_is_read() -> None:
    result = parse("invalid-xxe-doctype-entities.xml")
    assert result.incidents == []
    assert problems(result) == {("", "xml_forbidden_construct")}
    assert "DOCTYPE" in result.problems[0].hint


def test_xxe_file_entity_never_reaches_the_result(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    document = (
        f'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>'
    ).encode()
    result = parse_cap(document)
    assert problems(result) == {("", "xml_forbidden_construct")}
    assert "TOP-SECRET-VALUE" not in result.model_dump_json()


def test_billion_laughs_is_refused_quickly() -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    document = f'<?xml version="1.0"?><!DOCTYPE alert [{entities}]><alert>&lol9;</alert>'.encode()
    started = time.monotonic()
    result = parse_cap(document)
    assert time.monotonic() - started < 1
    assert problems(result) == {("", "xml_forbidden_construct")}


# --- hand-made faults -------------------------------------------------------------------------


BASE = (CAP / "oasis-example2-thunderstorm-warning-polygon.xml").read_text(encoding="utf-8")


def test_cap_11_namespace_is_accepted() -> None:
    result = parse_cap(BASE.replace("cap:1.2", "cap:1.1"))
    assert result.ok and result.warnings == []


def test_unclosed_polygon() -> None:
    result = parse_cap(BASE.replace("38.62,-119.89 38.47,-120.14", "38.62,-119.89 38.40,-120.00"))
    assert problems(result) == {("alert.info[0].area[0].polygon[0]", "polygon_not_closed")}
    assert "38.47,-120.14" in result.problems[0].hint


def test_polygon_with_too_few_points_and_out_of_range() -> None:
    few = parse_cap(
        BASE.replace(
            "38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14",
            "38.47,-120.14 38.47,-120.14",
        )
    )
    assert problems(few) == {("alert.info[0].area[0].polygon[0]", "polygon_too_few_points")}
    swapped = parse_cap(BASE.replace("38.34,-119.95", "-119.95,38.34"))
    assert problems(swapped) == {("alert.info[0].area[0].polygon[0]", "coordinate_range")}


def test_invalid_dates() -> None:
    result = parse_cap(
        BASE.replace("2003-06-17T14:57:00-07:00", "17/06/2003 14:57").replace(
            "2003-06-17T16:00:00-07:00", "2003-06-17T16:00:00"
        )
    )
    assert problems(result) == {("alert.sent", "datetime"), ("alert.info[0].expires", "datetime")}
    assert all("offset" in p.hint for p in result.problems)


def test_z_designator_is_read_with_a_warning() -> None:
    result = parse_cap(BASE.replace("2003-06-17T14:57:00-07:00", "2003-06-17T21:57:00Z"))
    assert result.ok
    assert warnings(result) == {("alert.sent", "time_zone_designator")}


def test_bad_enum_values_and_case() -> None:
    result = parse_cap(
        BASE.replace("<status>Actual", "<status>Real").replace("<urgency>Immediate", "<urgency>Now")
    )
    assert problems(result) == {("alert.status", "enum"), ("alert.info[0].urgency", "enum")}
    assert "Actual" in result.problems[0].hint
    cased = parse_cap(BASE.replace("<scope>Public", "<scope>public"))
    assert cased.ok and cased.incidents[0].scope == Scope.PUBLIC
    assert warnings(cased) == {("alert.scope", "enum_case")}


def test_missing_and_empty_required_elements() -> None:
    result = parse_cap(
        BASE.replace("<identifier>KSTO1055887203</identifier>", "<identifier> </identifier>")
        .replace("<event>SEVERE THUNDERSTORM</event>", "")
        .replace("<category>Met</category>", "")
    )
    assert problems(result) == {
        ("alert.identifier", "empty"),
        ("alert.info[0].event", "required"),
        ("alert.info[0].category", "required"),
    }


def test_duplicate_and_unknown_elements() -> None:
    result = parse_cap(BASE.replace("<scope>Public</scope>", "<scope>Public</scope><scope>Private</scope>"))
    assert problems(result) == {("alert.scope[1]", "duplicate_element")}
    foreign = parse_cap(
        BASE.replace("<scope>Public</scope>", '<scope>Public</scope><x:y xmlns:x="urn:x">1</x:y>')
    )
    assert foreign.ok and warnings(foreign) == {("alert.y", "foreign_element")}


def test_expires_before_onset_is_located() -> None:
    result = parse_cap(BASE.replace("<expires>", "<onset>2003-06-17T18:00:00-07:00</onset><expires>"))
    assert problems(result) == {("alert.info[0].expires", "expires_before_onset")}


def test_update_without_references_is_refused() -> None:
    result = parse_cap(BASE.replace("<msgType>Alert", "<msgType>Update"))
    assert problems(result) == {("alert.references", "references_required")}


def test_malformed_references() -> None:
    result = parse_cap(
        BASE.replace(
            "<scope>Public</scope>", "<scope>Public</scope><references>a,b,notadate onlyone</references>"
        )
    )
    assert problems(result) == {
        ("alert.references[0]", "datetime"),
        ("alert.references[1]", "reference_syntax"),
    }


def test_headline_defaults_to_event() -> None:
    result = parse_cap(BASE.replace("<headline>SEVERE THUNDERSTORM WARNING</headline>", ""))
    assert result.incidents[0].info[0].headline == "SEVERE THUNDERSTORM"


def test_not_xml_and_not_cap() -> None:
    assert problems(parse_cap(b"<alert><identifier>")) == {("", "xml_syntax")}
    assert problems(parse_cap(b"")) == {("", "empty")}
    assert problems(parse_cap(b"<feed xmlns='http://www.w3.org/2005/Atom'/>")) == {("feed", "root_element")}


@pytest.mark.parametrize(
    ("categories", "event", "codes", "expected"),
    [
        ([CapCategory.TRANSPORT], "Grève des transports scolaires", [], Category.STRIKE),
        ([CapCategory.TRANSPORT], "Transport scolaire supprimé", [], Category.SCHOOL_TRANSPORT),
        ([CapCategory.MET], "Flood Warning", ["FLW"], Category.FLOOD),
        ([CapCategory.MET], "Canicule", [], Category.HEAT),
        ([CapCategory.INFRA], "Coupure d'eau potable", [], Category.WATER),
        ([CapCategory.TRANSPORT], "Route barrée", [], Category.ROAD_CLOSURE),
        ([CapCategory.TRANSPORT], "Accident", [], Category.TRANSPORT_DISRUPTION),
        ([CapCategory.INFRA], "Panne", [], Category.PUBLIC_SERVICE),
        ([CapCategory.GEO], "Earthquake", [], Category.OTHER),
        ([], "Wheat harvest", [], Category.OTHER),  # whole words only: 'heat' is not in 'wheat'
    ],
)
def test_category_mapping(
    categories: list[CapCategory], event: str, codes: list[str], expected: Category
) -> None:
    assert map_cap_category(categories, event, codes) == expected
