"""Where communes are, and finding one by name: what an alert's shapes are matched against.

The body supplies INSEE's COG (Code officiel géographique) converted to a small CSV:
`code,name,departement,lat,lon[,wkt]`, lines starting with `#` being comments. Without `wkt`
a commune is its town hall's point (WGS84), so an alert's polygon reaches it when the polygon
contains or touches that point; with `wkt` (a Polygon or MultiPolygon in WGS84, longitude
first as WKT always is) it is its outline, and any overlap counts. The outlines are better
(a polygon over the edge of a commune reaches it) but weigh megabytes for a whole country;
points are the cheap default. The shipped sample (data/communes-sample.csv) has approximate
points, for tests and the demo only.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely  # type: ignore[import-untyped]
from shapely.strtree import STRtree  # type: ignore[import-untyped]

from alertcast.charter.folding import fold
from alertcast.errors import ConfigurationError
from alertcast.subscriptions.codes import departement_of, is_commune, is_departement

SAMPLE = Path(__file__).resolve().parent / "data" / "communes-sample.csv"

_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})
_SEPARATORS = re.compile(r"[\s'\-]+")
_COLUMNS = ("code", "name", "departement", "lat", "lon")


class CommuneDataError(ConfigurationError, ValueError):
    """The communes file is wrong: the body's data, reported with its line, at load time."""


def search_key(text: str) -> str:
    """Folded for search: "Marcq-en-Barœul", "marcq en baroeul" and "MARCQ-EN-BARŒUL" agree."""
    return _SEPARATORS.sub(" ", fold(text).translate(_LIGATURES)).strip()


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    departement: str
    lat: float
    lon: float
    wkt: str | None = field(default=None, repr=False)


class CommuneRegistry:
    """Every commune the body serves, indexed by code, département, shape and name."""

    def __init__(self, communes: Iterable[Commune]) -> None:
        self._by_code: dict[str, Commune] = {}
        self._by_departement: dict[str, list[str]] = {}
        for commune in communes:
            _check(commune)
            if commune.code in self._by_code:
                raise CommuneDataError(f"commune {commune.code} is listed twice")
            self._by_code[commune.code] = commune
            self._by_departement.setdefault(commune.departement, []).append(commune.code)
        self._codes = list(self._by_code)
        self._tree = STRtree([_geometry(self._by_code[code]) for code in self._codes])
        self._keys = [(search_key(self._by_code[code].name), code) for code in self._codes]

    @classmethod
    def from_csv(cls, path: Path) -> CommuneRegistry:
        return cls.from_text(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def from_text(cls, text: str, source: str = "communes") -> CommuneRegistry:
        return cls(_read(text, source))

    @classmethod
    def sample(cls) -> CommuneRegistry:
        """About thirty communes of Pas-de-Calais and Nord, approximate: tests and the demo."""
        return cls.from_csv(SAMPLE)

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Commune | None:
        return self._by_code.get(code)

    def codes_in(self, departement: str) -> tuple[str, ...]:
        return tuple(self._by_departement.get(departement, ()))

    def intersecting(self, geometries: Sequence[Any]) -> set[str]:
        """Codes of the communes any of these shapely geometries (lon, lat) contains or touches."""
        if not geometries or not self._codes:
            return set()
        _, found = self._tree.query(list(geometries), predicate="intersects")
        return {self._codes[index] for index in found.tolist()}

    def search(self, text: str, limit: int = 10) -> list[Commune]:
        """For the subscribe page: names starting with the text first, then a word of the name
        starting with it, then the text anywhere; digits search the INSEE code."""
        query = search_key(text)
        if not query or limit <= 0:
            return []
        code_query = query.upper().replace(" ", "")
        by_code = code_query[:1].isdigit()
        ranked: list[tuple[int, str, str]] = []
        for key, code in self._keys:
            if (by_code and code.startswith(code_query)) or key.startswith(query):
                rank = 0
            elif f" {query}" in f" {key}":
                rank = 1
            elif query in key:
                rank = 2
            else:
                continue
            ranked.append((rank, key, code))
        ranked.sort()
        return [self._by_code[code] for _, _, code in ranked[:limit]]


def _check(commune: Commune) -> None:
    if not is_commune(commune.code):
        raise CommuneDataError(f"{commune.code!r} is not an INSEE commune code")
    if not is_departement(commune.departement) or departement_of(commune.code) != commune.departement:
        raise CommuneDataError(f"commune {commune.code} is not in département {commune.departement!r}")
    if not (-90 <= commune.lat <= 90 and -180 <= commune.lon <= 180):
        raise CommuneDataError(f"commune {commune.code}: lat,lon out of range (WGS84 degrees)")
    if not commune.name.strip():
        raise CommuneDataError(f"commune {commune.code} has no name")


def _geometry(commune: Commune) -> Any:
    if not commune.wkt:
        return shapely.Point(commune.lon, commune.lat)
    try:
        shape = shapely.from_wkt(commune.wkt)
    except shapely.errors.ShapelyError as error:
        raise CommuneDataError(f"commune {commune.code}: its outline is not WKT ({error})") from None
    if shape is None or shape.is_empty or shape.geom_type not in ("Polygon", "MultiPolygon"):
        raise CommuneDataError(f"commune {commune.code}: its outline must be a Polygon or MultiPolygon")
    return shape if shape.is_valid else shapely.make_valid(shape)


def _read(text: str, source: str) -> list[Commune]:
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if not line.startswith("#")]
    reader = csv.reader(io.StringIO("\n".join(line for _, line in lines)))
    rows = list(reader)
    if not rows or tuple(column.strip() for column in rows[0][:5]) != _COLUMNS:
        raise CommuneDataError(f"{source}: the first line must be {','.join(_COLUMNS)}[,wkt]")
    header = [column.strip() for column in rows[0]]
    communes = []
    for (number, _), row in zip(lines[1:], rows[1:], strict=False):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise CommuneDataError(f"{source} line {number}: {len(row)} columns, expected {len(header)}")
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        try:
            lat, lon = float(cells["lat"]), float(cells["lon"])
        except ValueError:
            raise CommuneDataError(f"{source} line {number}: lat and lon are decimal degrees") from None
        commune = Commune(
            code=cells["code"].upper(),
            name=cells["name"],
            departement=cells["departement"].upper(),
            lat=lat,
            lon=lon,
            wkt=cells.get("wkt") or None,
        )
        try:
            _check(commune)
        except CommuneDataError as error:
            raise CommuneDataError(f"{source} line {number}: {error}") from None
        communes.append(commune)
    return communes
