"""Shared fixtures: one real Kafka broker per session (for the `kafka` tier), real workers,
a local webhook receiver, and waiting on conditions (never fixed sleeps)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from servers import CACHE, free_port
from servers import wait_for as wait_for  # re-exported: tests import it from conftest

from alertcast import examples, i18n, kafka, languagetool
from alertcast.settings import ROOT

# Property tests judge behaviour, never speed (benchmarks print figures): Hypothesis's default
# 200 ms deadline per example failed CI on a loaded machine (a charter check took 325 ms once,
# 60 ms the next time). No deadline, in every tier.
hypothesis_settings.register_profile("alertcast", deadline=None)
hypothesis_settings.load_profile("alertcast")


def pytest_configure(config: pytest.Config) -> None:
    """The compiled catalogs, as `make catalogs` builds them: plain `pytest` after editing a
    .po (or on a fresh checkout) reads the words of that .po. Done here, once, rather than by
    alertcast at run time, which never writes into its own package (read-only in the image)."""
    i18n.compile_catalogs()


#: The one error shape (README): its five fields, then the msgids of `message` and `hint` and
#: the values they name, for each reader's language (alertcast.explanations).
PROBLEM_SHAPE = {"path", "value", "rule", "message", "hint", "message_id", "hint_id", "params"}
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "samples"
EXAMPLES = examples.EXAMPLES  # fixed dates: for pure tests with the clock pinned to them


def _free_pair() -> int:
    """A port p with p+100 free too (the broker's controller port)."""
    for _ in range(100):
        port = free_port()
        if port + 100 < 65536:
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port + 100))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair")


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real single-node KRaft broker for the whole session; stopped by PID at the end."""
    data = tmp_path_factory.mktemp("kafka")
    port = _free_pair()
    kafka.up(data, CACHE, port=port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        kafka.down(data, port=port)


@pytest.fixture(scope="session")
def languagetool_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real LanguageTool server for the whole session, warm (fr, en); stopped by PID at the end."""
    data = tmp_path_factory.mktemp("languagetool")
    server = languagetool.up(data, CACHE, port=free_port())
    try:
        yield server.url
    finally:
        languagetool.down(data)


@pytest.fixture
def current_examples(tmp_path: Path) -> Path:
    """deploy/examples/ moved to now, as files: what a worker on the real clock accepts."""
    return examples.written(tmp_path / "examples")


@pytest.fixture
def prefix() -> str:
    """Topics of one test never meet another test's."""
    return f"t{uuid.uuid4().hex[:10]}."


class Receiver:
    """A local webhook endpoint that records what it is sent."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 202  # what it answers; a test sets 500 to play a network that is down
        self.failures = 0  # answer 503 to this many requests first (a network down for a while)
        self.refused = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    failing = receiver.failures > 0
                    if failing:
                        receiver.failures -= 1
                        receiver.refused += 1
                if failing:
                    self.send_response(503)
                    self.end_headers()
                    return
                if receiver.status >= 400:
                    self.send_response(receiver.status)
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.requests.append(
                        {"headers": dict(self.headers), "body": json.loads(body), "at": time.monotonic()}
                    )
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [request["body"] for request in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


PROBLEM_WORDS = ("[WARNING]", "[ERROR]", "[CRITICAL]", "Traceback", "Error:")


class Worker:
    """A real `alertcast worker` process with its own app id, topics, ports and folders."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "alertcast", "worker"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:]) if self.log.exists() else ""

    def log_problems(self, most: int = 30) -> str:
        """The log's warnings, errors and tracebacks, each kind once with its count, in the
        order they first came: what went wrong early is what a failure report needs, and a
        broker down repeats one line hundreds of times."""
        if not self.log.exists():
            return ""
        kinds: dict[str, list[str | int]] = {}
        for line in self.log.read_text(errors="replace").splitlines():
            if any(word in line for word in PROBLEM_WORDS):
                kind = re.sub(r"\d+", "N", line.split("] ", 2)[-1])
                kinds.setdefault(kind, [line, 0])[1] = int(kinds[kind][1]) + 1 if kind in kinds else 1
        return "\n".join(f"{count}x {first}" for first, count in list(kinds.values())[:most])


@pytest.fixture
def worker_env(broker: str, prefix: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ALERTCAST_BOOTSTRAP": broker,
        "ALERTCAST_TOPIC_PREFIX": prefix,
        "ALERTCAST_APP_ID": f"alertcast-{prefix.rstrip('.')}",
        "ALERTCAST_WORKER_WEB_PORT": str(free_port()),
        "ALERTCAST_SITE_DIR": str(tmp_path / "site"),
        "ALERTCAST_WORKER_DATA_DIR": str(tmp_path / "worker-data"),
        "ALERTCAST_CHANNELS": json.dumps(["website"]),
        "ALERTCAST_LOG_LEVEL": "info",
    }


@pytest.fixture
def start_worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(**overrides: str) -> Worker:
        worker = Worker({**worker_env, **overrides}, tmp_path / f"worker{len(workers)}.log").start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    for worker in workers:
        print(f"--- {worker.log} ---\n{worker.log_tail()}")
