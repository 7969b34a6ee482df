"""Citizens' subscriptions on every worker: the index alert versions are matched against, and
the subscribers' channels' (Web Push, e-mail) way to a subscription and to ending a dead one.

Every worker follows the compacted `subscriptions` topic whole (alertcast.stream.follow): the
fan-out of any incident may run on any worker, and the push of any subscription too. The
matching and what a subscription is are alertcast.subscriptions'; this module only feeds them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from alertcast.channels.email_subscribers import SubscriberEmailChannel
from alertcast.channels.webpush import WebPushChannel
from alertcast.clock import clock
from alertcast.models.incident import Incident
from alertcast.stream.app import app, send_durably, settings, topic
from alertcast.stream.follow import follow
from alertcast.subscriptions.communes import CommuneRegistry
from alertcast.subscriptions.lanes import Addressed, addressed
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


async def matched(incident: Incident) -> list[Addressed]:
    """Where each subscription this alert version reaches is sent, once the topic is read whole
    (a worker just started must not leave out the subscribers it has not read yet)."""
    await loaded.wait()
    found = (index.get(subscription_id) for subscription_id in index.match(incident, clock.now()))
    return [to for to in (addressed(s) for s in found if s is not None) if to is not None]


async def end_gone(subscription: Subscription, reason: EndReason) -> None:
    """The network refuses it for good (push endpoint gone, address bounced): ended on the
    topic, for every worker."""
    ended = subscription.ended(clock.now(), reason)
    if isinstance(ended, Subscription):
        log.info("subscription %s ended: %s", subscription.id, reason.value)
        await send_durably((subscriptions, ended.id.encode(), ended.model_dump_json().encode()))


_following = False


def connect(channel: WebPushChannel | SubscriberEmailChannel) -> None:
    global _following
    channel.lookup = index.get
    channel.on_gone = end_gone
    if not _following:  # one follower for every subscribers' channel
        app.task(follow_subscriptions)
        _following = True
