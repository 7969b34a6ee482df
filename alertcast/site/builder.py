"""Builds the whole public site from the published alerts: pages, feeds, JSON, assets.

The site is plain files so any web server or CDN can take a hundredfold crisis spike. A
full build is a pure function of (alerts, now, settings) and rewrites only the files whose
bytes changed. It is `SiteBuilder.load` (alertcast.site.incremental), so a full build and the
incremental publishes of the site's single writer agree byte for byte; this function is for
callers that hold no builder (the website channel, tests, one-off rebuilds).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from alertcast.site.archive import ARCHIVE_FOLDER
from alertcast.site.atomic import sync_folder
from alertcast.site.cap_writer import DEFAULT_TIMEZONE
from alertcast.site.incremental import ARCHIVE_PAGE_SIZE, DEPARTEMENTS, ENDED_KEPT, SiteBuilder
from alertcast.site.labels import DEFAULT_LANGUAGE
from alertcast.site.model import PublishedAlert
from alertcast.site.subscribe import SubscribePage

# The folders whose files a build owns entirely; `prune` only ever removes files there.
_OWNED = (
    ("alerts", "*.html"),
    *((folder, pattern) for folder in ("areas", DEPARTEMENTS) for pattern in ("*.html", "*.atom", "*.json")),
    ("cap", "*.xml"),
    (ARCHIVE_FOLDER, "*.html"),
)


def build_site(
    alerts: Sequence[PublishedAlert],
    site_dir: Path,
    *,
    now: datetime,
    base_url: str = "",
    templates_dir: Path | None = None,
    language: str = DEFAULT_LANGUAGE,
    tz: tzinfo | str = DEFAULT_TIMEZONE,
    prune: bool = False,
    ended_kept: timedelta = ENDED_KEPT,
    archive_page_size: int = ARCHIVE_PAGE_SIZE,
    subscribe: SubscribePage | None = None,
) -> list[Path]:
    """Write the site into `site_dir`; return the files that changed (written or removed).

    The returned list is what a CDN must purge. Alert pages are permanent links (they were
    posted on social networks), so a build never deletes one by default; `prune=True`
    removes pages, area pages and CAP documents of alerts no longer given, for an alert
    withdrawn on purpose (published by mistake). Files outside the site's own folders
    (the channel's `data/`, anything an operator put there) are never touched.
    Ended alerts stay on the index, feeds, JSON and area pages for `ended_kept`, and in the
    archive (pages of `archive_page_size`) for good. With `subscribe`, the subscribe page too.
    """
    builder = SiteBuilder(
        site_dir,
        base_url=base_url,
        templates_dir=templates_dir,
        language=language,
        tz=tz,
        ended_kept=ended_kept,
        archive_page_size=archive_page_size,
        subscribe=subscribe,
    )
    changed = builder.load(alerts, now)
    if prune:
        wanted = {site_dir / name for name in builder.owned_files()}
        removed = []
        for sub, pattern in _OWNED:
            for stale in sorted((site_dir / sub).glob(pattern)):
                if stale not in wanted:
                    stale.unlink()
                    removed.append(stale)
        for parent in sorted({path.parent for path in removed}):
            sync_folder(parent)
        changed += removed
    return changed
