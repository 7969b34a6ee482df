"""Feed pollers, pure tier: the deciding functions, and `poll` against a local HTTP server (127.0.0.1,
ephemeral port) serving the real sample feeds (their links rewritten to it) and CAP documents."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from google.transit import gtfs_realtime_pb2 as gtfs

from alertcast.delivery.retry import RetryPolicy
from alertcast.ingest.detect import parse_document
from alertcast.ingest.feeds import FeedEntry, parse_feed
from alertcast.ingest.pollers import (
    FetchResponse,
    PollerSource,
    PollerState,
    Validators,
    as_update,
    changes,
    entries_to_fetch,
    fingerprint,
    load_pollers,
    poll,
)
from alertcast.models.incident import MsgType
from alertcast.settings import ROOT
from alertcast.stream.pollers import HttpFetch

SAMPLES = ROOT.parent / "shared" / "samples"
FEEDS = sorted((SAMPLES / "feeds").iterdir())
CAP_DOCS = [
    p for p in sorted((SAMPLES / "cap").glob("*.xml")) if not p.name.startswith(("invalid-", "lenient-"))
]
FAST = RetryPolicy(attempts=3, base_s=0.001, cap_s=0.01)


@dataclass
class Resource:
    body: bytes
    content_type: str
    etag: str | None = None
    fail: int = 0  # answer 503 this many more times


@dataclass
class FeedServer:
    """Serves resources by path; honours If-None-Match; can fail a resource N times."""

    resources: dict[str, Resource] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                server.requests.append((path, dict(self.headers)))
                resource = server.resources.get(path)
                if resource is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                if resource.fail > 0:
                    resource.fail -= 1
                    self.send_response(503)
                    self.send_header("Retry-After", "0")
                    self.end_headers()
                    return
                if resource.etag and self.headers.get("If-None-Match") == resource.etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", resource.content_type)
                self.send_header("Content-Length", str(len(resource.body)))
                if resource.etag:
                    self.send_header("ETag", resource.etag)
                self.end_headers()
                self.wfile.write(resource.body)

            def log_message(self, *args: Any) -> None:
                return None

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, args=(0.05,), daemon=True).start()

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for seen, headers in self.requests if seen == path]

    def serve_index(self, feed: Path, docs: list[Path], etag: str | None = '"v1"') -> list[Path]:
        """The feed at /<name>, each entry's link rewritten to /cap/<name>/<i> serving a CAP sample."""
        text = feed.read_text(encoding="utf-8")
        served = []
        for index, entry in enumerate(parse_feed(feed.read_bytes()).entries):
            local = f"/cap/{feed.stem}/{index}"
            text = text.replace(escape(entry.link), self.base + local).replace(entry.link, self.base + local)
            doc = docs[index % len(docs)]
            self.resources[local] = Resource(doc.read_bytes(), "application/cap+xml")
            served.append(doc)
        self.resources[f"/{feed.name}"] = Resource(text.encode(), "application/atom+xml", etag)
        return served


@pytest.fixture
def server() -> Iterator[FeedServer]:
    feeds = FeedServer()
    yield feeds
    feeds.http.shutdown()
    feeds.http.server_close()


def source(server: FeedServer, path: str, kind: str) -> PollerSource:
    return PollerSource.model_validate({"name": "test-feed", "url": server.base + path, "kind": kind})


# --- pure deciding -----------------------------------------------------------------------


def entry(entry_id: str, updated: datetime | None) -> FeedEntry:
    return FeedEntry(id=entry_id, updated=updated, link=f"http://x/{entry_id}")


def test_entries_to_fetch_are_new_or_updated() -> None:
    t1, t2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    entries = [entry("same", t1), entry("moved", t2), entry("new", t1), entry("untimed", None)]
    seen: dict[str, datetime | None] = {"same": t1, "moved": t1, "untimed": None}
    assert [e.id for e in entries_to_fetch(entries, seen)] == ["moved", "new", "untimed"]


def test_validators_become_conditional_headers() -> None:
    validators = Validators.of({"etag": '"abc"', "last-modified": "Tue, 01 Dec 2026 07:00:00 GMT"})
    assert validators.request_headers() == {
        "If-None-Match": '"abc"',
        "If-Modified-Since": "Tue, 01 Dec 2026 07:00:00 GMT",
    }
    assert Validators().request_headers() == {}


def bibus() -> bytes:
    return (SAMPLES / "gtfs-rt" / "bibus-brest-alerts.pb").read_bytes()


def test_changes_submit_new_skip_unchanged_and_turn_changed_into_updates() -> None:
    incidents = parse_document(bibus(), "application/x-protobuf", source="bibus").incidents
    fingerprints: dict[str, str] = {}
    assert changes(incidents, fingerprints) == incidents
    assert changes(incidents, fingerprints) == []
    restamped = [
        i.model_copy(update={"sent": datetime(2030, 1, 1, tzinfo=UTC), "source": "x"}) for i in incidents
    ]
    assert changes(restamped, fingerprints) == []  # volatile fields are not a change
    edited = incidents[0].model_copy(
        update={
            "info": [incidents[0].info[0].model_copy(update={"headline": "Ligne 2 : déviation prolongée"})]
        }
    )
    [update] = changes([edited, *incidents[1:]], fingerprints)
    assert update.msg_type == MsgType.UPDATE and update.key == incidents[0].key
    assert update.identifier == f"{incidents[0].identifier}~{fingerprint(edited)[:12]}"
    assert update.references[0].identifier == incidents[0].identifier
    assert changes([edited], {}) == [edited]  # the same change seen fresh is the same message
    assert as_update(edited, fingerprint(edited)) == update  # deterministic: two pollers agree


def test_pollers_configuration_loads_from_the_shipped_example() -> None:
    config = load_pollers(ROOT / "deploy" / "sources.example.yaml")
    assert {p.kind for p in config.pollers} == {"cap-index", "gtfs-rt", "datex2"}
    assert load_pollers(text='{"pollers": [{"name": "a", "url": "https://e.org/f", "kind": "cap"}]}').pollers


# --- poll against a real local server ---------------------------------------------------


@pytest.mark.parametrize("feed", FEEDS, ids=lambda p: p.name)
async def test_index_feed_then_not_modified(server: FeedServer, feed: Path) -> None:
    docs = [SAMPLES / "cap" / "lenient-krisinformation-se-vma-nonstandard-area.xml", *CAP_DOCS]
    served = server.serve_index(feed, docs)
    fetch = HttpFetch(timeout_s=5)
    try:
        first = await poll(source(server, f"/{feed.name}", "cap-index"), PollerState(), fetch, FAST)
        assert first.problems == [] and first.rejections == []
        expected = {i.key for doc in served for i in parse_document(doc.read_bytes()).incidents}
        assert {i.key for i in first.incidents} == expected
        assert all(i.source == "test-feed" for i in first.incidents)

        second = await poll(source(server, f"/{feed.name}", "cap-index"), first.state, fetch, FAST)
        assert second.not_modified and second.incidents == []
        assert server.hits(f"/{feed.name}")[-1]["If-None-Match"] == '"v1"'
        assert sum(len(server.hits(f"/cap/{feed.stem}/{i}")) for i in range(len(served))) == len(served)
    finally:
        await fetch.aclose()


async def test_index_refetches_only_the_updated_entry(server: FeedServer) -> None:
    feed = SAMPLES / "feeds" / "nyalert-cap-index.rss"
    server.serve_index(feed, CAP_DOCS, etag=None)
    fetch = HttpFetch(timeout_s=5)
    try:
        first = await poll(source(server, f"/{feed.name}", "cap-index"), PollerState(), fetch, FAST)
        assert len(first.incidents) == 2
        again = await poll(source(server, f"/{feed.name}", "cap-index"), first.state, fetch, FAST)
        assert not again.not_modified and again.incidents == []  # 200, but nothing new
        index = server.resources[f"/{feed.name}"]
        index.body = index.body.replace(b"Fri, 04 Feb 2011 20:20:00", b"Fri, 04 Feb 2011 21:20:00")
        server.resources[f"/cap/{feed.stem}/0"].body = CAP_DOCS[5].read_bytes()
        moved = await poll(source(server, f"/{feed.name}", "cap-index"), again.state, fetch, FAST)
        assert [i.key for i in moved.incidents] == [
            i.key for i in parse_document(CAP_DOCS[5].read_bytes()).incidents
        ]
        assert len(server.hits(f"/cap/{feed.stem}/0")) == 2 and len(server.hits(f"/cap/{feed.stem}/1")) == 1
    finally:
        await fetch.aclose()


async def test_gtfs_rt_url_submits_only_new_or_changed_alerts(server: FeedServer) -> None:
    server.resources["/alerts.pb"] = Resource(bibus(), "application/x-protobuf")
    fetch = HttpFetch(timeout_s=5)
    gtfs_source = source(server, "/alerts.pb", "gtfs-rt")
    try:
        first = await poll(gtfs_source, PollerState(), fetch, FAST)
        assert len(first.incidents) == 12 and first.rejections == []
        same = await poll(gtfs_source, first.state, fetch, FAST)
        assert same.incidents == []
        message = gtfs.FeedMessage()
        message.ParseFromString(bibus())
        message.header.timestamp += 60  # republished a minute later...
        message.entity[3].alert.header_text.translation[
            0
        ].text = "Travaux prolongés jusqu'au 20"  # ...one changed
        server.resources["/alerts.pb"].body = message.SerializeToString()
        changed = await poll(gtfs_source, same.state, fetch, FAST)
        [update] = changed.incidents
        assert update.msg_type == MsgType.UPDATE and update.key == first.incidents[3].key
    finally:
        await fetch.aclose()


async def test_datex2_url_and_refused_documents_become_rejections(server: FeedServer) -> None:
    datex = SAMPLES / "datex2" / "fr-bisonfute-tipi-v2-situation-vehicle-obstruction.xml"
    server.resources["/datex.xml"] = Resource(datex.read_bytes(), "application/xml", '"d1"')
    bad = SAMPLES / "cap" / "invalid-missing-scope.xml"
    server.resources["/bad.xml"] = Resource(bad.read_bytes(), "application/cap+xml")
    fetch = HttpFetch(timeout_s=5)
    try:
        good = await poll(source(server, "/datex.xml", "datex2"), PollerState(), fetch, FAST)
        assert good.incidents and good.rejections == []
        refused = await poll(source(server, "/bad.xml", "cap"), PollerState(), fetch, FAST)
        [rejection] = refused.rejections
        assert refused.incidents == [] and rejection.source == "test-feed"
        assert any(p.rule == "missing" or "scope" in p.path for p in rejection.problems)
    finally:
        await fetch.aclose()


async def test_failing_source_is_retried_reported_and_recovers(server: FeedServer) -> None:
    server.resources["/alerts.pb"] = Resource(bibus(), "application/x-protobuf", fail=2)
    fetch = HttpFetch(timeout_s=5)
    gtfs_source = source(server, "/alerts.pb", "gtfs-rt")
    try:
        recovered = await poll(gtfs_source, PollerState(), fetch, FAST)  # 503, 503, then 200: one poll
        assert len(recovered.incidents) == 12 and recovered.problems == []

        server.resources["/alerts.pb"].fail = 5
        failed = await poll(gtfs_source, PollerState(), fetch, FAST)
        assert failed.incidents == [] and failed.state.failures == 1
        [problem] = failed.problems
        assert problem.rule == "fetch_failed" and "503" in problem.message and problem.hint

        later = await poll(gtfs_source, failed.state, fetch, FAST)  # 2 more failures, then it answers
        assert len(later.incidents) == 12 and later.state.failures == 0

        missing = await poll(source(server, "/gone.pb", "gtfs-rt"), PollerState(), fetch, FAST)
        assert [p.rule for p in missing.problems] == ["fetch_failed"] and len(server.hits("/gone.pb")) == 1
    finally:
        await fetch.aclose()


async def test_unreachable_source_is_a_problem_not_an_exception() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]
    fetch = HttpFetch(timeout_s=2)
    try:
        down = PollerSource(name="down", url=f"http://127.0.0.1:{port}/feed", kind="cap-index")
        outcome = await poll(down, PollerState(), fetch, FAST)
        assert [p.rule for p in outcome.problems] == ["fetch_failed"] and "ConnectError" in outcome.problems[
            0
        ].message
    finally:
        await fetch.aclose()


async def test_fake_fetch_drives_poll_without_a_network() -> None:
    async def fetch(url: str, headers: dict[str, str]) -> FetchResponse:
        return FetchResponse(status=200, headers={"content-type": "application/x-protobuf"}, body=bibus())

    outcome = await poll(
        PollerSource(name="b", url="https://e.org/a.pb", kind="gtfs-rt"), PollerState(), fetch, FAST
    )
    assert len(outcome.incidents) == 12
