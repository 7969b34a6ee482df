"""Web Push to the citizens who subscribed to an alert's area: one delivery per subscription.

Subscribers are not configured accounts: the fan-out matches each alert version against the
subscriptions (alertcast.subscriptions.matching) and asks one delivery per matched
subscription, its id as the account (`webpush:<subscription id>` in the ledger). So a push goes
through the ledger, the retry policy and the receipts like any post, and a worker killed
mid-way pushes the rest, not the whole list again.

The subscription itself (endpoint and keys: personal data) stays on the compacted
`subscriptions` topic and in each worker's index; a delivery request names only its id, and
`lookup` (set by the stream shell) finds it when the push is sent. A subscription ended or
erased since the match is not pushed to (PermanentError: its receipt says why).

publish, update and end are the same push: the payload carries the version and the message
type, and its RFC 8030 Topic (from the alert id) makes a later version replace one the push
service still holds. `find_existing` answers "none": after a crash between the push and the
ledger, the repeat has the same Topic (it replaces the first while pending) and the service
worker shows it under the same tag (it replaces the first on screen). Asking a person about each
of a thousand subscribers instead would stop the alert for everyone.

A push service answering 404/410 means the browser dropped the subscription: `on_gone` (set by
the stream shell) ends it on the topic, and the delivery is dead with that reason.
"""

from __future__ import annotations

import httpx

from alertcast.channels.base import AccountHealth
from alertcast.delivery.retry import PermanentError
from alertcast.models.alert import DeliveryRequest
from alertcast.models.post import PostResult
from alertcast.subscriptions.model import EndReason, Lookup, OnGone
from alertcast.subscriptions.vapid import VapidKey
from alertcast.subscriptions.webpush import SubscriptionGone, push_alert


class WebPushChannel:
    id = "webpush"

    def __init__(
        self, client: httpx.AsyncClient, vapid: VapidKey, subject: str, site_base_url: str = ""
    ) -> None:
        self.client = client
        self.vapid = vapid
        self.subject = subject
        self.base_url = site_base_url.rstrip("/")
        self.lookup: Lookup | None = None  # set by the stream shell (alertcast.stream.subscriptions)
        self.on_gone: OnGone | None = None

    def accounts(self) -> list[str]:
        """None to route to: the fan-out adds the matched subscriptions."""
        return []

    async def publish(self, request: DeliveryRequest) -> PostResult:
        subscription = self.lookup(request.account) if self.lookup is not None else None
        if subscription is None or subscription.push is None:
            raise PermanentError(
                f"subscription {request.account} ended or erased since the alert was matched"
            )
        url = f"{self.base_url}/alerts/{request.alert_id}.html" if self.base_url else None
        try:
            result = await push_alert(self.client, subscription.push, request, self.vapid, self.subject, url)
        except SubscriptionGone:
            if self.on_gone is not None:
                await self.on_gone(subscription, EndReason.ENDPOINT_GONE)
            raise
        details = (
            {"status": result.status, "reason": result.reason} if result.reason else {"status": result.status}
        )
        return PostResult(post_id=result.headers.topic, url=url, details=details)

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        return await self.publish(request)

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        return await self.publish(request)

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        return None  # a repeat replaces the first (same Topic, same tag): see the module's docstring

    async def check(self, account: str) -> AccountHealth:
        return AccountHealth(channel=self.id, account=account, ok=True, can_post=True)

    async def aclose(self) -> None:
        await self.client.aclose()
