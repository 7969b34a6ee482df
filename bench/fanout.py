"""Fan-out benchmark: one alert to N webhook accounts through the real pipeline, against Apprise.

Why: an alert must reach every account at about the same time, so a worker's fan-out should
cost roughly one network round trip, not N of them. Each endpoint here answers after 200 ms
(a slow but ordinary API); if the N posts went one after another, 32 accounts would take 6.4 s.
Apprise, the usual library for "send this to many services", is the yardstick.

What runs: a local Kafka broker (alertcast.kafka), one HTTP server on 127.0.0.1 serving
`/hook/0` .. `/hook/N-1` (each POST answered 200 after 200 ms; arrival and answer times
recorded), and for each account count (8, then 32) a real `alertcast worker` whose only channel
is the webhook with one account per path (`ALERTCAST_WEBHOOK_URLS`), no approval policy (auto),
and `ALERTCAST_WORKER_CONCURRENCY` set to the largest account count (32; the default, 16, would
cap the posts in flight). Two warm-up alerts go first, then `--repeat` measured alerts, each
followed by the same text sent with Apprise to the same endpoints.

What is measured:
  fanout_wall_s   from the alert's approval (`approved_at` of its record on `alerts.approved`,
                  stamped by the worker when it approves the draft, before sending the approval)
                  to the moment the last of the N endpoints answers its POST. It covers the
                  fan-out sent with the approval (N delivery requests to Kafka; by the ingest
                  agent here, as the policy approves at once), the delivery agent (in-flight
                  mark held by the brokers, HTTP POST), the 200 ms answer. Not included:
                  intake, composing and approving (shown apart as submit->approved), nor the
                  receipts written after the answers.
  apprise_wall_s  the wall time of `Apprise.notify(body=text)` with one `json://127.0.0.1:PORT/
                  hook/i` target per account, the instance built beforehand, as a user would
                  call it: sending only, 200 ms answers included. `text` is the webhook text the
                  pipeline posted for the same alert (the webhook body also carries the incident
                  as JSON; Apprise's body is the text alone).
Both are the median over `--repeat` alerts; both clocks are this machine's wall clock.

How Apprise sends (checked in 2.2.0): services whose asset has `async_mode` (the default) are
notified in parallel on a process-wide `concurrent.futures.ThreadPoolExecutor()` of the default
size, min(32, CPUs + 4) threads (6 on a 2-core machine), each `json://` call a blocking
`requests` POST on a new connection; so N targets take about ceil(N / threads) x 200 ms.

Figures, not a test. Last two lines: `accounts=8 fanout_wall_s=<s> apprise_wall_s=<s>` and
`accounts=32 fanout_wall_s=<s> apprise_wall_s=<s>`. Needs Apprise: pip install -e '.[bench]'.

    .venv/bin/python bench/fanout.py
    .venv/bin/python bench/fanout.py --repeat 5 --accounts 8 32 64
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pipeline import free_port, incident, stop  # bench/pipeline.py, beside this file

from alertcast import kafka, topics
from alertcast.models import alert_id_for
from alertcast.models.alert import Approval
from alertcast.settings import get_settings

if TYPE_CHECKING:
    import apprise

ANSWER_DELAY_S = 0.2
WARM_UPS = 2
HEADERS = [("alertcast-source", b"bench"), ("content-type", b"application/json")]


class NewTopicsSettling(logging.Filter):
    """For a moment after creating topics the broker answers NotLeaderForPartition, even once
    their metadata names a leader; aiokafka retries and logs each retry. Those lines are dropped;
    a broker that stayed so would fail the run on its timeout."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "NotLeaderForPartition" not in record.getMessage()


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Hit:
    """One POST as an endpoint saw it (wall clock, time.time())."""

    account: int
    arrived: float
    answered: float
    body: dict[str, Any]


class Endpoints:
    """N webhook endpoints on one local port: POST /hook/<i> is answered 200 after 200 ms."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.hits: list[Hit] = []
        self.port = free_port()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    def url(self, account: int) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{account}"

    async def _hook(self, request: web.Request) -> web.Response:
        arrived = time.time()
        body = json.loads(await request.read())
        await asyncio.sleep(self.delay_s)
        self.hits.append(Hit(int(request.match_info["account"]), arrived, time.time(), body))
        self._changed.set()
        return web.Response(status=200)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook/{account}", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=256).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait(
        self, wanted: Callable[[Hit], bool], count: int, timeout_s: float, since: int = 0
    ) -> list[Hit]:
        """The hits from number `since` on that `wanted` selects, once there are `count` (answered)."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [hit for hit in self.hits[since:] if wanted(hit)]
            if len(found) >= count:
                return found
            self._changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(found)}/{count} posts arrived in {timeout_s:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=left)


class Approvals:
    """Reads `alerts.approved`: each alert's approved_at."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.consumer = AIOKafkaConsumer(
            prefix + "alerts.approved",
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            fetch_max_wait_ms=10,
        )
        self.approved_at: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    approval = Approval.model_validate_json(record.value)
                    self.approved_at[approval.draft.alert_id] = approval.approved_at

    async def get(self, alert_id: str, timeout_s: float) -> datetime:
        deadline = time.monotonic() + timeout_s
        while alert_id not in self.approved_at:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no approval of {alert_id} on alerts.approved")
            await asyncio.sleep(0.02)
        return self.approved_at[alert_id]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.consumer.stop()


@dataclass(frozen=True)
class PipelineRound:
    submitted: float
    approved: float
    first_arrival: float
    last_arrival: float
    last_answer: float
    text: str

    def line(self) -> str:
        return (
            f"submit->approved {self.approved - self.submitted:.3f} s; from approval: first post "
            f"arrived {self.first_arrival - self.approved:.3f} s, last arrived "
            f"{self.last_arrival - self.approved:.3f} s, last answered {self.fanout_wall_s:.3f} s"
        )

    @property
    def fanout_wall_s(self) -> float:
        return self.last_answer - self.approved


def start_worker(
    bootstrap: str, prefix: str, urls: list[str], concurrency: int, folder: Path
) -> subprocess.Popen[bytes]:
    """A real worker, webhook only, in its own session (Ctrl-C reaches us; we stop it by PID)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "ALERTCAST_BOOTSTRAP": bootstrap,
        "ALERTCAST_TOPIC_PREFIX": prefix,
        "ALERTCAST_APP_ID": f"bench-{prefix.rstrip('.')}",
        "ALERTCAST_WORKER_WEB_PORT": str(free_port()),
        "ALERTCAST_WORKER_DATA_DIR": str(folder / "worker-data"),
        "ALERTCAST_SITE_DIR": str(folder / "site"),
        "ALERTCAST_CHANNELS": json.dumps(["webhook"]),
        "ALERTCAST_WEBHOOK_URLS": json.dumps(urls),
        "ALERTCAST_WEBHOOK_SECRET": secrets.token_urlsafe(32),  # signed, like a real deployment
        "ALERTCAST_WORKER_CONCURRENCY": str(concurrency),
        "ALERTCAST_LOG_LEVEL": "warn",
    }
    with open(folder / "worker.log", "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "alertcast", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


async def send_alert(
    producer: AIOKafkaProducer,
    prefix: str,
    run: str,
    number: int,
    accounts: int,
    endpoints: Endpoints,
    approvals: Approvals,
    timeout_s: float,
) -> PipelineRound:
    """Submit one incident; wait until all N endpoints have answered its post."""
    submitted_incident = incident(run, number)
    alert_id = alert_id_for(submitted_incident.key)
    submitted = time.time()
    await producer.send_and_wait(
        prefix + "incidents.submitted",
        value=submitted_incident.model_dump_json().encode(),
        key=submitted_incident.key.encode(),
        headers=HEADERS,
    )
    hits = await endpoints.wait(lambda hit: hit.body.get("alert_id") == alert_id, accounts, timeout_s)
    approved_at = await approvals.get(alert_id, timeout_s)
    if sorted(hit.account for hit in hits) != list(range(accounts)):
        raise RuntimeError(f"alert {alert_id}: posts to {sorted(hit.account for hit in hits)}")
    return PipelineRound(
        submitted=submitted,
        approved=approved_at.timestamp(),
        first_arrival=min(hit.arrived for hit in hits),
        last_arrival=max(hit.arrived for hit in hits),
        last_answer=max(hit.answered for hit in hits),
        text=str(hits[0].body["text"]),
    )


def apprise_for(endpoints: Endpoints, accounts: int) -> apprise.Apprise:
    import apprise

    notifier = apprise.Apprise()
    for account in range(accounts):
        target = endpoints.url(account).replace("http://", "json://", 1)
        if not notifier.add(target):
            raise RuntimeError(f"Apprise refused {target}")
    return notifier


def timed_notify(notifier: apprise.Apprise, text: str) -> tuple[float, float, bool]:
    """(wall clock at the call, seconds notify() took, whether Apprise says all succeeded)."""
    started_at, started = time.time(), time.perf_counter()
    result = notifier.notify(body=text)
    return started_at, time.perf_counter() - started, bool(result)


async def apprise_round(
    endpoints: Endpoints, notifier: apprise.Apprise, accounts: int, text: str, timeout_s: float
) -> float:
    """notify() runs in a thread: it blocks, and the endpoints live on this event loop."""
    mark = len(endpoints.hits)
    started_at, took, ok = await asyncio.to_thread(timed_notify, notifier, text)
    hits = await endpoints.wait(lambda hit: hit.body.get("message") == text, accounts, timeout_s, mark)
    if not ok or sorted(hit.account for hit in hits) != list(range(accounts)):
        raise RuntimeError(f"Apprise: ok={ok}, posts to {sorted(hit.account for hit in hits)}")
    say(
        f"    apprise: notify() {took:.3f} s; from the call: first post arrived "
        f"{min(h.arrived for h in hits) - started_at:.3f} s, last arrived "
        f"{max(h.arrived for h in hits) - started_at:.3f} s, last answered "
        f"{max(h.answered for h in hits) - started_at:.3f} s"
    )
    return took


async def measure(
    args: argparse.Namespace,
    bootstrap: str,
    accounts: int,
    endpoints: Endpoints,
    folder: Path,
) -> tuple[float, float]:
    """(median fanout_wall_s, median apprise_wall_s) for one account count, on its own worker."""
    run = uuid.uuid4().hex[:8]
    prefix = f"fanout{run}."
    await asyncio.to_thread(topics.apply, bootstrap, prefix)
    urls = [endpoints.url(account) for account in range(accounts)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    approvals = Approvals(bootstrap, prefix)
    say(f"accounts={accounts}: starting a worker (webhook x {accounts}, concurrency {args.concurrency})")
    worker = start_worker(bootstrap, prefix, urls, args.concurrency, folder)
    say(f"  worker pid {worker.pid}, log {folder / 'worker.log'}")
    try:
        await producer.start()
        await approvals.start()
        number = 0
        for warm_up in range(1, WARM_UPS + 1):
            # The first waits for the worker to start and join its group.
            timeout = args.timeout * 3 if warm_up == 1 else args.timeout
            warm = await send_alert(producer, prefix, run, number, accounts, endpoints, approvals, timeout)
            number += 1
            say(f"  warm-up alert {warm_up}/{WARM_UPS}: {warm.line()}")
        notifier = apprise_for(endpoints, accounts)
        await apprise_round(endpoints, notifier, accounts, "warm-up", args.timeout)
        fanout, sent = [], []
        for round_ in range(1, args.repeat + 1):
            measured = await send_alert(
                producer, prefix, run, number, accounts, endpoints, approvals, args.timeout
            )
            number += 1
            say(f"  alert {round_}/{args.repeat}: {measured.line()}")
            fanout.append(measured.fanout_wall_s)
            sent.append(await apprise_round(endpoints, notifier, accounts, measured.text, args.timeout))
        return statistics.median(fanout), statistics.median(sent)
    except Exception:
        say(f"  end of the worker's log:\n{log_tail(folder / 'worker.log')}")
        raise
    finally:
        await approvals.stop()
        await producer.stop()
        say(f"  stopping worker pid {worker.pid}")
        await asyncio.to_thread(stop, worker)


async def run_all(args: argparse.Namespace, bootstrap: str, folder: Path) -> dict[int, tuple[float, float]]:
    endpoints = Endpoints(ANSWER_DELAY_S)
    await endpoints.start()
    say(f"endpoints: http://127.0.0.1:{endpoints.port}/hook/0..{max(args.accounts) - 1}")
    try:
        return {
            accounts: await measure(args, bootstrap, accounts, endpoints, folder / f"accounts{accounts}")
            for accounts in args.accounts
        }
    finally:
        await endpoints.stop()


def free_pair() -> int:
    """A broker port p with p+100 free too (its controller port)."""
    for _ in range(100):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 100))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of ports")


def thread_pool_size() -> str:
    import apprise.apprise

    size = getattr(apprise.apprise.get_shared_executor(), "_max_workers", None)
    return f"{size} threads" if size else "a thread pool"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--accounts", type=int, nargs="+", default=[8, 32], help="account counts, one worker each"
    )
    parser.add_argument("--repeat", type=int, default=3, help="measured alerts per count (median)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="ALERTCAST_WORKER_CONCURRENCY (default: the largest account count)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one alert's posts")
    parser.add_argument("--bootstrap", default="", help="use this broker instead of starting one")
    args = parser.parse_args()
    if importlib.util.find_spec("apprise") is None:
        print("bench/fanout.py needs Apprise: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 2
    args.concurrency = args.concurrency or max(args.accounts)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(NewTopicsSettling())
    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="alertcast-fanout-") as temp:
        bootstrap, data, port = args.bootstrap, Path(temp) / "kafka", free_pair()
        try:
            if not bootstrap:
                kafka.up(data, settings.cache_dir, port=port, say=say)
                bootstrap = f"127.0.0.1:{port}"
            figures = asyncio.run(run_all(args, bootstrap, Path(temp)))
        except KeyboardInterrupt:
            say("interrupted")
            return 130
        finally:
            if not args.bootstrap:
                say("stopping the broker")
                kafka.down(data, port=port)
    print(
        f"measured: fanout_wall_s = approval (approved_at) -> last endpoint's answer, "
        f"apprise_wall_s = Apprise.notify() call; median of {args.repeat} alerts; endpoints answer in "
        f"{ANSWER_DELAY_S * 1000:.0f} ms; worker concurrency {args.concurrency}; "
        f"apprise {version('apprise')} ({thread_pool_size()})"
    )
    for accounts, (fanout, sent) in figures.items():
        print(f"accounts={accounts} fanout_wall_s={fanout:.3f} apprise_wall_s={sent:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
