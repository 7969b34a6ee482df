"""The duty rota: who is on duty when, per service, with a backup, and how each person is called.

A YAML file (`ALERTCAST_ROTA_FILE`, see `deploy/rota.example.yaml`): services (a draft belongs
to the first whose categories and sources match it, else to `*`), each with weekly shifts
(start days, a local start and end time: an end at or before the start crosses midnight) and
dated overrides (holidays, swaps) that win over the shifts; the supervisor called last; the
people, each with the channels they chose. Times are wall-clock times in the rota's zone
(`timezone`, else `ALERTCAST_TIMEZONE`), resolved with zoneinfo and compared in UTC: a night
shift across the October change lasts an hour longer, one across the March change an hour
shorter, and a shift starting in the skipped hour starts that long after midnight (02:30 is
03:30 summer time, as zoneinfo reads it); in the repeated hour, the first 02:30 is meant.

Reading the file, the checks of names and the last good rota kept: `alertcast.duty.rota_file`.
"""

from __future__ import annotations

import fnmatch
import logging
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parseaddr
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from alertcast.i18n import N_
from alertcast.models.incident import Category
from alertcast.models.problem import refusal
from alertcast.sms.smpp import e164

log = logging.getLogger(__name__)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SERVICE = "*"
#: Console user names (alertcast.web.console.auth.User): the person on duty acknowledges there.
NAME = r"^[a-z0-9][a-z0-9_-]*$"
DutyChannel = Literal["matrix", "email", "sms", "webhook"]
CHANNELS: tuple[DutyChannel, ...] = ("matrix", "email", "sms", "webhook")


def _clock_time(value: Any) -> Any:
    """ "08:00" as a time; "24:00" is the end of the day. YAML 1.1 reads an unquoted 18:00 as the
    base-60 number 1080: read back as 18:00 rather than refused for a missing pair of quotes."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and 0 <= value <= 24 * 60:
        value = f"{value // 60:02d}:{value % 60:02d}"
    if isinstance(value, str) and value.strip() in ("24:00", "24:00:00"):
        return time(0, 0)
    return value


def _days(value: Any) -> Any:
    """["mon", "tue"], or a string: "mon-fri", "fri-mon" (wrapping), "sat,sun", "*"."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if text in ("*", "all", ""):
        return list(WEEKDAYS)
    days: list[str] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise refusal(
                "rota_weekday",
                N_("%(given)s is not a day or a range of days"),
                N_("use mon … sun: mon-fri"),
                given=repr(part.strip()),
            )
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days += [WEEKDAYS[(start + step) % 7] for step in range((end - start) % 7 + 1)]
    return list(dict.fromkeys(days))


ClockTime = Annotated[time, BeforeValidator(_clock_time)]


class Person(BaseModel):
    """How one person on duty is called: the channels they gave, in the order they chose."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    matrix: str | None = Field(
        default=None, pattern=r"^!\S+$", description="a room id (!…, not an alias) shared with the bot"
    )
    email: str | None = Field(default=None, max_length=320)
    sms: str | None = Field(default=None, description="a mobile number, stored in E.164")
    webhook: SecretStr | None = Field(default=None, description="an on-call tool's URL (a credential)")
    notify: list[DutyChannel] = Field(default_factory=list, description="empty: every channel given")
    language: Literal["fr", "en"] = "fr"

    @field_validator("email")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and "@" not in parseaddr(value)[1]:
            raise refusal("rota_email", N_("not an e-mail address"), N_("write name@domain"))
        return value

    @field_validator("sms")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return e164(value, "FR")
        except ValueError as error:
            raise refusal(
                "rota_phone", "%(error)s", N_("write the number in +33… form"), error=str(error)
            ) from None

    @field_validator("webhook")
    @classmethod
    def _url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parts = urlsplit(value.get_secret_value().strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise refusal(
                "rota_webhook", N_("not an http(s) URL"), N_("give the on-call tool's https:// URL")
            )
        return SecretStr(value.get_secret_value().strip())

    @model_validator(mode="after")
    def _reachable(self) -> Person:
        given = [channel for channel in CHANNELS if getattr(self, channel) is not None]
        if not given:
            raise refusal(
                "rota_unreachable",
                N_("this person has no way to be called"),
                N_("give at least one of matrix (room id), email, sms or webhook"),
            )
        missing = [channel for channel in self.notify if channel not in given]
        if missing:
            raise refusal(
                "rota_notify_missing",
                N_("notify names %(missing)s but no address for it"),
                N_("add the address, or keep notify to what is given: %(given)s"),
                missing=", ".join(missing),
                given=", ".join(given),
            )
        return self

    def channels(self) -> list[DutyChannel]:
        """The channels this person is called on."""
        return list(self.notify) or [channel for channel in CHANNELS if getattr(self, channel) is not None]


class Shift(BaseModel):
    """A weekly slot: from `from` on each of `days` to `to` (the next day when not after `from`;
    the same time the next day when equal: a 24-hour shift)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    days: Annotated[list[Weekday], BeforeValidator(_days)] = Field(
        default_factory=lambda: list(WEEKDAYS), min_length=1, description="the days the shift starts on"
    )
    start: ClockTime = Field(alias="from")
    end: ClockTime = Field(alias="to")
    primary: str
    backup: str | None = None


class Override(BaseModel):
    """Who is on duty between two dated times (a holiday, a swap), whatever the shifts say.
    Times without an offset are the rota's wall-clock times; a date alone is its midnight."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    primary: str
    backup: str | None = None
    note: str = Field(default="", max_length=200)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _midnight(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime.combine(value, time(0, 0))
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        start, end = self.start.replace(tzinfo=None), self.end.replace(tzinfo=None)
        if (self.start.tzinfo is None) == (self.end.tzinfo is None) and end <= start:
            raise refusal(
                "rota_override_order", N_("`to` is not after `from`"), N_("swap them, or fix the date")
            )
        return self


class Service(BaseModel):
    """One service's rota. Its drafts: those whose category and source match (empty: any)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: list[Category] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, description="intake sources; * and ? patterns")
    supervisor: str | None = Field(default=None, description="else the rota's supervisor")
    shifts: list[Shift] = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list)

    def matches(self, category: str | None, source: str) -> bool:
        return (not self.categories or category in self.categories) and (
            not self.sources or any(fnmatch.fnmatchcase(source, pattern) for pattern in self.sources)
        )


class SendWith(BaseModel):
    """The configured accounts whose credentials send the calls (their rooms, lists and numbers
    are replaced by the person's); none named: the only account of that channel, if one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    matrix: str | None = Field(default=None, description="a name in ALERTCAST_MATRIX_ACCOUNTS")
    email: str | None = Field(default=None, description="a name in ALERTCAST_EMAIL_ACCOUNTS")
    sms: str | None = Field(default=None, description="a name in ALERTCAST_SMS_ACCOUNTS")


class Rota(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "Europe/Paris"
    supervisor: str = Field(description="called last, for every service without its own")
    escalate_after: timedelta = Field(
        default=timedelta(minutes=15),
        gt=timedelta(0),
        description="when the policy gives a draft no deadline: the backup then, the supervisor twice that",
    )
    max_wait: timedelta = Field(
        default=timedelta(hours=24),
        gt=timedelta(0),
        description="a draft waiting longer calls nobody more (one found after a long outage)",
    )
    people: dict[str, Person] = Field(min_length=1)
    services: dict[str, Service] = Field(min_length=1)
    send_with: SendWith = Field(default_factory=SendWith)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise refusal(
                "rota_timezone",
                N_("unknown time zone %(zone)s"),
                N_("an IANA name: Europe/Paris, Indian/Reunion"),
                zone=repr(value),
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class OnDuty(BaseModel):
    """Who answers for a service at one moment, and until when (None: no shift covers it)."""

    model_config = ConfigDict(frozen=True)

    service: str
    primary: str | None
    backup: str | None
    supervisor: str
    until: datetime | None = None
    note: str = ""


def service_for(rota: Rota, category: str | None, source: str) -> str:
    """The service a draft belongs to: the first (in the file's order) that matches, else `*`."""
    for name, service in rota.services.items():
        if name != DEFAULT_SERVICE and service.matches(category, source):
            return name
    return DEFAULT_SERVICE


def who_is_on_duty(rota: Rota, service: str, at: datetime) -> OnDuty:
    """The service's override covering `at`, else its first shift covering it, else the same
    from `*`; the supervisor is always someone."""
    zone = rota.zone
    for name in dict.fromkeys((service, DEFAULT_SERVICE)):
        found = rota.services.get(name)
        if found is None:
            continue
        supervisor = found.supervisor or rota.supervisor
        for override in found.overrides:
            start, end = _aware(override.start, zone), _aware(override.end, zone)
            if start <= at < end:
                return OnDuty(
                    service=name,
                    primary=override.primary,
                    backup=override.backup,
                    supervisor=supervisor,
                    until=end,
                    note=override.note,
                )
        for shift in found.shifts:
            shift_end = _covers(shift, at, zone)
            if shift_end is not None:
                return OnDuty(
                    service=name,
                    primary=shift.primary,
                    backup=shift.backup,
                    supervisor=supervisor,
                    until=shift_end,
                )
    own = rota.services.get(service)
    supervisor = (own.supervisor if own else None) or rota.supervisor
    return OnDuty(service=service, primary=None, backup=None, supervisor=supervisor)


def board(rota: Rota, at: datetime) -> list[OnDuty]:
    """Every service's people on duty now (the console's queue page)."""
    return [who_is_on_duty(rota, name, at) for name in rota.services]


def _aware(when: datetime, zone: ZoneInfo) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=zone)


def _covers(shift: Shift, at: datetime, zone: ZoneInfo) -> datetime | None:
    """The end of the occurrence of `shift` that covers `at`, if one does. Only an occurrence
    starting on `at`'s local day or the day before can (a shift lasts at most 24 hours)."""
    today = at.astimezone(zone).date()
    for day in (today, today - timedelta(days=1)):
        if WEEKDAYS[day.weekday()] not in shift.days:
            continue
        start = datetime.combine(day, shift.start, tzinfo=zone)
        end_day = day if shift.end > shift.start else day + timedelta(days=1)
        end = datetime.combine(end_day, shift.end, tzinfo=zone)
        # In UTC: two datetimes sharing a tzinfo compare by wall time, wrong across a change.
        if start.astimezone(UTC) <= at.astimezone(UTC) < end.astimezone(UTC):
            return end
    return None
