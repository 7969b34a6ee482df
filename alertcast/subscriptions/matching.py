"""Which subscriptions one alert version reaches, by area.

The fan-out calls `SubscriptionIndex.match` once per alert version and sends through the usual
delivery path; `match` is a pure function of the index, the incident and `now`, so computing it
again (a worker took the partition over) gives the same list. An alert reaches a subscription
when their areas meet:

- an INSEE commune geocode reaches that commune's subscribers and its département's;
- a département geocode (an "INSEE" or "département" geocode of 2 or 3 characters: 62, 2A,
  971) reaches the département's subscribers and those of each of its communes;
- CAP polygons and circles reach the communes they contain or touch (CommuneRegistry) and so,
  as above, those communes' and their départements' subscribers.

Only real, public alerts reach citizens: an exercise, a test, a draft or a restricted message
never does (as routing keeps exercises off public accounts). A Cancel usually has no area of
its own: the shell sends it to whoever received the version it cancels, not through `match`.

CAP writes points "lat,lon" while shapely (like WKT and GeoJSON) wants (x=lon, y=lat): the
incident model already holds named `lat`/`lon`, and this module is the one place they are put
in shapely's order. A circle becomes an ellipse in degrees that is a circle on the ground:
a kilometre is 1/111.32 of a degree of latitude, and 1/(111.32 × cos latitude) of a degree of
longitude (a spherical Earth: under 1 % off at French latitudes, far finer than an alert's
own precision). Shapes crossing the antimeridian are not handled (no French commune is near it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import shapely  # type: ignore[import-untyped]
from shapely import affinity

from alertcast.charter.folding import fold
from alertcast.models.incident import Area, Circle, Incident, Point, Scope, Status
from alertcast.subscriptions.codes import departement_of, is_commune, is_departement
from alertcast.subscriptions.communes import CommuneRegistry
from alertcast.subscriptions.model import Subscription

KM_PER_DEGREE = 111.32
_MIN_COS = 0.01  # near the poles a degree of longitude tends to nothing: keep the ellipse finite
_CODE = re.compile(r"[^0-9A-Za-z]+")


@dataclass(frozen=True)
class AlertAreas:
    """The communes and départements one alert covers (kept by the shell beside the match)."""

    communes: frozenset[str]
    departements: frozenset[str]


def polygon_geometry(points: list[Point]) -> Any:
    """A CAP polygon as a shapely one; a self-crossing outline is repaired, not refused."""
    polygon = shapely.Polygon([(point.lon, point.lat) for point in points])
    return polygon if polygon.is_valid else shapely.make_valid(polygon)


def circle_geometry(circle: Circle) -> Any:
    """A CAP circle (centre, radius in km) as a shape in degrees, round on the ground."""
    centre = shapely.Point(circle.center.lon, circle.center.lat)
    if circle.radius_km == 0:
        return centre
    cos_lat = max(math.cos(math.radians(circle.center.lat)), _MIN_COS)
    return affinity.scale(
        centre.buffer(1.0, quad_segs=16),
        xfact=circle.radius_km / (KM_PER_DEGREE * cos_lat),
        yfact=circle.radius_km / KM_PER_DEGREE,
        origin=centre,
    )


def _is_area_code(value_name: str) -> bool:
    name = fold(value_name)
    return "insee" in name or "depart" in name or name in ("dept", "dep")


def area_codes(area: Area) -> tuple[set[str], set[str]]:
    """(communes, départements) named by the area's geocodes; other geocodes are not ours."""
    communes: set[str] = set()
    departements: set[str] = set()
    for geocode in area.geocodes:
        if not _is_area_code(geocode.value_name):
            continue
        code = _CODE.sub("", geocode.value).upper()
        if is_commune(code):
            communes.add(code)
        elif is_departement(code):
            departements.add(code)
    return communes, departements


def alert_areas(incident: Incident, registry: CommuneRegistry) -> AlertAreas:
    """Every info block counts: languages normally share areas, and a union never loses one."""
    communes: set[str] = set()
    departements: set[str] = set()
    shapes: list[Any] = []
    for info in incident.info:
        for area in info.areas:
            named_communes, named_departements = area_codes(area)
            communes |= named_communes
            departements |= named_departements
            shapes.extend(polygon_geometry(polygon) for polygon in area.polygons)
            shapes.extend(circle_geometry(circle) for circle in area.circles)
    communes |= registry.intersecting(shapes)
    return AlertAreas(frozenset(communes), frozenset(departements))


def reaches_citizens(incident: Incident) -> bool:
    return incident.status == Status.ACTUAL and incident.scope == Scope.PUBLIC


class SubscriptionIndex:
    """The subscriptions by area code, kept current from the compacted topic by `put`/`remove`.

    Only confirmed, not ended subscriptions are indexed; whether one has fallen silent is decided
    at match time against `now`, by the same rule as `Subscription.status`.
    """

    def __init__(
        self, subscriptions: Iterable[Subscription], registry: CommuneRegistry, silence: timedelta
    ) -> None:
        self.registry = registry
        self.silence = silence
        self._held: dict[str, Subscription] = {}
        self._until: dict[str, datetime] = {}
        self._by_area: dict[str, set[str]] = {}
        self._communes_of: dict[str, set[str]] = {}  # département -> communes with subscribers
        for subscription in subscriptions:
            self.put(subscription)

    def __len__(self) -> int:
        return len(self._held)

    def get(self, subscription_id: str) -> Subscription | None:
        """The subscription as last indexed (None: ended, erased or never confirmed)."""
        return self._held.get(subscription_id)

    def put(self, subscription: Subscription) -> None:
        """The subscription's latest value (the topic's); it replaces any earlier one."""
        self.remove(subscription.id)
        until = subscription.active_until(self.silence)
        if until is None:
            return
        self._held[subscription.id] = subscription
        self._until[subscription.id] = until
        for code in subscription.areas:
            self._by_area.setdefault(code, set()).add(subscription.id)
            if is_commune(code):
                self._communes_of.setdefault(departement_of(code), set()).add(code)

    def remove(self, subscription_id: str) -> None:
        """A tombstone (null value) or an ended subscription."""
        subscription = self._held.pop(subscription_id, None)
        if subscription is None:
            return
        del self._until[subscription_id]
        for code in subscription.areas:
            holders = self._by_area[code]
            holders.discard(subscription_id)
            if not holders:
                del self._by_area[code]
                if is_commune(code):
                    self._communes_of[departement_of(code)].discard(code)

    def match(self, incident: Incident, now: datetime) -> list[str]:
        """Ids of the active subscriptions this alert version reaches, sorted, each once."""
        if not reaches_citizens(incident):
            return []
        covered = alert_areas(incident, self.registry)
        codes = set(covered.communes) | set(covered.departements)
        codes.update(departement_of(commune) for commune in covered.communes)
        for departement in covered.departements:
            codes |= self._communes_of.get(departement, set())
        found: set[str] = set()
        for code in codes:
            found |= self._by_area.get(code, set())
        until = self._until
        return sorted(subscription_id for subscription_id in found if now < until[subscription_id])
