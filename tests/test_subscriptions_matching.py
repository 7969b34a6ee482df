"""Who an alert reaches: by INSEE commune, by département, by CAP polygon (lat,lon!) and circle,
only active subscriptions, each once; and finding a commune by name for the subscribe page."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alertcast.models.incident import Incident
from alertcast.subscriptions.communes import Commune, CommuneDataError, CommuneRegistry
from alertcast.subscriptions.matching import SubscriptionIndex, alert_areas
from alertcast.subscriptions.model import Subscription, create

T0 = datetime(2030, 3, 1, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
SILENCE = timedelta(days=90)
ARRAS = (50.2910, 2.7775)
REGISTRY = CommuneRegistry.sample()


def sub(subscription_id: str, *areas: str) -> Subscription:
    made = create(areas=list(areas), channel="feed", now=T0, subscription_id=f"{subscription_id:_<16}")
    assert isinstance(made, Subscription), made
    return made


def alert(*areas: dict[str, Any], status: str = "Actual") -> Incident:
    return Incident.model_validate(
        {
            "identifier": "test-1",
            "sender": "prefecture@example.fr",
            "sent": T0,
            "status": status,
            "info": [
                {
                    "category": "road_closure",
                    "event": "Route fermée",
                    "headline": "Route fermée",
                    "areas": list(areas),
                }
            ],
        }
    )


def insee(*codes: str, name: str = "INSEE") -> dict[str, Any]:
    return {"area_desc": "Zone", "geocodes": [{"value_name": name, "value": code} for code in codes]}


def polygon(*lat_lon: tuple[float, float]) -> dict[str, Any]:
    points = [{"lat": lat, "lon": lon} for lat, lon in (*lat_lon, lat_lon[0])]
    return {"area_desc": "Polygone", "polygons": [points]}


def circle(lat: float, lon: float, radius_km: float) -> dict[str, Any]:
    return {"area_desc": "Cercle", "circles": [{"center": {"lat": lat, "lon": lon}, "radius_km": radius_km}]}


def ids(*subscriptions: Subscription) -> list[str]:
    return sorted(s.id for s in subscriptions)


ARRAS_SUB, ARRAS_LENS, LENS, PAS_DE_CALAIS, NORD, LILLE = (
    sub("arras", "62041"),
    sub("arras-lens", "62041", "62498", "62"),
    sub("lens", "62498"),
    sub("pas-de-calais", "62"),
    sub("nord", "59"),
    sub("lille", "59350"),
)
EVERYONE = [ARRAS_SUB, ARRAS_LENS, LENS, PAS_DE_CALAIS, NORD, LILLE]
INDEX = SubscriptionIndex(EVERYONE, REGISTRY, SILENCE)


def test_a_commune_reaches_its_subscribers_and_its_departement_s_each_once() -> None:
    assert INDEX.match(alert(insee("62041")), NOW) == ids(ARRAS_SUB, ARRAS_LENS, PAS_DE_CALAIS)
    both = INDEX.match(alert(insee("62041", "62498"), insee("62041", name="code INSEE")), NOW)
    assert both == ids(ARRAS_SUB, ARRAS_LENS, LENS, PAS_DE_CALAIS)
    assert INDEX.match(alert(insee("59350")), NOW) == ids(NORD, LILLE)
    assert INDEX.match(alert(insee("62 041")), NOW) == INDEX.match(alert(insee("62041")), NOW)


def test_a_departement_reaches_its_subscribers_and_all_its_communes_subscribers() -> None:
    assert INDEX.match(alert(insee("62")), NOW) == ids(ARRAS_SUB, ARRAS_LENS, LENS, PAS_DE_CALAIS)
    assert INDEX.match(alert(insee("59", name="DEPARTEMENT")), NOW) == ids(NORD, LILLE)
    assert INDEX.match(alert(insee("59", name="département")), NOW) == ids(NORD, LILLE)


def test_geocodes_of_other_schemes_are_not_read_as_communes() -> None:
    assert INDEX.match(alert(insee("62041", name="SAME"), insee("62", name="FIPS6")), NOW) == []


def test_a_polygon_reaches_the_communes_it_covers_read_as_lat_lon() -> None:
    around_arras = [(50.285, 2.770), (50.285, 2.785), (50.297, 2.785), (50.297, 2.770)]
    assert alert_areas(alert(polygon(*around_arras)), REGISTRY).communes == {"62041"}
    assert INDEX.match(alert(polygon(*around_arras)), NOW) == ids(ARRAS_SUB, ARRAS_LENS, PAS_DE_CALAIS)
    swapped = [(lon, lat) for lat, lon in around_arras]  # off Somalia: CAP order matters
    assert INDEX.match(alert(polygon(*swapped)), NOW) == []


def test_a_polygon_touching_a_town_hall_reaches_it() -> None:
    lat, lon = ARRAS
    edge = [(lat - 0.01, lon), (lat + 0.01, lon), (lat + 0.01, lon - 0.01), (lat - 0.01, lon - 0.01)]
    assert "62041" in alert_areas(alert(polygon(*edge)), REGISTRY).communes


def test_a_self_crossing_polygon_is_repaired_not_refused() -> None:
    lat, lon = ARRAS
    bow_tie = [
        (lat - 0.01, lon - 0.01),
        (lat + 0.01, lon + 0.01),
        (lat - 0.01, lon + 0.01),
        (lat + 0.01, lon - 0.01),
    ]
    assert "62041" in alert_areas(alert(polygon(*bow_tie)), REGISTRY).communes


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance, to check the circles against the ground, not against degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


@pytest.mark.parametrize("radius_km", [0.5, 1.5, 2.1, 2.5, 3.5, 15, 25, 30])
def test_a_circle_reaches_the_communes_within_its_radius_on_the_ground(radius_km: float) -> None:
    covered = alert_areas(alert(circle(*ARRAS, radius_km)), REGISTRY).communes
    for code in ("62041", "62004", "62753", "62764", "62099", "62263", "62498", "62080", "59178", "59350"):
        commune = REGISTRY.get(code)
        assert commune is not None
        distance = _km(*ARRAS, commune.lat, commune.lon)
        if abs(distance - radius_km) > radius_km * 0.01:
            assert (code in covered) == (distance < radius_km), (code, distance)


def test_a_circle_reaches_subscribers_through_communes() -> None:
    assert INDEX.match(alert(circle(*ARRAS, 1.5)), NOW) == ids(ARRAS_SUB, ARRAS_LENS, PAS_DE_CALAIS)
    assert INDEX.match(alert(circle(50.6365, 3.0635, 0)), NOW) == ids(NORD, LILLE)  # a point: Lille's


def test_an_alert_elsewhere_reaches_nobody() -> None:
    marseille = [(43.28, 5.35), (43.28, 5.40), (43.32, 5.40), (43.32, 5.35)]
    elsewhere = alert(insee("13055"), insee("13"), polygon(*marseille), circle(43.3, 5.37, 10))
    assert INDEX.match(elsewhere, NOW) == []
    assert INDEX.match(alert({"area_desc": "Rocade nord"}), NOW) == []


@pytest.mark.parametrize("status", ["Exercise", "Test", "Draft", "System"])
def test_an_exercise_or_test_reaches_no_citizen(status: str) -> None:
    assert INDEX.match(alert(insee("62041"), status=status), NOW) == []


def test_only_active_subscriptions_are_reached() -> None:
    pending = create(
        areas=["62041"], channel="email", email="a@b.fr", now=T0, subscription_id="pending_________"
    )
    ended = sub("ended", "62041").ended(T0 + timedelta(hours=1), "unsubscribed")
    seen = sub("seen", "62041").seen(T0 + timedelta(days=80))
    assert (
        isinstance(pending, Subscription)
        and isinstance(ended, Subscription)
        and isinstance(seen, Subscription)
    )
    silent = sub("silent", "62041")
    index = SubscriptionIndex([pending, ended, seen, silent], REGISTRY, SILENCE)
    arras = alert(insee("62041"))
    assert index.match(arras, NOW) == ids(seen, silent)
    later = T0 + SILENCE + timedelta(days=1)
    assert index.match(arras, later) == [seen.id]  # silent has expired
    everyone = [pending, ended, seen, silent]
    for now in (T0, NOW, later, T0 + timedelta(days=400)):
        assert index.match(arras, now) == ids(*(s for s in everyone if s.status(now, SILENCE) == "active"))


def test_the_index_follows_the_topic() -> None:
    index = SubscriptionIndex([ARRAS_SUB, LENS], REGISTRY, SILENCE)
    arras, pas_de_calais = alert(insee("62041")), alert(insee("62"))
    ended = ARRAS_SUB.ended(NOW, "unsubscribed")
    assert isinstance(ended, Subscription)
    index.put(ended)
    assert index.match(arras, NOW) == [] and index.match(pas_de_calais, NOW) == [LENS.id]
    index.put(ARRAS_SUB)
    index.put(ARRAS_SUB)
    assert len(index) == 2 and index.match(pas_de_calais, NOW) == ids(ARRAS_SUB, LENS)
    index.remove(LENS.id)
    index.remove("never-held")
    assert index.match(pas_de_calais, NOW) == [ARRAS_SUB.id]
    moved = ARRAS_SUB.model_copy(update={"areas": ["59350"]})
    index.put(moved)
    assert index.match(pas_de_calais, NOW) == [] and index.match(alert(insee("59")), NOW) == [moved.id]


def test_the_same_alert_gives_the_same_answer() -> None:
    incident = alert(insee("62"), polygon((50.2, 2.7), (50.2, 2.9), (50.5, 2.9), (50.5, 2.7)))
    assert INDEX.match(incident, NOW) == INDEX.match(incident, NOW) == sorted(set(INDEX.match(incident, NOW)))


def test_a_commune_with_an_outline_is_reached_by_a_polygon_over_its_edge() -> None:
    registry = CommuneRegistry.from_text(
        "code,name,departement,lat,lon,wkt\n"
        '62041,Arras,62,50.2910,2.7775,"POLYGON ((2.74 50.27, 2.81 50.27, 2.81 50.31, 2.74 50.31, '
        '2.74 50.27))"\n'
        "62498,Lens,62,50.4320,2.8330,\n"
    )
    edge_only = alert(polygon((50.30, 2.80), (50.30, 2.85), (50.35, 2.85), (50.35, 2.80)))
    assert alert_areas(edge_only, registry).communes == {"62041"}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("code,nom,departement,lat,lon\n", "first line"),
        ("code,name,departement,lat,lon\n62041,Arras,62,50.29\n", "line 2"),
        ("code,name,departement,lat,lon\n# comment\n62041,Arras,62,north,2.77\n", "line 3"),
        ("code,name,departement,lat,lon\n62041,Arras,59,50.29,2.77\n", "not in département"),
        ("code,name,departement,lat,lon\n20041,Ajaccio,20,41.9,8.7\n", "not an INSEE commune code"),
        ("code,name,departement,lat,lon\n62041,Arras,62,50.29,2.77\n62041,Arras,62,50.29,2.77\n", "twice"),
        ("code,name,departement,lat,lon,wkt\n62041,Arras,62,50.29,2.77,POINT (2 50)\n", "Polygon"),
        ("code,name,departement,lat,lon,wkt\n62041,Arras,62,50.29,2.77,POLYGON ((2\n", "WKT"),
    ],
)
def test_a_bad_communes_file_says_where(text: str, error: str) -> None:
    with pytest.raises(CommuneDataError, match=error):
        CommuneRegistry.from_text(text)


def names(found: list[Commune]) -> list[str]:
    return [commune.name for commune in found]


def test_search_ignores_accents_case_and_hyphens() -> None:
    assert names(REGISTRY.search("lievin")) == names(REGISTRY.search("LIÉVIN")) == ["Liévin"]
    assert names(REGISTRY.search("Etaples")) == ["Étaples"]
    assert names(REGISTRY.search("béthune")) == ["Béthune"]
    assert names(REGISTRY.search("marcq en baroeul")) == ["Marcq-en-Barœul"]
    assert names(REGISTRY.search("villeneuve d’ascq")) == ["Villeneuve-d'Ascq"]
    assert names(REGISTRY.search("cambresis")) == ["Le Cateau-Cambrésis"]


def test_search_puts_names_starting_with_the_text_first() -> None:
    found = names(REGISTRY.search("sur"))
    assert found[:2] == ["Boulogne-sur-Mer", "Montreuil-sur-Mer"]  # a word starts with it
    saint = names(REGISTRY.search("saint", limit=3))
    assert len(saint) == 3 and all(name.startswith("Saint") for name in saint)
    assert names(REGISTRY.search("ens")) == ["Lens"]  # anywhere, last


def test_search_by_code_and_nothing_for_nothing() -> None:
    assert names(REGISTRY.search("62041")) == ["Arras"]
    assert {c.departement for c in REGISTRY.search("59", limit=50)} == {"59"}
    assert REGISTRY.search("") == REGISTRY.search("  -- ") == REGISTRY.search("Arras", limit=0) == []
    assert REGISTRY.search("Marseille") == []
