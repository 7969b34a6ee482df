"""A real worker, a webhook whose URL carries its receiver's token (in the path and the query)
that fails, then dies: neither the URL's tokens nor the signing secret reach the worker's log,
`deliveries.receipts` or `deliveries.dead`."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for
from kafka_io import read_until_found
from test_pipeline_kafka import cli

from alertcast.channels.webhook import account_id

pytestmark = pytest.mark.kafka

PATH_TOKEN = "s3cr3tPATHtoken"
QUERY_TOKEN = "s3cr3tQUERY"


class FailingReceiver:
    """Answers 503 to the first `failures` requests, then 403 with a body that echoes its own
    URL and tokens (as careless receivers do)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.headers.append(dict(self.headers.items()))
                    down = len(receiver.headers) <= receiver.failures
                body = b"" if down else f"token {QUERY_TOKEN} refused for {self.path}".encode()
                self.send_response(503 if down else 403)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook/{PATH_TOKEN}?token={QUERY_TOKEN}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def calls(self) -> int:
        with self.lock:
            return len(self.headers)


def test_a_failing_webhook_with_a_token_in_its_url_leaks_no_secret_to_log_receipts_or_dead(
    broker: str, prefix: str, start_worker: Any, worker_env: dict[str, str], current_examples: Path
) -> None:
    receiver = FailingReceiver(failures=2)
    secret = f"whsec-{uuid.uuid4().hex}"
    try:
        env = {
            **worker_env,
            "ALERTCAST_CHANNELS": json.dumps(["webhook"]),
            "ALERTCAST_WEBHOOK_URLS": json.dumps([receiver.url]),
            "ALERTCAST_WEBHOOK_SECRET": secret,
        }
        worker = start_worker(**env)
        submitted = cli("submit", str(current_examples / "01-road-closure-d934.json"), env=env)
        assert submitted.returncode == 0, submitted.stderr
        (dead,) = read_until_found(broker, prefix + "deliveries.dead", bool, what=worker.log_tail)
        receipts = read_until_found(broker, prefix + "deliveries.receipts", bool, what=worker.log_tail)
        shown = f"http://127.0.0.1:{receiver.port}/<redacted>"
        said = f"webhook account {account_id(receiver.url)} ({shown}) answered 403"
        wait_for(lambda: said in worker.log.read_text(), 30, worker.log_tail)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    worker.stop()  # whatever it says on its way out is read too

    assert receiver.calls() == 3  # 503, 503 (retried), 403 (refused for good)
    assert all(h["X-Alertcast-Signature"].startswith("sha256=") for h in receiver.headers)
    assert (dead["channel"], dead["account"], dead["status"]) == ("webhook", account_id(receiver.url), "dead")
    assert dead["error"].startswith(said) and "refused" in dead["error"]  # the receiver's reason, cleaned
    assert dead["url"] is None
    assert [r["status"] for r in receipts] == ["dead"]
    log = worker.log.read_text(errors="replace")
    assert log.count(f"HTTP Request: POST {shown}") == 3  # httpx logged every attempt, redacted
    assert "503" in log and said in log
    for where, text in [
        ("the worker's log", log),
        *[("deliveries.receipts", json.dumps(r)) for r in receipts],
        ("deliveries.dead", json.dumps(dead)),
    ]:
        for leaked in (PATH_TOKEN, QUERY_TOKEN, secret, receiver.url):
            assert leaked not in text, f"{leaked!r} in {where}"
