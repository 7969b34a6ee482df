"""The walking skeleton end to end on a real broker and a real worker process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import Receiver, wait_for
from kafka_io import produce, read_until

from alertcast import examples, topics
from alertcast.clock import clock

pytestmark = pytest.mark.kafka


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alertcast", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_topics_apply_creates_then_reports_no_change(broker: str, prefix: str) -> None:
    specs = topics.load_specs()
    first = topics.apply(broker, prefix)
    assert sorted(first.created) == sorted(prefix + spec.name for spec in specs)
    second = topics.apply(broker, prefix)
    assert second.created == [] and second.differences == []
    assert second.lines()[-1].startswith("no change")


def test_topics_apply_reports_a_differing_topic(broker: str, prefix: str) -> None:
    spec = topics.TopicSpec(name="x.y", partitions=2, config={"retention.ms": "1000"})
    topics.apply(broker, prefix, [spec])
    changed = spec.model_copy(update={"partitions": 3, "config": {"retention.ms": "2000"}})
    report = topics.apply(broker, prefix, [changed])
    assert report.created == []
    assert report.differences == [
        f"{prefix}x.y: partitions 2 (declared 3), retention.ms=1000 (declared 2000)"
    ]


def test_incident_reaches_website_and_webhook(
    broker: str,
    prefix: str,
    start_worker,
    worker_env: dict[str, str],
    receiver: Receiver,
    current_examples: Path,
) -> None:
    env = {
        **worker_env,
        "ALERTCAST_CHANNELS": json.dumps(["website", "webhook"]),
        "ALERTCAST_WEBHOOK_URLS": json.dumps([receiver.url]),
        "ALERTCAST_WEBHOOK_SECRET": "test-webhook-secret",
    }
    worker = start_worker(**env)
    submitted = cli("submit", str(current_examples / "01-road-closure-d934.json"), env=env)
    assert submitted.returncode == 0, submitted.stderr
    assert submitted.stdout.strip() == "routes@departement-exemple.fr/dir-nord-2026-1203-d934"

    body = wait_for(lambda: receiver.bodies(), 90, f"the webhook call\n{worker.log_tail()}")[0]
    assert body["incident"]["identifier"] == "dir-nord-2026-1203-d934"
    assert "Route D 934 fermée entre Arras et Cambrai" in body["text"]
    assert receiver.requests[0]["headers"]["Idempotency-Key"] == body["delivery_key"]

    site = Path(env["ALERTCAST_SITE_DIR"])
    page = site / "alerts" / f"{body['alert_id']}.html"
    wait_for(page.exists, 60, "the alert page")
    assert "Route D 934 fermée entre Arras et Cambrai" in page.read_text()
    index = site / "alerts.json"
    wait_for(lambda: index.exists() and body["alert_id"] in index.read_text(), 30, "the JSON index")
    assert "Route D 934" in (site / "index.html").read_text()

    receipts = read_until(broker, prefix + "deliveries.receipts", 2)
    assert sorted((r["channel"], r["status"]) for r in receipts) == [("webhook", "sent"), ("website", "sent")]
    # The website's receipt is the site writer's, once the page was on disk, with its address.
    (website,) = [r for r in receipts if r["channel"] == "website"]
    assert website["url"].endswith(f"/alerts/{body['alert_id']}.html")
    handed = read_until(broker, prefix + "site.versions", 1)
    assert [(h["request"]["alert_id"], h["request"]["version"]) for h in handed] == [(body["alert_id"], 1)]
    # The worker joined its group ready to compose: the models were loaded before (compose.py).
    log = worker.log.read_text(errors="replace")
    assert -1 < log.find("language models loaded in") < log.find("Joined group"), worker.log_tail()


def test_malformed_incidents_land_in_rejected_with_reasons(
    broker: str, prefix: str, start_worker, worker_env: dict[str, str]
) -> None:
    start_worker()
    produce(broker, prefix + "incidents.submitted", b"this is no known format")
    produce(broker, prefix + "incidents.submitted", b'{"identifier": "x", ')
    invalid = examples.document("01-road-closure-d934.json")
    del invalid["sender"]
    invalid["info"][0]["category"] = "volcano"
    before_onset = (datetime.fromisoformat(invalid["info"][0]["onset"]) - timedelta(hours=1)).isoformat()
    invalid["info"][0]["expires"] = before_onset
    produce(broker, prefix + "incidents.submitted", json.dumps(invalid).encode())
    rejections = read_until(broker, prefix + "incidents.rejected", 3)
    by_raw = {r["raw"]: r for r in rejections}  # unkeyed: they may come in any order
    unknown = by_raw["this is no known format"]
    not_json = by_raw['{"identifier": "x", ']
    bad = by_raw[json.dumps(invalid)]
    assert [p["rule"] for p in unknown["problems"]] == ["unknown_format"]
    assert [p["rule"] for p in not_json["problems"]] == ["json_syntax"]
    found = {(p["path"], p["rule"], str(p["value"])) for p in bad["problems"]}
    assert ("sender", "missing", "None") in found
    assert ("info.0.category", "enum", "volcano") in found
    assert ("info.0.expires", "expires_before_onset", before_onset) in found


def test_update_joins_incident_and_duplicate_is_processed_once(
    broker: str, prefix: str, start_worker, worker_env: dict[str, str], tmp_path: Path, current_examples: Path
) -> None:
    start_worker()
    alert, update = (
        current_examples / n for n in ("01-road-closure-d934.json", "04-road-closure-d934-update.json")
    )
    cancel = json.loads(alert.read_text())
    cancel.update(
        identifier="dir-nord-2026-1203-d934-3",
        sent=clock.now().isoformat(),
        msg_type="Cancel",
        references=[{"sender": cancel["sender"], "identifier": cancel["identifier"]}],
    )
    (tmp_path / "cancel.json").write_text(json.dumps(cancel))
    # Alert, Update, the Alert again (a duplicate), then a Cancel: all on one partition, in order.
    for path in (alert, update, alert, tmp_path / "cancel.json"):
        assert cli("submit", str(path), env=worker_env).returncode == 0
    accepted = read_until(broker, prefix + "incidents.accepted", 3)
    key = "routes@departement-exemple.fr/dir-nord-2026-1203-d934"
    assert [(a["incident_key"], a["version"], a["incident"]["msg_type"]) for a in accepted] == [
        (key, 1, "Alert"),
        (key, 2, "Update"),
        (key, 3, "Cancel"),  # not the duplicate Alert: it was recognised and dropped
    ]


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit status may wait for a reaper that never comes)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_kafka_cli_up_status_down_leaves_no_process(tmp_path: Path) -> None:
    from conftest import _free_pair

    port = str(_free_pair())
    data = str(tmp_path / "k")
    env = dict(os.environ)
    args = ["--data-dir", data, "--port", port]
    up = cli("kafka", "up", *args, env=env)
    assert up.returncode == 0, up.stderr + up.stdout
    status = cli("kafka", "status", *args, env=env)
    assert status.returncode == 0 and "running (pid" in status.stdout
    pid = int(status.stdout.split("pid ")[1].split(")")[0])
    down = cli("kafka", "down", *args, env=env)
    assert down.returncode == 0 and f"stopped broker pid(s) {pid}" in down.stdout
    assert not running(pid)
    after = cli("kafka", "status", *args, env=env)
    assert after.returncode == 1 and "not running" in after.stdout


def test_update_and_cancel_follow_the_alert_on_every_channel(
    broker: str,
    prefix: str,
    start_worker,
    worker_env: dict[str, str],
    receiver: Receiver,
    tmp_path: Path,
    current_examples: Path,
) -> None:
    env = {
        **worker_env,
        "ALERTCAST_CHANNELS": json.dumps(["website", "webhook"]),
        "ALERTCAST_WEBHOOK_URLS": json.dumps([receiver.url]),
        "ALERTCAST_WEBHOOK_SECRET": "test-webhook-secret",
    }
    start_worker(**env)
    alert = examples.document("01-road-closure-d934.json")
    cancel = {  # like real CAP Cancels, no <info>: it ends what the last version said
        **{key: value for key, value in alert.items() if key != "info"},
        "identifier": "dir-nord-2026-1203-d934-fin",
        "sent": clock.now().isoformat(),
        "msg_type": "Cancel",
        "references": [{"sender": alert["sender"], "identifier": alert["identifier"]}],
    }
    (tmp_path / "cancel.json").write_text(json.dumps(cancel))
    for path in (
        current_examples / "01-road-closure-d934.json",
        current_examples / "04-road-closure-d934-update.json",
    ):
        assert cli("submit", str(path), env=env).returncode == 0
    receipts = read_until(broker, prefix + "deliveries.receipts", 4)
    assert cli("submit", str(tmp_path / "cancel.json"), env=env).returncode == 0
    receipts = read_until(broker, prefix + "deliveries.receipts", 6)
    assert sorted((r["version"], r["channel"], r["status"]) for r in receipts) == [
        (1, "webhook", "sent"),
        (1, "website", "sent"),
        (2, "webhook", "sent"),
        (2, "website", "sent"),
        (3, "webhook", "sent"),
        (3, "website", "sent"),
    ]
    bodies = receiver.bodies()
    assert [body["msg_type"] for body in bodies] == ["Alert", "Update", "Cancel"]
    assert bodies[2]["text"].startswith("FIN D'ALERTE")
    assert "D 934" in bodies[2]["text"]
    site = Path(env["ALERTCAST_SITE_DIR"])
    alert_id = receipts[0]["alert_id"]
    assert alert_id in (site / "archive.html").read_text()
    assert alert_id not in (site / "index.html").read_text()


def test_an_exercise_reaches_only_exercise_accounts_labelled(
    broker: str, prefix: str, start_worker, worker_env: dict[str, str], tmp_path: Path
) -> None:
    public, drill = Receiver(), Receiver()
    try:
        env = {
            **worker_env,
            "ALERTCAST_CHANNELS": json.dumps(["webhook"]),
            "ALERTCAST_WEBHOOK_URLS": json.dumps(
                [{"name": "public", "url": public.url}, {"name": "drill", "url": drill.url}]
            ),
            "ALERTCAST_WEBHOOK_SECRET": "test-webhook-secret",
            "ALERTCAST_ROUTES": json.dumps([{"channel": "webhook", "account": "drill", "exercise": True}]),
        }
        start_worker(**env)
        exercise = examples.document("02-school-bus-cancelled.json")
        exercise["status"] = "Exercise"
        actual = examples.document("01-road-closure-d934.json")
        for name, document in (("exercise.json", exercise), ("actual.json", actual)):
            (tmp_path / name).write_text(json.dumps(document))
            assert cli("submit", str(tmp_path / name), env=env).returncode == 0
        receipts = read_until(broker, prefix + "deliveries.receipts", 2)
        by_account = sorted((r["account"], r["status"]) for r in receipts)
        assert by_account == [("drill", "sent"), ("public", "sent")]
        (drill_body,) = drill.bodies()
        assert drill_body["status"] == "Exercise"
        assert drill_body["text"].startswith("EXERCICE")
        (public_body,) = public.bodies()
        assert public_body["status"] == "Actual"
    finally:
        public.server.shutdown()
        drill.server.shutdown()


def test_a_dead_delivery_is_settled_by_a_person_posted_again_or_recorded_as_posted(
    broker: str,
    prefix: str,
    start_worker,
    worker_env: dict[str, str],
    receiver: Receiver,
    current_examples: Path,
) -> None:
    env = {
        **worker_env,
        "ALERTCAST_CHANNELS": json.dumps(["webhook"]),
        "ALERTCAST_WEBHOOK_URLS": json.dumps([receiver.url]),
        "ALERTCAST_WEBHOOK_SECRET": "test-webhook-secret",
        "ALERTCAST_BREAKER_COOLDOWN_S": "0.5",
    }
    start_worker(**env)
    receiver.status = 500  # the network is down: every attempt fails, the delivery ends dead
    for name in ("01-road-closure-d934.json", "02-school-bus-cancelled.json"):
        assert cli("submit", str(current_examples / name), env=env).returncode == 0
    dead = read_until(broker, prefix + "deliveries.dead", 2)
    # The first dies of the 500s; its failures open the channel's circuit, so the second may die
    # of that without calling the network again.
    assert all(d["status"] == "dead" and ("500" in d["error"] or "circuit" in d["error"]) for d in dead), dead
    receiver.status = 202  # it is back
    again, recorded = sorted(dead, key=lambda d: d["delivery_key"])
    assert (
        cli(
            "deliveries", "resolve", again["delivery_key"], "--post-again", "--by", "alice", env=env
        ).returncode
        == 0
    )
    posted = "https://exemple.fr/posted-by-hand"
    assert cli("deliveries", "resolve", recorded["delivery_key"], "--posted", posted, env=env).returncode == 0
    receipts = read_until(broker, prefix + "deliveries.receipts", 4)
    final = {r["delivery_key"]: r for r in receipts}  # the last of each key (keys span partitions)
    assert final[again["delivery_key"]]["status"] == "sent"
    assert final[recorded["delivery_key"]]["status"] == "sent"
    assert final[recorded["delivery_key"]]["url"] == posted
    assert [body["alert_id"] for body in receiver.bodies()] == [again["alert_id"]]  # posted once, by hand
    unknown_key = cli("deliveries", "resolve", "nope:1:webhook:0", "--post-again", env=env)
    assert unknown_key.returncode == 2 and "no delivery" in unknown_key.stderr
