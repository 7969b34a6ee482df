"""The daily e-mail digest: once a day, each daily subscriber gets the alerts of the last 24 hours
that reached their areas, in one message, or nothing when there were none.

A digest goes through the usual delivery path, as one more delivery of the email_subscribers
channel: its "alert" is the day (`digest-2026-12-07`), its account the subscription, so the
ledger sends it once however often the leader asks (a restart, a new leader), and its receipt
shows on the console like any other. Its text is written here, not by the channel templates:
it lists alerts, it is not one.

When: at `hour` o'clock in the body's time zone (`ALERTCAST_DIGEST_HOUR`), for the 24 hours
before. What an alert is: its latest version approved in the window, matched against the
subscriptions by the same rule as immediate deliveries (alertcast.subscriptions.matching).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from babel.dates import format_date, format_time

from alertcast.models.alert import ChannelText, DeliveryRequest
from alertcast.models.incident import Incident
from alertcast.subscriptions.lanes import MAIL_LANE
from alertcast.subscriptions.matching import SubscriptionIndex
from alertcast.subscriptions.model import Subscription

CHANNEL = "email_subscribers"
WINDOW = timedelta(hours=24)
SENDER = "alertcast-digest"

WORDS = {
    "fr": {
        "headline": "Les alertes du {day} pour vos communes",
        "intro": "Alertes publiées ces dernières 24 heures pour les communes que vous suivez :",
        "ended": "(terminée)",
        "at": "à",
    },
    "en": {
        "headline": "Alerts of {day} for your areas",
        "intro": "Alerts published in the last 24 hours for the areas you follow:",
        "ended": "(ended)",
        "at": "at",
    },
}


@dataclass(frozen=True)
class Approved:
    """The latest approved version of one alert, as the digest lists it."""

    alert_id: str
    version: int
    incident: Incident
    approved_at: datetime


def digest_day(now: datetime, hour: int, tz: tzinfo, last: date | None) -> date | None:
    """The day whose digest is due at `now` (today, once the local hour is reached), or None
    when it was already made (`last`) or the hour has not come."""
    local = now.astimezone(tz)
    if local.hour < hour or last == local.date():
        return None
    return local.date()


def due_digests(
    index: SubscriptionIndex, recent: Iterable[Approved], now: datetime
) -> dict[str, list[Approved]]:
    """Each active daily subscriber's alerts of the window ending `now`, newest first; a
    subscriber whose areas no alert reached is left out (no empty digest)."""
    found: dict[str, list[Approved]] = {}
    for approved in sorted(recent, key=lambda a: a.approved_at, reverse=True):
        if not now - WINDOW < approved.approved_at <= now:
            continue
        for subscription_id in index.match(approved.incident, now):
            subscription = index.get(subscription_id)
            if (
                subscription is not None
                and subscription.channel == "email"
                and subscription.digest == "daily"
            ):
                found.setdefault(subscription_id, []).append(approved)
    return found


def digest_text(alerts: list[Approved], language: str, tz: tzinfo, site_url: str) -> str:
    words = WORDS.get(language, WORDS["fr"])
    lines = [words["intro"], ""]
    for approved in alerts:
        info = approved.incident.info_for(language) or approved.incident.main_info
        headline = info.headline if info is not None else approved.alert_id
        places = ", ".join(area.area_desc for area in info.areas) if info is not None else ""
        at = format_time(approved.approved_at.astimezone(tz), "HH:mm", locale=language)
        ended = f" {words['ended']}" if approved.incident.msg_type == "Cancel" else ""
        lines.append(f"- {headline}{ended}" + (f" – {places}" if places else "") + f" ({words['at']} {at})")
        if site_url:
            lines.append(f"  {site_url.rstrip('/')}/alerts/{approved.alert_id}.html")
    return "\n".join(lines)


def digest_request(
    subscription: Subscription, alerts: list[Approved], day: date, now: datetime, tz: tzinfo, site_url: str
) -> DeliveryRequest:
    """One subscriber's digest as a delivery: keyed by the day, so it is sent once."""
    language = subscription.language
    words = WORDS.get(language, WORDS["fr"])
    headline = words["headline"].format(day=format_date(day, "d MMMM y", locale=language))
    incident = Incident.model_validate(
        {
            "identifier": f"digest-{day.isoformat()}",
            "sender": SENDER,
            "sent": now,
            "status": "Actual",
            "msg_type": "Alert",
            "info": [{"language": language, "category": "other", "event": "digest", "headline": headline}],
        }
    )
    text = digest_text(alerts, language, tz, site_url)
    return DeliveryRequest(
        alert_id=f"digest-{day.strftime('%Y%m%d')}",
        version=1,
        channel=CHANNEL,
        account=subscription.id,
        incident=incident,
        text=ChannelText(channel=CHANNEL, language=language, text=text, length=len(text)),
        approved_at=now,
        lane=MAIL_LANE,
    )
