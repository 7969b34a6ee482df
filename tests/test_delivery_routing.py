"""Routing: category and area choose the accounts; exercises reach only exercise accounts."""

from __future__ import annotations

from typing import Any

from alertcast.delivery.routing import Route, receives, select_accounts
from alertcast.models import Incident

ARRAS = {"area_desc": "Arras", "geocodes": [{"value_name": "INSEE", "value": "62041"}]}


def incident(status: str = "Actual", category: str = "road_closure", **area: Any) -> Incident:
    return Incident.model_validate(
        {
            "identifier": "r1",
            "sender": "routes@exemple.fr",
            "sent": "2026-12-03T07:00:00+01:00",
            "status": status,
            "info": [
                {
                    "category": category,
                    "event": "Fermeture",
                    "headline": "Route fermée",
                    "areas": [
                        area
                        or {"area_desc": "Arras", "geocodes": [{"value_name": "INSEE", "value": "62041"}]}
                    ],
                }
            ],
        }
    )


def test_an_account_without_route_takes_every_public_alert() -> None:
    assert receives(Route(channel="x", account="main"), incident())


def test_category_route() -> None:
    roads = Route(channel="x", account="routes", categories=["road_closure", "traffic"])
    assert receives(roads, incident(category="road_closure"))
    assert not receives(roads, incident(category="school_transport"))


def test_area_by_insee_code_departement_or_name() -> None:
    assert receives(Route(channel="x", account="a", areas=["62041"]), incident())
    assert receives(Route(channel="x", account="a", areas=["62"]), incident())
    assert not receives(Route(channel="x", account="a", areas=["59"]), incident())
    assert receives(Route(channel="x", account="a", areas=["arras"]), incident())
    accented = incident(area_desc="Béthune")
    assert receives(Route(channel="x", account="a", areas=["BETHUNE"]), accented)
    assert not receives(Route(channel="x", account="a", areas=["Lens"]), accented)


def test_exercises_reach_only_exercise_accounts_and_never_public_ones() -> None:
    public = Route(channel="x", account="main")
    drill = Route(channel="x", account="drill", exercise=True)
    for status in ("Exercise", "Test"):
        assert not receives(public, incident(status=status))
        assert receives(drill, incident(status=status))
    assert not receives(drill, incident(status="Actual"))


def test_select_accounts_over_channels() -> None:
    accounts = {"x": ["main", "drill"], "webhook": ["0"]}
    routes = [Route(channel="x", account="drill", exercise=True)]
    assert select_accounts(incident(), accounts, routes) == [("x", "main"), ("webhook", "0")]
    assert select_accounts(incident(status="Exercise"), accounts, routes) == [("x", "drill")]
