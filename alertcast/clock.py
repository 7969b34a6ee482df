"""The one source of "now": tests replace it, because samples date from 2011-2019."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


class Clock:
    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._now()

    def set(self, now: Callable[[], datetime] | None) -> None:
        """Replace the time source (tests), or restore the real one with None."""
        self._now = now or (lambda: datetime.now(UTC))


clock = Clock()
