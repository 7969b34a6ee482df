"""The recovery watchdog (alertcast/stream/recovery.py): which partitions count as stalled, and
the description of where the tasks of the record chain wait."""

from __future__ import annotations

import asyncio

from alertcast.stream.recovery import STALL_S, await_chain, stalled, task_stacks


def test_a_partition_silent_since_the_start_with_records_left_is_stalled() -> None:
    assert stalled(100.0, 100.0 - STALL_S, {}, {"a": 29}) == ["a"]
    assert stalled(100.0, 100.0 - STALL_S + 1, {}, {"a": 29}) == []


def test_a_recent_record_or_nothing_left_is_not_a_stall() -> None:
    started = 0.0
    last = {"a": 95.0, "b": 10.0}
    assert stalled(100.0, started, last, {"a": 5, "b": 5, "c": 0}) == ["b"]
    assert stalled(100.0, started, {}, {"a": 0}) == []


def test_no_recovery_running_is_never_a_stall() -> None:
    assert stalled(1e9, None, {}, {"a": 29}) == []


async def _inner(event: asyncio.Event) -> None:
    await event.wait()


async def _drain_messages(event: asyncio.Event) -> None:
    await _inner(event)


async def test_the_chain_of_a_waiting_task_names_every_coroutine_down_to_the_wait() -> None:
    event = asyncio.Event()
    task = asyncio.create_task(_drain_messages(event))
    await asyncio.sleep(0)  # let it reach its wait
    chain = await_chain(task.get_coro())
    assert [frame.split(":")[0] for frame in chain][:3] == ["_drain_messages", "_inner", "wait"]
    assert any(line.startswith("task: _drain_messages:") for line in task_stacks(("_drain_messages",)))
    assert task_stacks(("no_such_coroutine",)) == []
    event.set()
    await task
