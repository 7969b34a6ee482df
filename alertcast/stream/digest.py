"""The daily e-mail digest's shell: every worker keeps the last two days of approvals, and the
leader asks each daily subscriber's digest once the hour has come (alertcast.subscriptions.digest
decides what and when; the ledger makes each digest go out once, whoever asks again).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from zoneinfo import ZoneInfo

from alertcast.clock import clock
from alertcast.models.alert import Approval
from alertcast.stream import subscriptions
from alertcast.stream.app import app, produce, requests, settings
from alertcast.stream.follow import follow
from alertcast.subscriptions.digest import WINDOW, Approved, digest_day, digest_request, due_digests

log = logging.getLogger(__name__)

TICK_S = 5.0  # cheap: most ticks find the day done
KEPT = 2 * WINDOW  # what a late digest (a worker down at the hour) may still need

tz = ZoneInfo(settings.timezone)
recent: dict[str, Approved] = {}  # alert id -> its latest approved version
loaded = asyncio.Event()
_last: date | None = None


def _apply(key: bytes | None, value: bytes | None) -> None:
    if value is None:
        return
    try:
        approval = Approval.model_validate_json(value)
    except ValueError:
        return  # the fan-out reports an unreadable approval
    draft = approval.draft
    held = recent.get(draft.alert_id)
    if held is None or held.version <= draft.version:
        recent[draft.alert_id] = Approved(draft.alert_id, draft.version, draft.incident, approval.approved_at)


async def follow_approvals() -> None:
    await follow("alerts.approved", _apply, loaded)


async def send_due() -> None:
    """On the leader: once a day at the hour, every daily subscriber's digest, through the
    delivery path (keyed by its lane, as every subscriber delivery)."""
    global _last
    assert settings.digest_hour is not None
    now = clock.now()
    day = digest_day(now, settings.digest_hour, tz, _last)
    if day is None or not loaded.is_set() or not subscriptions.loaded.is_set():
        return
    for alert_id in [a for a, held in recent.items() if held.approved_at < now - KEPT]:
        del recent[alert_id]
    due = due_digests(subscriptions.index, recent.values(), now)
    sends = []
    for subscription_id, alerts in due.items():
        subscription = subscriptions.index.get(subscription_id)
        if subscription is not None:
            request = digest_request(subscription, alerts, day, now, tz, settings.site_base_url)
            sends.append(produce(requests, request.partition_key, request.model_dump_json().encode()))
    await asyncio.gather(*sends)
    _last = day
    log.info("digest of %s: %d subscribers, %d alerts in the last 24 h", day, len(sends), len(recent))


def start() -> None:
    """Only with the email_subscribers channel and a digest hour."""
    if settings.digest_hour is None or "email_subscribers" not in settings.channels:
        return
    app.task(follow_approvals)
    app.timer(interval=TICK_S, on_leader=True)(send_due)


start()
