"""Pipeline benchmark: N incidents at a target rate through the real broker and a real worker.

The worker's only channel is the webhook, pointed at a local sink; latency is measured from
the moment an incident is produced to the moment its receipt is read from
`deliveries.receipts`. It prints figures; it is not a test. Last line:
`rate_per_s=<target> throughput_per_s=<x> baseline_per_s=<x> p50_ms=<x> p95_ms=<x> p99_ms=<x>`,
where the baseline is a bare aiokafka consume->produce loop over as many messages, in the same
run on the same broker: what Kafka itself allows here, against which every stage is seen.

    .venv/bin/python bench/pipeline.py --count 1000 --rate 100
    .venv/bin/python bench/pipeline.py --count 5000 --rate 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from alertcast import kafka, topics
from alertcast.models import Incident, alert_id_for
from alertcast.settings import get_settings

WARM_UP_COUNT, WARM_UP_RATE = 600, 50.0  # 12 s
BASELINE_TOPICS = ("baseline.in", "baseline.out")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def incident(run: str, number: int) -> Incident:
    now = datetime.now(UTC)
    return Incident.model_validate(
        {
            "identifier": f"bench-{run}-{number}",
            "sender": "bench@alertcast.invalid",
            "sent": now.isoformat(),
            "source": "bench",
            "info": [
                {
                    "category": "traffic",
                    "event": "Ralentissement",
                    "severity": "Minor",
                    "headline": f"Ralentissement n° {number} sur la rocade nord",
                    "description": "Circulation ralentie entre les sorties 3 et 5 après un accrochage.",
                    "instruction": "Prévoyez 10 minutes de plus ou empruntez la rocade sud.",
                    "onset": now.isoformat(),
                    "expires": (now + timedelta(hours=2)).isoformat(),
                    "areas": [
                        {"area_desc": "Rocade nord", "geocodes": [{"value_name": "INSEE", "value": "62041"}]}
                    ],
                }
            ],
        }
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def start_sink(port: int) -> tuple[web.AppRunner, list[int]]:
    """A webhook endpoint answering 200 at once (the channel's own cost is not measured here)."""
    hits = [0]

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        hits[0] += 1
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, hits


async def measure(bootstrap: str, prefix: str, count: int, rate: float, run: str) -> dict[str, float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=0)
    consumer = AIOKafkaConsumer(
        prefix + "deliveries.receipts",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",  # receipts of other runs are ignored: their ids are unknown
        group_id=None,
        fetch_max_wait_ms=10,
    )
    await producer.start()
    await consumer.start()
    submitted: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()
    last_receipt = [0.0]

    async def read_receipts() -> None:
        while len(latencies) < count:
            batches = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    receipt = json.loads(record.value)
                    sent_at = submitted.pop(receipt["alert_id"], None)
                    if sent_at is not None:
                        latencies.append((now - sent_at) * 1000)
                        last_receipt[0] = now
        done.set()

    reader = asyncio.create_task(read_receipts())
    incidents = [incident(run, n) for n in range(count)]
    payloads = [(i.key.encode(), i.model_dump_json().encode(), alert_id_for(i.key)) for i in incidents]
    headers = [("alertcast-source", b"bench"), ("content-type", b"application/json")]
    start = time.perf_counter()
    for number, (key, value, alert_id) in enumerate(payloads):
        due = start + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        submitted[alert_id] = time.perf_counter()
        await producer.send(prefix + "incidents.submitted", value=value, key=key, headers=headers)
        if number and number % max(1, int(rate * 5)) == 0:
            print(f"  submitted {number}/{count}, receipts {len(latencies)}", file=sys.stderr)
    await producer.flush()
    sent_wall = time.perf_counter() - start
    try:
        # A saturated worker drains its backlog: wait for every receipt, at 40 per s at worst.
        await asyncio.wait_for(done.wait(), timeout=max(60.0, count / rate * 2, count / 40))
    except TimeoutError:
        print(f"  timed out: {len(latencies)}/{count} receipts", file=sys.stderr)
    reader.cancel()
    await producer.stop()
    await consumer.stop()
    wall = (last_receipt[0] or time.perf_counter()) - start
    return {
        "received": len(latencies),
        "submit_wall_s": sent_wall,
        "throughput_per_s": len(latencies) / wall if wall > 0 else 0.0,
        "p50_ms": percentile(latencies, 50) if latencies else float("nan"),
        "p95_ms": percentile(latencies, 95) if latencies else float("nan"),
        "p99_ms": percentile(latencies, 99) if latencies else float("nan"),
    }


async def baseline(bootstrap: str, prefix: str, count: int, run: str) -> float:
    """What Kafka itself allows here: a bare aiokafka consume->produce loop (getmany, acks=all,
    idempotent) over the same messages, on the same broker, in the same run."""
    source, target = prefix + BASELINE_TOPICS[0], prefix + BASELINE_TOPICS[1]
    payloads = [
        (i.key.encode(), i.model_dump_json().encode()) for i in (incident(run, n) for n in range(count))
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None, fetch_max_wait_ms=10
    )
    await producer.start()
    await consumer.start()
    try:
        for key, value in payloads:
            await producer.send(source, value=value, key=key)
        await producer.flush()
        moved, started = 0, 0.0
        while moved < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
            if batches and not started:
                started = time.perf_counter()
            sends = [
                await producer.send(target, value=record.value, key=record.key)
                for records in batches.values()
                for record in records
            ]
            await asyncio.gather(*sends)
            moved += len(sends)
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


async def run_measurements(
    args: argparse.Namespace, bootstrap: str, prefix: str, run: str, sink_port: int
) -> dict[str, float] | None:
    runner, hits = await start_sink(sink_port)
    try:
        print("warming up (worker start, group join, first deliveries)...", file=sys.stderr)
        # Long enough for the broker's JIT and the worker's dictionaries: on a broker started
        # seconds before, a short warm-up left the first measured seconds several times slower.
        warm = await measure(bootstrap, prefix, WARM_UP_COUNT, WARM_UP_RATE, run + "w")
        if warm["received"] < WARM_UP_COUNT:
            return None
        print(f"measuring {args.count} incidents at {args.rate:g}/s...", file=sys.stderr)
        figures = await measure(bootstrap, prefix, args.count, args.rate, run)
        figures["sink_hits"] = hits[0]
        print(
            f"baseline: a bare aiokafka consume->produce loop over {args.count} messages...", file=sys.stderr
        )
        figures["baseline_per_s"] = await baseline(bootstrap, prefix, args.count, run + "b")
        return figures
    finally:
        await runner.cleanup()


def start_worker(bootstrap: str, prefix: str, run: str, sink_port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ALERTCAST_BOOTSTRAP": bootstrap,
        "ALERTCAST_TOPIC_PREFIX": prefix,
        "ALERTCAST_APP_ID": f"bench-{run}",
        "ALERTCAST_WORKER_WEB_PORT": str(free_port()),
        "ALERTCAST_CHANNELS": json.dumps(["webhook"]),
        "ALERTCAST_WEBHOOK_URLS": json.dumps([f"http://127.0.0.1:{sink_port}/hook"]),
        "ALERTCAST_LOG_LEVEL": "warn",
    }
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "alertcast", "worker"], env=env, stdout=out, stderr=out
        )


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()


def run_bench(args: argparse.Namespace) -> dict[str, float] | None:
    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="alertcast-bench-") as temp:
        bootstrap = args.bootstrap
        data, port = Path(temp) / "kafka", free_port()
        if not bootstrap:
            kafka.up(data, settings.cache_dir, port=port, say=lambda line: print(line, file=sys.stderr))
            bootstrap = f"127.0.0.1:{port}"
        try:
            run = uuid.uuid4().hex[:8]
            prefix = f"bench{run}."
            topics.apply(bootstrap, prefix)
            topics.apply(
                bootstrap, prefix, [topics.TopicSpec(name=name, partitions=6) for name in BASELINE_TOPICS]
            )
            sink_port = free_port()
            log = Path(temp) / "worker.log"
            worker = start_worker(bootstrap, prefix, run, sink_port, log)
            try:
                figures = asyncio.run(run_measurements(args, bootstrap, prefix, run, sink_port))
                if figures is None:
                    print(log.read_text()[-3000:], file=sys.stderr)
                return figures
            finally:
                stop(worker)
        finally:
            if not args.bootstrap:
                kafka.down(data, port=port)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000, help="incidents to submit")
    parser.add_argument("--rate", type=float, default=100.0, help="target incidents per second")
    parser.add_argument("--bootstrap", default="", help="use this broker instead of starting one")
    args = parser.parse_args()
    figures = run_bench(args)
    if figures is None:
        print("the worker did not deliver the warm-up incidents; its log is above", file=sys.stderr)
        return 1
    print(
        f"received={figures['received']:.0f}/{args.count} sink_hits={figures['sink_hits']:.0f} "
        f"submit_wall_s={figures['submit_wall_s']:.2f}"
    )
    print(
        f"rate_per_s={args.rate:g} throughput_per_s={figures['throughput_per_s']:.1f} "
        f"baseline_per_s={figures['baseline_per_s']:.0f} p50_ms={figures['p50_ms']:.1f} "
        f"p95_ms={figures['p95_ms']:.1f} p99_ms={figures['p99_ms']:.1f}"
    )
    return 0 if figures["received"] == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
