"""Real channel servers for the `servers` test tier, started by the tests on 127.0.0.1.

Each module starts one server in a temporary folder on an ephemeral port and stops it by its
PID (or its thread); `scripts/install-servers.sh` installs what must be installed, into a cache
outside the clone. The helpers below serve every test (conftest.py re-exports them).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

CACHE = Path(os.environ.get("ALERTCAST_CACHE_DIR", Path.home() / ".cache" / "alertcast"))


def free_port() -> int:
    """A port free on 127.0.0.1 now (the server binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    predicate: Callable[[], T | None], timeout: float = 60.0, what: Callable[[], str] | str = "condition"
) -> T:
    """Poll until `predicate()` is truthy and return it; fail saying `what` after `timeout` s.
    The one way tests wait: on a condition, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what() if callable(what) else what}"
            )
        time.sleep(0.05)
