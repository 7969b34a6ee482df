"""Pause switches: which deliveries a switch holds, and that resuming one scope frees no other."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from alertcast.delivery.pause import Pause, PauseBoard

AT = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)


def switch(paused: bool, channel: str | None = None, account: str | None = None) -> Pause:
    return Pause(channel=channel, account=account, paused=paused, by="duty", at=AT)


def test_nothing_is_held_without_a_switch() -> None:
    assert PauseBoard().holding("mastodon", "main") is None


def test_a_channel_pause_holds_its_accounts_only() -> None:
    board = PauseBoard()
    board.apply(switch(True, "mastodon"))
    assert board.holding("mastodon", "main") is not None
    assert board.holding("mastodon", "other") is not None
    assert board.holding("bluesky", "main") is None


def test_an_account_pause_holds_that_account_only() -> None:
    board = PauseBoard()
    board.apply(switch(True, "mastodon", "main"))
    held = board.holding("mastodon", "main")
    assert held is not None and held.scope == "mastodon:main"
    assert board.holding("mastodon", "other") is None


def test_pausing_everything_holds_every_channel_until_resumed() -> None:
    board = PauseBoard()
    board.apply(switch(True))
    assert board.holding("website", "default") is not None
    board.apply(switch(False))
    assert board.holding("website", "default") is None


def test_a_stale_resume_of_an_account_does_not_free_it_from_a_later_channel_pause() -> None:
    board = PauseBoard()
    board.apply(switch(True, "telegram", "ops"))
    board.apply(switch(False, "telegram", "ops"))
    board.apply(switch(True, "telegram"))
    held = board.holding("telegram", "ops")
    assert held is not None and held.scope == "telegram"


def test_the_narrowest_paused_switch_is_reported() -> None:
    board = PauseBoard()
    board.apply(switch(True))
    board.apply(switch(True, "x", "main"))
    held = board.holding("x", "main")
    assert held is not None and held.scope == "x:main"
    assert [p.scope for p in board.active()] == ["*", "x:main"]


def test_an_account_without_its_channel_is_refused() -> None:
    with pytest.raises(ValidationError, match="give the channel too"):
        switch(True, None, "main")
