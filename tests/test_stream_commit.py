"""The worker's consumer commits past a message only once it is done (alertcast.stream.transport)."""

from __future__ import annotations

from intervaltree import Interval

from alertcast.stream.transport import head_is_done


def test_a_hole_of_one_at_the_head_is_not_committed_past() -> None:
    # Committed 208 = the next to read. 209 and 210 are done, 208 is not (Faust committed 211).
    assert not head_is_done(208, [209, 210], [])


def test_a_done_head_is_committed() -> None:
    assert head_is_done(208, [208, 209, 210], [])
    assert head_is_done(208, [210, 209, 208], [])


def test_offsets_the_log_does_not_hold_are_not_waited_for() -> None:
    assert head_is_done(208, [211], [Interval(208, 211)])
    assert not head_is_done(208, [211], [Interval(209, 211)])


def test_nothing_committed_or_nothing_done_is_faust_s_own_rule() -> None:
    assert head_is_done(None, [5], [])
    assert head_is_done(208, [], [])
