"""What people (and the deadline timer) decide about drafts, what the audit log keeps, and the
approval policy's shape.

`Decision` is the value of `alerts.decisions`, keyed by incident key like
`incidents.submitted`, so the approval state ingest writes for a draft and every decision
about it are on one partition number (alertcast.stream.approval).
`AuditEvent` is the value of `audit.events` (kept forever): who did what, when, and for an
edit the text before and after. The policy models are here because the console shows them
and the worker applies them: one definition for both processes.
"""

from __future__ import annotations

import fnmatch
import uuid
from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alertcast.i18n import N_, as_params
from alertcast.models.alert import ChannelText
from alertcast.models.incident import Category, Severity, UtcDateTime
from alertcast.models.problem import refusal

MAX_BEFORE_ONSET_MINUTES = 7 * 24 * 60


class Role(StrEnum):
    OPERATOR = "operator"  # submits incidents, sees their own
    COMMUNICATOR = "communicator"  # edits and approves drafts
    SUPERVISOR = "supervisor"  # second approval of a two-person rule, policies, audit
    ADMIN = "admin"  # users and keys


class DecisionAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    EDIT = "edit"
    HOLD = "hold"
    RELEASE = "release"  # ends a hold
    TICK = "tick"  # the timer: escalate, expire, or publish a scheduled draft when its time came
    RESCHEDULE = "reschedule"  # moves the publication time of a scheduled draft
    UNSCHEDULE = "unschedule"  # cancels a scheduled publication: the draft waits for approval again


class Decision(BaseModel):
    """One decision about one version of a draft (alerts.decisions)."""

    model_config = ConfigDict(extra="forbid")

    decision_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    incident_key: str
    alert_id: str
    version: int = Field(ge=1)
    action: DecisionAction
    actor: str = Field(min_length=1, description='a console user, or "system:deadline" for ticks')
    roles: list[Role] = Field(default_factory=list, description="the actor's roles when deciding")
    at: UtcDateTime
    reason: str = Field(default="", max_length=2_000, description="why (required to reject)")
    channel: str | None = Field(default=None, description="edit: the channel whose text changes")
    language: str | None = Field(default=None, description="edit: the language of that text")
    text: str | None = Field(default=None, max_length=10_000, description="edit: the new text")
    publish_at: UtcDateTime | None = Field(
        default=None,
        description="approve, reschedule: publish at this time rather than at once (UTC offset required)",
    )
    before_onset_minutes: int | None = Field(
        default=None,
        ge=0,
        le=MAX_BEFORE_ONSET_MINUTES,
        description="approve, reschedule: publish this many minutes before the alert's earliest onset "
        "(resolved to a time when the decision is applied; not with publish_at)",
    )


class AuditAction(StrEnum):
    DRAFTED = "drafted"
    APPROVE = "approve"
    REJECT = "reject"
    EDIT = "edit"
    HOLD = "hold"
    RELEASE = "release"
    RESCHEDULE = "reschedule"
    UNSCHEDULE = "unschedule"
    PUBLISHED = "published"
    ESCALATED = "escalated"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    SUBMITTED = "submitted"  # an alert written by hand in the console
    RETRY = "retry"  # a delivery sent again from the console
    PAUSE = "pause"  # deliveries of a channel, an account or everything held
    RESUME = "resume"
    DROP = "drop"  # a held, dead or unknown delivery that must not go out
    LOGIN = "login"  # a console login after failed attempts (maybe a guess that worked)
    LOGIN_FAILED = "login_failed"  # a wrong name or password (actor "?" for a name no user has)
    LOGIN_THROTTLED = "login_throttled"  # attempts refused unread while a throttle delay runs
    LOGOUT = "logout"  # a session ended: details.session is its revocation id, refused from then on
    SUBSCRIBER_ERASED = "subscriber_erased"  # a citizen's subscriptions erased on request (ids only)
    NOTIFIED = "notified"  # a person on duty called about a waiting draft (details: stage, person, channels)
    ACKNOWLEDGED = "acknowledged"  # a duty call answered from its link: the escalation stops
    # Citizens' replies (the console's inbox): a person's acts, recorded only.
    REPLY_ANSWERED = "reply_answered"  # a conversation answered outside alertcast (its circuit stops)
    REPLY_ASSIGNED = "reply_assigned"  # a conversation handed to another competent service
    REPLY_MODERATED = "reply_moderated"  # a person's verdict replacing the charter's (keep/flag/hide)
    # Acting on the network from the inbox (alertcast.replies.actions): asked, then what became of it.
    REPLY_ACTION_REQUESTED = "reply_action_requested"  # hide, unhide or answer asked by a person
    REPLY_ACTED = "reply_acted"  # the worker's outcome (details.state: done/refused/unknown/failed)
    # The 72-hour circuit (alertcast.replies.circuit): a conversation nobody answered, called out.
    REPLY_CIRCUIT_WARNED = "reply_circuit_warned"  # the service's person on duty, before the deadline
    REPLY_CIRCUIT_MISSED = "reply_circuit_missed"  # the supervisor, once the deadline has passed


class DraftStatus(StrEnum):
    PENDING = "pending"
    HELD = "held"
    SCHEDULED = "scheduled"  # approved, published by the timer at `publish_at`
    PUBLISHED = "published"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"

    @property
    def open(self) -> bool:
        """Not published nor closed yet: a new version supersedes it, the timer watches it."""
        return self in (DraftStatus.PENDING, DraftStatus.HELD, DraftStatus.SCHEDULED)


class AuditEvent(BaseModel):
    """One line of the audit log (audit.events). `accepted=False` is a refused decision, with
    `message` saying why: refusals are kept too, they are part of what happened.

    `message` is English, as every consumer of the log reads it, or a person's own words (a
    rejection's reason). Worded by a msgid (`**i18n.said(N_("..."), name=value)` given to the
    constructor or to the approval's `event`/`accepted`), it also keeps the msgid and its values,
    so the console says it again in the reader's language (`alertcast.explanations.explain`);
    events stored before they were kept have neither and are shown as stored."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    at: UtcDateTime
    actor: str
    action: AuditAction
    incident_key: str = Field(default="", description="empty for events about no alert (a pause)")
    alert_id: str = ""
    version: int | None = None
    decision_id: str | None = None
    accepted: bool = True
    message: str = ""
    message_id: str = Field(
        default="",
        description="the msgid `message` renders (empty: a person's words, or not from the catalogs)",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="the values the msgid names")
    status: DraftStatus | None = Field(default=None, description="the draft's status after this event")
    policy: str = ""
    approvers: list[str] = Field(default_factory=list)
    channel: str | None = None
    language: str | None = None
    before: ChannelText | None = None
    after: ChannelText | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("params", mode="after")
    @classmethod
    def _params(cls, params: dict[str, Any]) -> dict[str, Any]:
        """Date-times as their English text (ISO 8601, UTC): the same before and after JSON."""
        return as_params(params)


class ApprovalMode(StrEnum):
    AUTO = "auto"  # published at once, reviewed afterwards
    ONE = "one"
    TWO = "two"  # two distinct people, one of them a supervisor


class PolicyRule(BaseModel):
    """Drafts matching every given filter (empty = any) need `approval`. First match wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    categories: list[Category] = Field(default_factory=list)
    severities: list[Severity] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, description="intake sources; * and ? patterns allowed")
    approval: ApprovalMode
    escalate_after: timedelta | None = Field(
        default=None, description="seconds or ISO 8601 (PT15M): then supervisors are called"
    )
    expire_after: timedelta | None = Field(
        default=None, description="seconds or ISO 8601 (PT2H): then an unapproved draft expires"
    )

    @model_validator(mode="after")
    def _auto_is_for_trusted_extreme(self) -> PolicyRule:
        """Publishing without a person is allowed for trusted sources' extreme alerts only (a
        minute saved matters there); everything else is read by someone first."""
        if self.approval is ApprovalMode.AUTO and (
            not self.sources or set(self.severities) != {Severity.EXTREME}
        ):
            raise refusal(
                "policy_auto",
                N_("rule %(name)s: approval 'auto' needs trusted `sources` and `severities: [Extreme]`"),
                name=repr(self.name),
            )
        if (
            self.escalate_after is not None
            and self.expire_after is not None
            and self.escalate_after >= self.expire_after
        ):
            raise refusal(
                "policy_deadlines",
                N_("rule %(name)s: escalate_after must come before expire_after"),
                name=repr(self.name),
            )
        return self

    def matches(self, category: Category | None, severity: Severity, source: str) -> bool:
        return (
            (not self.categories or category in self.categories)
            and (not self.severities or severity in self.severities)
            and (not self.sources or any(fnmatch.fnmatchcase(source, p) for p in self.sources))
        )


class Escalation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    webhooks: list[str] = Field(default_factory=list, description="POSTed a JSON summary of the draft")


class PolicyConfig(BaseModel):
    """The policy file (deploy/policy.example.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[PolicyRule] = Field(default_factory=list)
    default: PolicyRule = Field(
        default_factory=lambda: PolicyRule(
            name="default",
            approval=ApprovalMode.ONE,
            escalate_after=timedelta(minutes=15),
            expire_after=timedelta(hours=2),
        ),
        description="when no rule matches",
    )
    escalation: Escalation = Field(default_factory=Escalation)

    @model_validator(mode="after")
    def _unique_names(self) -> PolicyConfig:
        names = [rule.name for rule in [*self.rules, self.default]]
        if len(set(names)) != len(names):
            raise refusal("policy_names", N_("two rules share a name"))
        return self


__all__ = [
    "ApprovalMode",
    "AuditAction",
    "AuditEvent",
    "Decision",
    "DecisionAction",
    "DraftStatus",
    "Escalation",
    "PolicyConfig",
    "PolicyRule",
    "Role",
]
