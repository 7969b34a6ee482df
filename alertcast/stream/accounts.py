"""Every account checked periodically by the worker, without posting: a revoked token or a lost
right is found on a quiet day, not at 23:30 during a storm.

A failing account gets a `warning` receipt on `deliveries.receipts` (key `check:channel:account`,
the problem in `error`; each worker checks, so with several workers each says it) and
`alertcast_account_healthy 0`. The text limits the accounts report (a Mastodon instance's own)
become compose's: the smallest among a channel's accounts, so one text fits them all.
"""

from __future__ import annotations

import logging
import time

from alertcast.channels.checkup import check_all
from alertcast.clock import clock
from alertcast.models.alert import DeliveryStatus, Receipt
from alertcast.stream import metrics
from alertcast.stream.app import app, produce, receipts, settings
from alertcast.stream.deliver import channels

log = logging.getLogger(__name__)

# Channel -> the smallest text limit its accounts reported at the last check (compose reads it).
limits: dict[str, int] = {}


async def check_accounts() -> None:
    started = time.perf_counter()
    results = await check_all(channels)
    reported: dict[str, int] = {}
    for health in results:
        metrics.account_checked(health.channel, health.account, health.ok)
        if health.limit is not None:
            reported[health.channel] = min(health.limit, reported.get(health.channel, health.limit))
        if health.ok:
            continue
        log.warning("account %s/%s failing its check: %s", health.channel, health.account, health.problem)
        warning = Receipt(
            delivery_key=f"check:{health.channel}:{health.account}",
            alert_id="",
            version=0,
            channel=health.channel,
            account=health.account,
            status=DeliveryStatus.WARNING,
            attempts=0,
            latency_ms=(time.perf_counter() - started) * 1000,
            error=health.problem or "the account failed its check",
            at=clock.now(),
        )
        await produce(receipts, warning.delivery_key.encode(), warning.model_dump_json().encode())
    limits.clear()
    limits.update(reported)


if settings.account_check_interval_s > 0:
    app.task(check_accounts)  # once at start, then every interval
    app.timer(interval=settings.account_check_interval_s)(check_accounts)
