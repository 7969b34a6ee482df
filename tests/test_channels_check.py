"""`alertcast channels check` verifies every account without posting, and says what is wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import Receiver, free_port

from alertcast.channels.account import shown_url
from alertcast.channels.webhook import account_id


def check(tmp_path: Path, urls: list[str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ALERTCAST_CHANNELS": json.dumps(["website", "webhook"]),
        "ALERTCAST_WEBHOOK_URLS": json.dumps(urls),
        "ALERTCAST_WEBHOOK_SECRET": "test-webhook-secret",
        "ALERTCAST_SITE_DIR": str(tmp_path / "site"),
    }
    return subprocess.run(
        [sys.executable, "-m", "alertcast", "channels", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_account_reachable(tmp_path: Path, receiver: Receiver) -> None:
    result = check(tmp_path, [receiver.url])
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["channel", "account", "state"]
    assert lines[1].split()[:3] == ["website", "default", "ok"]
    assert lines[2].split()[:3] == ["webhook", account_id(receiver.url), "ok"]
    assert receiver.requests == []  # nothing was posted


def test_an_unreachable_account_fails_the_check_with_its_reason(tmp_path: Path, receiver: Receiver) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"
    result = check(tmp_path, [receiver.url, dead])
    assert result.returncode == 2
    failing = [line for line in result.stdout.splitlines() if "FAILING" in line]
    assert len(failing) == 1
    assert failing[0].split()[:2] == ["webhook", account_id(dead)]
    assert shown_url(dead) in failing[0] and dead not in failing[0]  # a URL is a credential
