"""Helpers of the `cluster` tier: a three-broker KRaft cluster, workers on it, a counting webhook
receiver and a load generator that times every incident from submit to receipt.

The cluster is the project's own (`alertcast.kafka.up(..., brokers=3)`), in its own folder and
ports, stopped by PID; brokers are killed with SIGKILL by the PID their node recorded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from conftest import Worker, free_port
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from servers import CACHE

from alertcast import examples, kafka
from alertcast.models import Incident, alert_id_for
from alertcast.site.model import PublishedAlert, SiteVersion
from alertcast.site.writer import SiteWriter, folded

BROKERS = 3
WEBSITE_AREA = "59350"  # Lille: the website account's route takes only incidents there


def _free_block(size: int) -> int:
    """A port p with p..p+size-1 and p+100..p+100+size-1 all free on 127.0.0.1."""
    for _ in range(200):
        port = free_port()
        wanted = [port + i for i in range(size)] + [port + 100 + i for i in range(size)]
        if wanted[-1] >= 65536:
            continue
        free = True
        for candidate in wanted:
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", candidate))
                except OSError:
                    free = False
                    break
        if free:
            return port
    raise RuntimeError("no free block of ports")


@dataclass
class Cluster:
    data: Path
    port: int
    bootstrap: str

    def nodes(self) -> list[kafka.Node]:
        return kafka.nodes_for(self.data, self.port, BROKERS)

    def kill(self, node_id: int) -> int:
        """SIGKILL one broker (no clean shutdown, no leadership handed over) and wait until gone."""
        node = next(n for n in self.nodes() if n.node_id == node_id)
        pid = node.pid()
        assert pid is not None, f"broker {node_id} is not running"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while node.pid() is not None:
            assert time.monotonic() < deadline, f"broker {node_id} (pid {pid}) survived SIGKILL"
            time.sleep(0.05)
        return pid

    def start_missing(self) -> None:
        """(Re)start every node not running; `kafka.up` leaves running ones alone."""
        kafka.up(self.data, CACHE, port=self.port, brokers=BROKERS, say=lambda line: None)

    def leader_of_most(self, topics: list[str]) -> int:
        """The node leading most partitions of these topics: killing it moves the most."""
        leaders: Counter[int] = Counter()
        for topic in self.describe(topics):
            leaders.update(p["leader_id"] for p in topic["partitions"])
        return leaders.most_common(1)[0][0]

    def describe(self, topics: list[str] | None = None) -> list[dict[str, Any]]:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)
        try:
            names = topics if topics is not None else sorted(admin.list_topics())
            return list(admin.describe_topics(names))
        finally:
            admin.close()

    def not_healed(self) -> list[str]:
        """Partitions of every topic without a leader or whose ISR is not all their replicas."""
        return [
            f"{topic.get('name') or topic.get('topic')}[{p['partition_index']}] leader={p['leader_id']} "
            f"isr={sorted(p['isr_nodes'])} replicas={sorted(p['replica_nodes'])}"
            for topic in self.describe()
            for p in topic["partitions"]
            if p["leader_id"] < 0 or sorted(p["isr_nodes"]) != sorted(p["replica_nodes"])
        ]

    def group(self, group_id: str) -> dict[str, Any]:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)
        try:
            return dict(admin.describe_groups([group_id]).get(group_id, {}))
        finally:
            admin.close()

    def group_is(self, group_id: str, members: int) -> bool:
        """The consumer group (the Faust app id) is stable with this many live members."""
        try:
            described = self.group(group_id)
        except Exception:  # a coordinator moving after a kill answers errors for a while
            return False
        return described.get("group_state") == "Stable" and len(described.get("members", [])) == members


@contextmanager
def three_brokers(folder: Path) -> Iterator[Cluster]:
    port = _free_block(BROKERS)
    nodes = kafka.up(folder, CACHE, port=port, brokers=BROKERS)
    try:
        yield Cluster(folder.resolve(), port, kafka.bootstrap_of(nodes))
    finally:
        kafka.down(folder, port=port, brokers=BROKERS)


class CountingReceiver:
    """A webhook receiver as the adapter documents them: the first POST of an Idempotency-Key
    is accepted (202), a repeat is dropped (200, not counted again). Both are counted: accepted
    per key, and raw requests per key, so duplicates sent over the wire are seen too. The
    arrival time of every POST is kept (`arrivals`, monotonic seconds), and while `down` is set
    the receiver answers 503 to each (a network down), still recording when it came."""

    def __init__(self) -> None:
        self.accepted: dict[str, dict[str, Any]] = {}
        self.raw: Counter[str] = Counter()
        self.arrivals: list[float] = []
        self.down = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                key = self.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    receiver.arrivals.append(arrived)
                    down = receiver.down.is_set()
                    if not down:
                        receiver.raw[key] += 1
                    first = not down and key not in receiver.accepted
                    if first:
                        receiver.accepted[key] = json.loads(body)
                self.send_response(503 if down else 202 if first else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)

    def repeats(self) -> dict[str, int]:
        with self.lock:
            return {key: n for key, n in self.raw.items() if n > 1}

    def times(self) -> list[float]:
        with self.lock:
            return sorted(self.arrivals)

    def close(self) -> None:
        self.server.shutdown()


def busiest_window(times: list[float], length_s: float) -> list[float]:
    """The most arrivals found in any window [t, t + length_s) (the busiest starts at one)."""
    ordered = sorted(times)
    windows = [[t for t in ordered[i:] if t < start + length_s] for i, start in enumerate(ordered)]
    return max(windows, key=len, default=[])


def incident(run: str, number: int, area: str = "62041") -> Incident:
    """Incident `number` of run `run`, starting now."""
    return examples.traffic(
        f"cluster-{run}-{number}", "cluster@alertcast.invalid", "cluster-test", number, area
    )


HEADERS = [("alertcast-source", b"cluster-test"), ("content-type", b"application/json")]


def producer(bootstrap: str) -> KafkaProducer:
    """Idempotent, acks=all, retrying: what a careful submitter uses against a cluster."""
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)


@dataclass
class Burst:
    """`count` incidents submitted at once; every tenth is in the website account's area."""

    alert_ids: list[str]
    website_ids: list[str]

    def webhook_keys(self) -> set[str]:
        return {f"{alert_id}:1:webhook:hook" for alert_id in self.alert_ids}


def submit_burst(bootstrap: str, prefix: str, run: str, count: int, website_every: int = 10) -> Burst:
    incidents = [incident(run, n, WEBSITE_AREA if n % website_every == 0 else "62041") for n in range(count)]
    sender = producer(bootstrap)
    try:
        futures = [
            sender.send(
                prefix + "incidents.submitted",
                key=i.key.encode(),
                value=i.model_dump_json().encode(),
                headers=HEADERS,
            )
            for i in incidents
        ]
        sender.flush(timeout=120)
        for future in futures:
            future.get(timeout=60)
    finally:
        sender.close()
    ids = [alert_id_for(i.key) for i in incidents]
    return Burst(ids, ids[::website_every])


def website_versions(site: Path, alert_ids: list[str]) -> dict[str, list[int]]:
    """Per alert id, the versions the website channel's folder holds (its state)."""
    found = {}
    for alert_id in alert_ids:
        path = site / "data" / f"{alert_id}.json"
        if path.exists():
            found[alert_id] = [v["version"] for v in json.loads(path.read_text())["versions"]]
    return found


def site_from_topic(bootstrap: str, prefix: str, folder: Path, now: datetime) -> list[PublishedAlert]:
    """The site one writer builds from everything on `site.versions`, into `folder`: what the
    shared folder of several workers must equal."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    alerts: dict[str, PublishedAlert] = {}
    try:
        part = TopicPartition(prefix + "site.versions", 0)
        consumer.assign([part])
        consumer.seek_to_beginning(part)
        end = consumer.end_offsets([part])[part]
        while consumer.position(part) < end:
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    handed = SiteVersion.model_validate_json(record.value)
                    alert_id = handed.request.alert_id
                    alerts[alert_id] = folded(alerts.get(alert_id), handed)
    finally:
        consumer.close()
    SiteWriter(folder, lambda: now).load(alerts.values())
    return list(alerts.values())


def worker_env(cluster: Cluster, prefix: str, site: Path, receiver: CountingReceiver) -> dict[str, str]:
    """Every worker of a test: one app id (one consumer group), one site folder (the website
    channel's state is its folder, shared like a network's), the webhook and the website."""
    return {
        **os.environ,
        "ALERTCAST_BOOTSTRAP": cluster.bootstrap,
        "ALERTCAST_TOPIC_PREFIX": prefix,
        "ALERTCAST_APP_ID": f"alertcast-{prefix.rstrip('.')}",
        "ALERTCAST_SITE_DIR": str(site),
        "ALERTCAST_CHANNELS": json.dumps(["website", "webhook"]),
        "ALERTCAST_WEBHOOK_URLS": json.dumps([{"name": "hook", "url": receiver.url}]),
        "ALERTCAST_WEBHOOK_SECRET": "test-webhook-secret",
        "ALERTCAST_ROUTES": json.dumps(
            [{"channel": "website", "account": "default", "areas": [WEBSITE_AREA]}]
        ),
        "ALERTCAST_LOG_LEVEL": "info",
    }


def start_worker(env: dict[str, str], folder: Path, name: str) -> Worker:
    """A real worker with its own web port and data folder (several share the host)."""
    own = {
        **env,
        "ALERTCAST_WORKER_WEB_PORT": str(free_port()),
        "ALERTCAST_WORKER_DATA_DIR": str(folder / f"{name}-data"),
    }
    return Worker(own, folder / f"{name}.log").start()


def kill(worker: Worker) -> None:
    assert worker.process is not None
    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait(timeout=30)


class Load:
    """Incidents at a steady rate from a thread, and each one's latency: from just before it is
    produced to its receipt's record timestamp (set by the worker's producer, same host clock)."""

    def __init__(self, bootstrap: str, prefix: str, run: str, rate: float) -> None:
        self.bootstrap, self.prefix, self.run, self.rate = bootstrap, prefix, run, rate
        self.submitted: dict[str, float] = {}
        self.samples: list[tuple[float, float]] = []  # (receipt time, latency ms)
        self.received: set[str] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._submit), threading.Thread(target=self._read)]

    def start(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _submit(self) -> None:
        sender = producer(self.bootstrap)
        try:
            start, number = time.monotonic(), 0
            while not self.stopping.is_set():
                delay = start + number / self.rate - time.monotonic()
                if delay > 0:
                    self.stopping.wait(delay)
                    continue
                item = incident(self.run, number)
                with self.lock:
                    self.submitted[alert_id_for(item.key)] = time.time()
                sender.send(
                    self.prefix + "incidents.submitted",
                    key=item.key.encode(),
                    value=item.model_dump_json().encode(),
                    headers=HEADERS,
                )
                number += 1
            sender.flush(timeout=30)
        finally:
            sender.close()

    def _read(self) -> None:
        consumer = KafkaConsumer(
            self.prefix + "deliveries.receipts",
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=10,
        )
        try:
            while not self.stopping.is_set():
                for records in consumer.poll(timeout_ms=200).values():
                    for record in records:
                        alert_id = json.loads(record.value)["alert_id"]
                        with self.lock:
                            sent = self.submitted.get(alert_id)
                            if sent is not None:
                                self.received.add(alert_id)
                                at = record.timestamp / 1000
                                self.samples.append((at, (at - sent) * 1000))
        finally:
            consumer.close()

    def window(self, start: float, end: float) -> list[float]:
        with self.lock:
            return [latency for at, latency in self.samples if start <= at < end]

    def missing_before(self, at: float) -> list[str]:
        """Incidents submitted before `at` with no receipt yet."""
        with self.lock:
            return [i for i, sent in self.submitted.items() if sent < at and i not in self.received]


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]


STAGES = (
    "incidents.submitted",
    "incidents.accepted",
    "alerts.drafted",
    "alerts.approved",
    "deliveries.requests",
)


def _alert_id_of(stage: str, key: bytes | None, value: bytes) -> str:
    """Delivery requests are keyed by channel and account, not by incident: read the value."""
    if stage == "deliveries.requests":
        return str(json.loads(value)["alert_id"])
    return alert_id_for((key or b"").decode())


def where_lost(bootstrap: str, prefix: str, group: str, alert_ids: list[str]) -> str:
    """For incidents that never reached a receiver: the last topic each reached, with the
    partition and offset there, and the group's committed offsets short of the end: enough to
    tell a message committed past (lost) from one still waiting (stalled)."""
    from kafka import KafkaAdminClient, TopicPartition

    missing = set(alert_ids)
    reached: dict[str, tuple[str, int, int]] = {}
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        ends: dict[Any, int] = {}
        for stage in STAGES:
            parts = [
                TopicPartition(prefix + stage, p) for p in consumer.partitions_for_topic(prefix + stage) or []
            ]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            ends.update(consumer.end_offsets(parts))
            while any(consumer.position(p) < ends[p] for p in parts):
                for records in consumer.poll(timeout_ms=1000).values():
                    for record in records:
                        alert_id = _alert_id_of(stage, record.key, record.value)
                        if alert_id in missing:
                            reached[alert_id] = (stage, record.partition, record.offset)
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            committed = admin.list_group_offsets(group).get(group, {})
        finally:
            admin.close()
    finally:
        consumer.close()
    # Committed offsets and a count per place first: CI keeps only the head of a long report.
    lines = [
        f"group {group} committed {tp.topic}[{tp.partition}] at {meta.offset} of {ends[tp]}"
        for tp, meta in sorted(committed.items())
        if tp in ends and meta.offset != ends[tp]
    ]
    places: dict[tuple[str, int], list[int]] = {}
    for stage, partition, offset in reached.values():
        places.setdefault((stage, partition), []).append(offset)
    lines += [
        f"{len(offsets)} last seen on {stage}[{partition}], offsets {sorted(offsets)[:40]}"
        for (stage, partition), offsets in sorted(places.items())
    ]
    if missing - set(reached):
        lines.append(f"{len(missing - set(reached))} not even submitted")
    lines += [f"{a}: last seen on {s}[{p}]@{o}" for a, (s, p, o) in sorted(reached.items())[:20]]
    return "\n".join(lines) or "nothing missing"
