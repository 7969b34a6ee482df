"""CAP 1.2 out: every document the site publishes validates against the official OASIS schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from lxml import etree

from alertcast.models.incident import (
    Area,
    CapCategory,
    Category,
    Certainty,
    Circle,
    Geocode,
    Incident,
    Info,
    MsgType,
    Point,
    Reference,
    Scope,
    Severity,
    Status,
    Urgency,
)
from alertcast.site.cap_writer import (
    CAP_NS,
    cap_alert,
    cap_categories,
    cap_document,
    cap_documents,
    cap_time,
    reference_triples,
)

XSD = Path(__file__).resolve().parents[1].parent / "shared" / "schemas" / "CAP-v1.2.xsd"
NS = {"cap": CAP_NS}
SENT = datetime(2024, 12, 3, 6, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def info(**changes: Any) -> Info:
    values: dict[str, Any] = {
        "language": "fr-FR",
        "category": Category.ROAD_CLOSURE,
        "event": "Fermeture de route",
        "urgency": Urgency.IMMEDIATE,
        "severity": Severity.SEVERE,
        "certainty": Certainty.OBSERVED,
        "sender_name": "Préfecture du Pas-de-Calais",
        "headline": "La RD 939 est fermée entre Arras et Saint-Pol",
        "description": "Accident.\n\nDéviation par la RD 8.",
        "instruction": "Évitez le secteur.",
        "web": "https://www.pas-de-calais.gouv.fr/alertes/rd939",
        "contact": "03 21 21 20 00",
        "effective": SENT,
        "onset": SENT + timedelta(minutes=5),
        "expires": SENT + timedelta(hours=6),
        "areas": [
            Area(
                area_desc="Arras",
                polygons=[
                    [
                        Point(lat=50.29, lon=2.78),
                        Point(lat=50.30, lon=2.80),
                        Point(lat=50.28, lon=2.81),
                        Point(lat=50.29, lon=2.78),
                    ]
                ],
                circles=[Circle(center=Point(lat=50.2910, lon=2.7775), radius_km=2.5)],
                geocodes=[Geocode(value_name="INSEE", value="62041")],
            )
        ],
    }
    values.update(changes)
    return Info(**values)


def incident(**changes: Any) -> Incident:
    values: dict[str, Any] = {
        "identifier": "pref62-2024-0001",
        "sender": "pref62@interieur.gouv.fr",
        "sent": SENT,
    }
    values.setdefault("info", [info()])
    values.update(changes)
    return Incident(**values)


def assert_valid(schema: xmlschema.XMLSchema, document: bytes | etree._Element) -> None:
    text = document if isinstance(document, bytes) else etree.tostring(document)
    schema.validate(etree.fromstring(text))


def text(element: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in element.findall(path, NS)]


def test_a_full_bilingual_incident_validates_and_keeps_every_field(schema: xmlschema.XMLSchema) -> None:
    english = info(
        language="en",
        headline="Road RD 939 closed between Arras and Saint-Pol",
        description="Crash.",
        instruction="Avoid the area.",
        cap_categories=[CapCategory.TRANSPORT, CapCategory.SAFETY],
    )
    document = cap_document(incident(info=[info(), english]))
    assert_valid(schema, document)
    root = etree.fromstring(document)
    assert text(root, "cap:sent") == ["2024-12-03T07:30:00+01:00"]
    assert text(root, "cap:info/cap:language") == ["fr-FR", "en"]
    assert text(root, "cap:info/cap:category") == ["Transport", "Transport", "Safety"]
    first = root.find("cap:info", NS)
    assert first is not None
    assert text(first, "cap:onset") == ["2024-12-03T07:35:00+01:00"]
    assert text(first, "cap:expires") == ["2024-12-03T13:30:00+01:00"]
    assert text(first, "cap:area/cap:polygon") == ["50.29,2.78 50.3,2.8 50.28,2.81 50.29,2.78"]
    assert text(first, "cap:area/cap:circle") == ["50.291,2.7775 2.5"]
    assert text(first, "cap:area/cap:geocode/cap:valueName") == ["INSEE"]
    assert text(first, "cap:area/cap:geocode/cap:value") == ["62041"]
    assert text(first, "cap:description") == ["Accident.\n\nDéviation par la RD 8."]
    assert text(first, "cap:senderName") == ["Préfecture du Pas-de-Calais"]


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        (Category.WEATHER, ["Met"]),
        (Category.ROAD_CLOSURE, ["Transport"]),
        (Category.TRAFFIC, ["Transport"]),
        (Category.TRANSPORT_DISRUPTION, ["Transport"]),
        (Category.SCHOOL_TRANSPORT, ["Transport"]),
        (Category.FLOOD, ["Met"]),
        (Category.HEAT, ["Met", "Health"]),
        (Category.WATER, ["Infra"]),
        (Category.STRIKE, ["Other"]),
        (Category.PUBLIC_SERVICE, ["Other"]),
        (Category.OTHER, ["Other"]),
    ],
)
def test_every_category_maps_to_cap_and_validates(
    schema: xmlschema.XMLSchema, category: Category, expected: list[str]
) -> None:
    block = info(category=category)
    assert [c.value for c in cap_categories(block)] == expected
    assert_valid(schema, cap_document(incident(info=[block])))


def test_the_sources_own_cap_categories_win() -> None:
    block = info(category=Category.WEATHER, cap_categories=[CapCategory.GEO])
    assert cap_categories(block) == [CapCategory.GEO]


SAMPLE_LIKE = {
    # Shapes of the real samples in ../shared/samples/cap, rebuilt with the model.
    "minimal": {
        "info": [
            info(
                description="",
                instruction="",
                web=None,
                contact=None,
                sender_name=None,
                effective=None,
                onset=None,
                expires=None,
                areas=[],
            )
        ]
    },
    "exercise": {"status": Status.EXERCISE},
    "test-restricted": {"status": Status.TEST, "scope": Scope.RESTRICTED},
    "private": {"scope": Scope.PRIVATE},
    "multipolygon": {
        "info": [
            info(
                areas=[
                    Area(
                        area_desc="Côte d'Opale",
                        polygons=[
                            [
                                Point(lat=50.9, lon=1.8),
                                Point(lat=51.0, lon=1.9),
                                Point(lat=50.8, lon=2.0),
                                Point(lat=50.9, lon=1.8),
                            ],
                            [
                                Point(lat=-12.5, lon=-0.000001),
                                Point(lat=-12.4, lon=0.0),
                                Point(lat=-12.6, lon=0.1),
                                Point(lat=-12.5, lon=-0.000001),
                            ],
                        ],
                    ),
                    Area(
                        area_desc="Mer du Nord",
                        circles=[Circle(center=Point(lat=51.2, lon=2.1), radius_km=0)],
                    ),
                ]
            )
        ]
    },
    "en-es-amber": {
        "info": [
            info(language="en-US", category=Category.OTHER, headline="AMBER alert"),
            info(language="es-US", category=Category.OTHER, headline="Alerta AMBER"),
        ]
    },
    "underscore-language": {"info": [info(language="fr_FR")]},
    "web-with-spaces": {"info": [info(web="https://example.org/avis du préfet.pdf")]},
    "unknown-codes": {
        "info": [info(urgency=Urgency.UNKNOWN, severity=Severity.UNKNOWN, certainty=Certainty.UNKNOWN)]
    },
}


@pytest.mark.parametrize("name", sorted(SAMPLE_LIKE))
def test_sample_like_incidents_validate(schema: xmlschema.XMLSchema, name: str) -> None:
    assert_valid(schema, cap_document(incident(**SAMPLE_LIKE[name])))


def test_restricted_scope_carries_a_restriction(schema: xmlschema.XMLSchema) -> None:
    root = cap_alert(incident(scope=Scope.RESTRICTED), restriction="Services de l'État")
    assert text(root, "cap:restriction") == ["Services de l'État"]
    assert_valid(schema, root)


def test_update_and_cancel_reference_every_earlier_version(schema: xmlschema.XMLSchema) -> None:
    sender = "pref62@interieur.gouv.fr"
    first = incident()
    update = incident(
        identifier="pref62-2024-0001-u1",
        sent=SENT + timedelta(minutes=20),
        msg_type=MsgType.UPDATE,
        references=[Reference(sender=sender, identifier=first.identifier)],  # no sent: the source left it out
    )
    cancel = incident(
        identifier="pref62-2024-0001-c",
        sent=SENT + timedelta(hours=2),
        msg_type=MsgType.CANCEL,
        references=[Reference(sender=sender, identifier=update.identifier, sent=update.sent)],
        info=[],
    )
    documents = cap_documents([first, update, cancel])
    for document in documents:
        assert_valid(schema, document)
    assert text(documents[0], "cap:references") == []
    assert text(documents[1], "cap:references") == [f"{sender},pref62-2024-0001,2024-12-03T07:30:00+01:00"]
    assert text(documents[2], "cap:references") == [
        f"{sender},pref62-2024-0001-u1,2024-12-03T07:50:00+01:00"
        f" {sender},pref62-2024-0001,2024-12-03T07:30:00+01:00"
    ]
    assert documents[2].find("cap:info", NS) is None
    assert text(documents[2], "cap:msgType") == ["Cancel"]


def test_a_reference_whose_sent_is_unknown_still_names_the_message() -> None:
    update = incident(
        msg_type=MsgType.UPDATE, identifier="u", references=[Reference(sender="s", identifier="i")]
    )
    assert reference_triples(update) == ["s,i"]


def test_times_have_an_offset_whole_seconds_and_minus_zero_for_utc() -> None:
    moment = datetime(2024, 7, 14, 8, 0, 0, 123456, tzinfo=UTC)
    assert cap_time(moment) == "2024-07-14T10:00:00+02:00"
    assert cap_time(moment, "UTC") == "2024-07-14T08:00:00-00:00"
    assert cap_time(moment, "America/Toronto") == "2024-07-14T04:00:00-04:00"


def test_hostile_text_is_escaped_and_unencodable_characters_dropped(schema: xmlschema.XMLSchema) -> None:
    headline = "<script>alert(1)</script> & {{ 7*7 }}\x00\x0b fin"  # pydantic already refuses lone surrogates
    document = cap_document(incident(info=[info(headline=headline, web="javascript:alert(1)")]))
    assert b"<script>" not in document
    assert_valid(schema, document)
    root = etree.fromstring(document)
    assert text(root, "cap:info/cap:headline") == ["<script>alert(1)</script> & {{ 7*7 }} fin"]
