"""The website channel: keeps each alert's published versions in the site folder and rebuilds it.

The folder is the state (`data/<alert_id>.json`), so a restarted worker, or a second one,
rebuilds the same site; writing the same version twice changes nothing, which makes a
retried delivery harmless.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from alertcast.channels.base import AccountHealth
from alertcast.models.alert import DeliveryRequest
from alertcast.models.post import PostResult
from alertcast.site.atomic import write_atomic
from alertcast.site.builder import build_site
from alertcast.site.model import PublishedAlert


class WebsiteChannel:
    id = "website"

    def __init__(self, site_dir: Path, now: Callable[[], datetime], base_url: str = "") -> None:
        self.site_dir = site_dir
        self.now = now
        self.base_url = base_url.rstrip("/")
        self._lock = asyncio.Lock()
        self._next_expiry: datetime | None = None
        self._built = False

    def accounts(self) -> list[str]:
        return ["default"]

    def alert_url(self, alert_id: str) -> str:
        return f"{self.base_url}/alerts/{alert_id}.html"

    def load_all(self) -> list[PublishedAlert]:
        folder = self.site_dir / "data"
        return [PublishedAlert.model_validate_json(p.read_bytes()) for p in sorted(folder.glob("*.json"))]

    def record(self, request: DeliveryRequest) -> PublishedAlert:
        """Add this version to the alert's stored state and rebuild the whole site."""
        path = self.site_dir / "data" / f"{request.alert_id}.json"
        current = (
            PublishedAlert.model_validate_json(path.read_bytes())
            if path.exists()
            else PublishedAlert(alert_id=request.alert_id, versions=[])
        )
        updated = current.with_version(request.version, request.incident, self.now())
        write_atomic(path, updated.model_dump_json(indent=1).encode())
        self.rebuild()
        return updated

    def rebuild(self) -> None:
        now = self.now()
        alerts = self.load_all()
        build_site(alerts, self.site_dir, now=now, base_url=self.base_url)
        upcoming = [at for alert in alerts if (at := alert.expires_at()) is not None and at > now]
        self._next_expiry = min(upcoming, default=None)
        self._built = True

    async def refresh_expired(self) -> bool:
        """Rebuild when an alert's expiry has passed since the last build (the timer in
        alertcast.stream.deliver calls this): an expired alert leaves the index and joins the
        archive even when nothing else is published."""
        due = not self._built or (self._next_expiry is not None and self.now() >= self._next_expiry)
        if due:
            async with self._lock:
                await asyncio.to_thread(self.rebuild)
        return due

    async def publish(self, request: DeliveryRequest) -> PostResult:
        async with self._lock:
            await asyncio.to_thread(self.record, request)
        return PostResult(post_id=request.alert_id, url=self.alert_url(request.alert_id))

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """The alert's page shows every version; an update is one more."""
        return await self.publish(request)

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        return await self.publish(request)

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        path = self.site_dir / "data" / f"{request.alert_id}.json"
        if not path.exists():
            return None
        stored = PublishedAlert.model_validate_json(path.read_bytes())
        if any(version.version == request.version for version in stored.versions):
            return PostResult(post_id=request.alert_id, url=self.alert_url(request.alert_id))
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
