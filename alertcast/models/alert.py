"""Messages after intake: rejections, accepted incidents, drafts, approvals, deliveries, receipts.

Each is the value of a topic (see topics/*.yaml); their JSON Schemas are generated into
topics/schemas/ so producers in other languages can validate before sending.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alertcast.models.finding import Finding
from alertcast.models.incident import Incident, UtcDateTime
from alertcast.models.problem import Problem


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


MAX_RAW_BYTES = 100_000
"""A rejection keeps this much of the payload: enough to see what was sent, bounded for Kafka."""


class Rejection(_Message):
    """An input refused by intake, with the raw payload so nothing is silently dropped."""

    source: str
    received_at: UtcDateTime
    raw: str = Field(description="the payload as received (decoded as UTF-8 with replacement)")
    raw_base64: str | None = Field(
        default=None,
        description="the payload's exact bytes (base64) when they are not valid UTF-8: `raw` then "
        "shows them with replacement characters",
    )
    problems: list[Problem]

    @classmethod
    def of(cls, payload: bytes, source: str, received_at: datetime, problems: list[Problem]) -> Rejection:
        """The one way every intake path keeps what it refused: readable, and exact when the
        bytes are no UTF-8 text (overlong forms, lone surrogates as bytes, latin-1)."""
        kept = payload[:MAX_RAW_BYTES]
        try:
            raw, exact = kept.decode("utf-8"), None
        except UnicodeDecodeError:
            raw, exact = kept.decode("utf-8", "replace"), base64.b64encode(kept).decode("ascii")
        return cls(source=source, received_at=received_at, raw=raw, raw_base64=exact, problems=problems)


class AcceptedIncident(_Message):
    """A validated incident version (incidents.accepted)."""

    incident_key: str
    version: int = Field(ge=1)
    received_at: UtcDateTime
    incident: Incident
    warnings: list[Problem] = Field(default_factory=list, description="accepted, but worth a look")


class ChannelText(_Message):
    """What one channel will publish, in one language, counted as that network counts."""

    channel: str
    language: str
    text: str
    length: int = Field(
        description="the post's length as the network counts it, the adapter's reference included"
    )
    limit: int | None = None
    unit: str = Field(default="", description="what `length` counts: weighted, graphemes, utf16, septets...")
    segments: int | None = Field(default=None, description="SMS only: messages the text takes")
    segments_before: int | None = Field(
        default=None,
        description="SMS only: messages the text would take with its typography as written "
        "(’ « » and non-breaking spaces force UCS-2); `segments` is after they were made GSM-7",
    )
    dropped: list[str] = Field(default_factory=list, description="optional parts left out to fit")
    findings: list[Finding] = Field(default_factory=list, description="the charter on this text")
    blocked: bool = Field(default=False, description="too long, or a blocking finding: not publishable")
    reason: str = Field(default="", description="why it is blocked")
    reason_id: str = Field(default="", description="the msgid `reason` renders (alertcast.explanations)")
    params: dict[str, Any] = Field(default_factory=dict, description="the values the msgid names")


class Draft(_Message):
    """Rendered texts awaiting a decision (alerts.drafted)."""

    alert_id: str = Field(description="stable id of the alert: one per incident, shared by its versions")
    incident_key: str
    version: int
    received_at: UtcDateTime
    incident: Incident
    texts: list[ChannelText]
    findings: list[Finding] = Field(
        default_factory=list, description="the charter on the incident (facts, times); by field path"
    )
    blocked: bool = Field(default=False, description="an incident-level finding blocks every text")
    problems: list[Problem] = Field(
        default_factory=list, description="channels that could not render, templates refused"
    )


class Approval(_Message):
    """A draft cleared for publication (alerts.approved)."""

    draft: Draft
    approved_by: list[str]
    approved_at: UtcDateTime
    policy: str


class DeliveryRequest(_Message):
    """One post to make on one channel account (deliveries.requests)."""

    alert_id: str
    version: int
    channel: str
    account: str = "default"
    incident: Incident
    text: ChannelText | None = None
    approved_at: UtcDateTime
    lane: str = Field(
        default="",
        description="what the post rate and the circuit breaker count against when it is not the "
        "account: a subscriber's push service, the mail login writing to subscribers",
    )

    @property
    def delivery_key(self) -> str:
        """Unique per (alert, version, channel, account): the idempotency key of the post."""
        return f"{self.alert_id}:{self.version}:{self.channel}:{self.account}"

    @property
    def paced_as(self) -> str:
        """The lane, or the account: one post rate and one breaker each."""
        return self.lane or self.account

    @property
    def partition_key(self) -> bytes:
        """The Kafka key of this request on `deliveries.requests` (see delivery_partition_key):
        by lane, so one worker paces a push service's thousand subscribers as one."""
        return delivery_partition_key(self.channel, self.paced_as)


class DeliveryStatus(StrEnum):
    SENT = "sent"
    DEAD = "dead"  # gave up after the last attempt, or refused by the network
    UNKNOWN = "unknown"  # may or may not have been posted; a person decides
    SKIPPED = "skipped"  # nothing to do on this account (e.g. ending an alert it never showed)
    PAUSED = "paused"  # held by a pause switch; a later receipt says how it ended
    DROPPED = "dropped"  # a person decided it must not go out, or the alert ended first
    WARNING = "warning"  # not a delivery: the periodic check found this account unusable


class Receipt(_Message):
    """What a channel answered (deliveries.receipts, or deliveries.dead when it gave up)."""

    delivery_key: str
    alert_id: str
    version: int
    channel: str
    account: str
    status: DeliveryStatus
    post_id: str | None = None
    url: str | None = None
    attempts: int = 1
    latency_ms: float
    error: str | None = None
    at: UtcDateTime
    details: dict[str, Any] = Field(default_factory=dict)


def delivery_partition_key(channel: str, account: str) -> bytes:
    """The key of every message on `deliveries.requests`: the channel and the account.

    One (channel, account) then lives on one partition, owned by one worker at a time, so that
    worker alone holds the account's post rate and circuit breaker, and the versions of one alert
    on one account stay in order. Every producer of the topic (fan-out, pause release,
    `alertcast deliveries resolve`, the console) keys by this, never by the incident. Channel
    ids hold no colon, so the key reads back unambiguously.
    """
    return f"{channel}:{account}".encode()


def alert_id_for(incident_key: str) -> str:
    """A short stable id, safe in URLs and file names, derived from the incident key."""
    return hashlib.sha256(incident_key.encode()).hexdigest()[:16]


__all__ = [
    "AcceptedIncident",
    "Approval",
    "ChannelText",
    "DeliveryRequest",
    "DeliveryStatus",
    "Draft",
    "Receipt",
    "Rejection",
    "alert_id_for",
    "delivery_partition_key",
]
