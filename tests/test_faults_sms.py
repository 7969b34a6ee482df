"""The sms channel through the real pipeline and a real SMPP gateway (smpp34's server): a worker
SIGKILLed after its submit_sm reached the gateway and before the answer is restarted, and
sends nothing twice (the delivery is `unknown`: SMPP cannot be asked, a person decides); the
gateway's delivery receipts then become the delivery's receipt on deliveries.receipts, with its
number counted as delivered."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

pytest.register_assert_rewrite("faults_support")  # before its import: it is also this tier's plugin
from conftest import wait_for  # noqa: E402
from faults_support import incident, read_until  # noqa: E402
from test_pipeline_kafka import cli  # noqa: E402

if TYPE_CHECKING:
    from servers.smpp import SmppGateway

pytestmark = pytest.mark.faults
pytest_plugins = ["faults_support"]

NUMBER, ADDRESS = "+33 6 12 34 56 78", "33612345678"
#: Longer than every wait below: the first worker never gives up on the held submit_sm itself.
SUBMIT_TIMEOUT_S = 25


@pytest.fixture
def gateway() -> Iterator[SmppGateway]:
    from servers.smpp import SmppGateway

    server = SmppGateway()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def sms_receipts(receipts: list[dict[str, Any]], alert_id: str | None = None) -> list[dict[str, Any]]:
    return [r for r in receipts if r["channel"] == "sms" and alert_id in (None, r["alert_id"])]


def test_a_worker_killed_after_submit_sm_sends_nothing_twice_and_receipts_reach_the_topic(
    broker: str,
    prefix: str,
    start_worker: Any,
    worker_env: dict[str, str],
    gateway: SmppGateway,
    tmp_path: Path,
) -> None:
    account = {
        "name": "prefecture",
        "host": "127.0.0.1",
        "port": gateway.port,
        "system_id": gateway.system_id,
        "password_env": "ALERTCAST_TEST_SMPP_PASSWORD",
        "source": "PREF62",
        "to": [NUMBER],
        "throughput_per_s": 100,
        "submit_timeout_s": SUBMIT_TIMEOUT_S,
    }
    env = {
        **worker_env,
        "ALERTCAST_CHANNELS": json.dumps(["website", "sms"]),
        "ALERTCAST_SMS_ACCOUNTS": json.dumps([account]),
        "ALERTCAST_TEST_SMPP_PASSWORD": gateway.password,
    }
    gateway.hold_submits = True  # takes the submit_sm, never answers: the worker waits
    first = start_worker(**env)
    tag = f"{time.time_ns():x}"
    road = incident(tmp_path, "01-road-closure-d934.json", tag)
    assert cli("submit", str(road), env=env).returncode == 0
    wait_for(lambda: len(gateway.to(ADDRESS)) == 1, 120, lambda: f"the held submit_sm\n{first.log_tail()}")
    assert first.process is not None
    first.process.kill()  # after the gateway took the first segment, before any answer
    first.process.wait(timeout=30)
    gateway.hold_submits = False

    second = start_worker(**env)
    receipts = read_until(
        broker,
        prefix + "deliveries.receipts",
        lambda got: any(r["status"] == "unknown" for r in sms_receipts(got)),
        what=second.log_tail,
    )
    unknown = next(r for r in sms_receipts(receipts) if r["status"] == "unknown")
    assert {r["status"] for r in sms_receipts(receipts)} == {"unknown"}
    assert "cannot say whether it was posted" in unknown["error"]
    assert len(gateway.to(ADDRESS)) == 1  # nothing sent blind after the restart
    road_alert = unknown["alert_id"]

    # A later alert goes out; the handset's receipts come back through the worker.
    bus = incident(tmp_path, "02-school-bus-cancelled.json", tag)
    assert cli("submit", str(bus), env=env).returncode == 0
    sent = read_until(
        broker,
        prefix + "deliveries.receipts",
        lambda got: any(r["status"] == "sent" and r["alert_id"] != road_alert for r in sms_receipts(got)),
        what=second.log_tail,
    )
    bus_sent = next(r for r in sms_receipts(sent) if r["status"] == "sent" and r["alert_id"] != road_alert)
    assert "handsets" not in bus_sent["details"]  # the gateway took it; no handset has said yet
    for message_id in bus_sent["details"]["message_ids"]:
        gateway.send_receipt(message_id, "DELIVRD")
    counted = read_until(
        broker,
        prefix + "deliveries.receipts",
        lambda got: any("handsets" in r["details"] for r in sms_receipts(got, bus_sent["alert_id"])),
        what=second.log_tail,
    )
    delivered = next(r for r in sms_receipts(counted, bus_sent["alert_id"]) if "handsets" in r["details"])
    assert delivered["status"] == "sent" and delivered["delivery_key"] == bus_sent["delivery_key"]
    assert delivered["details"]["handsets"] == {"delivered": 1, "failed": 0, "pending": 0}
    assert len(gateway.to(ADDRESS)) == 1 + len(bus_sent["details"]["message_ids"])  # each segment once
