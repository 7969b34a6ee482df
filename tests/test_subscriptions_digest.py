"""The daily digest (alertcast.subscriptions.digest): when it is due, whom it reaches, what it says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alertcast.models.incident import Incident
from alertcast.subscriptions.communes import CommuneRegistry
from alertcast.subscriptions.digest import Approved, digest_day, digest_request, digest_text, due_digests
from alertcast.subscriptions.matching import SubscriptionIndex
from alertcast.subscriptions.model import Subscription, create

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)  # 07:00 in Paris
ARRAS, LENS = "62041", "62498"


def subscriber(area: str, digest: str = "daily", language: str = "fr") -> Subscription:
    made = create(
        areas=[area],
        channel="email",
        email="claire@exemple.fr",
        digest=digest,
        language=language,
        now=NOW - timedelta(days=3),
    )
    assert isinstance(made, Subscription)
    active = made.confirmed(NOW - timedelta(days=3))
    assert isinstance(active, Subscription)
    return active


def approved(alert_id: str, area: str, hours_ago: float, **info: Any) -> Approved:
    incident = Incident.model_validate(
        {
            "identifier": alert_id,
            "sender": "dir-nord",
            "sent": NOW - timedelta(hours=hours_ago),
            "status": "Actual",
            "msg_type": "Alert",
            "info": [
                {
                    "category": "road_closure",
                    "event": "Route fermée",
                    "headline": info.get("headline", f"Route fermée {alert_id}"),
                    "areas": [
                        {
                            "area_desc": info.get("place", "Arras"),
                            "geocodes": [{"value_name": "INSEE", "value": area}],
                        }
                    ],
                }
            ],
        }
    )
    return Approved(alert_id, 1, incident, NOW - timedelta(hours=hours_ago))


def test_the_digest_is_due_once_a_day_from_the_local_hour() -> None:
    assert digest_day(NOW, 7, PARIS, None) == date(2026, 3, 10)
    assert digest_day(NOW - timedelta(minutes=1), 7, PARIS, None) is None  # 06:59 in Paris
    assert digest_day(NOW, 7, PARIS, date(2026, 3, 10)) is None  # made already today
    assert digest_day(NOW, 7, ZoneInfo("Indian/Reunion"), None) == date(2026, 3, 10)  # 10:00 there


def test_daily_subscribers_get_their_areas_alerts_of_the_last_24_hours_and_nobody_gets_an_empty_one() -> None:
    arras, lens, immediate = subscriber(ARRAS), subscriber(LENS), subscriber(ARRAS, digest="immediate")
    index = SubscriptionIndex([arras, lens, immediate], CommuneRegistry.sample(), timedelta(days=365))
    recent = [
        approved("a1", ARRAS, 2),
        approved("a2", ARRAS, 20),
        approved("old", ARRAS, 30),
        approved("l1", "59350", 1),
    ]
    due = due_digests(index, recent, NOW)
    assert list(due) == [arras.id]  # Lens had no alert; the immediate subscriber had each already
    assert [a.alert_id for a in due[arras.id]] == ["a1", "a2"]  # newest first, the 30-hour-old one left out


def test_the_digest_lists_each_alert_with_its_place_time_and_page_and_is_keyed_by_the_day() -> None:
    arras = subscriber(ARRAS)
    alerts = [approved("a1", ARRAS, 2, headline="Route D 939 fermée", place="Arras <centre>")]
    text = digest_text(alerts, "fr", PARIS, "https://alertes.example.fr/")
    assert "Route D 939 fermée – Arras <centre> (à 05:00)" in text  # 04:00 UTC, winter time
    assert "https://alertes.example.fr/alerts/a1.html" in text
    request = digest_request(arras, alerts, date(2026, 3, 10), NOW, PARIS, "")
    again = digest_request(arras, alerts, date(2026, 3, 10), NOW + timedelta(minutes=5), PARIS, "")
    assert request.delivery_key == again.delivery_key == f"digest-20260310:1:email_subscribers:{arras.id}"
    assert request.partition_key == b"email_subscribers:mail"
    assert request.incident.main_info is not None
    assert request.incident.main_info.headline == "Les alertes du 10 mars 2026 pour vos communes"
    english = digest_request(subscriber(ARRAS, language="en"), alerts, date(2026, 3, 10), NOW, PARIS, "")
    assert english.text is not None and english.text.text.startswith("Alerts published in the last 24 hours")
