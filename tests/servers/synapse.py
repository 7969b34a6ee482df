"""A real Synapse homeserver for the Matrix adapter's tests.

Installed by `scripts/install-servers.sh` into `$ALERTCAST_CACHE_DIR/synapse-venv` (a virtualenv
of its own: Synapse pins libraries the project must not meet). Started here from a minimal
config written to a temporary folder (no `--generate-config`: it spends start-up time on files
the tests do not need): sqlite, one client listener on 127.0.0.1, no federation, no key server,
registration closed except through the shared secret, rate limits raised so tests are never
throttled by accident. Users are registered through the admin API with the HMAC of the shared
secret; stopped by PID.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from . import CACHE, free_port, wait_for

VENV = CACHE / "synapse-venv"
PYTHON = VENV / "bin" / "python"
SERVER_NAME = "alertcast.test"
#: Limits far above anything a test does: a 429 in a test would be a flake, not a finding.
_GENEROUS = {"per_second": 10_000, "burst_count": 10_000}


@dataclass(frozen=True)
class User:
    user_id: str
    password: str
    access_token: str


def _config(folder: Path, port: int, shared_secret: str) -> dict[str, Any]:
    return {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(folder / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(folder / "homeserver.db")}},
        "media_store_path": str(folder / "media"),
        "signing_key_path": str(folder / "signing.key"),
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "report_stats": False,
        "enable_metrics": False,
        "enable_registration": False,
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "presence": {"enabled": False},
        # Lean on 2 shared cores: cheap password hashes (test users only).
        "bcrypt_rounds": 4,
        "url_preview_enabled": False,
        "rc_message": _GENEROUS,
        "rc_registration": _GENEROUS,
        "rc_joins": {"local": _GENEROUS, "remote": _GENEROUS},
        "rc_invites": {"per_room": _GENEROUS, "per_user": _GENEROUS, "per_issuer": _GENEROUS},
        "rc_admin_redaction": _GENEROUS,
        "rc_room_creation": _GENEROUS,
        "rc_joins_per_room": _GENEROUS,
        "rc_login": {
            "address": _GENEROUS,
            "account": _GENEROUS,
            "failed_attempts": _GENEROUS,
        },
    }


class Synapse:
    """One running homeserver; `url` is its client API base address."""

    def __init__(self, folder: Path) -> None:
        if not PYTHON.exists():
            raise RuntimeError(
                f"Synapse is not installed ({PYTHON} is missing): run scripts/install-servers.sh"
            )
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._secret = secrets.token_hex(16)
        self.log = folder / "homeserver.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url, timeout=10)
        self.started_in_s = 0.0

    def start(self) -> None:
        folder = self.folder
        (folder / "media").mkdir(parents=True, exist_ok=True)
        # JSON is YAML: no yaml dependency for a config file.
        config = folder / "homeserver.yaml"
        config.write_text(json.dumps(_config(folder, self.port, self._secret), indent=1))
        # An ed25519 signing key is just 32 random bytes, unpadded base64, with a version name.
        seed = base64.b64encode(os.urandom(32)).decode().rstrip("=")
        (folder / "signing.key").write_text(f"ed25519 a_test {seed}\n")
        began = time.monotonic()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(PYTHON), "-m", "synapse.app.homeserver", "-c", str(config)],
                cwd=folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        wait_for(self._answers, timeout=60, what=self._why_not_ready)
        self.started_in_s = time.monotonic() - began

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"Synapse exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            return self.http.get("/_matrix/client/versions").status_code == 200
        except httpx.TransportError:
            return False

    def _why_not_ready(self) -> str:
        return f"Synapse on {self.url} to answer /_matrix/client/versions; log:\n{self.log_tail()}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        self.http.close()
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    # --- what tests do on the server, with the real client-server and admin APIs ---------------

    def register(self, name: str | None = None, admin: bool = False) -> User:
        """A new user, through the shared-secret admin API (the HMAC over the server's nonce)."""
        username = name or f"u{uuid.uuid4().hex[:10]}"
        password = secrets.token_urlsafe(12)
        nonce = self.http.get("/_synapse/admin/v1/register").raise_for_status().json()["nonce"]
        mac = hmac.new(self._secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, username, password):
            mac.update(part.encode() + b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        answer = self.http.post(
            "/_synapse/admin/v1/register",
            json={
                "nonce": nonce,
                "username": username,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            },
        )
        body = answer.raise_for_status().json()
        return User(user_id=body["user_id"], password=password, access_token=body["access_token"])

    def login(self, user: User) -> str:
        """A second access token (a new device) for `user`."""
        answer = self.http.post(
            "/_matrix/client/v3/login",
            json={
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user.user_id},
                "password": user.password,
            },
        )
        return str(answer.raise_for_status().json()["access_token"])

    def logout(self, token: str) -> None:
        self.http.post("/_matrix/client/v3/logout", headers=_auth(token)).raise_for_status()

    def create_room(self, owner: User, **content: Any) -> str:
        answer = self.http.post(
            "/_matrix/client/v3/createRoom",
            headers=_auth(owner.access_token),
            json={"preset": "private_chat", "name": "alertcast test", **content},
        )
        return str(answer.raise_for_status().json()["room_id"])

    def join(self, user: User, room_id: str) -> None:
        self.http.post(
            f"/_matrix/client/v3/rooms/{quote(room_id)}/join", headers=_auth(user.access_token)
        ).raise_for_status()

    def invite(self, owner: User, room_id: str, user: User) -> None:
        self.http.post(
            f"/_matrix/client/v3/rooms/{quote(room_id)}/invite",
            headers=_auth(owner.access_token),
            json={"user_id": user.user_id},
        ).raise_for_status()

    def event(self, reader: User, room_id: str, event_id: str) -> dict[str, Any]:
        answer = self.http.get(
            f"/_matrix/client/v3/rooms/{quote(room_id)}/event/{quote(event_id)}",
            headers=_auth(reader.access_token),
        )
        return dict(answer.raise_for_status().json())

    def messages(self, reader: User, room_id: str) -> list[dict[str, Any]]:
        """Every m.room.message and redaction in the room, oldest first (counted on the server)."""
        events: list[dict[str, Any]] = []
        params: dict[str, str] = {
            "dir": "b",
            "limit": "100",
            "filter": json.dumps({"types": ["m.room.message", "m.room.redaction"]}),
        }
        while True:
            answer = self.http.get(
                f"/_matrix/client/v3/rooms/{quote(room_id)}/messages",
                headers=_auth(reader.access_token),
                params=params,
            )
            page = answer.raise_for_status().json()
            events.extend(page.get("chunk", []))
            if not page.get("chunk") or "end" not in page:
                return list(reversed(events))
            params["from"] = page["end"]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
