"""A token bucket: a burst up to `capacity`, then one token every 1/`refill_per_s` seconds.

One for every rate the project keeps: intake sources (alertcast.web.ratelimit) and posts per
channel account (alertcast.delivery.throttle). Pure: the caller passes the time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TokenBucket:
    capacity: float
    refill_per_s: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """0 when a token was taken; else the seconds until one will be available."""
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.refill_per_s)
        self.updated = max(self.updated, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.refill_per_s
