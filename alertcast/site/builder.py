"""Builds the whole public site from the published alerts: pages, feeds, JSON, assets.

The site is plain files so any web server or CDN can take a hundredfold crisis spike. A
build is a pure function of (alerts, now, settings): the website channel calls it after
every publish, update, cancel or expiry, and it rewrites only the files whose bytes changed.

Order matters to a reader arriving mid-build: alert pages and CAP documents are written
first, then area pages, then the lists and feeds that link to them, so no link ever points
to a page that is not there yet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from lxml import etree

from alertcast.site.areas import AreaRef
from alertcast.site.atom_feed import atom_feed
from alertcast.site.atomic import sync_folder, write_atomic
from alertcast.site.cap_feed import CapDocuments, cap_feed
from alertcast.site.cap_writer import DEFAULT_TIMEZONE, cap_documents, resolve_timezone, xml_bytes
from alertcast.site.dates import shown_time
from alertcast.site.json_index import alerts_index, current_digest
from alertcast.site.labels import DEFAULT_LANGUAGE, labels
from alertcast.site.model import PublishedAlert
from alertcast.site.pages import DEFAULT_TEMPLATES, page_environment, render_page
from alertcast.site.views import AlertView, alert_view, archive_order, cap_path, current_order

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
ASSETS = ("site.css", "refresh.js")
# The folders whose files a build owns entirely; `prune` only ever removes files there.
_OWNED = (("alerts", "*.html"), ("areas", "*.html"), ("cap", "*.xml"))


def _check_ids(alerts: Sequence[PublishedAlert]) -> None:
    seen: set[str] = set()
    for alert in alerts:
        if not _SAFE_ID.match(alert.alert_id):
            raise ValueError(f"alert id {alert.alert_id!r} is not a file name (letters, digits, - and _)")
        if alert.alert_id in seen:
            raise ValueError(f"alert id {alert.alert_id!r} appears twice")
        seen.add(alert.alert_id)


def _areas(views: Sequence[AlertView]) -> dict[str, tuple[AreaRef, list[AlertView]]]:
    found: dict[str, tuple[AreaRef, list[AlertView]]] = {}
    for view in views:
        for area in view.all_areas:
            found.setdefault(area.slug, (area, []))[1].append(view)
    return found


def _cap_files(alerts: Sequence[PublishedAlert], tz: tzinfo) -> tuple[CapDocuments, dict[str, bytes]]:
    documents: dict[tuple[str, int], etree._Element] = {}
    files: dict[str, bytes] = {}
    for alert in alerts:
        elements = cap_documents([v.incident for v in alert.versions], tz=tz)
        for version, element in zip(alert.versions, elements, strict=True):
            documents[(alert.alert_id, version.version)] = element
            files[cap_path(alert.alert_id, version.version)] = xml_bytes(element)
    return documents, files


def _assets(templates_dir: Path) -> dict[str, bytes]:
    files = {}
    for name in ASSETS:
        source = templates_dir / "assets" / name
        if not source.is_file():
            source = DEFAULT_TEMPLATES / "assets" / name
        files[f"assets/{name}"] = source.read_bytes()
    return files


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
) -> list[Path]:
    """Write the site into `site_dir`; return the files that changed (written or removed).

    The returned list is what a CDN must purge. Alert pages are permanent links (they were
    posted on social networks), so a build never deletes one by default; `prune=True`
    removes pages, area pages and CAP documents of alerts no longer given, for an alert
    withdrawn on purpose (published by mistake). Files outside the site's own folders
    (the channel's `data/`, anything an operator put there) are never touched.
    """
    _check_ids(alerts)
    zone = resolve_timezone(tz)
    folder = templates_dir or DEFAULT_TEMPLATES
    views = [alert_view(alert, now=now, tz=zone, language=language) for alert in alerts]
    current = current_order([v for v in views if not v.ended])
    ended = archive_order([v for v in views if v.ended])
    env = page_environment(folder)
    common: dict[str, Any] = {"lang": language, "t": labels(language), "generated": None}

    documents, cap_files = _cap_files(alerts, zone)
    alert_pages = {
        v.path: render_page(env, "alert.html.j2", {**common, "root": "../", "page": "alert", "a": v})
        for v in views
    }
    areas = _areas(current + ended)
    area_pages = {
        area.path: render_page(
            env,
            "area.html.j2",
            {
                **common,
                "root": "../",
                "page": "area",
                "area": area,
                "current": [v for v in listed if v.concerns_now(area)],
                "ended": [v for v in listed if not v.concerns_now(area)],
            },
        )
        for area, listed in areas.values()
    }
    current_areas = sorted(
        {a.slug: a for v in current for a in v.areas}.values(), key=lambda a: (a.name.casefold(), a.slug)
    )
    index_context = {
        **common,
        "root": "",
        "page": "index",
        "generated": shown_time(now, now=now, tz=zone, language=language),
        "current": current,
        "areas": current_areas,
        "digest": current_digest(current),
    }
    lists = {
        "index.html": render_page(env, "index.html.j2", index_context),
        "archive.html": render_page(
            env, "archive.html.j2", {**common, "root": "", "page": "archive", "ended": ended}
        ),
        "feed.atom": atom_feed(views, now=now, tz=zone, language=language, base_url=base_url),
        "cap.xml": cap_feed(views, documents, now=now, tz=zone, language=language, base_url=base_url),
        "alerts.json": alerts_index(current, ended, now=now, language=language, base_url=base_url)
        .model_dump_json()
        .encode(),
    }

    changed: list[Path] = []
    for files in (_assets(folder), cap_files, alert_pages, area_pages, lists):
        for relative, data in files.items():
            path = site_dir / relative
            if write_atomic(path, data):
                changed.append(path)
    if prune:
        wanted = {site_dir / name for name in (*cap_files, *alert_pages, *area_pages)}
        for sub, pattern in _OWNED:
            for stale in sorted((site_dir / sub).glob(pattern)):
                if stale not in wanted:
                    stale.unlink()
                    changed.append(stale)
    for parent in sorted({path.parent for path in changed}):
        sync_folder(parent)
    return changed
