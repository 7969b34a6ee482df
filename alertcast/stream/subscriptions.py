"""Citizens' subscriptions on every worker: the index alert versions are matched against, and
the Web Push channel's way to a subscription and to ending a dead one.

Every worker follows the compacted `subscriptions` topic whole (alertcast.stream.follow): the
fan-out of any incident may run on any worker, and the push of any subscription too. The
matching and what a subscription is are alertcast.subscriptions'; this module only feeds them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from alertcast.channels.webpush import WebPushChannel
from alertcast.clock import clock
from alertcast.models.incident import Incident
from alertcast.stream.app import app, send_durably, settings, topic
from alertcast.stream.follow import follow
from alertcast.subscriptions.communes import CommuneRegistry
from alertcast.subscriptions.matching import SubscriptionIndex
from alertcast.subscriptions.model import EndReason, Subscription

log = logging.getLogger(__name__)

TOPIC = "subscriptions"
subscriptions = topic(TOPIC)
registry = (
    CommuneRegistry.from_csv(settings.communes_file) if settings.communes_file else CommuneRegistry.sample()
)
index = SubscriptionIndex([], registry, timedelta(days=settings.subscription_silence_days))
loaded = asyncio.Event()


def _apply(key: bytes | None, value: bytes | None) -> None:
    if key is None:
        return
    if value is None:
        index.remove(key.decode())  # erased on request (a tombstone)
        return
    try:
        index.put(Subscription.model_validate_json(value))
    except ValueError as error:
        log.error(
            "subscriptions: unreadable subscription %s ignored: %s", key.decode(errors="replace"), error
        )


async def follow_subscriptions() -> None:
    await follow(TOPIC, _apply, loaded)


async def matched(incident: Incident) -> list[str]:
    """The ids of the subscriptions this alert version reaches, once the topic is read whole
    (a worker just started must not leave out the subscribers it has not read yet)."""
    await loaded.wait()
    return index.match(incident, clock.now())


async def end_gone(subscription: Subscription) -> None:
    """The push service says the browser dropped it: ended on the topic, for every worker."""
    ended = subscription.ended(clock.now(), EndReason.ENDPOINT_GONE)
    if isinstance(ended, Subscription):
        log.info("subscription %s ended: its push endpoint is gone", subscription.id)
        await send_durably((subscriptions, ended.id.encode(), ended.model_dump_json().encode()))


def connect(channel: WebPushChannel) -> None:
    channel.lookup = index.get
    channel.on_gone = end_gone
    app.task(follow_subscriptions)
