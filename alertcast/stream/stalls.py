"""Watchdogs for the two ways a worker was seen to stall with work waiting.

1. Table recovery: a stalled recovery is described, then started again.

After a worker is killed, the worker given its active changelog partitions recovers them
before it reads anything else. The cluster tier saw that recovery stall about one run in five:
Faust logged "No event received for active tp ... since recovery start" every 5 s for minutes,
while the partition held records (29 on `site_alerts-changelog[0]`, all of them already read
as a standby) and every stream partition of that worker stayed paused: its incidents waited
for good. Faust never gives up a recovery nor starts it again on its own.

So every few seconds, while a recovery runs: an active partition that still has records to
read and has sent none for `STALL_S` counts as stalled (`stalled`, pure). The worker then
logs what the consumer knows of it, and where the tasks that carry records into recovery
stand (`describe`, to find the cause), and starts the recovery again the way a new rebalance
does (Faust's `signal_recovery_start`: its recovery loop seeks the active partitions again and
re-reads them; a changelog read twice sets each key to the same value). At most
`RESTARTS` times per rebalance: then the log says the worker needs a restart.

2. Streams: in the cluster tier's rolling restart, a worker that had just started, recovered
and said "Worker ready" then handed nothing to any agent for five minutes, while its partitions
held hundreds of records (the cause is not known yet). So outside rebalances, every few seconds:
a stream partition whose committed offset has not moved for `STALL_S` while the log holds
records past it counts as stalled (`Progress`, pure), and the worker describes it, with where the
tasks of the record chain wait, once per stuck offset. It is only said, not acted on: the cause
decides the cure (a delivery retrying with backoff for minutes also holds its partition's commit).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

from alertcast.stream import versions
from alertcast.stream.app import app

log = logging.getLogger(__name__)

CHECK_S = 5.0
STALL_S = 20.0  # Faust's own warning comes after 15 s without an event
ANSWER_S = 10.0  # the consumer's thread answers an offsets request in milliseconds
RESTARTS = 3


def stalled(
    now: float,
    started_at: float | None,
    last_event_at: Mapping[Any, float],
    remaining: Mapping[Any, int],
    stall_s: float = STALL_S,
) -> list[Any]:
    """The active partitions with records left whose last event (or, with none, the start of
    the recovery) is `stall_s` or more ago. None while no recovery runs (`started_at` None)."""
    if started_at is None:
        return []
    return sorted(
        (
            tp
            for tp, left in remaining.items()
            if left > 0 and now - last_event_at.get(tp, started_at) >= stall_s
        ),
        key=str,
    )


class Progress:
    """Per stream partition: the committed offset last seen and since when."""

    def __init__(self, stall_s: float = STALL_S) -> None:
        self.stall_s = stall_s
        self.since: dict[Any, tuple[int, float]] = {}
        self.said: dict[Any, int] = {}

    def stalled(self, now: float, tp: Any, committed: int | None, end: int | None) -> bool:
        """True once for each committed offset that has held `stall_s` with records after it
        (`end`: the next offset the log will write)."""
        if committed is None or end is None or end <= committed:
            self.since.pop(tp, None)
            return False
        seen = self.since.get(tp)
        if seen is None or seen[0] != committed:
            self.since[tp] = (committed, now)
            return False
        if now - seen[1] < self.stall_s or self.said.get(tp) == committed:
            return False
        self.said[tp] = committed
        return True

    def forget(self) -> None:
        self.since.clear()


def await_chain(coro: Any) -> list[str]:
    """Where a suspended coroutine waits, outermost first (a task's own stack shows only its
    outermost frame)."""
    frames = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        frame = frame or getattr(coro, "gi_frame", None)
        if frame is not None:
            frames.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        awaited = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
        coro = awaited or getattr(coro, "gi_yieldfrom", None)
    return frames


def task_stacks(names: tuple[str, ...] | None = None) -> list[str]:
    """One line per running task (or only those going through one of `names`): where it
    awaits. A stall report lists them all: the task holding the chain may be any of them (the
    drain loop waits on its callback, which runs as a task of its own)."""
    lines = []
    for task in asyncio.all_tasks():
        chain = await_chain(task.get_coro())
        if names is None or any(name in frame for frame in chain for name in names):
            lines.append(f"task: {' -> '.join(chain)}")
    return sorted(lines)


def thread_stacks(limit: int = 12) -> list[str]:
    """One line per thread but this one: where it runs now (the consumer's thread runs aiokafka
    on its own event loop; blocked, it fetches nothing and answers nothing)."""
    lines = []
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        frames = [f"{f.name}:{f.lineno}" for f in traceback.extract_stack(frame, limit=limit)]
        lines.append(f"thread {names.get(ident, ident)}: {' -> '.join(frames)}")
    return lines


def describe(tp: Any) -> list[str]:
    """What Faust's consumer and aiokafka's know of `tp`, best effort (private names of the
    pinned versions; a missing one prints as '?', this is only said, never acted on)."""
    consumer: Any = app.consumer
    faust_side = {
        "active": tp in (getattr(consumer, "_active_partitions", None) or ()),
        "paused": tp in getattr(consumer, "_paused_partitions", ()),
        "buffered": tp in getattr(consumer, "_buffered_partitions", ()),
        "read_offset": getattr(consumer, "_read_offset", {}).get(tp, "?"),
    }
    lines = [f"{tp} faust: {faust_side}"]
    try:
        aio: Any = consumer._thread._consumer
        fetcher = aio._fetcher
        assignment = fetcher._subscriptions.subscription.assignment
        state = assignment.state_value(tp) if assignment else None
        aio_side = {
            "assigned": state is not None,
            "paused": getattr(state, "paused", "?"),
            "position": getattr(state, "position", "?")
            if getattr(state, "has_valid_position", False)
            else None,
            "highwater": getattr(state, "highwater", "?"),
            "buffered_records": tp in fetcher._records,
            "in_flight_nodes": sorted(fetcher._in_flight),
        }
        lines.append(f"{tp} aiokafka: {aio_side}")
    except Exception as error:  # a diagnosis never stops the worker
        lines.append(f"{tp} aiokafka: not readable ({type(error).__name__})")
    return lines


def report(partitions: Iterable[Any] = ()) -> str:
    """A stall report: what is known of `partitions`, of the worker, and where every task and
    thread waits; one line each, indented under the warning that carries it."""
    consumer: Any = app.consumer
    worker = {
        "flow_active": getattr(consumer, "flow_active", "?"),
        "flow_control_active": app.flow_control.is_active(),
        "generation": app.consumer_generation_id,
        "rebalancing": app.rebalancing,
        "in_recovery": app.in_recovery,
    }
    lines = [line for tp in partitions for line in describe(tp)]
    lines.append(f"worker: {worker}")
    tables: Any = app.tables
    queue = tables.changelog_queue
    lines.append(f"changelog queue: {queue.qsize()}/{queue.maxsize}")
    queues = [
        f"{channel}: {channel.queue.qsize()}/{channel.queue.maxsize}"
        for channel in list(getattr(app.topics, "_topics", ()))
        if channel.queue.qsize()
    ]
    lines.append(f"stream queues holding events: {queues or 'none'}")
    producer: Any = app.producer
    lines.append(f"producer buffer: {getattr(producer.buffer, 'size', '?')} waiting")
    return "\n  ".join(lines + task_stacks() + thread_stacks())


class Watchdog:
    """Per rebalance: how many times the recovery was started again; per stream partition, its
    progress."""

    def __init__(self) -> None:
        self.generation: int | None = None
        self.restarts = 0
        self.progress = Progress()
        self.rebalancing_since: float | None = None
        self.thread_silent = False

    async def check(self) -> None:
        tables: Any = app.tables
        if tables.recovery.in_recovery:
            await self.check_recovery()
        elif app.rebalancing:
            self.progress.forget()
            self.check_rebalance(time.monotonic())
        else:
            self.rebalancing_since = None
            await self.check_streams()

    def check_rebalance(self, now: float) -> None:
        """A rebalance that never ends (Faust's flag still up, no recovery running) holds
        every stream partition of this worker: said once, with the state."""
        if self.rebalancing_since is None:
            self.rebalancing_since = now
        elif now - self.rebalancing_since >= STALL_S:
            self.rebalancing_since = float("inf")  # said once per rebalance
            consumer: Any = app.consumer
            log.warning(
                "rebalance not over after %.0f s, no recovery running\n  %s",
                STALL_S,
                report(sorted(consumer.assignment(), key=str)[:3]),
            )

    async def check_streams(self) -> None:
        consumer: Any = app.consumer
        changelogs = set(app.tables.changelog_topics)
        partitions = [tp for tp in consumer.assignment() if tp.topic not in changelogs]
        if not partitions:
            return
        versions.require_attributes(consumer, ["_committed_offset"], "Faust's consumer")
        try:
            ends = await asyncio.wait_for(consumer.highwaters(*partitions), ANSWER_S)
        except TimeoutError:
            if not self.thread_silent:
                self.thread_silent = True
                log.warning(
                    "the consumer's thread gave no end offsets in %.0f s\n  %s",
                    ANSWER_S,
                    report(),
                )
            return
        self.thread_silent = False
        now = time.monotonic()
        stuck = [
            tp
            for tp in partitions
            if self.progress.stalled(now, tp, consumer._committed_offset.get(tp), ends.get(tp))
        ]
        if stuck:
            log.warning(
                "stream stalled on %s: records waiting, nothing committed for %.0f s\n  %s",
                ", ".join(f"{tp} at {consumer._committed_offset.get(tp)} of {ends.get(tp)}" for tp in stuck),
                STALL_S,
                report(stuck),
            )

    async def check_recovery(self) -> None:
        tables: Any = app.tables
        recovery: Any = tables.recovery
        versions.require_attributes(recovery, RECOVERY_ATTRIBUTES, "Faust's recovery")
        if app.consumer_generation_id != self.generation:
            self.generation, self.restarts = app.consumer_generation_id, 0
        stuck = stalled(
            time.monotonic(),  # Faust's recovery times are time.monotonic()
            recovery._recovery_started_at,
            recovery._active_events_received_at,
            recovery.active_remaining(),
        )
        if not stuck:
            return
        if self.restarts >= RESTARTS:
            if self.restarts == RESTARTS:
                self.restarts += 1
                log.error(
                    "recovery stalled on %s after %d restarts: this worker needs a restart",
                    ", ".join(map(str, stuck)),
                    RESTARTS,
                )
            return
        self.restarts += 1
        log.warning(
            "recovery stalled on %s (no record for %.0f s): starting it again (%d/%d)\n  %s",
            ", ".join(map(str, stuck)),
            STALL_S,
            self.restarts,
            RESTARTS,
            report(stuck),
        )
        recovery.signal_recovery_start.set()


# Faust's Recovery: when it started, when each active partition last sent a record, and the
# event its loop waits on to start a recovery (also set by every rebalance).
RECOVERY_ATTRIBUTES = ("_recovery_started_at", "_active_events_received_at", "signal_recovery_start")

watchdog = Watchdog()
app.timer(interval=CHECK_S)(watchdog.check)
