"""The 72-hour circuit: deadlines in plain or business time (nights, weekends and French public
holidays skipped, overseas ones included), the warning, Chatwoot's active/hit/missed states as
the clock moves, and the KPIs. Every time is fixed and passed in."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from alertcast.replies.kpi import Handled, kpis
from alertcast.replies.model import Turn
from alertcast.replies.sla import BusinessHours, SlaPolicy, conversation_state, deadline, warn_time

PARIS = "Europe/Paris"
REUNION = "Indian/Reunion"
OFFICE = BusinessHours(days=frozenset({0, 1, 2, 3, 4}), opens=time(9), closes=time(17))
#: Monday 3 March 2031, 10:00 UTC (11:00 in Paris).
T0 = datetime(2031, 3, 3, 10, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def office(hours: float, **more: object) -> SlaPolicy:
    return SlaPolicy.model_validate(
        {"first_response": timedelta(hours=hours), "business_hours": OFFICE, **more}
    )


def test_plain_time_is_72_hours_nights_and_weekends_included() -> None:
    friday = utc(2031, 3, 7, 18, 0)
    assert deadline(friday, SlaPolicy(), PARIS) == utc(2031, 3, 10, 18, 0)
    assert warn_time(friday, SlaPolicy(), PARIS) == utc(2031, 3, 10, 6, 0)


def test_business_hours_skip_the_weekend() -> None:
    friday_3pm_paris = utc(2031, 3, 7, 14, 0)  # UTC+1 in March
    # Two hours on Friday, two on Monday from 9:00.
    assert deadline(friday_3pm_paris, office(4), PARIS) == utc(2031, 3, 10, 10, 0)


def test_72_business_hours_are_nine_working_days() -> None:
    friday_4pm_paris = utc(2031, 3, 7, 15, 0)
    # 1 h on Friday, 8 full days (64 h), 7 h on Thursday 20 March: 16:00 in Paris.
    assert deadline(friday_4pm_paris, office(72), PARIS) == utc(2031, 3, 20, 15, 0)


def test_a_question_at_night_starts_counting_at_opening() -> None:
    tuesday_2am_paris = utc(2031, 3, 4, 1, 0)
    assert deadline(tuesday_2am_paris, office(1), PARIS) == utc(2031, 3, 4, 9, 0)


def test_the_deadline_is_the_closing_time_when_the_hours_run_out_there() -> None:
    assert deadline(utc(2031, 3, 4, 8, 0), office(8), PARIS) == utc(2031, 3, 4, 16, 0)


def test_bastille_day_is_skipped() -> None:
    friday_3pm_paris = utc(2031, 7, 11, 13, 0)  # UTC+2 in July
    # Monday 14 July 2031 is a public holiday: Friday 2 h, then Tuesday 9:00-11:00.
    assert deadline(friday_3pm_paris, office(4), PARIS) == utc(2031, 7, 15, 9, 0)
    assert deadline(friday_3pm_paris, office(4, observe_holidays=False), PARIS) == utc(2031, 7, 14, 9, 0)


def test_christmas_is_skipped() -> None:
    wednesday_4pm_paris = utc(2031, 12, 24, 15, 0)
    # One hour on the 24th, none on Thursday 25th, three on Friday 26th from 9:00.
    assert deadline(wednesday_4pm_paris, office(4), PARIS) == utc(2031, 12, 26, 11, 0)


def test_whit_monday_is_computed_by_the_package() -> None:
    friday_4pm_paris = utc(2031, 5, 30, 14, 0)
    # Easter 2031 is 13 April, so Whit Monday is 2 June.
    assert deadline(friday_4pm_paris, office(2), PARIS) == utc(2031, 6, 3, 8, 0)
    # Another year, another date: Whit Monday 2030 is 10 June.
    assert deadline(utc(2030, 6, 7, 14, 0), office(2), PARIS) == utc(2030, 6, 11, 8, 0)


def test_la_reunion_skips_the_abolition_of_slavery_day() -> None:
    thursday_4pm_reunion = utc(2030, 12, 19, 12, 0)  # UTC+4
    # Friday 20 December 2030 is a holiday in La Réunion only.
    assert deadline(thursday_4pm_reunion, office(2, subdivision="974"), REUNION) == utc(2030, 12, 23, 6, 0)
    assert deadline(thursday_4pm_reunion, office(2), REUNION) == utc(2030, 12, 20, 6, 0)


def test_an_unknown_subdivision_or_schedule_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown French subdivision"):
        office(2, subdivision="999")
    with pytest.raises(ValidationError, match="opens must be before closes"):
        BusinessHours(opens=time(17), closes=time(9))
    with pytest.raises(ValidationError, match="weekdays"):
        BusinessHours(days=frozenset())


def test_the_warning_comes_in_business_time_too() -> None:
    policy = office(4, warn_before=timedelta(hours=1))
    friday_3pm_paris = utc(2031, 3, 7, 14, 0)
    assert warn_time(friday_3pm_paris, policy, PARIS) == utc(2031, 3, 10, 9, 0)  # Monday 10:00


def citizen(at: datetime) -> Turn:
    return Turn(who="citizen", at=at)


def us(at: datetime) -> Turn:
    return Turn(who="us", at=at)


def test_waiting_is_active_until_due_then_missed() -> None:
    turns = [citizen(T0)]
    active = conversation_state(turns, SlaPolicy(), T0 + timedelta(hours=1), PARIS)
    assert active is not None
    assert (active.state, active.due, active.warn_at, active.waiting_since) == (
        "active",
        T0 + timedelta(hours=72),
        T0 + timedelta(hours=60),
        T0,
    )
    at_due = conversation_state(turns, SlaPolicy(), T0 + timedelta(hours=72), PARIS)
    assert at_due is not None and at_due.state == "active"
    missed = conversation_state(turns, SlaPolicy(), T0 + timedelta(hours=72, seconds=1), PARIS)
    assert missed is not None
    assert (missed.state, missed.misses, missed.due) == ("missed", 1, T0 + timedelta(hours=72))


def test_answering_in_time_is_a_hit() -> None:
    turns = [citizen(T0), citizen(T0 + timedelta(hours=2)), us(T0 + timedelta(hours=5))]
    before = conversation_state(turns, SlaPolicy(), T0 + timedelta(hours=4), PARIS)
    assert before is not None and before.state == "active"  # our answer has not happened yet
    state = conversation_state(turns, SlaPolicy(), T0 + timedelta(hours=6), PARIS)
    assert state is not None
    assert (state.state, state.due, state.waiting_since, state.misses) == ("hit", None, None, 0)
    assert state.first_answer_after == timedelta(hours=5)


def test_a_late_answer_stays_a_miss_and_a_new_question_is_active_again() -> None:
    turns = [citizen(T0), us(T0 + timedelta(hours=80))]
    late = conversation_state(turns, SlaPolicy(), T0 + timedelta(hours=81), PARIS)
    assert late is not None and (late.state, late.misses) == ("missed", 1)
    policy = SlaPolicy(next_response=timedelta(hours=24))
    turns.append(citizen(T0 + timedelta(hours=90)))
    again = conversation_state(turns, policy, T0 + timedelta(hours=91), PARIS)
    assert again is not None
    assert (again.state, again.due, again.misses) == ("active", T0 + timedelta(hours=114), 1)


def test_nobody_waits_without_a_citizen_message() -> None:
    assert conversation_state([], SlaPolicy(), T0, PARIS) is None
    assert conversation_state([us(T0)], SlaPolicy(), T0, PARIS) is None


def test_turns_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="time order"):
        conversation_state([citizen(T0), us(T0 - timedelta(hours=1))], SlaPolicy(), T0, PARIS)


def test_business_hours_apply_to_the_state() -> None:
    friday_3pm_paris = utc(2031, 3, 7, 14, 0)
    saturday = utc(2031, 3, 8, 12, 0)
    state = conversation_state([citizen(friday_3pm_paris)], office(4), saturday, PARIS)
    assert state is not None
    assert (state.state, state.due) == ("active", utc(2031, 3, 10, 10, 0))


def handled(service: str, network: str, turns: list[Turn], now: datetime) -> Handled:
    state = conversation_state(turns, SlaPolicy(), now, PARIS)
    assert state is not None
    return Handled.model_validate({"service": service, "network": network, "state": state})


def test_kpis_per_service_and_network() -> None:
    now = T0 + timedelta(hours=100)
    items = [
        handled("voirie", "mastodon", [citizen(T0), us(T0 + timedelta(hours=1))], now),
        handled("voirie", "facebook", [citizen(T0), us(T0 + timedelta(hours=3))], now),
        handled("voirie", "mastodon", [citizen(T0), us(T0 + timedelta(hours=80))], now),
        handled("eau", "mastodon", [citizen(T0)], now),
        handled("eau", "facebook", [citizen(T0 + timedelta(hours=99))], now),
    ]
    by_service = kpis(items, "service")
    assert list(by_service) == ["eau", "voirie"]
    voirie = by_service["voirie"]
    counts = (voirie.conversations, voirie.answered, voirie.hit, voirie.missed, voirie.active)
    assert counts == (3, 3, 2, 1, 0)
    assert voirie.median_first_answer == timedelta(hours=3)
    eau = by_service["eau"]
    assert (eau.answered, eau.median_first_answer, eau.missed, eau.active) == (0, None, 1, 1)
    mastodon = kpis(items, "network")["mastodon"]
    assert mastodon.median_first_answer == timedelta(hours=40, minutes=30)  # median of 1 h and 80 h
    assert (mastodon.hit, mastodon.missed) == (1, 2)
