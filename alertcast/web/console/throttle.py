"""Slowing down password guessing at the console's login, without letting anyone lock a user out.

Failed logins are counted per key (an account, a client address): after `free` failures each
further one makes the key wait `base_s * 2**(n - free - 1)` seconds, never more than `cap_s`
(15 minutes at most), so a guesser gets a handful of tries an hour while a person who mistyped
waits seconds. An attempt during the wait is refused unread (the password is not even checked,
so waiting is the only way on). The cap is what keeps this from being a lock-out: whatever an
attacker does, a key is never closed for longer than `cap_s` at a time; the console also keys a
browser that already logged in as that account on its own (a device cookie), so an attacker
hammering someone's name does not keep that person out.

Each failure is attributed to a cause (the address for an account key, the account for an
address key): a success forgives an account all its failures, and an address only the failures
it made on the account that just logged in, so a real user's typos are forgotten but a sprayer
cannot clear its address by logging into its own account between guesses.

Pure: the clock is injected and events from other web processes are applied with their own
time (`at`), so every `alertcast web` process slows the same guesser down.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_CAP_S = 15 * 60.0


@dataclass(frozen=True)
class Limits:
    """How patient one kind of key is. `cap_s` is bounded: a key never waits more than 15 min."""

    free: int = 5
    base_s: float = 1.0
    cap_s: float = MAX_CAP_S
    forget_s: float = 24 * 3600.0  # failures older than this (with none since) are forgotten

    def __post_init__(self) -> None:
        if self.free < 0 or self.base_s <= 0 or not 0 < self.cap_s <= MAX_CAP_S or self.forget_s <= 0:
            raise ValueError("throttle limits: free >= 0, base_s > 0, 0 < cap_s <= 900, forget_s > 0")

    def delay(self, failures: int) -> float:
        """The wait after `failures` failures in a row (0 while they are free)."""
        if failures <= self.free:
            return 0.0
        return min(self.cap_s, self.base_s * 2.0 ** min(failures - self.free - 1, 64))


@dataclass
class _Entry:
    by: Counter[str] = field(default_factory=Counter)  # failures per cause
    lasts: dict[str, float] = field(default_factory=dict)  # each cause's latest failure
    until: float = 0.0  # no attempt before this
    refused: int = 0  # attempts refused since the latest failure

    @property
    def failures(self) -> int:
        return sum(self.by.values())

    @property
    def last(self) -> float:
        return max(self.lasts.values(), default=0.0)


class Throttle:
    """Failures per key; bounded in memory (`max_keys`, the stalest forgotten first)."""

    def __init__(self, limits: Limits, now: Callable[[], float], max_keys: int = 100_000) -> None:
        self.limits = limits
        self._now = now
        self._max_keys = max_keys
        self._entries: dict[str, _Entry] = {}

    def wait(self, key: str) -> float:
        """Seconds before `key` may try again (0: it may try now)."""
        entry = self._live(key)
        return max(0.0, entry.until - self._now()) if entry is not None else 0.0

    def failures(self, key: str) -> int:
        entry = self._live(key)
        return entry.failures if entry is not None else 0

    def refuse(self, key: str) -> int:
        """Count an attempt refused during the wait; how many were refused since the last failure."""
        entry = self._live(key)
        if entry is None:
            return 0
        entry.refused += 1
        return entry.refused

    def fail(self, key: str, cause: str, at: float | None = None) -> float:
        """Record a failure at `at` (default now); the seconds `key` must now wait."""
        now = self._now()
        at = now if at is None else at
        if now - at > self.limits.forget_s:
            return self.wait(key)
        entry = self._live(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            self._prune()
        entry.by[cause] += 1
        entry.lasts[cause] = max(entry.lasts.get(cause, at), at)
        entry.until = max(entry.until, at + self.limits.delay(entry.failures))
        entry.refused = 0
        return max(0.0, entry.until - now)

    def forgive(self, key: str, cause: str | None = None, at: float | None = None) -> None:
        """A success at `at` (default now): every failure of `key`, or only those from `cause`,
        are forgotten; a success older than the latest failure (from another process) is not."""
        entry = self._entries.get(key)
        if entry is None:
            return
        latest = entry.last if cause is None else entry.lasts.get(cause, 0.0)
        if at is not None and at < latest:
            return
        if cause is not None:
            del entry.by[cause]
            entry.lasts.pop(cause, None)
        if cause is None or not entry.by:
            del self._entries[key]
        else:  # fewer failures, a shorter wait
            entry.until = min(entry.until, entry.last + self.limits.delay(entry.failures))

    def _live(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and self._stale(entry, self._now()):
            del self._entries[key]
            return None
        return entry

    def _stale(self, entry: _Entry, now: float) -> bool:
        return entry.until <= now and now - entry.last > self.limits.forget_s

    def _prune(self) -> None:
        """Over `max_keys`: forget stale keys, then the ones whose last failure is oldest."""
        if len(self._entries) <= self._max_keys:
            return
        now = self._now()
        for key in [k for k, e in self._entries.items() if self._stale(e, now)]:
            del self._entries[key]
        excess = len(self._entries) - int(self._max_keys * 0.9)
        if excess > 0:
            for key in sorted(self._entries, key=lambda k: self._entries[k].last)[:excess]:
                del self._entries[key]


@dataclass(frozen=True)
class Verdict:
    """Whether a login attempt may be checked; when not, how long to wait."""

    wait_s: float
    audit: bool = False  # the first refusal since the last failure: the one worth an audit line

    @property
    def allowed(self) -> bool:
        return self.wait_s <= 0

    @property
    def retry_after(self) -> int:
        """The Retry-After value: whole seconds, at least 1."""
        return max(1, math.ceil(self.wait_s))


class LoginThrottle:
    """The two throttles of the login: per account (few free tries) and per client address (more
    free tries, since an office may share one address), both behind the same bounded cap."""

    def __init__(
        self,
        now: Callable[[], float],
        account: Limits | None = None,
        address: Limits | None = None,
        max_keys: int = 100_000,
    ) -> None:
        self.accounts = Throttle(account or Limits(free=5), now, max_keys)
        self.addresses = Throttle(address or Limits(free=20), now, max_keys)

    def check(self, account: str, address: str) -> Verdict:
        """May this attempt be checked? If not, the refusal is counted on the keys that wait."""
        waits = [(throttle, key, throttle.wait(key)) for throttle, key in self._keys(account, address)]
        blocking = [(throttle, key, wait) for throttle, key, wait in waits if wait > 0]
        if not blocking:
            return Verdict(0.0)
        first = [throttle.refuse(key) for throttle, key, _ in blocking]
        return Verdict(max(wait for _, _, wait in blocking), audit=1 in first)

    def failed(self, account: str, address: str, at: float | None = None) -> float:
        """A wrong name or password; the seconds to wait before the next attempt."""
        return max(self.accounts.fail(account, address, at), self.addresses.fail(address, account, at))

    def succeeded(self, account: str, address: str, at: float | None = None) -> None:
        self.accounts.forgive(account, at=at)
        self.addresses.forgive(address, cause=account, at=at)

    def _keys(self, account: str, address: str) -> list[tuple[Throttle, str]]:
        return [(self.accounts, account), (self.addresses, address)]


def wait_text(seconds: float) -> str:
    """A wait in the console's words: « 45 s », « 2 min », « 2 min 5 s »."""
    total = max(1, math.ceil(seconds))
    minutes, rest = divmod(total, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"
