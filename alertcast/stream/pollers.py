"""Feed pollers in the worker: each configured source polled at its interval, what is new produced.

A Faust timer on the leader worker only, so N workers do not poll every feed N times; if the
leader changes, the new one starts with empty state and submits each feed's incidents once
more, which the ingest agent recognises as duplicates. The deciding is in
`alertcast.ingest.pollers`; this module only moves bytes (the one httpx client factory) and
messages (the app's topics).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable

import httpx

from alertcast.delivery.retry import PermanentError, RetryPolicy, TransientError
from alertcast.http import make_client
from alertcast.ingest.pollers import FetchResponse, PollerSource, PollerState, PollOutcome, load_pollers, poll
from alertcast.stream.app import app, produce, rejected, settings, submitted

log = logging.getLogger(__name__)

SOURCE_HEADER = "alertcast-source"
CONTENT_TYPE_HEADER = "content-type"
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024

# (logical topic, key, value, headers): "incidents.submitted" or "incidents.rejected".
Send = Callable[[str, bytes | None, bytes, dict[str, bytes]], Awaitable[None]]


class HttpFetch:
    """GET through the one client factory; network trouble is a TransientError, never a crash."""

    def __init__(self, timeout_s: float = 10.0, max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
        self._client = make_client(timeout_s)
        self._max_bytes = max_bytes

    async def __call__(self, url: str, headers: dict[str, str]) -> FetchResponse:
        try:
            # Feeds move (http to https, new paths): the operator chose the URL, so redirects are followed.
            async with self._client.stream("GET", url, headers=headers, follow_redirects=True) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise PermanentError(f"larger than {self._max_bytes} bytes")
                return FetchResponse(
                    status=response.status_code,
                    headers={name.lower(): value for name, value in response.headers.items()},
                    body=bytes(body),
                )
        except httpx.TransportError as error:  # refused, reset, timed out, DNS
            raise TransientError(f"{type(error).__name__}: {error}") from error
        except httpx.HTTPError as error:  # an invalid URL, too many redirects
            raise PermanentError(f"{type(error).__name__}: {error}") from error

    async def aclose(self) -> None:
        await self._client.aclose()


class PollerRunner:
    """Polls each source when due, one poll per source at a time; keeps each source's state."""

    def __init__(
        self,
        sources: list[PollerSource],
        send: Send,
        fetch: Callable[[str, dict[str, str]], Awaitable[FetchResponse]],
        policy: RetryPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sources = {source.name: source for source in sources}
        self.states = {source.name: PollerState() for source in sources}
        self.last: dict[str, PollOutcome] = {}
        self._send = send
        self._fetch = fetch
        self._policy = policy or RetryPolicy(attempts=3)
        self._clock = monotonic
        self._due = {source.name: 0.0 for source in sources}
        self._running: dict[str, asyncio.Task[PollOutcome]] = {}

    async def poll_source(self, name: str) -> PollOutcome:
        source = self.sources[name]
        outcome = await poll(source, self.states[name], self._fetch, self._policy)
        headers = {SOURCE_HEADER: source.name.encode(), CONTENT_TYPE_HEADER: b"application/json"}
        for incident in outcome.incidents:
            await self._send(
                "incidents.submitted", incident.key.encode(), incident.model_dump_json().encode(), headers
            )
        for rejection in outcome.rejections:
            await self._send("incidents.rejected", None, rejection.model_dump_json().encode(), headers)
        # Only once sent: a failed send leaves the state as it was, so the next poll submits again.
        self.states[name] = outcome.state
        self.last[name] = outcome
        for problem in outcome.problems:
            log.warning("poller %s: %s", name, problem.line())
        if outcome.incidents or outcome.rejections:
            log.info(
                "poller %s: %d submitted, %d rejected", name, len(outcome.incidents), len(outcome.rejections)
            )
        return outcome

    def tick(self) -> None:
        """Start the polls that are due and not already running."""
        now = self._clock()
        for name, source in self.sources.items():
            if now < self._due[name] or name in self._running:
                continue
            self._due[name] = now + source.interval_s
            task = asyncio.create_task(self.poll_source(name), name=f"poller-{name}")
            self._running[name] = task
            task.add_done_callback(functools.partial(self._finished, name))

    def _finished(self, name: str, task: asyncio.Task[PollOutcome]) -> None:
        self._running.pop(name, None)
        if not task.cancelled() and task.exception() is not None:  # a send failed: said, not raised
            log.error("poller %s: %r; retried at its next interval", name, task.exception())

    async def run(self, tick_s: float = 1.0) -> None:
        """Tick until cancelled (outside Faust: tests and `alertcast poll`)."""
        try:
            while True:
                self.tick()
                await asyncio.sleep(tick_s)
        finally:
            await self.stop()

    async def stop(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)


_TOPICS = {"incidents.submitted": submitted, "incidents.rejected": rejected}
_runner: PollerRunner | None = None


async def _faust_send(topic: str, key: bytes | None, value: bytes, headers: dict[str, bytes]) -> None:
    await produce(_TOPICS[topic], key, value, headers=headers)


def runner_from_settings() -> PollerRunner:
    # getattr: these settings fields are added with the pollers (see the README's configuration).
    config = load_pollers(settings.sources_file, settings.pollers)
    return PollerRunner(config.pollers, _faust_send, HttpFetch(settings.http_timeout_s))


async def poll_feeds() -> None:
    """Every second on the leader: start the polls that are due (a poll never blocks the timer)."""
    global _runner
    if _runner is None:
        _runner = runner_from_settings()
        log.info("pollers: %s", ", ".join(_runner.sources) or "none configured")
    _runner.tick()


app.timer(interval=1.0, on_leader=True)(poll_feeds)
