"""`alertcast demo`: everything a new user needs to see alertcast work, started and stopped here.

Broker, topics, a worker, `alertcast web` (intake API and console, with a login and an API key
made for this run), the public site on 127.0.0.1, and the example incidents of deploy/examples/
(their times moved to today, so they show as current alerts).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alertcast import kafka, topics
from alertcast.clock import clock
from alertcast.models.alert import alert_id_for
from alertcast.models.incident import Incident
from alertcast.settings import ROOT, Settings
from alertcast.site.serve import serve
from alertcast.submit import produce
from alertcast.web.console.auth import hash_password
from alertcast.web.keys import new_key

EXAMPLES = ROOT / "deploy" / "examples"
TIME_FIELDS = {"sent", "effective", "onset", "expires"}


def _shift(node: Any, delta: timedelta) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                (datetime.fromisoformat(value) + delta).isoformat()
                if key in TIME_FIELDS and isinstance(value, str)
                else _shift(value, delta)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_shift(item, delta) for item in node]
    return node


def _renamed(node: Any, suffix: str) -> Any:
    """Every identifier (and reference to one) with this run's suffix: the broker keeps what
    earlier runs sent, and intake rightly drops a message it has already seen."""
    if isinstance(node, dict):
        return {
            key: f"{value}-{suffix}" if key == "identifier" else _renamed(value, suffix)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_renamed(item, suffix) for item in node]
    return node


def examples_for_today(folder: Path = EXAMPLES, unique: bool = True) -> list[Incident]:
    """The examples as messages of today: every time moved by the same amount (the last was
    sent 5 minutes ago) and, with `unique`, identifiers made unique to this run."""
    documents = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    last = max(datetime.fromisoformat(doc["sent"]) for doc in documents)
    now = clock.now()
    shifted = [_shift(doc, now - timedelta(minutes=5) - last) for doc in documents]
    if unique:
        shifted = [_renamed(doc, now.strftime("%Y%m%d%H%M%S")) for doc in shifted]
    return [Incident.model_validate({"source": "demo", **doc}) for doc in shifted]


def run_demo(settings: Settings, site_dir: Path, port: int, web_port: int = 8000, wait: bool = True) -> int:
    site_dir = site_dir.resolve()
    nodes = kafka.running(settings.kafka_dir, settings.kafka_port)
    started_broker = not all(pid for _, pid in nodes)
    kafka.up(settings.kafka_dir, settings.cache_dir, settings.kafka_port)
    for line in topics.apply(settings.bootstrap, settings.topic_prefix).lines():
        print(f"topics: {line}")
    password, api_key = secrets.token_urlsafe(12), new_key("demo")
    env = {
        **os.environ,
        "ALERTCAST_SITE_DIR": str(site_dir),
        "ALERTCAST_SITE_BASE_URL": f"http://127.0.0.1:{port}",
        "ALERTCAST_CHANNELS": json.dumps(["website", "webhook"] if settings.webhook_urls else ["website"]),
        # Made for this run only, never stored: a console login and an intake key.
        "ALERTCAST_USERS": json.dumps(
            {
                "users": [
                    {
                        "name": "demo",
                        "roles": ["communicator", "supervisor"],
                        "password_argon2": hash_password(password),
                    }
                ]
            }
        ),
        "ALERTCAST_SOURCES": api_key.yaml_entry(),
        "ALERTCAST_SESSION_KEY": secrets.token_urlsafe(32),
    }
    logs = settings.kafka_dir.resolve().parent
    processes = {
        "worker": _start(["worker"], env, logs / "demo-worker.log"),
        "web": _start(["web", "--port", str(web_port)], env, logs / "demo-web.log"),
    }
    server = serve(site_dir, port)
    try:
        incidents = examples_for_today()
        produce(incidents, settings, "demo")
        print(f"submitted {len(incidents)} example incidents; logs: {logs}/demo-*.log")
        alert_ids = {alert_id_for(incident.key) for incident in incidents}
        if not _wait_for_site(site_dir, alert_ids, processes["worker"], timeout_s=120):
            print(
                f"the worker did not publish the examples in time; see {logs}/demo-worker.log",
                file=sys.stderr,
            )
            return 1
        print(f"public site: http://127.0.0.1:{port}/  (feeds: cap.xml, feed.atom, alerts.json)")
        print(f"console:     http://127.0.0.1:{web_port}/console  (user demo, password {password})")
        print(f"intake API:  http://127.0.0.1:{web_port}/api/v1/incidents  (Bearer {api_key.key})")
        if wait:
            print("running; press Ctrl-C to stop the worker, the web process, the site server and the broker")
            signal.signal(signal.SIGTERM, _interrupt)
            while all(process.poll() is None for process in processes.values()):
                time.sleep(0.5)
            stopped = [name for name, process in processes.items() if process.poll() is not None]
            print(f"the {' and '.join(stopped)} stopped unexpectedly; see {logs}/demo-*.log", file=sys.stderr)
            return 1
        return 0
    except KeyboardInterrupt:
        print("\nstopping")
        return 0
    finally:
        server.shutdown()
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        if started_broker:
            kafka.down(settings.kafka_dir, settings.kafka_port)
            print("broker stopped")


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "alertcast", *command], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _wait_for_site(
    site_dir: Path, alert_ids: set[str], worker: subprocess.Popen[bytes], timeout_s: float
) -> bool:
    deadline = time.monotonic() + timeout_s
    seen = -1
    while time.monotonic() < deadline and worker.poll() is None:
        count = sum((site_dir / "alerts" / f"{alert_id}.html").exists() for alert_id in alert_ids)
        if count != seen:
            print(f"published {count}/{len(alert_ids)} alerts")
            seen = count
        if count == len(alert_ids) and (site_dir / "index.html").exists():
            return True
        time.sleep(0.5)
    return False
