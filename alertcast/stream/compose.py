"""Compose: an accepted incident version in, one checked text per channel out, as a draft.

The ingest agent composes each version it accepts and sends the version and its draft
together (`alertcast.stream.ingest.accept`): an agent of its own reading `incidents.accepted`
cost one more consume, parse and acknowledgement per incident for no decision of its own.

A refused template or a blocked text never stops the agent: they travel in the draft
(`problems`, `blocked`, `findings`) for the duty communicator to see and fix.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

from alertcast import communes
from alertcast.charter import grammar, nlp
from alertcast.models.alert import AcceptedIncident, Draft, alert_id_for
from alertcast.render.compose import compose
from alertcast.render.templates import Templates
from alertcast.stream import accounts, metrics
from alertcast.stream.app import settings

log = logging.getLogger(__name__)
T = TypeVar("T")
SLOW_S = 30.0  # a compose this long is stuck, not slow (it takes milliseconds): say so

templates = Templates(settings.templates_dir, site_base_url=settings.site_base_url)
charter_dir: Path | None = settings.charter_dir
checker = grammar.configured()  # LanguageTool, one cache per worker; None: offline spelling


def load_language_models() -> float:
    """The charter's language models and the communes' names, loaded before the worker joins
    its consumer group (alertcast.stream.worker.run); returns the seconds it took.

    Loaded by a task once the worker had joined, they took 20 s and more on a loaded machine:
    the first incident's compose waited for them holding its message, and a rebalance then waits
    for every message in hand (Faust's wait_empty), so one new worker held the whole group's
    rebalance. A worker that joins ready holds nothing."""
    started = time.monotonic()
    nlp.load_all()
    communes.name_tokens()
    return time.monotonic() - started


# One composition at a time per worker, as when compose was an agent of its own: the charter's
# language models and LanguageTool's cache are not shared between threads.
composing = asyncio.Lock()


async def draft_of(message: AcceptedIncident) -> Draft:
    """The draft of an accepted version: one checked text per channel."""
    alert_id = alert_id_for(message.incident_key)
    base = settings.site_base_url.rstrip("/")
    link = f"{base}/alerts/{alert_id}.html" if base else ""  # the key ingest chose, not re-derived
    run = functools.partial(
        compose,
        message.incident,
        settings.channels,
        templates,
        link=link,
        charter_dir=charter_dir,
        limits=accounts.limits,
        checker=checker,
    )
    async with composing:
        with metrics.COMPOSE_SECONDS.time():
            if checker is None:
                # About a millisecond of CPU (templates, spaCy, the charter's rules): in a
                # thread it only cost more, the GIL handed to and fro (py-spy and strace on a
                # saturated worker: 54,000 futex calls in 10 s with the thread, 6,500 without).
                composition = run()
            else:
                # LanguageTool is asked over HTTP, for as long as it takes to answer: in a thread,
                # so the event loop serves the other agents meanwhile.
                composition = await watched(asyncio.to_thread(run), f"composing alert {alert_id}")
    for problem in composition.problems:
        log.error("alert %s: %s", alert_id, problem.line())
    for text in composition.texts:
        if text.blocked:
            log.warning("alert %s: %s/%s blocked: %s", alert_id, text.channel, text.language, text.reason)
    metrics.drafted(composition.blocked, len(composition.problems))
    return Draft(
        alert_id=alert_id,
        incident_key=message.incident_key,
        version=message.version,
        received_at=message.received_at,
        incident=message.incident,
        texts=composition.texts,
        findings=composition.findings,
        blocked=composition.blocked,
        problems=composition.problems,
    )


async def watched(work: Awaitable[T], what: str, every: float = SLOW_S) -> T:
    """`work`'s result, with a warning in the log every `every` s it runs: a thread that never
    returns holds every partition of this agent, and without a line saying so it looks like a
    consumer that stopped reading."""
    task = asyncio.ensure_future(work)
    waited = 0.0
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every)
            if done:
                return task.result()
            waited += every
            log.warning("%s: still running after %.0f s", what, waited)
    finally:
        task.cancel()  # a no-op once done; a stopping worker does not wait for the thread
