"""Hop benchmark: what one Faust hop costs a worker, with no work of ours in it.

Why: a busy worker spends about 5 ms of CPU per incident (bench/pipeline.py) and an incident
crosses three hops (submitted -> ingest, drafted -> approval, requests -> delivery). This
measures the floor under that figure: a worker built like `alertcast worker` (the same App, the
same transport fixes, `for_each_event`, `send_durably`) whose only agent relays each message
of `hop.in` to `hop.out`, waits for the brokers to hold it, then acknowledges it. The same
messages go through a bare aiokafka consume->produce loop for comparison, as in pipeline.py.

`--sends K` makes the relay send K messages per message read, `--writes W` write W table
keys (`Table.put`) too: the slopes give what each further message and each table write costs.
An incident makes 2 hops (ingest, which also approves, and delivery), 7 sends (2 of them in
the hops) and 4 table writes (webhook only, auto-approved): accepted, drafted, approved, 2 audit
events, the request and the receipt; its version, its approval state, the ledger's in-flight
mark and outcome.

Figures, not a test. Last line:
`messages=<n> sends=<k> writes=<w> faust_hop_cpu_ms=<x> faust_hop_per_s=<x> aiokafka_per_s=<x>`,
where faust_hop_cpu_ms is the worker process's CPU (user and system, from /proc) over the
measured messages divided by their number.

    .venv/bin/python bench/hop.py --count 20000
    .venv/bin/python bench/hop.py --count 10000 --sends 4
    .venv/bin/python bench/hop.py --count 10000 --writes 4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pipeline import baseline, cpu_seconds, free_port, kafka_running, say  # bench/pipeline.py

from alertcast import topics

HOP_TOPICS = ("hop.in", "hop.out")
WARM_UP = 2000


def worker() -> None:
    """The relay worker (run as `bench/hop.py --worker`, configured by ALERTCAST_*)."""
    from alertcast.stream.app import app, for_each_event, internal_specs, send_durably, settings, table, topic

    source, target = topic(HOP_TOPICS[0]), topic(HOP_TOPICS[1])

    sends = int(os.environ.get("HOP_SENDS", "1"))
    writes = int(os.environ.get("HOP_WRITES", "0"))
    relayed = table("hop_relayed")

    async def relay_one(event: Any) -> None:
        await send_durably(*[(target, event.key, event.value)] * sends)
        for number in range(writes):
            await relayed.put(f"{event.key!r}{number}", event.value.decode())

    @app.agent(source, concurrency=settings.worker_concurrency)
    async def relay(stream: Any) -> None:
        await for_each_event(stream, relay_one)

    topics.apply(settings.bootstrap, "", internal_specs())  # as `alertcast worker` does
    settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
    sys.argv = ["hop-worker", "worker", "--loglevel", "warn"]
    app.main()


async def relayed(bootstrap: str, prefix: str, count: int, first: int, per_message: int) -> float:
    """Send `count` messages to hop.in; seconds until hop.out holds all of them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    consumer = AIOKafkaConsumer(
        prefix + HOP_TOPICS[1], bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=10
    )
    await producer.start()
    await consumer.start()
    try:
        await consumer.seek_to_end()
        value = b'{"payload": "' + b"x" * 900 + b'"}'  # about an accepted incident's size
        started = time.perf_counter()
        sends = [
            await producer.send(prefix + HOP_TOPICS[0], value=value, key=f"key-{first + n}".encode())
            for n in range(count)
        ]
        await asyncio.gather(*sends)
        seen = 0.0
        while seen < count:
            batches = await consumer.getmany(timeout_ms=60_000)
            if not batches:
                raise RuntimeError(f"the relay stopped after {seen} of {count} messages")
            seen += sum(len(records) for records in batches.values()) / per_message
        return time.perf_counter() - started
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20_000, help="messages measured")
    parser.add_argument("--sends", type=int, default=1, help="messages the relay sends per message read")
    parser.add_argument("--writes", type=int, default=0, help="table writes per message read")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return 0
    with (
        tempfile.TemporaryDirectory(prefix="alertcast-hop-") as temp,
        kafka_running("", Path(temp)) as bootstrap,
    ):
        run = uuid.uuid4().hex[:8]
        prefix = f"hop{run}."
        names = [*HOP_TOPICS, "baseline.in", "baseline.out"]
        topics.apply(bootstrap, prefix, [topics.TopicSpec(name=name, partitions=6) for name in names])
        env = {
            **os.environ,
            "ALERTCAST_BOOTSTRAP": bootstrap,
            "ALERTCAST_TOPIC_PREFIX": prefix,
            "ALERTCAST_APP_ID": f"hop-{run}",
            "ALERTCAST_WORKER_WEB_PORT": str(free_port()),
            "ALERTCAST_WORKER_DATA_DIR": str(Path(temp) / "data"),
            "ALERTCAST_LOG_LEVEL": "warn",
            "HOP_SENDS": str(args.sends),
            "HOP_WRITES": str(args.writes),
        }
        log = Path(temp) / "worker.log"
        with open(log, "wb") as out:
            relay = subprocess.Popen([sys.executable, __file__, "--worker"], env=env, stdout=out, stderr=out)
        try:
            say("warming up (worker start, group join)...")
            asyncio.run(relayed(bootstrap, prefix, WARM_UP, 0, args.sends))
            say(f"measuring {args.count} messages through the relay...")
            before = cpu_seconds(relay.pid)
            wall = asyncio.run(relayed(bootstrap, prefix, args.count, WARM_UP, args.sends))
            cpu_ms = (cpu_seconds(relay.pid) - before) * 1000 / args.count
            say("baseline: a bare aiokafka consume->produce loop over as many messages...")
            bare = asyncio.run(baseline(bootstrap, prefix, args.count, run))
        except Exception:
            say(log.read_text(errors="replace")[-3000:])
            raise
        finally:
            relay.terminate()
            relay.wait(timeout=60)
    print(
        f"messages={args.count} sends={args.sends} writes={args.writes} faust_hop_cpu_ms={cpu_ms:.3f} "
        f"faust_hop_per_s={args.count / wall:.0f} aiokafka_per_s={bare:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
