"""Every worker reads the whole of `config.pauses` (no consumer group: a switch must reach every
worker, not one), and sends held deliveries again once nothing holds them any more.

Deliveries wait for the first full read: a worker that starts while a channel is paused must
not post on it before it knows.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from alertcast.delivery.ledger import LedgerEntry, LedgerState
from alertcast.delivery.pause import Pause, PauseBoard
from alertcast.stream import metrics
from alertcast.stream.app import app, ledger, produce, requests
from alertcast.stream.follow import follow

log = logging.getLogger(__name__)

RELEASE_CHECK_S = 1.0
board = PauseBoard()
loaded = asyncio.Event()
# Held deliveries this worker already sent again, with the entry's time then: a delivery held
# again later (a new pause) has a newer time and is sent again at the next resume.
_released: dict[str, datetime] = {}


async def follow_switches() -> None:
    await follow("config.pauses", _apply, loaded)


def _apply(key: bytes | None, value: bytes | None) -> None:
    if value is None:
        return
    try:
        pause = Pause.model_validate_json(value)
    except ValueError as error:
        log.error("config.pauses: unreadable switch ignored: %s", error)
        return
    board.apply(pause)
    verb = "paused" if pause.paused else "resumed"
    log.warning("deliveries %s: %s by %s %s", pause.scope, verb, pause.by, pause.reason)


async def release_held() -> None:
    """Held deliveries no switch holds any more go back on `deliveries.requests`, in version
    order, where the delivery agent posts them (the ledger keeps a repeat from posting twice)."""
    if not loaded.is_set():
        return
    # A cheap look first: the ledger holds every delivery, and this runs every second.
    marked = f'"state":"{LedgerState.PAUSED.value}"'
    held = [LedgerEntry.model_validate_json(value) for value in ledger.values() if value and marked in value]
    held = [entry for entry in held if entry.state is LedgerState.PAUSED and entry.request is not None]
    counts: dict[str, int] = {}
    for entry in held:
        request = entry.request
        assert request is not None
        counts[request.channel] = counts.get(request.channel, 0) + 1
    metrics.paused_now(counts)
    free = [e for e in held if e.request and board.holding(e.request.channel, e.request.account) is None]
    for entry in sorted(free, key=lambda e: (e.delivery_key.rsplit(":", 3)[0], _version(e))):
        if _released.get(entry.delivery_key) == entry.updated_at:
            continue
        _released[entry.delivery_key] = entry.updated_at
        request = entry.request
        assert request is not None
        log.info("delivery %s: no longer paused, sent again", entry.delivery_key)
        await produce(requests, request.partition_key, request.model_dump_json().encode())


app.task(follow_switches)
app.timer(interval=RELEASE_CHECK_S)(release_held)


def _version(entry: LedgerEntry) -> int:
    return entry.request.version if entry.request else 0
