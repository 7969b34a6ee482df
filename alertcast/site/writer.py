"""The public site's one writer: versions handed by the workers in, pages and a receipt out.

Any number of workers deliver; one process at a time owns the site (the stream shell gives it
the single partition of `site.versions`), so two workers never rebuild the folder in turn from
what each read. The writer keeps no state of its own that matters: `load` builds the whole site
from the alerts the shell recovered (its table), then each handed version is folded into its
alert and only what that alert touches is written (alertcast.site.incremental). The website's
`sent` receipt comes from here, once the alert's page is on disk, so the console and the
fan-out time the site like any network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path

from alertcast.models.alert import DeliveryStatus, Receipt
from alertcast.site.atomic import remove_leftovers, write_atomic
from alertcast.site.cap_writer import DEFAULT_TIMEZONE
from alertcast.site.incremental import ARCHIVE_PAGE_SIZE, ENDED_KEPT, SiteBuilder
from alertcast.site.model import PublishedAlert, SiteVersion
from alertcast.site.subscribe import SubscribePage

DATA_FOLDER = "data"


def folded(current: PublishedAlert | None, handed: SiteVersion) -> PublishedAlert:
    """The alert with the handed version in it. A version it already holds is kept as it was:
    a hand-off repeated (a worker restarted mid-delivery) changes nothing."""
    request = handed.request
    alert = current or PublishedAlert(alert_id=request.alert_id, versions=[])
    if any(v.version == request.version for v in alert.versions):
        return alert
    return alert.with_version(request.version, request.incident, handed.published_at)


class SiteWriter:
    """Builds the site folder from the alerts it is given; one caller at a time."""

    def __init__(
        self,
        site_dir: Path,
        now: Callable[[], datetime],
        base_url: str = "",
        *,
        ended_kept: timedelta = ENDED_KEPT,
        archive_page_size: int = ARCHIVE_PAGE_SIZE,
        tz: str = DEFAULT_TIMEZONE,
        subscribe: SubscribePage | None = None,
    ) -> None:
        self.site_dir = site_dir
        self.now = now
        self.base_url = base_url.rstrip("/")
        self.builder = SiteBuilder(
            site_dir,
            base_url=self.base_url,
            ended_kept=ended_kept,
            archive_page_size=archive_page_size,
            tz=tz,
            subscribe=subscribe,
        )
        self.loaded = False

    def alert_url(self, alert_id: str) -> str:
        return f"{self.base_url}/alerts/{alert_id}.html"

    def load(self, alerts: Iterable[PublishedAlert]) -> list[Path]:
        """The whole site from `alerts` (at start, or when this writer takes the site over)."""
        held = sorted(alerts, key=lambda alert: alert.alert_id)
        # A writer killed mid-publish (the one this one replaces) leaves its temporary files.
        changed = remove_leftovers(self.site_dir) if self.site_dir.exists() else []
        changed += self.builder.load(held, self.now())  # checks every id is a file name
        for alert in held:
            self._mirror(alert)
        self.loaded = True
        return changed

    def forget(self) -> None:
        """Another writer may own the site now: `load` again before the next publish."""
        self.loaded = False

    def publish(self, alert: PublishedAlert) -> list[Path]:
        """Write what `alert` touches: its page, CAP documents, areas, the lists and feeds."""
        changed = self.builder.publish(alert, self.now())  # checks the id is a file name
        self._mirror(alert)
        return changed

    def refresh(self) -> list[Path]:
        """What time alone changed (an expiry passed); nothing written when nothing is due."""
        due = self.builder.next_refresh()
        if not self.loaded or due is None or self.now() < due:
            return []
        return self.builder.refresh(self.now())

    def receipt(self, handed: SiteVersion) -> Receipt:
        """The website's `sent`: written once the page is on disk, with its URL."""
        request = handed.request
        now = self.now()
        return Receipt(
            delivery_key=request.delivery_key,
            alert_id=request.alert_id,
            version=request.version,
            channel=request.channel,
            account=request.account,
            status=DeliveryStatus.SENT,
            post_id=request.alert_id,
            url=self.alert_url(request.alert_id),
            # From the hand-off to the page on disk: the worker's part is in its own metrics.
            latency_ms=max(0.0, (now - handed.published_at).total_seconds() * 1000),
            at=now,
        )

    def _mirror(self, alert: PublishedAlert) -> None:
        """The alert's state as JSON beside the site, for people and tests to read."""
        path = self.site_dir / DATA_FOLDER / f"{alert.alert_id}.json"
        write_atomic(path, alert.model_dump_json(indent=1).encode())
