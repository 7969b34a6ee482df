"""Runs `mastodon-mock` (PyPI, an independent in-memory implementation of Mastodon's client API)
as its own process on 127.0.0.1 and an ephemeral port.

Its command line falls back to port 3000 when given port 0, so this file is also the child's
entry point: it binds 127.0.0.1:0 itself, prints the port, and hands the socket to uvicorn (no
race for the port). The parent waits until `/api/v1/instance` answers.

`dev_user` makes an account and its token through the mock's `POST /api/v1/_mock/dev_user`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

READY = "MASTODON_MOCK_PORT"


class MastodonMock:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.log = workdir / "mastodon-mock.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.started_in_s = 0.0

    def start(self, timeout: float = 30.0) -> MastodonMock:
        started = time.monotonic()
        out = open(self.log, "wb")  # noqa: SIM115 - the child writes to it until stop()
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(self.workdir / "media")],
            stdout=subprocess.PIPE,
            stderr=out,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()  # the child prints the port first
        if not line.startswith(READY):
            self.stop()
            raise RuntimeError(f"mastodon-mock did not start: {self.log.read_text(errors='replace')[-2000:]}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/v1/instance", timeout=2).status_code == 200:
                    self.started_in_s = time.monotonic() - started
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mastodon-mock did not answer: {self.log.read_text(errors='replace')[-2000:]}")

    def dev_user(self, username: str) -> tuple[str, str]:
        """(account id, access token) of a new account."""
        answer = httpx.post(f"{self.url}/api/v1/_mock/dev_user", json={"username": username}, timeout=10)
        answer.raise_for_status()
        body = answer.json()
        return str(body["id"]), str(body["access_token"])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _serve(media: str) -> None:
    """The child: mastodon-mock's app on a socket bound here to 127.0.0.1:0."""
    import uvicorn
    from mastodon_mock.app import create_app
    from mastodon_mock.config import MastodonMockConfig

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = MastodonMockConfig()
    config.database.path = ":memory:"
    config.domain = f"127.0.0.1:{port}"
    config.url_scheme = "http"
    config.media_storage_path = media
    app = create_app(config)
    print(f"{READY} {port}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", server_header=False))
    server.run(sockets=[sock])


if __name__ == "__main__":
    # Run as a script, this folder comes first on sys.path and this file would shadow the
    # `mastodon_mock` package it launches.
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    _serve(sys.argv[1])
