"""Scale-out benchmark: 1 and 2 `alertcast worker` processes on a three-broker KRaft cluster.

Why: scale-out is meant to be "more partitions and more workers" (DESIGN.md); this shows what a
second worker buys on this machine. Every topic has 6 partitions, replication 3 and
min.insync.replicas 2 (`topics apply` fits them to the three brokers), as in production.

Each case (workers x rate) gets fresh topics and a fresh app id, starts its workers, waits until
the consumer group has that many members, warms up (bench/pipeline.py's warm-up: 600 incidents
at 50/s), then submits `--seconds` worth of incidents at the rate and times each one from
submit to its receipt read on `deliveries.receipts` (webhook sink answering 200 at once).
Throughput is receipts over the time from the first submit to the last receipt, so above the
workers' capacity it shows the capacity and p99 shows the queue. All four cases run on one
cluster started here (or the one given) on a machine shared with the brokers: with 2 cores,
two workers and three brokers compete for CPU, which these figures include.

Figures, not a test. One line per case:
`workers=<n> rate_per_s=<r> throughput_per_s=<x> p50_ms=<x> p99_ms=<x> received=<n>/<n>`

    .venv/bin/python bench/scale.py
    .venv/bin/python bench/scale.py --workers 1 2 --rates 100 1000 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from pipeline import (
    free_port,
    kafka_running,
    log_tail,
    measure,
    new_topics,
    say,
    start_sink,
    start_worker,
    stop,
    warm_up,
)


def wait_for_members(bootstrap: str, group: str, members: int, timeout_s: float = 120.0) -> None:
    """Measure only once every worker has joined: a later join would rebalance mid-run."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="alertcast-bench-scale")
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                described = admin.describe_groups([group]).get(group, {})
            except KafkaError:  # no coordinator for a group no worker has joined yet
                described = {}
            if described.get("group_state") == "Stable" and len(described.get("members", [])) == members:
                return
            time.sleep(0.5)
        raise RuntimeError(f"group {group} did not reach {members} stable member(s) in {timeout_s:.0f} s")
    finally:
        admin.close()


async def one_case(bootstrap: str, workers: int, rate: float, seconds: float, folder: Path) -> str:
    run = uuid.uuid4().hex[:8]
    prefix, app_id = f"scale{run}.", f"scale-{run}"
    new_topics(bootstrap, prefix)
    sink_port = free_port()
    runner, _ = await start_sink(sink_port)
    processes = [
        start_worker(bootstrap, prefix, app_id, sink_port, folder / run / f"worker{n}")
        for n in range(workers)
    ]
    try:
        await asyncio.to_thread(wait_for_members, bootstrap, app_id, workers)
        if not await warm_up(bootstrap, prefix, run):
            say(log_tail(folder / run))
            return f"workers={workers} rate_per_s={rate:g} failed: warm-up not delivered"
        count = round(rate * seconds)
        say(f"measuring {count} incidents at {rate:g}/s through {workers} worker(s)...")
        figures = (await measure(bootstrap, prefix, count, rate, run)).figures()
        return (
            f"workers={workers} rate_per_s={rate:g} throughput_per_s={figures['throughput_per_s']:.1f} "
            f"p50_ms={figures['p50_ms']:.1f} p99_ms={figures['p99_ms']:.1f} "
            f"received={figures['received']:.0f}/{count}"
        )
    finally:
        for process in processes:
            await asyncio.to_thread(stop, process)
        await runner.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to try")
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[100.0, 1000.0], help="incidents per second"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each case submits")
    parser.add_argument("--bootstrap", default="", help="use this cluster instead of starting three brokers")
    args = parser.parse_args()
    lines = []
    with (
        tempfile.TemporaryDirectory(prefix="alertcast-scale-") as temp,
        kafka_running(args.bootstrap, Path(temp), brokers=3) as bootstrap,
    ):
        for workers in args.workers:
            for rate in args.rates:
                line = asyncio.run(one_case(bootstrap, workers, rate, args.seconds, Path(temp)))
                say(line)
                lines.append(line)
    print("\n".join(lines))
    return 0 if all("failed" not in line and "received=" in line for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
