"""The archive's pages: ended alerts, newest first, in pages that keep their content.

Pages are cut from the oldest ended alert: `archive/1.html` holds the first `size` alerts that
ended, `archive/2.html` the next ones, and `archive.html` the newest, unfinished page. When an
alert ends only `archive.html` changes (and, once a page fills, the new `archive/<n>.html` and
the link of the page before it), so an end writes one to three archive files whatever the
archive's length, and a link to an archive page keeps showing what it showed. Numbering from
the newest would shift every page at every end, and the site would rewrite them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alertcast.site.views import AlertView

LATEST_PAGE = "archive.html"
ARCHIVE_FOLDER = "archive"


def archive_page_path(number: int) -> str:
    return f"{ARCHIVE_FOLDER}/{number}.html"


@dataclass(frozen=True)
class ArchivePage:
    path: str
    root: str  # from this page to the site's root
    alerts: tuple[AlertView, ...]  # newest first
    newer: str | None  # paths from the site's root
    older: str | None

    def same_as(self, other: ArchivePage) -> bool:
        """Draws the same page: same links and the very same views (a view is replaced, never
        changed, when its alert changes, so identity is the test)."""
        return (
            (self.path, self.newer, self.older) == (other.path, other.newer, other.older)
            and len(self.alerts) == len(other.alerts)
            and all(a is b for a, b in zip(self.alerts, other.alerts, strict=True))
        )


def archive_pages(ended: Sequence[AlertView], size: int) -> list[ArchivePage]:
    """`ended` in archive order (newest first), as pages of at most `size`; the last is
    `archive.html`, holding the newest alerts (or none: the archive page always exists)."""
    if size < 1:
        raise ValueError("an archive page holds at least one alert")
    oldest_first = list(reversed(ended))
    chunks = [oldest_first[start : start + size] for start in range(0, len(oldest_first), size)] or [[]]
    count = len(chunks)

    def path(number: int) -> str:
        return LATEST_PAGE if number == count else archive_page_path(number)

    return [
        ArchivePage(
            path=path(number),
            root="" if number == count else "../",
            alerts=tuple(reversed(chunk)),
            newer=path(number + 1) if number < count else None,
            older=path(number - 1) if number > 1 else None,
        )
        for number, chunk in enumerate(chunks, start=1)
    ]
