"""The Faust fork is guarded: exact versions, the pure-Python stream, and no silent no-ops.

`alertcast/stream/transport.py` overrides private names of faust-streaming, aiokafka and
mode (listed there, in `PRIVATE_NAMES`, with the fix each carries). A private name renamed by
another release does not fail: the override is simply never called, or an attribute written
by it is a new one nobody reads, and the fix is off without a word. Hence:

- the three packages must be exactly the versions in `PINNED` (those of pyproject.toml);
- Faust's compiled stream is never used: Faust takes its Cython `StreamIterator` whenever it
  can import it, and that one inlines the acknowledgement (`Consumer.ack` is not called) that
  the overrides rely on. `NO_CYTHON` is Faust's own switch, read once when `faust.streams` is
  first imported: importing this module sets it, so it is imported before faust (app.py);
- every private name the overrides use is checked where it can be (class attributes at import,
  instance attributes where the instance is made), and a missing one stops the worker.

This module must not import faust, aiokafka or mode at import time (it runs before them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any

from alertcast.errors import ConfigurationError

# Exactly those of pyproject.toml (a test keeps them equal).
PINNED = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0", "mode-streaming": "0.7.1"}
WHY = (
    "alertcast/stream/transport.py overrides private names of exactly these versions; "
    "install the pinned versions from pyproject.toml (pip install -e .)"
)


class StreamGuardError(ConfigurationError, RuntimeError):
    """The worker refuses to start: a fix of transport.py would be off without a word."""


def version_problems(found: Callable[[str], str] = metadata.version) -> list[str]:
    """One line per package whose installed version is not the pinned one."""
    problems = []
    for package, expected in PINNED.items():
        try:
            version = found(package)
        except metadata.PackageNotFoundError:
            version = "none"
        if version != expected:
            problems.append(f"{package} {version} found, {expected} expected")
    return problems


def require_pinned_versions(found: Callable[[str], str] = metadata.version) -> None:
    problems = version_problems(found)
    if problems:
        raise StreamGuardError(f"{'; '.join(problems)}: {WHY}")


def force_python_stream() -> None:
    """Faust's own switch; effective only if faust.streams is not imported yet (then
    `require_python_stream` says so)."""
    os.environ["NO_CYTHON"] = "1"


def require_python_stream() -> None:
    """The stream in use is Faust's pure-Python one (`Stream._py_aiter`), the one the overrides
    were written against; checked when the worker starts."""
    import faust.streams

    if not hasattr(faust.streams, "_CStreamIterator"):
        raise StreamGuardError(f"faust.streams._CStreamIterator is gone: {WHY}")
    if faust.streams._CStreamIterator is not None:
        raise StreamGuardError(
            "Faust's compiled stream is in use (faust was imported before alertcast.stream set "
            "NO_CYTHON=1): it acknowledges messages without calling the consumer's ack, on which "
            "the commit fixes of alertcast/stream/transport.py rely"
        )


def require_attributes(owner: Any, names: Iterable[str], what: str) -> None:
    """Every name is there on `owner` (an instance: attributes set by its __init__)."""
    missing = [name for name in names if not hasattr(owner, name)]
    if missing:
        raise StreamGuardError(f"{what} has no {', '.join(missing)}: {WHY}")


force_python_stream()
