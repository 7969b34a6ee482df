"""A small static server for the site folder (demo and tests; production uses any web server).

Content types for the feeds, and cache headers that let a CDN absorb a hundredfold spike while
a new alert still shows within a minute.
"""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
SHORT_CACHE = "public, max-age=30, stale-while-revalidate=30"
LONG_CACHE = "public, max-age=86400"


class SiteHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **CONTENT_TYPES}  # noqa: RUF012
    etag: str | None = None

    def send_head(self) -> Any:
        """An ETag from the file's nanosecond mtime and size: If-Modified-Since has whole
        seconds, so a page rebuilt twice in one second would otherwise stay stale in caches."""
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        try:
            stat = path.stat()
        except OSError:
            self.etag = None
            return super().send_head()
        self.etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        if self.headers.get("If-None-Match") == self.etag:
            self.send_response(304)
            self.end_headers()
            return None
        return super().send_head()

    def end_headers(self) -> None:
        if self.etag:
            self.send_header("ETag", self.etag)
        static = self.path.startswith("/assets/")
        self.send_header("Cache-Control", LONG_CACHE if static else SHORT_CACHE)
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


def serve(site_dir: Path, port: int) -> ThreadingHTTPServer:
    """Serve `site_dir` on 127.0.0.1:port from a daemon thread; `shutdown()` stops it."""
    site_dir.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(SiteHandler, directory=str(site_dir)))
    threading.Thread(target=server.serve_forever, name="site-server", daemon=True).start()
    return server
