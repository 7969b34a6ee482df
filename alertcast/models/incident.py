"""The incident, aligned with OASIS CAP 1.2 so every intake format maps onto one model.

Field names are CAP's, in snake_case. Times are timezone-aware and stored in UTC.
alertcast adds its own `category` (what citizens care about) beside CAP's categories.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alertcast.i18n import N_
from alertcast.models.problem import refusal


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise refusal("timezone_aware", N_("time has no UTC offset"))
    return value.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_to_utc)]


class Status(StrEnum):
    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


class MsgType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"
    ACK = "Ack"
    ERROR = "Error"


class Scope(StrEnum):
    PUBLIC = "Public"
    RESTRICTED = "Restricted"
    PRIVATE = "Private"


class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Severity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


class CapCategory(StrEnum):
    GEO = "Geo"
    MET = "Met"
    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class Category(StrEnum):
    """alertcast's own categories: they choose templates, policies and routing."""

    ROAD_CLOSURE = "road_closure"
    TRAFFIC = "traffic"
    TRANSPORT_DISRUPTION = "transport_disruption"
    STRIKE = "strike"
    SCHOOL_TRANSPORT = "school_transport"
    WEATHER = "weather"
    FLOOD = "flood"
    HEAT = "heat"
    PUBLIC_SERVICE = "public_service"
    WATER = "water"
    OTHER = "other"


SEVERITY_RANK = {
    Severity.EXTREME: 4,
    Severity.SEVERE: 3,
    Severity.MODERATE: 2,
    Severity.MINOR: 1,
    Severity.UNKNOWN: 0,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Point(_Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Circle(_Strict):
    center: Point
    radius_km: float = Field(ge=0)


class Geocode(_Strict):
    """A named code for an area, e.g. value_name="INSEE", value="75056" (Paris)."""

    value_name: str = Field(min_length=1)
    value: str = Field(min_length=1)


class Area(_Strict):
    area_desc: str = Field(min_length=1)
    polygons: list[list[Point]] = Field(default_factory=list)
    circles: list[Circle] = Field(default_factory=list)
    geocodes: list[Geocode] = Field(default_factory=list)

    @model_validator(mode="after")
    def _polygons_close(self) -> Area:
        for index, polygon in enumerate(self.polygons):
            if len(polygon) < 4 or polygon[0] != polygon[-1]:
                raise refusal(
                    "polygon_not_closed",
                    N_("polygon %(index)s must have at least 4 points and end where it starts"),
                    index=index,
                )
        return self


class Info(_Strict):
    """One language's version of the message (CAP <info>)."""

    language: str = Field(default="fr", min_length=2, max_length=35)
    category: Category
    cap_categories: list[CapCategory] = Field(default_factory=list)
    event: str = Field(min_length=1, max_length=500)
    urgency: Urgency = Urgency.UNKNOWN
    severity: Severity = Severity.UNKNOWN
    certainty: Certainty = Certainty.UNKNOWN
    sender_name: str | None = Field(default=None, max_length=500)
    headline: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=10_000)
    instruction: str = Field(default="", max_length=5_000)
    web: str | None = Field(default=None, max_length=2_000)
    contact: str | None = Field(default=None, max_length=500)
    effective: UtcDateTime | None = None
    onset: UtcDateTime | None = None
    expires: UtcDateTime | None = None
    areas: list[Area] = Field(default_factory=list)

    @field_validator("expires")
    @classmethod
    def _expires_after_onset(cls, expires: datetime | None, info: ValidationInfo) -> datetime | None:
        """A field validator, not a model one, so it is reported even when another field fails."""
        start = info.data.get("onset") or info.data.get("effective")
        if start is not None and expires is not None and expires <= start:
            raise refusal(
                "expires_before_onset",
                N_("expires (%(expires)s) must be after onset (%(onset)s)"),
                expires=expires.isoformat(),
                onset=start.isoformat(),
            )
        return expires


class Reference(_Strict):
    """An earlier message this one updates or cancels (CAP: sender,identifier,sent)."""

    sender: str = Field(min_length=1)
    identifier: str = Field(min_length=1)
    sent: UtcDateTime | None = None


def incident_key(sender: str, identifier: str) -> str:
    """The Kafka key of an incident: every version shares its first message's key."""
    return f"{sender}/{identifier}"


class Incident(_Strict):
    """One message about an incident: an Alert, or an Update/Cancel of an earlier one."""

    identifier: str = Field(min_length=1, max_length=200, pattern=r"^[^\s,<&]+$")
    sender: str = Field(min_length=1, max_length=200, pattern=r"^[^\s,<&]+$")
    sent: UtcDateTime
    status: Status = Status.ACTUAL
    msg_type: MsgType = MsgType.ALERT
    scope: Scope = Scope.PUBLIC
    source: str = Field(default="kafka", description="the intake source (API key name, poller, kafka)")
    references: list[Reference] = Field(default_factory=list)
    info: list[Info] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape_by_type(self) -> Incident:
        if self.msg_type in (MsgType.ALERT, MsgType.UPDATE) and not self.info:
            raise refusal("info_required", N_("an Alert or Update needs at least one info block"))
        if self.msg_type in (MsgType.UPDATE, MsgType.CANCEL) and not self.references:
            raise refusal(
                "references_required", N_("an Update or Cancel must reference the message it changes")
            )
        languages = [info.language.lower() for info in self.info]
        if len(set(languages)) != len(languages):
            raise refusal("duplicate_language", N_("two info blocks share a language"))
        return self

    @property
    def key(self) -> str:
        """The first version's key, so Updates and Cancels land on its partition."""
        if self.references:
            first = self.references[0]
            return incident_key(first.sender, first.identifier)
        return incident_key(self.sender, self.identifier)

    @property
    def message_key(self) -> str:
        return incident_key(self.sender, self.identifier)

    def info_for(self, language: str) -> Info | None:
        """The info block in `language` (prefix match: 'fr' finds 'fr-CA'), else None."""
        wanted = language.lower()
        for info in self.info:
            lang = info.language.lower()
            if lang == wanted or lang.split("-")[0] == wanted.split("-")[0]:
                return info
        return None

    @property
    def main_info(self) -> Info | None:
        """French first, then whatever came first."""
        return self.info_for("fr") or (self.info[0] if self.info else None)

    @property
    def severity_rank(self) -> int:
        return max((SEVERITY_RANK[info.severity] for info in self.info), default=0)
