"""The subscriptions the web process knows: the compacted `subscriptions` topic, read whole.

The subscribe endpoints confirm or end a subscription by the id a signed link carries, and
replace a browser's earlier push subscription when it subscribes again: both need the current
value of a key. Every `alertcast web` process reads the topic from the start (no consumer
group, like the console's read model) and adds what it writes itself at once, so a link
opened a second after the mail left finds its subscription.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from alertcast.subscriptions.model import Subscription

log = logging.getLogger(__name__)


class SubscriptionStore:
    """Latest value per id, a tombstone erasing it; and the active ones per push endpoint."""

    def __init__(self) -> None:
        self._by_id: dict[str, Subscription] = {}
        self._by_endpoint: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, subscription_id: str) -> Subscription | None:
        return self._by_id.get(subscription_id)

    def put(self, subscription: Subscription) -> None:
        self.erase(subscription.id)
        self._by_id[subscription.id] = subscription
        if subscription.push is not None and subscription.ended_at is None:
            self._by_endpoint.setdefault(subscription.push.endpoint, set()).add(subscription.id)

    def erase(self, subscription_id: str) -> None:
        old = self._by_id.pop(subscription_id, None)
        if old is not None and old.push is not None:
            ids = self._by_endpoint.get(old.push.endpoint, set())
            ids.discard(subscription_id)
            if not ids:
                self._by_endpoint.pop(old.push.endpoint, None)

    def by_endpoint(self, endpoint: str) -> list[Subscription]:
        """The subscriptions not ended that push to this endpoint (one browser)."""
        return [self._by_id[i] for i in sorted(self._by_endpoint.get(endpoint, ()))]

    def on_message(self, key: bytes | None, value: bytes) -> None:
        """One record of the topic: a value, or an empty one (a tombstone)."""
        if not key:
            return
        subscription_id = key.decode("utf-8", "replace")
        if not value:
            self.erase(subscription_id)
            return
        try:
            subscription = Subscription.model_validate_json(value)
        except ValidationError:
            log.error("skipped a subscription that is not valid (key %s)", subscription_id[:64])
            return
        self.put(subscription)
