"""A stop asked by the user (Ctrl-C, or SIGTERM from a service manager) is a clean stop.

Ctrl-C in a terminal signals every process of the terminal's foreground process group. Under
`make demo` that group is make's: make then dies of the signal whatever its child answers (exit
130), and the demo's children (worker, web) would stop on their own, in no order, while the
demo reports them as stopped unexpectedly. So a command that runs other processes until it is
stopped takes the terminal's foreground for its own process group (`terminal_foreground`),
starts its children in their own sessions, and turns SIGINT and SIGTERM into one `StopAsked`
(`stop_on_signals`) that unwinds to the code stopping them in order.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopAsked(BaseException):
    """SIGINT or SIGTERM arrived: the user asked the command to stop (a request, not an error:
    like KeyboardInterrupt, it is no `Exception`, so no `except Exception` swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _asked(signum: int, frame: FrameType | None) -> None:
    ignore_signals()  # once: the stop that follows runs to its end
    raise StopAsked(signum)


def ignore_signals() -> None:
    """From here on SIGINT and SIGTERM change nothing (the cleanup is under way)."""
    for number in SIGNALS:
        signal.signal(number, signal.SIG_IGN)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise `StopAsked` in the main thread while inside."""
    previous = {number: signal.signal(number, _asked) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def terminal_foreground() -> Iterator[None]:
    """Make this process's own group the terminal's foreground while inside, so a Ctrl-C reaches
    this process alone (not `make` above it); nothing happens without a terminal, or when the
    process runs in the background."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        yield
        return
    try:
        owner = os.tcgetpgrp(tty)
        if owner != os.getpgrp():
            yield
            return
        with suppress(OSError):  # a session leader keeps its group: it is the foreground already
            os.setpgid(0, 0)
        _give(tty, os.getpgrp())
        try:
            yield
        finally:
            with suppress(OSError):  # the group that had it is gone
                _give(tty, owner)
    finally:
        os.close(tty)


def _give(tty: int, group: int) -> None:
    """tcsetpgrp from a background group stops the caller with SIGTTOU unless it is ignored."""
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(tty, group)
    finally:
        signal.signal(signal.SIGTTOU, previous)
