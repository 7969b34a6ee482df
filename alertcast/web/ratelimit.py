"""Per-key token buckets: a source may burst up to its per-minute rate, then one request per 1/rate min.

Pure: the clock is injected, so tests drive time instead of sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from alertcast.token_bucket import TokenBucket


class RateLimiter:
    """One bucket per source name; a changed rate (new configuration) starts a fresh bucket."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def check(self, name: str, rate_per_minute: int) -> int:
        """0 when allowed; else the whole seconds to wait (the Retry-After value, at least 1)."""
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None or bucket.capacity != rate_per_minute:
            bucket = TokenBucket(rate_per_minute, rate_per_minute / 60.0, float(rate_per_minute), now)
            self._buckets[name] = bucket
        wait = bucket.take(now)
        return 0 if wait == 0 else max(1, math.ceil(wait))
