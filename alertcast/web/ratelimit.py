"""Per-key token buckets: a key may burst up to its rate, then one request per 1/rate of the period.

Pure: the clock is injected, so tests drive time instead of sleeping. Keys are intake sources
(a handful) or, on the public subscribe endpoints, client addresses (any number): `max_keys`
bounds the memory an address-hopping client could make it hold.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from alertcast.token_bucket import TokenBucket


class RateLimiter:
    """One bucket per key; a changed rate (new configuration) starts a fresh bucket."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._max_keys = max_keys

    def check(self, name: str, rate_per_minute: int, per_s: float = 60.0) -> int:
        """0 when allowed; else the whole seconds to wait (the Retry-After value, at least 1).
        `rate_per_minute` requests per `per_s` seconds, in fact: a minute unless told."""
        now = self._clock()
        bucket = self._buckets.get(name)
        if (
            bucket is None
            or bucket.capacity != rate_per_minute
            or bucket.refill_per_s != rate_per_minute / per_s
        ):
            if bucket is None and len(self._buckets) >= self._max_keys:
                self._forget(now)
            bucket = TokenBucket(rate_per_minute, rate_per_minute / per_s, float(rate_per_minute), now)
            self._buckets[name] = bucket
        wait = bucket.take(now)
        return 0 if wait == 0 else max(1, math.ceil(wait))

    def _forget(self, now: float) -> None:
        """Drop the buckets that refilled (a full bucket is the same as a new one); if every
        key is busy, the oldest half: a flood of addresses gets fresh buckets, not memory."""
        full = [
            name
            for name, b in self._buckets.items()
            if b.tokens + max(0.0, now - b.updated) * b.refill_per_s >= b.capacity
        ]
        for name in full:
            del self._buckets[name]
        if len(self._buckets) >= self._max_keys:
            for name in list(self._buckets)[: len(self._buckets) // 2 + 1]:
                del self._buckets[name]
