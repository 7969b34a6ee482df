"""Which delivery channel sends to a subscription, and what its sending is paced against.

A subscriber is an account of its delivery channel (its id names the delivery in the ledger),
but the limits that matter are not the subscriber's: a push service (FCM, Mozilla's autopush,
Apple's) throttles the sender over all its subscribers, and a mail server counts the messages
of the one login that writes to every subscriber. So each delivery names a lane: the push
service's origin, or `mail` for the subscribers' mail account. Requests are keyed by lane, so
one worker owns a lane and its post rate and circuit breaker hold for the whole cluster
(`ALERTCAST_CHANNEL_RATES`, e.g. {"webpush": {"posts": 100, "per_s": 1}} is per push service).
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

from alertcast.subscriptions.model import Subscription

#: The delivery channel of each kind of subscription (a feed is read, never sent).
DELIVERED_BY = {"webpush": "webpush", "email": "email_subscribers"}
MAIL_LANE = "mail"


class Addressed(NamedTuple):
    channel: str
    subscription_id: str
    lane: str


def addressed(subscription: Subscription) -> Addressed | None:
    """Where an alert for this subscription goes now; None when it is not sent one by one
    (a feed, or a daily digest's e-mail)."""
    channel = DELIVERED_BY.get(subscription.channel)
    if channel is None or subscription.digest != "immediate":
        return None
    if subscription.push is not None:
        endpoint = urlsplit(subscription.push.endpoint)
        return Addressed(channel, subscription.id, f"{endpoint.scheme}://{endpoint.netloc}")
    return Addressed(channel, subscription.id, MAIL_LANE)
