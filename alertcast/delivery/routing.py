"""Which accounts an alert goes to: by category and area, and exercises only to exercise accounts.

A département's roads account should not post a school-bus cancellation in another
département; an exercise must never reach a public account. Routes are configuration
(`ALERTCAST_ROUTES`): an account with no route takes every category and area, and is public.
"""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict, Field

from alertcast.models.incident import Category, Incident, Status

EXERCISE_STATUSES = (Status.EXERCISE, Status.TEST)


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str
    account: str
    categories: list[Category] = Field(default_factory=list, description="empty: every category")
    areas: list[str] = Field(
        default_factory=list,
        description="INSEE commune codes (62041), département codes (62, 2A) or area names; empty: all",
    )
    exercise: bool = Field(default=False, description="an exercise account: receives only exercises")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


def _codes_and_names(incident: Incident) -> tuple[set[str], set[str]]:
    codes: set[str] = set()
    names: set[str] = set()
    for info in incident.info:
        for area in info.areas:
            names.add(_fold(area.area_desc))
            for geocode in area.geocodes:
                codes.add(geocode.value.strip().upper())
    return codes, names


def _area_matches(wanted: str, codes: set[str], names: set[str]) -> bool:
    code = wanted.strip().upper()
    if code in codes:
        return True
    # A département code matches every INSEE commune code of that département (62 -> 62041);
    # overseas départements have three digits (971 -> 97105).
    if code.isalnum() and len(code) in (2, 3) and any(c.startswith(code) and len(c) == 5 for c in codes):
        return True
    return _fold(wanted) in names


def receives(route: Route, incident: Incident) -> bool:
    """Whether this account must publish this incident."""
    exercise = incident.status in EXERCISE_STATUSES
    if exercise != route.exercise:
        return False
    if route.categories and not any(info.category in route.categories for info in incident.info):
        return False
    if route.areas:
        codes, names = _codes_and_names(incident)
        return any(_area_matches(wanted, codes, names) for wanted in route.areas)
    return True


def select_accounts(
    incident: Incident, accounts: dict[str, list[str]], routes: list[Route]
) -> list[tuple[str, str]]:
    """(channel, account) pairs to deliver to; accounts without a route get a public default."""
    by_key = {(route.channel, route.account): route for route in routes}
    selected = []
    for channel, names in accounts.items():
        for account in names:
            route = by_key.get((channel, account), Route(channel=channel, account=account))
            if receives(route, incident):
                selected.append((channel, account))
    return selected
