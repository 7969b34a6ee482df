"""A subscriber's data on request: everything held about them, and what to delete (RGPD art. 15, 17).

A subscriber is known only by what they gave: an e-mail address or a push endpoint (a feed
subscription holds no personal data, only its random id). Ended subscriptions count too: a
compacted topic keeps an ended value, address included, until a tombstone replaces it, so
both the export and the erasure include them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alertcast.subscriptions.model import Subscription


def _key(text: str) -> str:
    """Compare addresses as a mail system would route them: case is ignored, spaces trimmed.
    Push endpoints are URLs compared as given (trimmed): their paths are case-sensitive."""
    return text.strip().lower() if "@" in text and "://" not in text else text.strip()


def belongs_to(subscription: Subscription, email_or_endpoint: str) -> bool:
    wanted = _key(email_or_endpoint)
    if not wanted:
        return False
    if subscription.email is not None:
        return _key(subscription.email) == wanted
    if subscription.push is not None:
        return subscription.push.endpoint == wanted
    return False


def export(subscriptions: Iterable[Subscription], email_or_endpoint: str) -> dict[str, Any]:
    """Everything held about one subscriber, as JSON-ready data (`alertcast subscribers export`)."""
    held = sorted(
        (s for s in subscriptions if belongs_to(s, email_or_endpoint)), key=lambda s: (s.created_at, s.id)
    )
    return {
        "subscriber": email_or_endpoint.strip(),
        "subscriptions": [subscription.model_dump(mode="json") for subscription in held],
    }


def erase(subscriptions: Iterable[Subscription], email_or_endpoint: str) -> list[str]:
    """The ids to tombstone: the shell writes a null value for each to the compacted topic
    (log compaction then drops the key's earlier values, and the tombstone itself after the
    topic's delete.retention.ms). Ending them instead would not do: an ended value still
    holds the address."""
    return sorted({s.id for s in subscriptions if belongs_to(s, email_or_endpoint)})
