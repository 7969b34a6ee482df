"""The wall served on 127.0.0.1 by the demo process: the networks' posts read back from their
servers at each request, the approvals and receipts followed on the topics in a thread.

A plain `ThreadingHTTPServer`, like the site's server: one read-only page needs nothing more.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from alertcast.settings import Settings
from alertcast.wall import StoredPost, approvals_by_version, columns, render

TOPICS = ("alerts.approved", "deliveries.receipts")


class TopicFollower:
    """`alerts.approved` and `deliveries.receipts` from their start, followed until `stop`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.approvals: list[dict[str, Any]] = []
        self.receipts: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="wall-topics", daemon=True)

    def start(self) -> TopicFollower:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def read(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        with self._lock:
            return list(self.approvals), list(self.receipts)

    def _follow(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.bootstrap.split(","), enable_auto_commit=False, group_id=None
        )
        try:
            names = {self.settings.topic(topic): topic for topic in TOPICS}
            partitions = [
                TopicPartition(name, p)
                for name in names
                for p in sorted(consumer.partitions_for_topic(name) or ())
            ]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            while not self._stopping.is_set():
                for tp, records in consumer.poll(timeout_ms=500).items():
                    decoded = [json.loads(record.value) for record in records if record.value]
                    with self._lock:
                        (self.approvals if names[tp.topic] == "alerts.approved" else self.receipts).extend(
                            decoded
                        )
        finally:
            consumer.close()


class _WallHandler(BaseHTTPRequestHandler):
    def __init__(self, page: Callable[[], str], *args: Any) -> None:
        self.page = page
        super().__init__(*args)

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/":
            self.send_error(404)
            return
        body = self.page().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass  # the demo's terminal is for the newcomer


def wall_page(
    posts: Callable[[], dict[str, list[StoredPost]]],
    follower: TopicFollower,
    left_out: Callable[[], list[str]],
) -> Callable[[], str]:
    """What the wall shows at each request: the posts now, joined with the receipts read so far."""

    def page() -> str:
        approvals, receipts = follower.read()
        return render(columns(posts(), receipts, approvals_by_version(approvals)), left_out())

    return page


def serve_wall(page: Callable[[], str], port: int) -> ThreadingHTTPServer:
    """The wall on 127.0.0.1:`port` (0: any free port) in a daemon thread; `shutdown()` stops it."""
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(_WallHandler, page))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="wall", daemon=True).start()
    return server
