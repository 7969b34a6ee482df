"""Site agent: the public site's one writer, on the single partition of `site.versions`.

Whichever worker Kafka gives that partition (and the `site_alerts` table's one partition with
it) writes the site folder; the others hand versions over and write nothing there. The table
is the state: its compacted changelog is what a worker taking the site over recovers and
builds the whole site from before its first publish. What is decided (folding a version into
its alert, what to write, the receipt) is alertcast.site.writer's.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from alertcast.channels.website import WebsiteChannel
from alertcast.clock import clock
from alertcast.site.model import PublishedAlert, SiteVersion
from alertcast.site.subscribe import SubscribePage
from alertcast.site.writer import SiteWriter, folded
from alertcast.stream import metrics
from alertcast.stream.app import app, for_each_event, receipts, send_durably, settings, table, topic

log = logging.getLogger(__name__)

CHECK_S = 5.0  # how soon a worker given the site builds it, and checks for expiries
site_versions = topic("site.versions")
# Per alert id: the PublishedAlert as JSON. One partition, like site.versions: one owner.
site_alerts = table("site_alerts", partitions=1)
writer = SiteWriter(
    settings.site_dir,
    clock.now,
    settings.site_base_url,
    ended_kept=timedelta(hours=settings.site_ended_kept_hours),
    archive_page_size=settings.site_archive_page_size,
    tz=settings.timezone,
    subscribe=SubscribePage.from_settings(settings),  # None: subscriptions off, no page
)
writing = asyncio.Lock()  # one writer call at a time (the builder is not thread-safe)


async def hand_off(handed: SiteVersion) -> None:
    """The website channel's delivery: the version on `site.versions`, held by the brokers."""
    await send_durably((site_versions, handed.key, handed.model_dump_json().encode()))


def connect(channel: WebsiteChannel) -> None:
    channel.hand_off = hand_off


def _is_site(tp: Any) -> bool:
    return bool(tp.topic == site_versions.get_topic_name())


@app.on_partitions_revoked.connect
async def forget_site(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    """Given back later, the site may have changed under another owner: build it anew then."""
    revoked: set[Any] = args[0] if args else set()
    if any(map(_is_site, revoked)):
        writer.forget()


def owns_site() -> bool:
    return any(map(_is_site, app.consumer.assignment()))


def recovered() -> list[PublishedAlert]:
    return [PublishedAlert.model_validate_json(value) for value in site_alerts.values() if value]


async def ensure_loaded() -> None:
    if not writer.loaded:
        alerts = recovered()
        changed = await asyncio.to_thread(writer.load, alerts)
        log.info("site: built from %d alert(s), %d file(s) written", len(alerts), len(changed))


@app.agent(site_versions)
async def write_site(stream: Any) -> None:
    await for_each_event(stream, write_one)


async def write_one(event: Any) -> None:
    handed = SiteVersion.model_validate_json(event.value)
    alert_id = handed.request.alert_id
    async with writing:
        await ensure_loaded()
        current = site_alerts.get(alert_id)
        alert = folded(PublishedAlert.model_validate_json(current) if current else None, handed)
        await asyncio.to_thread(writer.publish, alert)
        receipt = writer.receipt(handed)
        # The receipt before the table: a writer killed in between publishes again (no change
        # on disk) and repeats the receipt, rather than holding a state whose receipt is lost.
        await send_durably(
            (receipts, handed.request.delivery_key.encode(), receipt.model_dump_json().encode())
        )
        metrics.observe_receipt(handed.request.approved_at, receipt)
        await site_alerts.put(alert_id, alert.model_dump_json())


async def check_site() -> None:
    """The owner builds the site once given it (before any publish) and rebuilds what an
    expiry changed. Not during a rebalance: the table may be recovering (a worker that loses
    the site forgets it when its partition is revoked, `forget_site`)."""
    async with writing:
        if app.rebalancing:
            return
        if not owns_site():
            writer.forget()
            return
        await ensure_loaded()
        changed = await asyncio.to_thread(writer.refresh)
        if changed:
            log.info("site: %d file(s) rewritten for expiries", len(changed))


app.timer(interval=CHECK_S)(check_site)
