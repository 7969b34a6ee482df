"""A stop asked for by a signal unwinds to the cleanup once; a second signal during it is ignored.
(Taking the terminal's foreground is tested where it matters: `make demo` and Ctrl-C, in
tests/test_demo_kafka.py.)"""

from __future__ import annotations

import os
import signal

import pytest

from alertcast.stopping import StopAsked, ignore_signals, stop_on_signals


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_raises_stop_asked_then_the_next_is_ignored(number: signal.Signals) -> None:
    before = signal.getsignal(number)
    cleaned = []
    with pytest.raises(StopAsked) as asked, stop_on_signals():
        try:
            os.kill(os.getpid(), number)
            raise AssertionError("the signal did not stop the block")
        finally:
            os.kill(os.getpid(), number)  # a second Ctrl-C during the cleanup changes nothing
            cleaned.append(True)
    assert asked.value.signum == number and str(asked.value) == number.name
    assert cleaned == [True]
    assert signal.getsignal(number) == before  # restored on the way out


def test_ignoring_signals_lasts_until_the_handlers_are_restored() -> None:
    with stop_on_signals():
        ignore_signals()
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
