"""One lock per key keeps one key's order among concurrent actors (alertcast.stream.keyed)."""

from __future__ import annotations

import asyncio

from alertcast.stream.keyed import KeyedLocks


def test_one_key_runs_in_the_order_taken_and_other_keys_run_alongside() -> None:
    locks = KeyedLocks()
    log: list[str] = []

    async def handle(key: str, name: str, pause: float) -> None:
        async with locks.hold(key):
            log.append(f"{name} start")
            await asyncio.sleep(pause)
            log.append(f"{name} end")

    async def main() -> int:
        # v1 waits longest; v2 and v3 of the same incident must still follow it, in order.
        await asyncio.gather(
            handle("A", "A-v1", 0.05), handle("A", "A-v2", 0), handle("B", "B-v1", 0), handle("A", "A-v3", 0)
        )
        return len(locks)

    assert asyncio.run(main()) == 0  # nothing held, nothing kept
    assert [entry for entry in log if entry.startswith("A")] == [
        "A-v1 start",
        "A-v1 end",
        "A-v2 start",
        "A-v2 end",
        "A-v3 start",
        "A-v3 end",
    ]
    assert log.index("B-v1 end") < log.index("A-v1 end")  # another incident did not wait
