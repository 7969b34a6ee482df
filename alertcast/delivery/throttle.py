"""Posts per account, paced under each network's own limit: better a post 3 s late than a 429
storm that trips the account's circuit breaker at the worst moment.

Rates are per channel (`ALERTCAST_CHANNEL_RATES`) and apply to each of its accounts, since the
networks count per account or per chat; for subscribers, to each lane (a push service, the mail
login: alertcast.subscriptions.lanes). A burst up to the rate's count goes at once. The
buckets live in one process: that is enough because delivery requests are keyed by (channel,
account or lane), so one worker at a time owns it and paces all of its posts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alertcast.token_bucket import TokenBucket


class PostRate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    posts: int = Field(ge=1, description="at most this many posts...")
    per_s: float = Field(gt=0, description="...in this many seconds")


class Throttle:
    def __init__(
        self, rates: Mapping[str, PostRate | dict[str, Any]], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rates = {channel: PostRate.model_validate(rate) for channel, rate in rates.items()}
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def wait(self, channel: str, account: str) -> float:
        """0 when this account may post now (and counts the post); else seconds to wait."""
        rate = self.rates.get(channel)
        if rate is None:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get((channel, account))
        if bucket is None:
            bucket = TokenBucket(rate.posts, rate.posts / rate.per_s, float(rate.posts), now)
            self._buckets[(channel, account)] = bucket
        return bucket.take(now)

    async def pace(self, channel: str, account: str) -> float:
        """Waits until the account may post; returns how long it waited."""
        waited = 0.0
        while (wait := self.wait(channel, account)) > 0:
            await asyncio.sleep(wait)
            waited += wait
        return waited
