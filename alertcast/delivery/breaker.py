"""A circuit breaker per channel account, so one dead network does not cost every delivery its
timeouts.

Without it, each delivery to a network that is down spends all its retry attempts waiting on
timeouts, and keeps knocking while it does. With it, after `threshold` consecutive transient
failures the channel's circuit *opens*: deliveries to it stop calling the network and wait
(the delivery agent turns "not now" into a retry after `wait_s()`). After `cooldown_s` the
circuit is *half-open*: exactly one delivery may probe the network; its success closes the
circuit, its transient failure opens it again for another cool-down.

A permanent error (400, refused content) is an answer: the network is up, so it counts as a
success here. Pure: no I/O, no asyncio; time comes from an injected monotonic clock.

Why per account, not per channel: delivery requests are keyed by (channel, account), so one
worker owns an account (its partition) and with it the account's breaker; across a cluster a
down network is then probed by one breaker per account, never once per worker. A breaker per
channel would be one per worker instead (each owns some of the channel's accounts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

DEFAULT_THRESHOLD = 5
DEFAULT_COOLDOWN_S = 30.0


class BreakerState(StrEnum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls wait until the cool-down ends
    HALF_OPEN = "half_open"  # one probe call is allowed; the others wait for its outcome


#: The value the `alertcast_circuit_state` gauge exports for each state.
STATE_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}

OnChange = Callable[[str, BreakerState], None]


class CircuitBreaker:
    """One channel's breaker. Call `acquire()` before a network call; if it returns 0 make the
    call and report it with `succeeded()` or `failed()`; else wait that many seconds first."""

    def __init__(
        self,
        name: str,
        threshold: int = DEFAULT_THRESHOLD,
        cooldown_s: float = DEFAULT_COOLDOWN_S,
        monotonic: Callable[[], float] = time.monotonic,
        on_change: OnChange | None = None,
    ) -> None:
        if threshold < 1 or cooldown_s <= 0:
            raise ValueError("threshold must be >= 1 and cooldown_s > 0")
        self.name = name
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = monotonic
        self._on_change = on_change
        self.state = BreakerState.CLOSED
        self.failures = 0  # consecutive transient failures
        self._opened_at = 0.0
        self._probe_started: float | None = None

    def wait_s(self) -> float:
        """Seconds before a call may be tried (0: now), without taking the probe."""
        now = self._clock()
        if self.state is BreakerState.CLOSED:
            return 0.0
        if self.state is BreakerState.OPEN:
            return max(0.0, self._opened_at + self.cooldown_s - now)
        if self._probe_started is None:
            return 0.0
        # A probe that never reported (its task was cancelled) must not hold the circuit for
        # ever: after one cool-down another caller may probe.
        return max(0.0, self._probe_started + self.cooldown_s - now)

    def acquire(self) -> float:
        """0 when the caller may call the network now (in half-open: it is the probe); otherwise
        how many seconds to wait before asking again."""
        wait = self.wait_s()
        if wait > 0:
            return wait
        if self.state is not BreakerState.CLOSED:
            self._set(BreakerState.HALF_OPEN)
            self._probe_started = self._clock()
        return 0.0

    def succeeded(self) -> None:
        """The network answered (a post, or a permanent refusal): close the circuit."""
        self.failures = 0
        self._probe_started = None
        self._set(BreakerState.CLOSED)

    def failed(self) -> None:
        """A transient failure (timeout, 5xx, 429, connection refused)."""
        self.failures += 1
        self._probe_started = None
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.threshold:
            self._opened_at = self._clock()
            self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        if state is not self.state:
            self.state = state
            if self._on_change is not None:
                self._on_change(self.name, state)


class Breakers:
    """The breakers of every (channel, account), made on first use with the same settings.

    `on_change` reports per channel (the `alertcast_circuit_state{channel}` gauge): the worst
    state among the channel's accounts on this worker (open over half-open over closed), each
    time it changes; `announce` makes a channel's gauge exist (closed) before any delivery.
    """

    def __init__(
        self,
        threshold: int = DEFAULT_THRESHOLD,
        cooldown_s: float = DEFAULT_COOLDOWN_S,
        monotonic: Callable[[], float] = time.monotonic,
        on_change: OnChange | None = None,
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = monotonic
        self._on_change = on_change
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._shown: dict[str, BreakerState] = {}

    def of(self, channel: str, account: str) -> CircuitBreaker:
        key = (channel, account)
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = CircuitBreaker(
                f"{channel}:{account}",
                self.threshold,
                self.cooldown_s,
                self._clock,
                lambda _name, _state: self._show(channel),
            )
            self._breakers[key] = breaker
            self._show(channel)
        return breaker

    def announce(self, channel: str) -> None:
        """The channel's state is reported now (closed if none of its accounts has a breaker)."""
        self._show(channel)

    def state(self, channel: str) -> BreakerState:
        """The worst state among the channel's account breakers (closed when it has none)."""
        states = [b.state for (name, _), b in self._breakers.items() if name == channel]
        return max(states, key=STATE_VALUES.__getitem__, default=BreakerState.CLOSED)

    def _show(self, channel: str) -> None:
        state = self.state(channel)
        if self._shown.get(channel) is state:
            return
        self._shown[channel] = state
        if self._on_change is not None:
            self._on_change(channel, state)
