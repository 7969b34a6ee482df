"""A compose that never returns says so in the worker's log (alertcast.stream.compose.watched):
a stuck thread holds every partition of the agent, and silent it looks like a consumer that
stopped reading."""

from __future__ import annotations

import asyncio
import logging

import pytest

from alertcast.stream.compose import watched


async def test_a_stuck_compose_keeps_saying_so_until_it_returns() -> None:
    release = asyncio.Event()
    messages: list[str] = []

    class ReleaseAfterTwo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())
            if len(messages) == 2:  # it keeps saying so while it runs
                release.set()

    async def stuck() -> str:
        await release.wait()
        return "done"

    logger = logging.getLogger("alertcast.stream.compose")
    handler = ReleaseAfterTwo(logging.WARNING)
    logger.addHandler(handler)
    try:
        assert await watched(stuck(), "composing alert x", every=0.01) == "done"
    finally:
        logger.removeHandler(handler)
    assert len(messages) >= 2
    assert all(m.startswith("composing alert x: still running after") for m in messages)


async def test_a_quick_compose_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="alertcast.stream.compose"):
        assert await watched(asyncio.sleep(0, result=7), "composing alert y", every=10) == 7
    assert caplog.records == []


def test_language_models_load_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's start task and a first compose both ask for a model: never two loads at once."""
    import threading

    from alertcast.charter import nlp

    running: list[int] = []
    both_asked = threading.Barrier(2)

    def slow_load(language: str) -> None:
        running.append(1)
        overlap = len(running)
        threading.Event().wait(0.05)
        running.pop()
        overlaps.append(overlap)

    overlaps: list[int] = []
    monkeypatch.setattr(nlp, "_load", slow_load)

    def ask() -> None:
        both_asked.wait()
        nlp.pipeline("fr")

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert overlaps == [1, 1]
