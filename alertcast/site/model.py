"""What the public site knows of an alert: every published version and whether it ended.

Workers hand each version to the site as a `SiteVersion` (topic `site.versions`); the site's
one writer folds them into a `PublishedAlert` per alert (alertcast.site.writer), kept in a
table whose compacted changelog is the state a new or restarted writer builds from, and
mirrored as JSON in the site folder (`data/`) for people and tests to read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from alertcast.models.alert import DeliveryRequest
from alertcast.models.incident import Incident, UtcDateTime


class PublishedVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    incident: Incident
    published_at: UtcDateTime


class PublishedAlert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_id: str
    versions: list[PublishedVersion]
    ended_at: UtcDateTime | None = None
    end_reason: Literal["cancel", "expire"] | None = None

    @property
    def latest(self) -> Incident:
        return self.versions[-1].incident

    def is_ended(self, now: datetime) -> bool:
        """Ended by a cancel, or past the latest version's expiry."""
        if self.ended_at is not None:
            return True
        expires = self.expires_at()
        return expires is not None and expires <= now

    def expires_at(self) -> datetime | None:
        """When the latest version stops being current (None: no expiry, or ended already)."""
        if self.ended_at is not None:
            return None
        expiries = [info.expires for info in self.latest.info if info.expires is not None]
        return max(expiries) if expiries else None

    def with_version(self, version: int, incident: Incident, at: datetime) -> PublishedAlert:
        """Add or replace a version (a retried delivery writes the same version again)."""
        versions = [v for v in self.versions if v.version != version]
        versions.append(PublishedVersion(version=version, incident=incident, published_at=at))
        versions.sort(key=lambda v: v.version)
        ended = incident.msg_type == "Cancel"
        return self.model_copy(
            update={
                "versions": versions,
                "ended_at": at if ended else self.ended_at,
                "end_reason": "cancel" if ended else self.end_reason,
            }
        )


class SiteVersion(BaseModel):
    """One delivered version, handed by the worker that owns the website's deliveries to the
    site's writer (`site.versions`, one partition, keyed by alert id and version)."""

    model_config = ConfigDict(extra="forbid")

    request: DeliveryRequest
    published_at: UtcDateTime  # the worker's clock at the hand-off: a replay builds the same pages

    @property
    def key(self) -> bytes:
        return f"{self.request.alert_id}:{self.request.version}".encode()
