"""`alertcast demo`: everything a new user needs to see alertcast work, started and stopped here.

Broker, topics, a worker, the public site on 127.0.0.1, and the example incidents of
deploy/examples/ (their times moved to today, so they show as current alerts).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alertcast import kafka, topics
from alertcast.clock import clock
from alertcast.models.incident import Incident
from alertcast.settings import ROOT, Settings
from alertcast.site.serve import serve
from alertcast.submit import produce

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


def examples_for_today(folder: Path = EXAMPLES) -> list[Incident]:
    """The examples with every time moved by the same amount: the last was sent 5 minutes ago."""
    documents = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    last = max(datetime.fromisoformat(doc["sent"]) for doc in documents)
    delta = clock.now() - timedelta(minutes=5) - last
    return [Incident.model_validate({"source": "demo", **_shift(doc, delta)}) for doc in documents]


def run_demo(settings: Settings, site_dir: Path, port: int, wait: bool = True) -> int:
    site_dir = site_dir.resolve()
    nodes = kafka.running(settings.kafka_dir, settings.kafka_port)
    started_broker = not all(pid for _, pid in nodes)
    kafka.up(settings.kafka_dir, settings.cache_dir, settings.kafka_port)
    for line in topics.apply(settings.bootstrap, settings.topic_prefix).lines():
        print(f"topics: {line}")
    env = {
        **os.environ,
        "ALERTCAST_SITE_DIR": str(site_dir),
        "ALERTCAST_SITE_BASE_URL": f"http://127.0.0.1:{port}",
        "ALERTCAST_CHANNELS": json.dumps(["website", "webhook"] if settings.webhook_urls else ["website"]),
    }
    log_path = settings.kafka_dir.resolve().parent / "demo-worker.log"
    log = open(log_path, "ab")  # noqa: SIM115 - kept open for the worker's lifetime
    worker = subprocess.Popen(
        [sys.executable, "-m", "alertcast", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    server = serve(site_dir, port)
    try:
        incidents = examples_for_today()
        produce(incidents, settings, "demo")
        print(f"submitted {len(incidents)} example incidents; worker log: {log_path}")
        alert_count = len({incident.key for incident in incidents})
        if not _wait_for_site(site_dir, alert_count, worker, timeout_s=120):
            print(f"the worker did not publish the examples in time; see {log_path}", file=sys.stderr)
            return 1
        print(f"public site: http://127.0.0.1:{port}/  (feeds: cap.xml, feed.atom, alerts.json)")
        if wait:
            print("running; press Ctrl-C to stop the worker, the site server and the broker")
            signal.signal(signal.SIGTERM, _interrupt)
            while worker.poll() is None:
                time.sleep(0.5)
            print(f"the worker stopped unexpectedly; see {log_path}", file=sys.stderr)
            return 1
        return 0
    except KeyboardInterrupt:
        print("\nstopping")
        return 0
    finally:
        server.shutdown()
        worker.terminate()
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
        if started_broker:
            kafka.down(settings.kafka_dir, settings.kafka_port)
            print("broker stopped")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _wait_for_site(site_dir: Path, alerts: int, worker: subprocess.Popen[bytes], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    seen = -1
    while time.monotonic() < deadline and worker.poll() is None:
        count = len(list((site_dir / "data").glob("*.json")))
        if count != seen:
            print(f"published {count}/{alerts} alerts")
            seen = count
        if count >= alerts and (site_dir / "index.html").exists():
            return True
        time.sleep(0.5)
    return False
