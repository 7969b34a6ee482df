"""`alertcast demo`: everything a new user needs to see alertcast work, started and stopped here.

Broker, topics, LanguageTool (grammar and spelling, unless ALERTCAST_LANGUAGETOOL_URL names one),
a local server for every network with a demo account on each (alertcast/demo_networks.py), a
worker routed to all of them and to the website, `alertcast web` (intake API and console, with a
login and an API key made for this run), the public site and the wall (every network's post, see
alertcast/wall.py) on 127.0.0.1. Then the example incidents of deploy/examples/ (their times moved
to today, so they show as current alerts): the three alerts first, then the road closure's Update
and a Cancel that ends it, which arrive on the wall as edits or replies in the alert's thread.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from alertcast import examples, kafka, languagetool, topics
from alertcast.clock import clock
from alertcast.demo_networks import DemoNetworks
from alertcast.models.alert import alert_id_for
from alertcast.models.incident import Incident
from alertcast.settings import Settings
from alertcast.site.serve import serve
from alertcast.stopping import StopAsked, ignore_signals, stop_on_signals, terminal_foreground
from alertcast.submit import produce
from alertcast.wall_server import TopicFollower, serve_wall, wall_page
from alertcast.web.console.auth import hash_password
from alertcast.web.keys import new_key

STOP_TIMEOUT_S = 20.0
"""How long the worker and the web process have to stop before they are killed."""
DELIVERED_WITHIN_S = 120.0
"""How long the worker has to deliver a round of examples to every network."""
FIRST, UPDATE = "01-road-closure-d934.json", "04-road-closure-d934-update.json"
PENDING = frozenset({"paused", "warning"})
"""Receipt statuses that do not end a delivery."""


def run_demo(
    settings: Settings,
    site_dir: Path,
    port: int,
    web_port: int = 8000,
    wait: bool = True,
    wall_port: int = 8090,
) -> int:
    """0 once the examples are published (`wait` False) or the user stopped the demo (Ctrl-C,
    SIGTERM); 1 if the worker did not publish them or a process stopped on its own."""
    with terminal_foreground(), stop_on_signals(), ExitStack() as running:
        try:
            return _run(settings, site_dir, port, web_port, wall_port, wait, running)
        except StopAsked as asked:
            print(f"\nstopping ({asked})", flush=True)
            return 0
        finally:
            ignore_signals()  # the processes started are stopped in order, whatever comes now


def _run(
    settings: Settings,
    site_dir: Path,
    port: int,
    web_port: int,
    wall_port: int,
    wait: bool,
    running: ExitStack,
) -> int:
    began = time.monotonic()
    site_dir = site_dir.resolve()
    if not all(pid for _, pid in kafka.running(settings.kafka_dir, settings.kafka_port)):
        running.callback(_stop_broker, settings)  # before starting it: a stop may come while it starts
    networks = DemoNetworks(
        Path(running.enter_context(tempfile.TemporaryDirectory(prefix="alertcast-demo-")))
    )
    running.callback(networks.stop)
    networks.start_slow()  # Synapse and the PDS take seconds: while the broker starts
    networks.start_fast()
    grammar = _start_languagetool(settings, running)  # its Java start is the longest: alongside
    kafka.up(settings.kafka_dir, settings.cache_dir, settings.kafka_port)
    for line in topics.apply(settings.bootstrap, settings.topic_prefix).lines():
        print(f"topics: {line}")
    grammar_url = grammar()
    left_out = networks.finish()
    if left_out:
        print(f"networks left out: {'; '.join(left_out)}")
    channels = ["website", *(["webhook"] if settings.webhook_urls else []), *networks.channels()]
    print(f"networks: {', '.join(channels)}")
    password, api_key = secrets.token_urlsafe(12), new_key("demo")
    env = {
        **os.environ,
        **networks.env(),
        "ALERTCAST_SITE_DIR": str(site_dir),
        "ALERTCAST_SITE_BASE_URL": f"http://127.0.0.1:{port}",
        "ALERTCAST_CHANNELS": json.dumps(channels),
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
        "ALERTCAST_LANGUAGETOOL_URL": grammar_url,
    }
    logs = settings.kafka_dir.resolve().parent
    processes: dict[str, subprocess.Popen[bytes]] = {}
    running.callback(_stop, processes)
    processes["worker"] = _start(["worker"], env, logs / "demo-worker.log")
    processes["web"] = _start(["web", "--port", str(web_port)], env, logs / "demo-web.log")
    running.callback(serve(site_dir, port).shutdown)
    follower = TopicFollower(settings).start()
    running.callback(follower.stop)
    wall = serve_wall(wall_page(networks.posts, follower, lambda: left_out), wall_port)
    running.callback(wall.shutdown)
    alerts, update, cancel = example_rounds(clock.now().strftime("%Y%m%d%H%M%S"))
    produce(alerts, settings, "demo")
    print(f"submitted {len(alerts)} example alerts; logs: {logs}/demo-*.log")
    alert_ids = {alert_id_for(incident.key) for incident in alerts}
    if not _wait_for_site(site_dir, alert_ids, processes["worker"], timeout_s=120):
        print(f"the worker did not publish the examples in time; see {logs}/demo-worker.log", file=sys.stderr)
        return 1
    _wait_for_networks(follower, channels, {(a, 1) for a in alert_ids}, processes["worker"])
    print(f"started in {time.monotonic() - began:.1f} s: every network has the {len(alerts)} alerts")
    print(f"wall:        http://127.0.0.1:{wall.server_address[1]}/  (every network's post, as it stored it)")
    print(f"public site: http://127.0.0.1:{port}/  (feeds: cap.xml, feed.atom, alerts.json)")
    print(f"console:     http://127.0.0.1:{web_port}/console  (user demo, password {password})")
    print(f"intake API:  http://127.0.0.1:{web_port}/api/v1/incidents  (Bearer {api_key.key})")
    road = alert_id_for(update.key)
    for version, (what, incident) in enumerate((("update", update), ("cancel", cancel)), start=2):
        produce([incident], settings, "demo")
        if _wait_for_networks(follower, channels, {(road, version)}, processes["worker"]):
            print(f"the road closure's {what} reached every network: see the wall", flush=True)
    if not wait:
        return 0
    print(
        "running; press Ctrl-C to stop the worker, the web process, the site, the wall, the networks' "
        "servers and the broker",
        flush=True,
    )
    while all(process.poll() is None for process in processes.values()):
        time.sleep(0.5)
    stopped = [name for name, process in processes.items() if process.poll() is not None]
    print(f"the {' and '.join(stopped)} stopped unexpectedly; see {logs}/demo-*.log", file=sys.stderr)
    return 1


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A child in its own session: the terminal's Ctrl-C is for the demo, which stops its
    children in order (the worker before the broker it needs to stop quickly)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "alertcast", *command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _stop(processes: dict[str, subprocess.Popen[bytes]], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM to all at once, then SIGKILL to any still running after `timeout_s`."""
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + timeout_s
    for name, process in processes.items():
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"the {name} did not stop within {timeout_s:.0f} s: killed", file=sys.stderr)
            process.kill()
            process.wait()
    if processes:
        print(f"stopped the {' and the '.join(processes)}", flush=True)


def _languagetool_dir(settings: Settings) -> Path:
    return settings.kafka_dir.resolve().parent / "languagetool"


def _start_languagetool(settings: Settings, running: ExitStack) -> Callable[[], str]:
    """LanguageTool for the worker's grammar check (unless one is configured), started in a thread
    while the broker starts, stopped with the demo if started here; call the result for its URL."""
    if configured := settings.languagetool_url:
        return lambda: configured
    data_dir, port = _languagetool_dir(settings), settings.languagetool_port
    if languagetool.running(data_dir, port)[1] is None:
        running.callback(_stop_languagetool, data_dir, port)  # before starting it, like the broker
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="languagetool")
    started = pool.submit(languagetool.up, data_dir, settings.cache_dir, port)
    running.callback(pool.shutdown)  # runs before the stop above: a start under way ends first
    return lambda: started.result().url


def _stop_languagetool(data_dir: Path, port: int) -> None:
    if languagetool.down(data_dir, port):
        print("LanguageTool stopped", flush=True)


def _stop_broker(settings: Settings) -> None:
    if kafka.down(settings.kafka_dir, settings.kafka_port):
        print("broker stopped", flush=True)


def example_rounds(suffix: str) -> tuple[list[Incident], Incident, Incident]:
    """The examples as this run submits them: the alerts, then the road closure's Update, then
    a Cancel of it sent now (identifiers with `suffix`: the broker keeps earlier runs')."""
    documents = {name: examples.renamed(document, suffix) for name, document in examples.at().items()}
    first, update = documents[FIRST], documents[UPDATE]
    cancel = {
        "identifier": f"{first['identifier']}-cancel",
        "sender": first["sender"],
        "sent": clock.now().isoformat(),
        "msg_type": "Cancel",
        "references": [
            {key: earlier[key] for key in ("sender", "identifier", "sent")} for earlier in (first, update)
        ],
    }
    alerts = [
        Incident.model_validate({"source": "demo", **d}) for name, d in documents.items() if name != UPDATE
    ]
    return (
        alerts,
        Incident.model_validate({"source": "demo", **update}),
        Incident.model_validate({"source": "demo", **cancel}),
    )


def delivered(
    receipts: Iterable[dict[str, Any]], channels: Iterable[str], wanted: set[tuple[str, int]]
) -> list[str]:
    """The channels still missing an ended delivery of one of `wanted` (alert id, version)."""
    ended = {(r["channel"], r["alert_id"], r["version"]) for r in receipts if r.get("status") not in PENDING}
    return [c for c in channels if any((c, alert, version) not in ended for alert, version in wanted)]


def _wait_for_networks(
    follower: TopicFollower,
    channels: list[str],
    wanted: set[tuple[str, int]],
    worker: subprocess.Popen[bytes],
    timeout_s: float = DELIVERED_WITHIN_S,
) -> bool:
    """Until every channel has a receipt for each of `wanted`; False, saying which did not, after
    `timeout_s` (the demo goes on: the site and the other networks still show)."""

    def missing() -> list[str]:
        return delivered(follower.read()[1], channels, wanted)

    deadline = time.monotonic() + timeout_s
    while missing() and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.2)
    late = missing()
    if late:
        print(
            f"not delivered in time to: {', '.join(late)} (see the wall and demo-worker.log)", file=sys.stderr
        )
    return not late


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
