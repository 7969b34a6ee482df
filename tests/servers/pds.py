"""Bluesky's reference PDS (@atproto/pds) and a local PLC directory, on 127.0.0.1, for tests.

Installed by scripts/install-pds.sh into ${ALERTCAST_CACHE_DIR:-~/.cache/alertcast}/pds and
started by deploy/pds/launcher.js, which picks free ports, binds both servers to 127.0.0.1 and
prints one ready line with their addresses. Reads go through `com.atproto.repo.getRecord` and
`listRecords` (the `app.bsky.*` reads need an AppView, which a lone PDS has not).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "deploy" / "pds" / "launcher.js"
READY = "ALERTCAST_PDS_READY "


def install_dir() -> Path:
    cache = Path(os.environ.get("ALERTCAST_CACHE_DIR", Path.home() / ".cache" / "alertcast"))
    return cache / "pds"


@dataclass(frozen=True)
class PdsUser:
    handle: str
    did: str
    password: str


class Pds:
    def __init__(self, workdir: Path) -> None:
        self.tree = install_dir()
        if not (self.tree / ".alertcast-installed").exists():
            raise RuntimeError(
                f"the Bluesky PDS is not installed in {self.tree}: run scripts/install-pds.sh "
                "(npm ci of deploy/pds and a build of better-sqlite3, about 2 minutes once)"
            )
        self.workdir = workdir
        self.log = workdir / "pds.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.plc_url = ""
        self._jwt_secret = ""
        self.started_in_s = 0.0

    def start(self, timeout: float = 60.0) -> Pds:
        started = time.monotonic()
        env = {
            **os.environ,
            "NODE_PATH": str(self.tree / "node_modules"),
            "LOG_ENABLED": "false",
            "NODE_ENV": "production",
        }
        with open(self.log, "wb") as err:
            self.process = subprocess.Popen(
                ["node", str(LAUNCHER), str(self.workdir / "data")],
                cwd=self.tree,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        lines: queue.Queue[str] = queue.Queue()
        stdout = self.process.stdout
        assert stdout is not None

        def read() -> None:
            for raw in stdout:
                lines.put(raw.decode(errors="replace"))

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if line.startswith(READY):
                ready = json.loads(line[len(READY) :])
                self.url, self.plc_url, self._jwt_secret = ready["pds"], ready["plc"], ready["jwt_secret"]
                self.started_in_s = time.monotonic() - started
                return self
        self.stop()
        raise RuntimeError(f"the PDS did not start: {self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    # --- what tests need ---------------------------------------------------------------------------

    def create_account(self, name: str, password: str) -> PdsUser:
        handle = f"{name}.test"
        answer = httpx.post(
            f"{self.url}/xrpc/com.atproto.server.createAccount",
            json={"handle": handle, "email": f"{name}@example.test", "password": password},
            timeout=30,
        )
        answer.raise_for_status()
        return PdsUser(handle=handle, did=str(answer.json()["did"]), password=password)

    def list_records(self, did: str, collection: str = "app.bsky.feed.post") -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        params = {"repo": did, "collection": collection, "limit": "100"}
        while True:
            answer = httpx.get(f"{self.url}/xrpc/com.atproto.repo.listRecords", params=params, timeout=10)
            answer.raise_for_status()
            page = answer.json()
            records.extend(page["records"])
            if not page["records"] or "cursor" not in page:
                return records
            params["cursor"] = page["cursor"]

    def get_record(self, uri: str) -> dict[str, Any] | None:
        did, collection, rkey = uri.removeprefix("at://").split("/")
        answer = httpx.get(
            f"{self.url}/xrpc/com.atproto.repo.getRecord",
            params={"repo": did, "collection": collection, "rkey": rkey},
            timeout=10,
        )
        if answer.status_code == 400 and answer.json().get("error") == "RecordNotFound":
            return None
        answer.raise_for_status()
        record: dict[str, Any] = answer.json()
        return record

    def session_answer(self, access_token: str) -> tuple[int, str]:
        """(status, XRPC error) of getSession with this token: (200, "") when it is good."""
        answer = httpx.get(
            f"{self.url}/xrpc/com.atproto.server.getSession",
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=10,
        )
        return answer.status_code, "" if answer.is_success else str(answer.json().get("error"))

    def expired_access_token(self, did: str) -> str:
        """An access token of this PDS for `did`, validly signed but expired an hour ago: what a
        kept session holds after two hours, without waiting two hours."""

        def part(data: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        now = int(time.time())
        claims = {"scope": "com.atproto.access", "aud": "did:web:localhost", "sub": did}
        header = part({"typ": "at+jwt", "alg": "HS256"})
        signing = f"{header}.{part({**claims, 'iat': now - 7200, 'exp': now - 3600})}"
        signature = hmac.new(self._jwt_secret.encode(), signing.encode(), hashlib.sha256).digest()
        return f"{signing}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
