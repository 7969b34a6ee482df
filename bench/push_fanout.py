"""Push fan-out benchmark: one alert to N Web Push subscribers of one push service, paced.

A real broker and a real worker; the push service is the tests' RFC 8030 service
(tests/servers/push_service.py: it checks VAPID and decrypts every message), holding N
subscriptions of one commune. One road closure is submitted; the worker matches it and pushes
to every subscriber at the configured webpush rate, which counts per push service (its lane,
alertcast.subscriptions.lanes). It prints figures; it is not a test. Last line:

`subscribers=<n> rate_per_s=<r> pushed=<n> once_each=<bool> busiest_second=<n> allowed=<2r>
seconds=<x> expected_s=<(n-r)/r>`

`busiest_second` is the most pushes the service received in any one second (the bucket allows
a burst of r on top of r a second); `seconds` from the first push to the last.

    .venv/bin/python bench/push_fanout.py --subscribers 1000 --rate 200
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from kafka import KafkaProducer
from pipeline import free_port, kafka_running, log_tail, new_topics, say, stop
from servers.push_service import PushService  # type: ignore[import-not-found]  # the tests' server

from alertcast import examples
from alertcast.subscriptions.model import Subscription, create
from alertcast.subscriptions.vapid import b64url, generate_key_file

VIS_EN_ARTOIS = "62864"  # the road closure of the examples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=200, help="webpush posts a second per push service")
    parser.add_argument("--bootstrap", default="", help="an existing broker (default: start one)")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="alertcast-push-") as tmp:
        folder = Path(tmp)
        with kafka_running(args.bootstrap, folder) as bootstrap:
            return run(args, bootstrap, folder)


def run(args: argparse.Namespace, bootstrap: str, folder: Path) -> int:
    prefix = f"bpush{time.time_ns():x}."
    new_topics(bootstrap, prefix)
    service = PushService().start()
    worker = None
    try:
        key = generate_key_file(folder / "vapid.pem")
        (folder / "push-ca.pem").write_bytes(service.ca_pem)
        browsers = [service.subscribe(key.application_server_key) for _ in range(args.subscribers)]
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        now = datetime.now(UTC)
        for browser in browsers:
            push = {"endpoint": browser.endpoint, "p256dh": browser.p256dh, "auth": b64url(browser.auth)}
            made = create(areas=[VIS_EN_ARTOIS], channel="webpush", push=push, now=now)
            assert isinstance(made, Subscription), made
            producer.send(
                prefix + "subscriptions", key=made.id.encode(), value=made.model_dump_json().encode()
            )
        producer.flush()
        say(f"{args.subscribers} subscriptions on {prefix}subscriptions")
        env = {
            **os.environ,
            "ALERTCAST_BOOTSTRAP": bootstrap,
            "ALERTCAST_TOPIC_PREFIX": prefix,
            "ALERTCAST_APP_ID": prefix.rstrip("."),
            "ALERTCAST_WORKER_WEB_PORT": str(free_port()),
            "ALERTCAST_WORKER_DATA_DIR": str(folder / "worker" / "data"),
            "ALERTCAST_SITE_DIR": str(folder / "site"),
            "ALERTCAST_CHANNELS": json.dumps(["webpush"]),
            "ALERTCAST_CHANNEL_RATES": json.dumps({"webpush": {"posts": args.rate, "per_s": 1}}),
            "ALERTCAST_VAPID_PRIVATE_KEY_FILE": str(folder / "vapid.pem"),
            "ALERTCAST_VAPID_SUBJECT": "mailto:bench@alertcast.invalid",
            "SSL_CERT_FILE": str(folder / "push-ca.pem"),
            "ALERTCAST_LOG_LEVEL": "warn",
        }
        (folder / "worker").mkdir()
        with open(folder / "worker" / "worker.log", "wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "alertcast", "worker"], env=env, stdout=out, stderr=out
            )
        road = examples.written(folder / "examples") / "01-road-closure-d934.json"
        submitted = subprocess.run(
            [sys.executable, "-m", "alertcast", "submit", str(road)], env=env, capture_output=True, text=True
        )
        if submitted.returncode != 0:
            say(submitted.stderr)
            return 1
        deadline = time.monotonic() + args.timeout
        arrivals: list[float] = []
        while time.monotonic() < deadline:
            arrivals = sorted(m.received_at for b in browsers for m in service.pending(b))
            if len(arrivals) >= args.subscribers:
                break
            time.sleep(0.5)
        once = all(len(service.pending(b)) == 1 for b in browsers)
        if len(arrivals) < args.subscribers:
            say(
                f"only {len(arrivals)} of {args.subscribers} pushes after {args.timeout:.0f} s\n"
                + log_tail(folder)
            )
        busiest = max((sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals), default=0)
        spread = arrivals[-1] - arrivals[0] if arrivals else 0.0
        print(
            f"subscribers={args.subscribers} rate_per_s={args.rate} pushed={len(arrivals)} once_each={once} "
            f"busiest_second={busiest} allowed={2 * args.rate} seconds={spread:.1f} "
            f"expected_s={max(args.subscribers - args.rate, 0) / args.rate:.1f}"
        )
        return 0 if len(arrivals) == args.subscribers and once and busiest <= 2 * args.rate else 1
    finally:
        if worker is not None:
            stop(worker)
        service.stop()


if __name__ == "__main__":
    sys.exit(main())
