"""The internal 72-hour circuit, modelled on Chatwoot's SLA policies.

A citizen who asks waits for an answer; a question handed to the competent service must come
back within 72 hours (the body's commitment), counted in business hours when the body sets
them, so a Friday-evening question is not "missed" on Monday morning before anyone could read
it, and French public holidays (those of the body's overseas department too: La Réunion's
20 December) are skipped as the `holidays` package computes them (Whit Monday moves every year).

Chatwoot's semantics: the first-response deadline runs from the first citizen message, the
next-response one from the first citizen message after each of our answers; while we owe an
answer the conversation is "active" until the deadline, "missed" after; once we answered, it
is "hit" if every answer came in time, "missed" otherwise (a miss stays on record, as
Chatwoot's SLA events do). Everything is pure: `now` and the time zone are passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
from holidays.countries.france import France
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alertcast.models.incident import UtcDateTime
from alertcast.replies.model import Turn

SlaState = Literal["active", "hit", "missed"]
#: The subdivisions `holidays` knows for France: "57" Moselle, "6AE" Alsace, "971" Guadeloupe,
#: "972" Martinique, "973" Guyane, "974" La Réunion, "976" Mayotte, and the overseas
#: collectivities (BL, MF, NC, PF, PM, TF, WF); aliases such as "La Réunion" are accepted.
SUBDIVISIONS: frozenset[str] = frozenset(France.subdivisions) | frozenset(France.subdivisions_aliases)
#: The search for the end of business time gives up after this many days (a schedule with no
#: open day is refused, but a subdivision cannot make a whole year a holiday).
_MAX_DAYS = 3_700


class BusinessHours(BaseModel):
    """The same opening hours on each open day (0 = Monday), in the body's time zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    opens: time = time(9, 0)
    closes: time = time(17, 0)

    @field_validator("days")
    @classmethod
    def _weekdays(cls, days: frozenset[int]) -> frozenset[int]:
        if not days or not days <= set(range(7)):
            raise ValueError("days must be weekdays 0 (Monday) to 6 (Sunday), at least one")
        return days

    @model_validator(mode="after")
    def _opens_before_closing(self) -> BusinessHours:
        if self.opens >= self.closes:
            raise ValueError("opens must be before closes (no overnight shifts)")
        return self


class SlaPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    first_response: timedelta = timedelta(hours=72)
    next_response: timedelta = timedelta(hours=72)
    warn_before: timedelta = timedelta(hours=12)
    business_hours: BusinessHours | None = None
    observe_holidays: bool = Field(default=True, description="French public holidays, with business hours")
    subdivision: str | None = Field(default=None, description='e.g. "974" (La Réunion); None: metropolitan')

    @field_validator("first_response", "next_response")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value

    @field_validator("warn_before")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @field_validator("subdivision")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is not None and value not in SUBDIVISIONS:
            raise ValueError(f"unknown French subdivision; known: {', '.join(sorted(France.subdivisions))}")
        return value


class ConversationState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state: SlaState
    due: UtcDateTime | None = Field(default=None, description="while we owe an answer")
    warn_at: UtcDateTime | None = None
    waiting_since: UtcDateTime | None = None
    misses: int = Field(default=0, ge=0, description="deadlines passed, answered late or not yet")
    first_answer_after: timedelta | None = Field(default=None, description="wall-clock, for the KPIs")


@lru_cache(maxsize=64)
def holiday_dates(year: int, subdivision: str | None) -> frozenset[date]:
    """France's public holidays of `year` (and the subdivision's own), computed once."""
    return frozenset(holidays.country_holidays("FR", subdiv=subdivision, years=year).keys())


def is_holiday(day: date, policy: SlaPolicy) -> bool:
    return policy.observe_holidays and day in holiday_dates(day.year, policy.subdivision)


def _window(day: date, hours: BusinessHours, zone: ZoneInfo) -> tuple[datetime, datetime]:
    opens = datetime.combine(day, hours.opens, tzinfo=zone).astimezone(UTC)
    closes = datetime.combine(day, hours.closes, tzinfo=zone).astimezone(UTC)
    return opens, closes


def add_business_time(start: datetime, amount: timedelta, policy: SlaPolicy, tz: str) -> datetime:
    """`start` plus `amount` of open time; plain time when the policy has no business hours.
    The end of a window is the answer when the amount runs out exactly there (17:00, not 9:00
    next day), so a deadline never waits for a night."""
    if start.tzinfo is None:
        raise ValueError("start has no UTC offset")
    hours = policy.business_hours
    if hours is None:
        return (start + amount).astimezone(UTC)
    zone = ZoneInfo(tz)
    remaining = amount
    cursor = start.astimezone(UTC)
    day = cursor.astimezone(zone).date()
    for _ in range(_MAX_DAYS):
        if day.weekday() in hours.days and not is_holiday(day, policy):
            opens, closes = _window(day, hours, zone)
            begin = max(cursor, opens)
            if begin < closes:
                if remaining <= closes - begin:
                    return begin + remaining
                remaining -= closes - begin
        day += timedelta(days=1)
    raise ValueError(f"no business time within {_MAX_DAYS} days of {start.isoformat()}")


def deadline(start: datetime, policy: SlaPolicy, tz: str, *, first: bool = True) -> datetime:
    """When the answer to a wait begun at `start` is due (first response or a next one)."""
    return add_business_time(start, policy.first_response if first else policy.next_response, policy, tz)


def warn_time(start: datetime, policy: SlaPolicy, tz: str, *, first: bool = True) -> datetime:
    """`warn_before` ahead of the deadline, in the same kind of time (business or plain)."""
    allowed = policy.first_response if first else policy.next_response
    return add_business_time(start, max(allowed - policy.warn_before, timedelta(0)), policy, tz)


def conversation_state(
    messages: Sequence[Turn], policy: SlaPolicy, now: datetime, tz: str
) -> ConversationState | None:
    """Where the circuit stands at `now` for the ordered turns of one conversation; None when no
    citizen has written yet (nobody waits). Turns after `now` have not happened yet."""
    if any(later.at < earlier.at for earlier, later in pairwise(messages)):
        raise ValueError("turns must be in time order")
    happened = [turn for turn in messages if turn.at <= now]
    waiting_since: datetime | None = None
    answered = False
    misses = 0
    first_asked: datetime | None = None
    first_answer_after: timedelta | None = None
    for turn in happened:
        if turn.who == "citizen":
            if waiting_since is None:
                waiting_since = turn.at
                first_asked = first_asked or turn.at
        elif waiting_since is not None:
            if turn.at > deadline(waiting_since, policy, tz, first=not answered):
                misses += 1
            if not answered and first_asked is not None:
                first_answer_after = turn.at - first_asked
            answered = True
            waiting_since = None
    if first_asked is None:
        return None
    if waiting_since is None:
        state: SlaState = "missed" if misses else "hit"
        return ConversationState(state=state, misses=misses, first_answer_after=first_answer_after)
    first = not answered
    due = deadline(waiting_since, policy, tz, first=first)
    late = now > due
    return ConversationState(
        state="missed" if late else "active",
        due=due,
        warn_at=warn_time(waiting_since, policy, tz, first=first),
        waiting_since=waiting_since,
        misses=misses + (1 if late else 0),
        first_answer_after=first_answer_after,
    )
