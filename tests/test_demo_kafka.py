"""The demo as a new user runs it: `make demo`, then Ctrl-C in the terminal, or SIGTERM to the
demo's PID as a service manager sends it. A stop asked for is a clean stop: exit 0, every
process the demo started (worker, web, broker) gone, nothing reported as unexpected."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import _free_pair, free_port, wait_for

from alertcast.settings import ROOT

pytestmark = pytest.mark.kafka

READY = b"running; press Ctrl-C"
STARTED_WITHIN_S = 300  # a cold broker, a worker joining its group, three alerts published
STOPPED_WITHIN_S = 30


def started_by(marker: str) -> set[int]:
    """Every live process whose environment carries `marker` (what the demo started inherits it)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                state = (entry / "stat").read_text().rsplit(") ", 1)[1][0]
                if state != "Z":
                    found.add(int(entry.name))
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


@dataclass
class Demo:
    env: dict[str, str]
    marker: str
    args: list[str]
    output: bytearray = field(default_factory=bytearray)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    marker = f"demo-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "ALERTCAST_APP_ID": marker,
        "ALERTCAST_TOPIC_PREFIX": f"{marker}.",
        "ALERTCAST_KAFKA_DIR": str(tmp_path / "kafka"),
        "ALERTCAST_WORKER_DATA_DIR": str(tmp_path / "worker"),
        "ALERTCAST_WORKER_WEB_PORT": str(free_port()),
        "ALERTCAST_LANGUAGETOOL_PORT": str(free_port()),
        "ALERTCAST_LANGUAGETOOL_URL": "",  # the demo starts its own
    }
    port = _free_pair()
    env |= {"ALERTCAST_KAFKA_PORT": str(port), "ALERTCAST_BOOTSTRAP": f"127.0.0.1:{port}"}
    args = ["--site-dir", str(tmp_path / "site"), "--port", str(free_port()), "--web-port", str(free_port())]
    running = Demo(env, marker, args)
    yield running
    for pid in started_by(marker):  # whatever a failed test left behind
        os.kill(pid, signal.SIGKILL)


def read_until(fd: int, out: bytearray, wanted: bytes, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while wanted not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the terminal closed: every process on it ended
                return wanted in out
            if not chunk:
                break
            out += chunk
    return wanted in out


def reaped(pid: int) -> tuple[int] | None:
    """(wait status,) once the child `pid` has exited, else None."""
    done, status = os.waitpid(pid, os.WNOHANG)
    return (status,) if done else None


def test_make_demo_stopped_by_ctrl_c_in_its_terminal_exits_0_and_leaves_no_process(demo: Demo) -> None:
    venv = Path(sys.executable).parent.parent
    command = [
        "make",
        "-s",
        "-C",
        str(ROOT),
        "-o",
        f"{venv}/.installed",  # installed already: make must not reinstall it
        "demo",
        f"VENV={venv}",
        f"DEMO_ARGS={' '.join(demo.args)}",
    ]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: make, on its own terminal as in a user's shell
        os.execvpe(command[0], command, demo.env)
    try:
        assert read_until(terminal, demo.output, READY, STARTED_WITHIN_S), demo.output.decode(
            errors="replace"
        )
        assert len(started_by(demo.marker)) >= 5, "make, the demo, its worker, web, broker and LanguageTool"
        os.write(terminal, b"\x03")  # Ctrl-C, as typed: the terminal signals its foreground group
        stopped_at = time.monotonic() + STOPPED_WITHIN_S
        read_until(terminal, demo.output, b"\x00never", STOPPED_WITHIN_S)
        (status,) = wait_for(lambda: reaped(pid), max(0.1, stopped_at - time.monotonic()), "make to exit")
        text = demo.output.decode(errors="replace")
        assert os.waitstatus_to_exitcode(status) == 0, text
    finally:
        os.close(terminal)
    assert "unexpectedly" not in text and "stopping" in text and "broker stopped" in text, text
    assert "LanguageTool stopped" in text, text
    assert started_by(demo.marker) == set(), text


def test_the_demo_stopped_by_sigterm_to_its_pid_exits_0_and_leaves_no_process(
    demo: Demo, tmp_path: Path
) -> None:
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "alertcast", "demo", *demo.args],
            env=demo.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    wait_for(lambda: READY in log.read_bytes() or process.poll() is not None, STARTED_WITHIN_S, "the demo")
    assert process.poll() is None, log.read_text()
    assert len(started_by(demo.marker)) >= 5, "the demo, its worker, web, broker and LanguageTool"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=STOPPED_WITHIN_S) == 0, log.read_text()
    text = log.read_text()
    assert "unexpectedly" not in text and "broker stopped" in text and "LanguageTool stopped" in text, text
    assert started_by(demo.marker) == set(), text
