"""The per-account circuit breaker: closed, open after N consecutive transient failures,
half-open after the cool-down (one probe), closed on success. A hand-moved clock, no sleeps."""

from __future__ import annotations

import pytest

from alertcast.delivery.breaker import STATE_VALUES, Breakers, BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(threshold: int = 3, cooldown_s: float = 10.0) -> tuple[CircuitBreaker, FakeClock, list[str]]:
    clock = FakeClock()
    changes: list[str] = []
    made = CircuitBreaker(
        "x", threshold, cooldown_s, clock, on_change=lambda name, state: changes.append(f"{name}:{state}")
    )
    return made, clock, changes


def test_closed_lets_calls_through_and_success_resets_the_count() -> None:
    b, _, changes = breaker()
    assert b.acquire() == 0 and b.state is BreakerState.CLOSED
    b.failed()
    b.failed()
    b.succeeded()
    b.failed()
    b.failed()
    assert b.state is BreakerState.CLOSED and b.failures == 2  # never 3 in a row
    assert changes == []


def test_opens_after_threshold_consecutive_failures_and_waits_the_cooldown() -> None:
    b, clock, changes = breaker(threshold=3, cooldown_s=10)
    for _ in range(3):
        assert b.acquire() == 0
        b.failed()
    assert b.state is BreakerState.OPEN and changes == ["x:open"]
    assert b.acquire() == pytest.approx(10)
    clock.now += 4
    assert b.acquire() == pytest.approx(6)
    assert b.wait_s() == pytest.approx(6)
    assert b.state is BreakerState.OPEN


def test_half_open_allows_one_probe_and_its_success_closes() -> None:
    b, clock, changes = breaker(threshold=1, cooldown_s=10)
    b.failed()
    clock.now += 10
    assert b.wait_s() == 0  # asking does not take the probe
    assert b.acquire() == 0  # this caller is the probe
    assert b.state is BreakerState.HALF_OPEN
    assert b.acquire() == pytest.approx(10)  # the others wait for its outcome
    b.succeeded()
    assert b.state is BreakerState.CLOSED and b.failures == 0
    assert b.acquire() == 0
    assert changes == ["x:open", "x:half_open", "x:closed"]


def test_failed_probe_opens_again_for_a_whole_cooldown() -> None:
    b, clock, _ = breaker(threshold=2, cooldown_s=10)
    b.failed()
    b.failed()
    clock.now += 11
    assert b.acquire() == 0
    clock.now += 3  # the probe took 3 s to time out
    b.failed()
    assert b.state is BreakerState.OPEN
    assert b.acquire() == pytest.approx(10)


def test_a_probe_that_never_reports_frees_the_circuit_after_a_cooldown() -> None:
    b, clock, _ = breaker(threshold=1, cooldown_s=10)
    b.failed()
    clock.now += 10
    assert b.acquire() == 0  # the probe's task is then cancelled: no succeeded(), no failed()
    clock.now += 9
    assert b.acquire() == pytest.approx(1)
    clock.now += 1
    assert b.acquire() == 0  # a new probe


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker("x", cooldown_s=0)


def test_breakers_are_per_account_and_announced_closed() -> None:
    clock = FakeClock()
    seen: dict[str, BreakerState] = {}
    board = Breakers(threshold=1, cooldown_s=5, monotonic=clock, on_change=seen.__setitem__)
    assert board.of("x", "a") is board.of("x", "a")
    board.announce("website")
    assert seen == {"x": BreakerState.CLOSED, "website": BreakerState.CLOSED}
    board.of("x", "a").failed()
    assert seen["x"] is BreakerState.OPEN
    assert board.of("x", "b").acquire() == 0  # another account of the same network: its own circuit
    assert board.of("website", "default").acquire() == 0  # other channels unaffected
    assert STATE_VALUES[seen["x"]] == 2 and STATE_VALUES[BreakerState.HALF_OPEN] == 1


def test_a_channel_shows_the_worst_state_of_its_accounts() -> None:
    clock = FakeClock()
    changes: list[tuple[str, BreakerState]] = []
    board = Breakers(1, 5, monotonic=clock, on_change=lambda channel, s: changes.append((channel, s)))
    a, b = board.of("x", "a"), board.of("x", "b")
    a.failed()
    b.failed()
    assert board.state("x") is BreakerState.OPEN
    clock.now += 5
    assert a.acquire() == 0  # a probes: half-open, but b is still open, so the channel shows open
    assert board.state("x") is BreakerState.OPEN
    a.succeeded()
    assert board.state("x") is BreakerState.OPEN
    assert b.acquire() == 0
    assert board.state("x") is BreakerState.HALF_OPEN
    b.succeeded()
    assert board.state("x") is BreakerState.CLOSED
    # Reported only when the channel's state changes, never twice in a row the same.
    assert changes == [
        ("x", BreakerState.CLOSED),
        ("x", BreakerState.OPEN),
        ("x", BreakerState.HALF_OPEN),
        ("x", BreakerState.CLOSED),
    ]
    assert board.state("unknown") is BreakerState.CLOSED
