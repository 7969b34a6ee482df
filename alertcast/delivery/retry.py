"""The one retry policy: exponential backoff with full jitter, honouring Retry-After."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from alertcast.errors import DeliveryError

T = TypeVar("T")


class TransientError(DeliveryError):
    """Worth retrying (timeout, 5xx, 429). `retry_after` is what the server asked for, in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """Retrying cannot help (4xx other than 429, refused content): fail at once with the reason."""


class OutcomeUnknown(DeliveryError):
    """The post may have reached a network that cannot be asked afterwards (a Telegram send
    that timed out after the request left): retrying could post twice, so a person decides."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap_s * 4)
        return random.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))

    async def run(self, call: Callable[[], Awaitable[T]]) -> tuple[T, int]:
        """The call's result and how many attempts it took; the last error if all failed."""
        for attempt in range(1, self.attempts + 1):
            try:
                return await call(), attempt
            except TransientError as error:
                if attempt == self.attempts:
                    raise
                await asyncio.sleep(self.delay(attempt, error.retry_after))
        raise AssertionError("unreachable")
