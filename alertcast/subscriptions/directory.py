"""The official communes a citizen picks on the subscribe page: found by name or postcode, and
the codes a subscription may hold checked against them.

The body's communes file (alertcast.subscriptions.communes) says where communes are, for
matching alerts; it may cover a few départements only. A citizen, though, may live anywhere
and type any spelling, so the page searches Etalab's list of every French commune
(alertcast.communes): current communes and municipal arrondissements are what one subscribes
to; a delegated or associated commune (a village merged into a "commune nouvelle") is found
by its own name, since people still write it, and gives its current commune, whose code the
alerts use.

Pure and offline: built once from the list, then every search is a scan of folded names
(`search_key`: "Marcq-en-Barœul", "marcq en baroeul" and "MARCQ-EN-BARŒUL" agree), about
10 ms over 37,000 names, which the per-client rate limit of the web process bounds.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from alertcast import communes as official
from alertcast.i18n import N_
from alertcast.models.problem import Problem
from alertcast.subscriptions.codes import is_commune, is_departement
from alertcast.subscriptions.communes import search_key

MAX_RESULTS = 20
MIN_NAME_LENGTH = 2
MAX_QUERY_LENGTH = 100
SUBSCRIBABLE = ("commune-actuelle", "arrondissement-municipal")
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_CODE_QUERY = re.compile(r"^[0-9][0-9AB][0-9]{0,3}$")  # two characters at least: "6" matches thousands


@dataclass(frozen=True)
class Place:
    """A commune as the page shows it and the API answers it."""

    code: str
    name: str
    departement: str
    postcodes: tuple[str, ...]
    population: int = 0
    via: str | None = None  # the former commune's name the search matched, if that is how

    def as_json(self) -> dict[str, object]:
        found: dict[str, object] = {
            "code": self.code,
            "name": self.name,
            "departement": self.departement,
            "postcodes": list(self.postcodes),
        }
        if self.via:
            found["via"] = self.via
        return found

    @property
    def label(self) -> str:
        """The name and postcode ("Beuvry (62660)"): many communes share a name."""
        where = ", ".join(self.postcodes[:2]) or self.departement
        return f"{self.name} ({where})"


class CommuneDirectory:
    """Every commune one may subscribe to, by code, and searchable by name and postcode."""

    def __init__(self, entries: Iterable[official.OfficialCommune]) -> None:
        listed = list(entries)
        self._places: dict[str, Place] = {}
        self._former: dict[str, str] = {}  # delegated/associated code -> its current commune
        for entry in listed:
            if entry.type in SUBSCRIBABLE and entry.departement and entry.code not in self._places:
                self._places[entry.code] = Place(
                    code=entry.code,
                    name=entry.nom,
                    departement=entry.departement,
                    postcodes=tuple(sorted(set(entry.codesPostaux))),
                    population=entry.population or 0,
                )
        names = [(search_key(p.name), p.code, "") for p in self._places.values()]
        for entry in listed:
            parent = entry.chefLieu or entry.commune
            if entry.type not in SUBSCRIBABLE and parent in self._places:
                if entry.nom != self._places[parent].name:
                    names.append((search_key(entry.nom), parent, entry.nom))
                if entry.code != parent:
                    self._former.setdefault(entry.code, parent)
        self._names = sorted(set(names))
        # Postcodes and codes in one sorted list: a prefix is a range found by bisection.
        self._numbers = sorted(
            {(number, p.code) for p in self._places.values() for number in (p.code, *p.postcodes)}
        )
        self._departements = frozenset(p.departement for p in self._places.values())

    @classmethod
    def official(cls) -> CommuneDirectory:
        """From the installed list (`CommunesMissing` says how to install it); built once per
        process (about 1.5 s: the list is 37,000 entries)."""
        return _official()

    def __len__(self) -> int:
        return len(self._places)

    def get(self, code: str) -> Place | None:
        return self._places.get(code)

    def search(self, text: str, limit: int = MAX_RESULTS) -> list[Place]:
        """Names equal to the query first, then starting with it, then a word of the name
        starting with it, then containing it; the most populated first within each. Digits
        search postcodes and INSEE codes ("62660", "62126", "626")."""
        query = search_key(text[:MAX_QUERY_LENGTH])
        limit = max(0, min(limit, MAX_RESULTS))
        if not query or limit == 0:
            return []
        compact = query.replace(" ", "").upper()
        if _CODE_QUERY.match(compact):
            return self._by_number(compact, limit)
        if len(query) < MIN_NAME_LENGTH:
            return []
        query = " ".join(_ABBREVIATIONS.get(word, word) for word in query.split())
        best: dict[str, tuple[int, str]] = {}
        for key, code, via in self._names:
            if query not in key:
                continue
            if key == query:
                rank = 0
            elif key.startswith(query):
                rank = 1
            elif f" {query}" in f" {key}":
                rank = 2
            else:
                rank = 3
            if rank < best.get(code, (4, ""))[0]:
                best[code] = (rank, via)
        return self._ranked(best, limit)

    def check_area(self, code: str, path: str) -> Problem | None:
        """None when `code` is a commune one may subscribe to or a département that exists."""
        if is_departement(code):
            if code in self._departements:
                return None
            return Problem.said(
                path,
                "unknown_departement",
                N_("%(code)s is not a département of the official list"),
                N_("give a département number such as 62, 2A or 971"),
                value=code,
                code=code,
            )
        if code in self._places:
            return None
        parent = self._former.get(code)
        if parent is not None:
            place = self._places[parent]
            return Problem.said(
                path,
                "former_commune",
                N_("%(code)s is a former commune, now part of %(name)s (%(current)s)"),
                N_("subscribe to %(current)s: alerts name the current commune"),
                value=code,
                code=code,
                name=place.name,
                current=place.code,
            )
        return Problem.said(
            path,
            "unknown_commune" if is_commune(code) else "area_code",
            N_("%(code)s is not the INSEE code of a commune of the official list"),
            N_("search the commune by name or postcode on the subscribe page"),
            value=code[:40],
            code=repr(code[:40]),
        )

    def _by_number(self, digits: str, limit: int) -> list[Place]:
        best: dict[str, tuple[int, str]] = {}
        start = bisect.bisect_left(self._numbers, (digits, ""))
        for number, code in self._numbers[start:]:
            if not number.startswith(digits):
                break
            rank = 0 if number == digits else 1
            if rank < best.get(code, (2, ""))[0]:
                best[code] = (rank, "")
        return self._ranked(best, limit)

    def _ranked(self, best: dict[str, tuple[int, str]], limit: int) -> list[Place]:
        order = sorted(best, key=lambda code: (best[code][0], -self._places[code].population, code))
        return [
            replace(self._places[code], via=best[code][1]) if best[code][1] else self._places[code]
            for code in order[:limit]
        ]


@functools.lru_cache(maxsize=1)
def _official() -> CommuneDirectory:
    return CommuneDirectory(official.load())
