"""One lock per key, so that an agent running several messages at once keeps each key's order.

An agent with `concurrency` above one hands a partition's messages to several actors; messages
of different incidents then run side by side (one waiting for the brokers while the next is
parsed), and two versions of one incident must still run one after the other, in offset
order. An actor takes the lock before its first wait, and asyncio's lock serves waiters first
come first served, so the order is the order the actors took the messages from the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable


class KeyedLocks:
    """A lock per key, forgotten once nobody holds or waits for it (keys are incidents: many)."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._users: dict[Hashable, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)
