"""The intake API for real: uvicorn on 127.0.0.1, the real aiokafka producer, the real broker,
and for the version chain a real `alertcast worker` process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from conftest import PROBLEM_SHAPE, SAMPLES, free_port, wait_for
from kafka import KafkaConsumer

from alertcast import examples, topics
from alertcast.clock import clock
from alertcast.models.alert import alert_id_for
from alertcast.web.app import WebConfig, create_app
from alertcast.web.keys import NewKey, SourceKey, SourcesConfig, new_key

pytestmark = pytest.mark.kafka

T = TypeVar("T")
ALERT = json.dumps(examples.document("01-road-closure-d934.json")).encode()
UPDATE = json.dumps(examples.document("04-road-closure-d934-update.json")).encode()
KEY = "routes@departement-exemple.fr/dir-nord-2026-1203-d934"


@dataclass
class Web:
    url: str
    keys: dict[str, NewKey]

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name].key}"}


async def eventually(check: Callable[[], Awaitable[T | None]], within_s: float, what: str) -> T:
    """Wait on a condition (never a fixed sleep), failing with `what` after `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {within_s:.0f} s waiting for {what}")


@pytest.fixture
async def web(broker: str, prefix: str) -> AsyncIterator[Web]:
    topics.apply(broker, prefix)
    keys = {name: new_key(name) for name in ("dir-nord", "other", "old", "slow", "admin")}
    config = WebConfig(
        bootstrap=broker,
        topic_prefix=prefix,
        sources=SourcesConfig(
            sources=[
                SourceKey(name="dir-nord", key_sha256=keys["dir-nord"].key_sha256, rate_per_minute=1000),
                SourceKey(name="other", key_sha256=keys["other"].key_sha256),
                SourceKey(name="old", key_sha256=keys["old"].key_sha256, revoked=True),
                SourceKey(name="slow", key_sha256=keys["slow"].key_sha256, rate_per_minute=2),
                SourceKey(name="admin", key_sha256=keys["admin"].key_sha256, admin=True),
            ]
        ),
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=0, lifespan="on", log_level="warning")
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            task.result()
            raise AssertionError("the web server stopped during its start")
        return server.started

    await eventually(started, 30, "the web server")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Web(url=f"http://127.0.0.1:{port}", keys=keys)
    finally:
        server.should_exit = True
        await task


def records(broker: str, topic: str, count: int, timeout: float = 30.0) -> list[Any]:
    """The first `count` records of `topic` (key, headers and value), read with kafka-python."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=broker, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=300).values():
                found += batch
    finally:
        consumer.close()
    assert len(found) >= count, f"{topic}: {len(found)}/{count} records after {timeout:.0f} s"
    return found


async def test_every_refusal_status_from_real_requests(web: Web, broker: str, prefix: str) -> None:
    url = f"{web.url}/api/v1/incidents"
    json_type = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=30) as client:
        for headers, reason in (
            ({}, "missing_key"),
            ({"Authorization": "Bearer not-a-key"}, "invalid_key"),
            ({"X-API-Key": web.keys["old"].key}, "revoked_key"),
        ):
            answer = await client.post(url, content=ALERT, headers={**headers, **json_type})
            assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer")
            assert answer.json()["error"] == reason and answer.json()["problems"][0]["hint"]

        for media in ("text/plain", "image/png"):
            answer = await client.post(
                url, content=ALERT, headers={**web.auth("dir-nord"), "Content-Type": media}
            )
            assert answer.status_code == 415 and answer.json()["problems"][0]["path"] == "Content-Type"

        huge = b"[" + b" " * (1024 * 1024) + b"]"
        answer = await client.post(url, content=huge, headers={**web.auth("dir-nord"), **json_type})
        assert answer.status_code == 413 and answer.json()["problems"][0]["rule"] == "body_too_large"

        async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the bytes are counted
            for _ in range(40):
                yield b" " * 65536

        answer = await client.post(url, content=chunked(), headers={**web.auth("dir-nord"), **json_type})
        assert answer.status_code == 413

        not_utf8 = '{"identifier": "é"}'.encode("latin-1")
        answer = await client.post(url, content=not_utf8, headers={**web.auth("dir-nord"), **json_type})
        assert answer.status_code == 400 and answer.json()["problems"][0]["rule"] == "json_syntax"
        broken = (SAMPLES / "cap" / "oasis-example1-homeland-security-advisory.xml").read_bytes()[:300]
        cap_type = {"Content-Type": "application/cap+xml"}
        answer = await client.post(url, content=broken, headers={**web.auth("dir-nord"), **cap_type})
        assert answer.status_code == 400 and answer.json()["problems"][0]["rule"] == "xml_syntax"

        invalid = json.loads(ALERT)
        del invalid["sender"]
        invalid["info"][0]["category"] = "volcano"
        before_onset = (datetime.fromisoformat(invalid["info"][0]["onset"]) - timedelta(hours=1)).isoformat()
        invalid["info"][0]["expires"] = before_onset
        answer = await client.post(url, json=invalid, headers=web.auth("dir-nord"))
        assert answer.status_code == 422
        found = {(p["path"], p["rule"], str(p["value"])) for p in answer.json()["problems"]}
        assert ("sender", "missing", "None") in found
        assert ("info.0.category", "enum", "volcano") in found
        assert ("info.0.expires", "expires_before_onset", before_onset) in found
        assert all(set(p) == PROBLEM_SHAPE for p in answer.json()["problems"])

        answers = [
            await client.post(url, content=b"{", headers={**web.auth("slow"), **json_type}) for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [400, 400, 429]
        assert int(answers[2].headers["Retry-After"]) >= 1 and answers[2].json()["error"] == "rate_limited"

        assert (await client.get(f"{web.url}/healthz")).json() == {"status": "ok"}
        missing = await client.get(f"{web.url}/nowhere")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"

    # Every refusal that reached parsing is also on incidents.rejected: 2 + 1 + 2 from `slow`.
    rejected = await asyncio.to_thread(records, broker, prefix + "incidents.rejected", 5)
    values = [json.loads(r.value) for r in rejected]
    assert sorted(v["source"] for v in values) == ["dir-nord", "dir-nord", "dir-nord", "slow", "slow"]
    assert {p["rule"] for v in values for p in v["problems"]} >= {
        "json_syntax",
        "xml_syntax",
        "enum",
        "missing",
    }


async def test_accepted_incident_is_in_submitted_and_readable_by_its_source(
    web: Web, broker: str, prefix: str
) -> None:
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as client:
        answer = await client.post(
            "/api/v1/incidents",
            content=ALERT,
            headers={**web.auth("dir-nord"), "Content-Type": "application/json"},
        )
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["incidents"] == [
            {"key": KEY, "id": alert_id_for(KEY), "status_url": f"/api/v1/incidents/{alert_id_for(KEY)}"}
        ]
        # A 202 means Kafka already has it: read at once, no waiting for a worker.
        [record] = await asyncio.to_thread(records, broker, prefix + "incidents.submitted", 1, 10)
        assert record.key == KEY.encode()
        assert dict(record.headers) == {"alertcast-source": b"dir-nord", "content-type": b"application/json"}
        sent = json.loads(record.value)
        assert sent["identifier"] == "dir-nord-2026-1203-d934" and sent["source"] == "dir-nord"

        state = await client.get(body["incidents"][0]["status_url"], headers=web.auth("dir-nord"))
        assert state.status_code == 200 and state.json()["state"] == "unknown-yet"
        hidden = await client.get(body["incidents"][0]["status_url"], headers=web.auth("other"))
        assert hidden.status_code == 404 and hidden.json()["problems"][0]["rule"] == "unknown_incident"
        assert (
            await client.get(body["incidents"][0]["status_url"], headers=web.auth("admin"))
        ).status_code == 200

        cap = (SAMPLES / "cap" / "oasis-example3-earthquake-update-circle.xml").read_bytes()
        answer = await client.post(
            "/api/v1/incidents",
            content=cap,
            headers={**web.auth("other"), "Content-Type": "application/cap+xml"},
        )
        assert answer.status_code == 202, answer.text
        spec = await client.get("/api/v1/openapi.json")
        assert spec.json()["paths"]["/api/v1/incidents"]["post"]["responses"]["202"]


async def test_alert_update_cancel_through_the_api_become_one_incident_with_three_versions(
    web: Web, start_worker: Callable[..., Any], tmp_path: Path
) -> None:
    worker = start_worker()
    cancel = json.loads(ALERT)
    cancel.update(
        identifier="dir-nord-2026-1203-d934-3",
        sent=clock.now().isoformat(),
        msg_type="Cancel",
        references=[{"sender": cancel["sender"], "identifier": cancel["identifier"]}],
    )
    status_url = f"/api/v1/incidents/{alert_id_for(KEY)}"
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as client:
        # The Alert twice (a client retrying): processed once.
        for document in (ALERT, ALERT, UPDATE, json.dumps(cancel).encode()):
            answer = await client.post(
                "/api/v1/incidents",
                content=document,
                headers={**web.auth("dir-nord"), "Content-Type": "application/json"},
            )
            assert answer.status_code == 202, answer.text
            assert answer.json()["incidents"][0]["status_url"] == status_url

        async def three_versions() -> dict[str, Any] | None:
            state = (await client.get(status_url, headers=web.auth("dir-nord"))).json()
            return state if len(state.get("versions", [])) >= 3 else None

        state = await eventually(three_versions, 90, f"three versions\n{worker.log_tail()}")
        assert state["state"] == "accepted" and state["key"] == KEY
        assert [(v["version"], v["msg_type"], v["identifier"]) for v in state["versions"]] == [
            (1, "Alert", "dir-nord-2026-1203-d934"),
            (2, "Update", "dir-nord-2026-1203-d934-2"),
            (3, "Cancel", "dir-nord-2026-1203-d934-3"),
        ]
        admin_view = await client.get(status_url, headers=web.auth("admin"))
        assert admin_view.json()["versions"] == state["versions"]
        assert (await client.get(status_url, headers=web.auth("other"))).status_code == 404


def test_alertcast_web_runs_as_its_own_process(broker: str, prefix: str, tmp_path: Path) -> None:
    """The command operators run (not only the app object tests build): it starts and answers."""
    topics.apply(broker, prefix)
    port = free_port()
    env = {**os.environ, "ALERTCAST_BOOTSTRAP": broker, "ALERTCAST_TOPIC_PREFIX": prefix}
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "alertcast", "web", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:

        def answers() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, 60, lambda: f"alertcast web on port {port}\n{log.read_text()}")
        console = httpx.get(f"http://127.0.0.1:{port}/console", timeout=5, follow_redirects=True)
        assert console.status_code == 200 and "<form" in console.text  # the login page
        refused = httpx.post(f"http://127.0.0.1:{port}/api/v1/incidents", content=b"{}", timeout=5)
        assert refused.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=30)
