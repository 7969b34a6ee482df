"""The website channel: hands each delivered version to the site's one writer.

The worker that owns the website's deliveries (one partition, like any account) does not build
the site: many workers each building from what they read made the last writer win. It sends
the version to `site.versions`, which one process reads whole and builds from
(alertcast.site.writer, alertcast.stream.site); that writer sends the `sent` receipt once the
page is on disk. Handing the same version over twice changes nothing there, so a delivery
retried after a restart is harmless and nothing needs looking up.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from alertcast.channels.base import AccountHealth
from alertcast.delivery.retry import PermanentError
from alertcast.models.alert import DeliveryRequest
from alertcast.models.post import PostResult
from alertcast.site.model import SiteVersion

HandOff = Callable[[SiteVersion], Awaitable[None]]


class WebsiteChannel:
    id = "website"
    #: Its `sent` receipt is the site writer's, once the page is on disk (not the worker's).
    receipt_from_writer = True

    def __init__(self, site_dir: Path, now: Callable[[], datetime], base_url: str = "") -> None:
        self.site_dir = site_dir
        self.now = now
        self.base_url = base_url.rstrip("/")
        self.hand_off: HandOff | None = None  # set by the stream shell (alertcast.stream.site)

    def accounts(self) -> list[str]:
        return ["default"]

    def alert_url(self, alert_id: str) -> str:
        return f"{self.base_url}/alerts/{alert_id}.html"

    async def publish(self, request: DeliveryRequest) -> PostResult:
        if self.hand_off is None:
            raise PermanentError("the website channel has no site writer to hand versions to")
        await self.hand_off(SiteVersion(request=request, published_at=self.now()))
        return PostResult(post_id=request.alert_id, url=self.alert_url(request.alert_id))

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """The alert's page shows every version; an update is one more."""
        return await self.publish(request)

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        return await self.publish(request)

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        """Handing a version over again is harmless (see the module's docstring): post again."""
        return None

    async def check(self, account: str) -> AccountHealth:
        folder = self.site_dir
        writable = os.access(folder if folder.exists() else folder.parent, os.W_OK)
        return AccountHealth(
            channel=self.id,
            account=account,
            ok=writable,
            can_post=writable,
            problem=None if writable else f"{folder} is not writable",
        )

    async def aclose(self) -> None:
        return None
