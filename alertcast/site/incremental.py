"""The public site kept up to date one publish at a time: the single writer's builder.

Rebuilding every page from every alert on each publish cost 0.7 s at 1,000 live alerts and
grew with the square of a storm. A `SiteBuilder` holds the alerts and what it drew from them
(each alert's view, card, feed and JSON entries) and, on a publish, draws again only that
alert: it writes the alert's page and CAP documents, the pages of its areas (old and new), the
archive pages that changed, and the lists (index, feeds, JSON), which are put together from the
kept entries. `load` is the full build, and a full build and any sequence of publishes and
refreshes ending at the same `now` leave byte-identical folders: tests hold it to that.

What depends on the time: an alert ends when its expiry passes, an ended alert leaves the
index, feeds, JSON and area pages `ended_kept` after its end (it keeps its page and its place
in the archive), and a time shows its year only when it is not the current one. A view is
therefore kept while the alert, its ended state and the year stay the same; `refresh(now)`
(on a timer, at `next_refresh()`) applies the changes time alone makes, and `publish` applies
them first. The year turning redraws every page once. The lists show `now` (the index's
"page updated", the JSON's `generated_at`), so a publish always rewrites them; a refresh that
changes nothing writes nothing.

Files are written with `write_atomic` (an unchanged file is left alone, its mtime and ETag
kept), pages before the lists that link to them, so no link points to a page not there yet.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from alertcast.site.archive import ARCHIVE_FOLDER, ArchivePage, archive_pages
from alertcast.site.atom_feed import atom_entry, atom_feed
from alertcast.site.atomic import sync_folders, write_files
from alertcast.site.cap_feed import cap_entry, cap_feed
from alertcast.site.cap_writer import DEFAULT_TIMEZONE, cap_documents, resolve_timezone, xml_bytes
from alertcast.site.dates import shown_time, zone_place
from alertcast.site.json_index import alerts_json, current_digest, entry_json
from alertcast.site.labels import DEFAULT_LANGUAGE, labels
from alertcast.site.model import PublishedAlert
from alertcast.site.pages import assets, page_environment, render_page
from alertcast.site.subscribe import SubscribePage, subscribe_files
from alertcast.site.views import AlertView, alert_view, archive_order, cap_path, current_order, end_of
from alertcast.subscriptions.codes import departement_of
from alertcast.subscriptions.matching import area_codes

DEPARTEMENTS = "departements"  # one Atom and one JSON feed per département: departements/62.atom
ENDED_KEPT = timedelta(hours=48)
"""How long an ended alert stays in the lists: Google Public Alerts drops ended ones after 24-48 h."""
ARCHIVE_PAGE_SIZE = 50
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def check_id(alert_id: str) -> None:
    """An alert id names its files, so it must be a plain file name."""
    if not _SAFE_ID.match(alert_id):
        raise ValueError(f"alert id {alert_id!r} is not a file name (letters, digits, - and _)")


@dataclass
class _Held:
    """One alert, its state at the builder's `now`, and the view drawn for that state."""

    alert: PublishedAlert
    view: AlertView
    ended: bool
    listed: bool  # on the index, feeds, JSON and area pages: current, or ended within ended_kept
    due: datetime | None  # when time alone changes `ended` or `listed`

    @property
    def slugs(self) -> set[str]:
        return {area.slug for area in self.view.all_areas}

    @property
    def departements(self) -> set[str]:
        """The départements its versions name, by code or through their communes' codes (as its
        area pages, from every version: a Cancel names no area of its own)."""
        found: set[str] = set()
        for version in self.alert.versions:
            for info in version.incident.info:
                for area in info.areas:
                    communes, departements = area_codes(area)
                    found |= departements | {departement_of(commune) for commune in communes}
        return found


@dataclass
class _Changes:
    pages: set[str] = field(default_factory=set)  # alerts whose page is drawn again
    cap: set[str] = field(default_factory=set)  # alerts whose CAP documents are written
    areas: set[str] = field(default_factory=set)
    departements: set[str] = field(default_factory=set)  # whose feeds are written again
    archive: bool = False  # the set of ended alerts, or one of their views, changed

    def __bool__(self) -> bool:
        return bool(self.pages or self.cap or self.areas or self.departements or self.archive)


class _Kept:
    """Bytes drawn from a view (a feed entry, a JSON entry), kept while that view is current."""

    def __init__(self, draw: Callable[[AlertView], bytes]) -> None:
        self._draw = draw
        self._kept: dict[str, tuple[AlertView, bytes]] = {}

    def __call__(self, view: AlertView) -> bytes:
        kept = self._kept.get(view.alert_id)
        if kept is None or kept[0] is not view:
            kept = (view, self._draw(view))
            self._kept[view.alert_id] = kept
        return kept[1]

    def clear(self) -> None:
        self._kept.clear()


class SiteBuilder:
    """The site folder's one writer. Not thread-safe: call it from one task at a time."""

    def __init__(
        self,
        site_dir: Path,
        *,
        base_url: str = "",
        templates_dir: Path | None = None,
        language: str = DEFAULT_LANGUAGE,
        tz: tzinfo | str = DEFAULT_TIMEZONE,
        ended_kept: timedelta = ENDED_KEPT,
        archive_page_size: int = ARCHIVE_PAGE_SIZE,
        subscribe: SubscribePage | None = None,
    ) -> None:
        """`subscribe`: where the subscribe page's forms go; None (no subscribe endpoints) writes
        no subscribe page and links none."""
        if archive_page_size < 1:
            raise ValueError("an archive page holds at least one alert")
        self.site_dir = site_dir
        self.base_url = base_url
        self.templates_dir = templates_dir
        self.language = language
        self.tz = resolve_timezone(tz)
        self.ended_kept = ended_kept
        self.archive_page_size = archive_page_size
        self.subscribe = subscribe
        self._env = page_environment(templates_dir)
        words = labels(language)
        place = zone_place(self.tz, language)
        self._common: dict[str, Any] = {
            "lang": language,
            "t": {**words, "times_note": words["times_note"].format(place=place)},
            "generated": None,
            "subscribe": subscribe is not None,
        }
        self._held: dict[str, _Held] = {}
        self._areas: dict[str, set[str]] = {}  # area slug -> ids of the alerts that ever named it
        self._departements: dict[str, set[str]] = {}  # code -> ids of the alerts that ever named it
        self._archive: dict[str, ArchivePage] = {}  # as last written
        self._now: datetime | None = None
        self._year: int | None = None
        self._atom = _Kept(lambda v: atom_entry(v, tz=self.tz, language=language, base_url=base_url))
        self._cap = _Kept(lambda v: cap_entry(v, tz=self.tz, language=language, base_url=base_url))
        self._json = _Kept(lambda v: entry_json(v, base_url))

    # -- the API ---------------------------------------------------------------------------

    def load(self, alerts: Sequence[PublishedAlert], now: datetime) -> list[Path]:
        """Forget what was held and build the whole site from `alerts` (at start, or to apply a
        template change); return the files written or removed."""
        seen: set[str] = set()
        for alert in alerts:
            check_id(alert.alert_id)
            if alert.alert_id in seen:
                raise ValueError(f"alert id {alert.alert_id!r} appears twice")
            seen.add(alert.alert_id)
        self._held, self._areas, self._departements, self._archive = {}, {}, {}, {}
        for kept in (self._atom, self._cap, self._json):
            kept.clear()
        self._env.forget_cards()
        self._now, self._year = now, self._year_of(now)
        for alert in alerts:
            self._hold(alert, now)
        changes = _Changes(
            pages=set(seen),
            cap=set(seen),
            areas=set(self._areas),
            departements=set(self._departements),
            archive=True,
        )
        return self._write(now, changes, full=True)

    def publish(self, alert: PublishedAlert, now: datetime) -> list[Path]:
        """Add `alert` or replace the one with its id (a new version, a cancel); return the
        files written or removed: what a CDN must purge."""
        check_id(alert.alert_id)
        self._check_loaded()
        changes = self._advance(now)
        old = self._held.get(alert.alert_id)
        if old is None or old.alert != alert:
            if old is not None:
                changes.areas |= old.slugs
                changes.departements |= old.departements
                changes.archive |= old.ended
            new = self._hold(alert, now)
            changes.pages.add(alert.alert_id)
            changes.cap.add(alert.alert_id)
            changes.areas |= new.slugs
            changes.departements |= new.departements
            changes.archive |= new.ended
        return self._write(now, changes)

    def refresh(self, now: datetime) -> list[Path]:
        """Apply what time alone changed (an expiry passed, an end left the kept window);
        write nothing when nothing did."""
        self._check_loaded()
        changes = self._advance(now)
        return self._write(now, changes) if changes else []

    def next_refresh(self) -> datetime | None:
        """When `refresh` next has something to do (None: not until something is published)."""
        return min((held.due for held in self._held.values() if held.due is not None), default=None)

    @property
    def alerts(self) -> list[PublishedAlert]:
        return [held.alert for held in self._held.values()]

    def owned_files(self) -> set[str]:
        """The paths, from the site's root, of the per-alert files the held alerts make."""
        files: set[str] = set()
        for held in self._held.values():
            files.add(held.view.path)
            files.update(cap_path(held.alert.alert_id, v.version) for v in held.alert.versions)
        for slug in self._areas:
            files.update(f"areas/{slug}{suffix}" for suffix in (".html", ".atom", ".json"))
        files.update(
            f"{DEPARTEMENTS}/{code}{suffix}" for code in self._departements for suffix in (".atom", ".json")
        )
        files.update(self._archive)
        return files

    # -- state -----------------------------------------------------------------------------

    def _check_loaded(self) -> None:
        """Publishing into a folder never built would leave it without assets or archive."""
        if self._now is None:
            raise RuntimeError("SiteBuilder.load() first (with the alerts already published, or none)")

    def _year_of(self, now: datetime) -> int:
        return now.astimezone(self.tz).year

    def _state(self, alert: PublishedAlert, now: datetime) -> tuple[bool, bool, datetime | None]:
        """(ended, listed, due) of `alert` at `now`."""
        if not alert.is_ended(now):
            return False, True, alert.expires_at()
        end = end_of(alert)
        ended_at = (end[1] if end else None) or alert.latest.sent
        left = ended_at + self.ended_kept
        return True, now < left, left if now < left else None

    def _hold(self, alert: PublishedAlert, now: datetime) -> _Held:
        ended, listed, due = self._state(alert, now)
        view = alert_view(alert, now=now, tz=self.tz, language=self.language)
        old = self._held.get(alert.alert_id)
        if old is not None:
            for slug in old.slugs:
                self._areas[slug].discard(alert.alert_id)
            for code in old.departements:
                self._departements[code].discard(alert.alert_id)
        held = _Held(alert=alert, view=view, ended=ended, listed=listed, due=due)
        self._held[alert.alert_id] = held
        for slug in held.slugs:
            self._areas.setdefault(slug, set()).add(alert.alert_id)
        for code in held.departements:
            self._departements.setdefault(code, set()).add(alert.alert_id)
        return held

    def _advance(self, now: datetime) -> _Changes:
        """Bring every held alert to its state at `now`; what must be drawn again."""
        changes = _Changes()
        year = self._year_of(now)
        redraw = year != self._year  # times now say (or stop saying) their year
        recheck = redraw or self._now is None or now < self._now  # the clock went back: check all
        for alert_id, held in list(self._held.items()):
            if not recheck and (held.due is None or held.due > now):
                continue
            was_ended, was_listed = held.ended, held.listed
            ended, listed, due = self._state(held.alert, now)
            if redraw or ended != was_ended:
                held = self._hold(held.alert, now)
                changes.pages.add(alert_id)
                changes.areas |= held.slugs
                changes.departements |= held.departements
            else:
                held.listed, held.due = listed, due
                if listed != was_listed:
                    changes.areas |= held.slugs
                    changes.departements |= held.departements
            changes.archive |= ended != was_ended or (redraw and ended)
        self._now, self._year = now, year
        return changes

    # -- drawing ---------------------------------------------------------------------------

    def _page(self, template: str, context: dict[str, Any]) -> bytes:
        return render_page(self._env, template, {**self._common, **context})

    def _alert_files(self, alert_id: str) -> Iterable[tuple[str, bytes]]:
        held = self._held[alert_id]
        yield held.view.path, self._page("alert.html.j2", {"root": "../", "page": "alert", "a": held.view})

    def _cap_files(self, alert_id: str) -> Iterable[tuple[str, bytes]]:
        alert = self._held[alert_id].alert
        documents = cap_documents([v.incident for v in alert.versions], tz=self.tz)
        for version, document in zip(alert.versions, documents, strict=True):
            yield cap_path(alert_id, version.version), xml_bytes(document)

    def _feeds(self, members: list[_Held], path: str, title: str) -> list[tuple[str, bytes]]:
        """An area's Atom and JSON feeds (`path` without suffix): its listed alerts, bounded as
        the site's own feeds are (current ones, and ended ones for `ended_kept`)."""
        views = [h.view for h in members if h.listed]
        current = current_order([v for v in views if not v.ended])
        recent = archive_order([v for v in views if v.ended])
        # Their time is their members' newest version, not the build's: a feed drawn again by a
        # publish and the same feed drawn by a full build (later) are the same bytes.
        changed = max(h.alert.latest.sent for h in members)
        options: dict[str, Any] = {"now": changed, "language": self.language, "base_url": self.base_url}
        atom = atom_feed(
            current + recent, tz=self.tz, entry=self._atom, path=f"{path}.atom", area=title, **options
        )
        return [
            (f"{path}.atom", atom),
            (f"{path}.json", alerts_json(current, recent, entry=self._json, **options)),
        ]

    def _departement_files(self, code: str) -> list[tuple[str, bytes]]:
        members = [self._held[alert_id] for alert_id in self._departements.get(code, ())]
        if not members:
            return []  # as an area's page: kept as it was when no version names it any more
        return self._feeds(members, f"{DEPARTEMENTS}/{code}", code)

    def _area_files(self, slug: str) -> list[tuple[str, bytes]]:
        members = [self._held[alert_id] for alert_id in self._areas.get(slug, ())]
        if not members:
            return []  # its alerts were replaced by versions that do not name it: keep the page
        current = current_order([h.view for h in members if not h.ended])
        ended = archive_order([h.view for h in members if h.ended])
        # Named as the first alert in page order names it, listed or not.
        area = next(a for a in (current + ended)[0].all_areas if a.slug == slug)
        listed = {h.alert.alert_id for h in members if h.listed}
        shown = current + [v for v in ended if v.alert_id in listed]
        context = {
            "root": "../",
            "page": "area",
            "area": area,
            "current": [v for v in shown if v.concerns_now(area)],
            "ended": [v for v in shown if not v.concerns_now(area)],
        }
        return [
            (area.path, self._page("area.html.j2", context)),
            *self._feeds(members, f"areas/{slug}", area.name),
        ]

    def _archive_files(self, full: bool) -> tuple[list[tuple[str, bytes]], list[str]]:
        """The archive pages that changed, and the numbered pages no longer there."""
        ended = archive_order([h.view for h in self._held.values() if h.ended])
        pages = archive_pages(ended, self.archive_page_size)
        files = []
        for page in pages:
            before = self._archive.get(page.path)
            if full or before is None or not page.same_as(before):
                context = {
                    "root": page.root,
                    "page": "archive",
                    "ended": list(page.alerts),
                    "newer": page.newer,
                    "older": page.older,
                }
                files.append((page.path, self._page("archive.html.j2", context)))
        wanted = {page.path for page in pages}
        written = set(self._archive)
        if full:
            written |= {f"{ARCHIVE_FOLDER}/{p.name}" for p in (self.site_dir / ARCHIVE_FOLDER).glob("*.html")}
        self._archive = {page.path: page for page in pages}
        return files, sorted(written - wanted)

    def _list_files(self, now: datetime) -> list[tuple[str, bytes]]:
        views = [h.view for h in self._held.values() if h.listed]
        current = current_order([v for v in views if not v.ended])
        recent = archive_order([v for v in views if v.ended])
        areas = sorted(
            {a.slug: a for v in current for a in v.areas}.values(), key=lambda a: (a.name.casefold(), a.slug)
        )
        digest = current_digest(current)
        index = {
            "root": "",
            "page": "index",
            "generated": shown_time(now, now=now, tz=self.tz, language=self.language),
            "current": current,
            "areas": areas,
            "digest": digest,
        }
        options: dict[str, Any] = {"now": now, "language": self.language, "base_url": self.base_url}
        return [
            ("index.html", self._page("index.html.j2", index)),
            ("feed.atom", atom_feed(current + recent, tz=self.tz, entry=self._atom, **options)),
            ("cap.xml", cap_feed(current + recent, tz=self.tz, entry=self._cap, **options)),
            ("alerts.json", alerts_json(current, recent, digest=digest, entry=self._json, **options)),
        ]

    def _write(self, now: datetime, changes: _Changes, *, full: bool = False) -> list[Path]:
        files: list[tuple[str, bytes]] = list(assets(self.templates_dir).items()) if full else []
        if full and self.subscribe is not None:
            files += subscribe_files(
                self.subscribe, self._page, language=self.language, templates_dir=self.templates_dir
            )
        for alert_id in sorted(changes.cap):
            files.extend(self._cap_files(alert_id))
        for alert_id in sorted(changes.pages):
            files.extend(self._alert_files(alert_id))
        for slug in sorted(changes.areas):
            files.extend(self._area_files(slug))
        for code in sorted(changes.departements):
            files.extend(self._departement_files(code))
        stale: list[str] = []
        if changes.archive or full:
            archive, stale = self._archive_files(full)
            files.extend(archive)
        files.extend(self._list_files(now))
        changed = write_files([(self.site_dir / name, data) for name, data in files])
        for name in stale:
            path = self.site_dir / name
            if path.exists():
                path.unlink()
                changed.append(path)
        sync_folders(path.parent for path in changed)
        return changed
