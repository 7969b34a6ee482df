"""The watchdogs (alertcast/stream/stalls.py): which recovering or streaming partitions count as
stalled, and the description of where the tasks of the record chain wait."""

from __future__ import annotations

import asyncio

from alertcast.stream.stalls import (
    STALL_S,
    Progress,
    await_chain,
    report,
    stalled,
    task_stacks,
    thread_stacks,
)


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


def test_a_stream_partition_is_stalled_once_per_offset_held_with_records_after_it() -> None:
    progress = Progress(stall_s=20)
    assert not progress.stalled(0, "p", committed=10, end=50)  # first seen
    assert not progress.stalled(19, "p", committed=10, end=50)
    assert progress.stalled(20, "p", committed=10, end=50)
    assert not progress.stalled(40, "p", committed=10, end=60)  # said once for offset 10
    assert not progress.stalled(41, "p", committed=11, end=60)  # it moved: a new watch
    assert not progress.stalled(60, "p", committed=11, end=60)
    assert progress.stalled(61, "p", committed=11, end=60)


def test_nothing_waiting_or_nothing_known_is_never_a_stall() -> None:
    progress = Progress(stall_s=0)
    for committed, end in ((10, 10), (None, 50), (10, None), (12, 10)):
        assert not progress.stalled(0, "p", committed, end)
        assert not progress.stalled(100, "p", committed, end)


def test_every_other_thread_is_described_where_it_runs() -> None:
    import threading

    started, done = threading.Event(), threading.Event()

    def parked() -> None:
        started.set()
        done.wait(10)

    thread = threading.Thread(target=parked, name="parked-for-the-test")
    thread.start()
    try:
        assert started.wait(10)
        (line,) = [line for line in thread_stacks() if line.startswith("thread parked-for-the-test:")]
        assert "parked:" in line and "wait:" in line
    finally:
        done.set()
        thread.join(10)


async def test_a_report_gives_the_worker_s_state_once_and_where_tasks_wait() -> None:
    said = report().split("\n  ")
    assert [line for line in said if line.startswith("worker: ")] != []
    assert len([line for line in said if line.startswith("changelog queue: ")]) == 1
    assert any(line.startswith("task: ") and "test_a_report_gives" in line for line in said)
