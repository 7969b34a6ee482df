"""The worker's /metrics and health pages on a real broker and a real worker process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port, wait_for
from kafka_io import produce, read_until
from prometheus_client.parser import text_string_to_metric_families

from alertcast import examples

pytestmark = pytest.mark.kafka

FAMILIES = [
    "alertcast_ingest",
    "alertcast_ingest_duration_seconds",
    "alertcast_rejections",
    "alertcast_drafts",
    "alertcast_compose_duration_seconds",
    "alertcast_approval_wait_seconds",
    "alertcast_fanout_requests",
    "alertcast_delivery_duration_seconds",
    "alertcast_deliveries_failed",
    "alertcast_circuit_state",
    "alertcast_consumer_lag",
    "alertcast_deliveries_paused",
    "alertcast_account_healthy",
]
SOURCE_TOPICS = [  # the topics the pipeline's agents read (ingest composes and applies the policy)
    "incidents.submitted",
    "alerts.decisions",
    "deliveries.requests",
]


def get(port: str, path: str) -> tuple[int, str] | None:
    """Status and body, or None while nothing listens yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (ConnectionError, urllib.error.URLError):
        return None


class Scrape:
    """One /metrics answer, parsed: families by name, and sample values by name and labels."""

    def __init__(self, text: str) -> None:
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in self.families.values()
            for sample in family.samples
        }

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, tuple(sorted(labels.items()))))


def scrape(port: str) -> Scrape:
    answer = get(port, "/metrics")
    assert answer is not None and answer[0] == 200, answer
    return Scrape(answer[1])


def wait_ready(port: str, worker: Any) -> list[tuple[int, dict[str, Any]]]:
    """Poll /healthz/ready until 200; every answer before it must be a 503 with a reason."""
    answers: list[tuple[int, dict[str, Any]]] = []

    def ready() -> bool:
        answer = get(port, "/healthz/ready")
        if answer is not None:
            answers.append((answer[0], json.loads(answer[1])))
        return answer is not None and answer[0] == 200

    wait_for(ready, 90, lambda: f"/healthz/ready to answer 200 (last: {answers[-1:]})\n{worker.log_tail()}")
    for status, body in answers[:-1]:
        assert status == 503 and body["ready"] is False and body["reason"], (status, body)
    assert answers[-1][1]["ready"] is True and "partitions assigned" in answers[-1][1]["reason"]
    return answers


def submit(env: dict[str, str], *paths: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "alertcast", "submit", *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_metrics_and_health_of_a_worker_that_delivered_an_incident(
    broker: str, prefix: str, start_worker: Any, worker_env: dict[str, str], current_examples: Path
) -> None:
    port = worker_env["ALERTCAST_WORKER_WEB_PORT"]
    worker = start_worker()
    wait_ready(port, worker)
    live = get(port, "/healthz/live")
    assert live is not None and live[0] == 200 and json.loads(live[1])["live"] is True

    submit(worker_env, current_examples / "01-road-closure-d934.json")
    produce(broker, prefix + "incidents.submitted", b"this is no known format")
    read_until(broker, prefix + "deliveries.receipts", 1)
    read_until(broker, prefix + "incidents.rejected", 1)

    def settled() -> Scrape | None:
        now = scrape(port)
        lags = [now.value("alertcast_consumer_lag", topic=prefix + topic) for topic in SOURCE_TOPICS]
        delivered = now.value("alertcast_delivery_duration_seconds_count", channel="website", status="sent")
        return now if delivered == 1 and lags == [0] * len(SOURCE_TOPICS) else None

    metrics = wait_for(settled, 60, lambda: f"delivery counted and lag 0:\n{get(port, '/metrics')}")
    for name in FAMILIES:
        assert name in metrics.families, name
        assert metrics.families[name].documentation, name
    assert metrics.value("alertcast_ingest_total", source="cli", outcome="accepted") == 1
    assert metrics.value("alertcast_ingest_total", source="kafka", outcome="rejected") == 1
    assert metrics.value("alertcast_rejections_total", source="kafka", rule="unknown_format") == 1
    assert metrics.value("alertcast_ingest_duration_seconds_count") == 2
    assert metrics.value("alertcast_compose_duration_seconds_count") == 1
    assert sum(v for (n, _), v in metrics.samples.items() if n == "alertcast_drafts_total") == 1
    assert metrics.value("alertcast_fanout_requests_total", channel="website", outcome="requested") == 1
    assert metrics.value("alertcast_delivery_duration_seconds_sum", channel="website", status="sent") > 0
    assert metrics.value("alertcast_circuit_state", channel="website") == 0
    assert metrics.value("alertcast_account_healthy", channel="website", account="default") == 1
    assert metrics.value("alertcast_approval_wait_seconds_count") is not None
    assert metrics.families["alertcast_deliveries_failed"].samples == []  # nothing dead or unknown
    assert metrics.value("process_resident_memory_bytes") > 0


class HookServer:
    """A webhook endpoint whose answer the test chooses: hold every request until released, or
    answer 503 (a network that is down)."""

    def __init__(self, status: int = 202, hold: bool = False) -> None:
        self.released = threading.Event()
        if not hold:
            self.released.set()
        self.calls = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.calls += 1
                server.released.wait(120)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def held_hook() -> Iterator[HookServer]:
    hook = HookServer(hold=True)
    yield hook
    hook.released.set()
    hook.server.shutdown()


@pytest.fixture
def down_hook() -> Iterator[HookServer]:
    hook = HookServer(status=503)
    yield hook
    hook.server.shutdown()


def incidents(tmp_path: Path, count: int) -> list[Path]:
    """`count` distinct incidents (own identifiers, so own keys and partitions)."""
    alert = examples.document("01-road-closure-d934.json")
    paths = []
    for n in range(count):
        path = tmp_path / f"incident-{n}.json"
        path.write_text(json.dumps({**alert, "identifier": f"{alert['identifier']}-{n}"}))
        paths.append(path)
    return paths


def test_lag_counts_requests_fetched_but_not_yet_delivered(
    start_worker: Any, worker_env: dict[str, str], held_hook: HookServer, tmp_path: Path, prefix: str
) -> None:
    """One delivery at a time, held by the receiver: the two others are fetched (the consumer's
    position is past them) but not processed, so the lag must still count all three."""
    env = {
        **worker_env,
        "ALERTCAST_CHANNELS": json.dumps(["webhook"]),
        "ALERTCAST_WEBHOOK_URLS": json.dumps([held_hook.url]),
        "ALERTCAST_WEBHOOK_SECRET": "test-webhook-secret",
        "ALERTCAST_WORKER_CONCURRENCY": "1",
        "ALERTCAST_HTTP_TIMEOUT_S": "120",
    }
    port = env["ALERTCAST_WORKER_WEB_PORT"]
    worker = start_worker(**env)
    wait_ready(port, worker)
    submit(env, *incidents(tmp_path, 3))
    topic = prefix + "deliveries.requests"

    def lag(expected: float) -> bool:
        return scrape(port).value("alertcast_consumer_lag", topic=topic) == expected

    wait_for(
        lambda: held_hook.calls == 1 and lag(3), 60, lambda: f"lag 3 on {topic}:\n{get(port, '/metrics')}"
    )
    held_hook.released.set()
    wait_for(
        lambda: held_hook.calls == 3 and lag(0), 60, lambda: f"lag 0 on {topic}:\n{get(port, '/metrics')}"
    )


def test_a_down_network_opens_its_circuit_and_the_delivery_is_counted_dead(
    start_worker: Any,
    worker_env: dict[str, str],
    down_hook: HookServer,
    broker: str,
    prefix: str,
    current_examples: Path,
) -> None:
    env = {
        **worker_env,
        "ALERTCAST_CHANNELS": json.dumps(["website", "webhook"]),
        "ALERTCAST_WEBHOOK_URLS": json.dumps([down_hook.url]),
        "ALERTCAST_WEBHOOK_SECRET": "test-webhook-secret",
    }
    port = env["ALERTCAST_WORKER_WEB_PORT"]
    worker = start_worker(**env)
    wait_ready(port, worker)
    submit(env, current_examples / "01-road-closure-d934.json")
    dead = read_until(broker, prefix + "deliveries.dead", 1, what=worker.log_tail())
    assert dead[0]["channel"] == "webhook" and "503" in dead[0]["error"]

    def counted() -> Scrape | None:
        now = scrape(port)
        return (
            now if now.value("alertcast_deliveries_failed_total", channel="webhook", status="dead") else None
        )

    metrics = wait_for(counted, 30, "the dead delivery counted")
    assert down_hook.calls == 5  # every attempt of the retry policy reached the network
    assert metrics.value("alertcast_deliveries_failed_total", channel="webhook", status="dead") == 1
    assert metrics.value("alertcast_delivery_duration_seconds_count", channel="webhook", status="dead") == 1
    assert metrics.value("alertcast_circuit_state", channel="webhook") == 2  # 5 failures in a row: open
    assert metrics.value("alertcast_circuit_state", channel="website") == 0  # the others are unaffected
    assert metrics.value("alertcast_delivery_duration_seconds_count", channel="website", status="sent") == 1


def test_the_worker_checks_its_accounts_and_says_which_one_fails(
    broker: str, prefix: str, start_worker: Any, worker_env: dict[str, str]
) -> None:
    """A receiver gone (nothing listens on its port) is found by the periodic check, before any
    alert: a warning receipt naming it, and its gauge at 0; the live one stays at 1."""
    gone = f"http://127.0.0.1:{free_port()}/hook"
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as live:
        threading.Thread(target=live.serve_forever, daemon=True).start()
        env = {
            "ALERTCAST_CHANNELS": json.dumps(["webhook"]),
            "ALERTCAST_WEBHOOK_URLS": json.dumps(
                [
                    {"name": "live", "url": f"http://127.0.0.1:{live.server_address[1]}/hook"},
                    {"name": "gone", "url": gone},
                ]
            ),
            "ALERTCAST_WEBHOOK_SECRET": "test-webhook-secret",
            "ALERTCAST_ACCOUNT_CHECK_INTERVAL_S": "2",
        }
        port = worker_env["ALERTCAST_WORKER_WEB_PORT"]
        start_worker(**env)
        warning = read_until(broker, prefix + "deliveries.receipts", 1, what="a warning receipt")[0]
        assert (warning["status"], warning["channel"], warning["account"]) == ("warning", "webhook", "gone")
        assert warning["delivery_key"] == "check:webhook:gone"
        assert gone not in warning["error"]  # the URL is a credential: shown as its origin only
        assert f"webhook account gone ({gone.removesuffix('/hook')}/<redacted>)" in warning["error"]

        def checked() -> Scrape | None:
            now = scrape(port)
            return now if now.value("alertcast_account_healthy", channel="webhook", account="live") else None

        metrics = wait_for(checked, 60, "the live account checked")
        assert metrics.value("alertcast_account_healthy", channel="webhook", account="gone") == 0
        live.shutdown()
