"""Post rates per account: a burst up to the count goes at once, then posts are spaced."""

from __future__ import annotations

import pytest

from alertcast.delivery.throttle import PostRate, Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_up_to_the_rate_goes_then_the_next_post_waits_its_turn() -> None:
    clock = Clock()
    throttle = Throttle({"telegram": {"posts": 20, "per_s": 60}}, clock=clock)
    assert [throttle.wait("telegram", "ops") for _ in range(20)] == [0.0] * 20
    assert throttle.wait("telegram", "ops") == pytest.approx(3.0)
    clock.now += 3.0
    assert throttle.wait("telegram", "ops") == 0.0


def test_each_account_has_its_own_budget_and_unpaced_channels_never_wait() -> None:
    clock = Clock()
    throttle = Throttle({"telegram": PostRate(posts=1, per_s=60)}, clock=clock)
    assert throttle.wait("telegram", "ops") == 0.0
    assert throttle.wait("telegram", "public") == 0.0
    assert throttle.wait("telegram", "ops") > 0
    assert all(throttle.wait("webhook", "0") == 0.0 for _ in range(1000))


def test_a_rate_without_posts_is_refused() -> None:
    with pytest.raises(ValueError, match="posts"):
        Throttle({"x": {"posts": 0, "per_s": 60}})


async def test_pace_waits_until_the_account_may_post() -> None:
    throttle = Throttle({"bluesky": {"posts": 1, "per_s": 0.05}})
    assert await throttle.pace("bluesky", "main") == 0.0
    assert await throttle.pace("bluesky", "main") > 0.0
