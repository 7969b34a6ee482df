"""The demo's static server: content types, cache headers, and ETags that change within a second."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from alertcast.site.serve import serve


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    (tmp_path / "index.html").write_text("<p>one</p>")
    (tmp_path / "feed.atom").write_text("<feed/>")
    server = serve(tmp_path, 0)
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_content_types_and_cache_headers(site: tuple[Path, str]) -> None:
    _, url = site
    feed = httpx.get(f"{url}/feed.atom")
    assert feed.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert "max-age=30" in feed.headers["cache-control"]
    assert feed.headers["x-content-type-options"] == "nosniff"


def test_a_page_rebuilt_in_the_same_second_is_not_answered_304(site: tuple[Path, str]) -> None:
    folder, url = site
    first = httpx.get(f"{url}/")
    etag = first.headers["etag"]
    assert httpx.get(f"{url}/", headers={"If-None-Match": etag}).status_code == 304
    page = folder / "index.html"
    seconds = page.stat().st_mtime
    page.write_text("<p>two!</p>")
    os.utime(page, (seconds, seconds))  # same whole second as before, as in a burst of rebuilds
    again = httpx.get(
        f"{url}/", headers={"If-None-Match": etag, "If-Modified-Since": first.headers["last-modified"]}
    )
    assert again.status_code == 200
    assert again.text == "<p>two!</p>"
