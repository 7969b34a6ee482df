"""`alertcast worker`: the Faust worker with every agent loaded."""

from __future__ import annotations

import sys

from alertcast.stream import approval, compose, deliver, fanout, ingest
from alertcast.stream.app import app, settings

AGENTS = (ingest, compose, approval, fanout, deliver)


def run() -> None:
    """Blocks until the worker is stopped (SIGTERM/SIGINT); Faust owns the event loop and argv."""
    level = {"warning": "warn", "critical": "crit"}.get(settings.log_level, settings.log_level)
    sys.argv = ["alertcast-worker", "worker", "--loglevel", level]
    app.main()
