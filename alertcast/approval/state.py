"""One draft's approval state (the `approval_state` table's value) and the audit events every
transition writes.

Shared by `workflow` (drafts, approvals, edits, deadlines) and `schedule` (publication at a
time): both build the same events and publish the same way, so a scheduled publication reaches
`alerts.approved` and the audit log exactly like an immediate one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alertcast.approval.policy import Requirement
from alertcast.i18n import N_, said, term
from alertcast.models.alert import Approval, ChannelText, Draft
from alertcast.models.decision import (
    ApprovalMode,
    AuditAction,
    AuditEvent,
    Decision,
    DraftStatus,
    Role,
)
from alertcast.models.incident import Incident, UtcDateTime
from alertcast.models.problem import Problem

POLICY_ACTOR = "policy"
DEADLINE_ACTOR = "system:deadline"
APPROVER_ROLES = frozenset({Role.COMMUNICATOR, Role.SUPERVISOR})

#: check_edit's shape: (channel, text, language, incident, limit) -> the text counted and checked.
Recheck = Callable[[str, str, str, Incident, int | None], ChannelText]


class Mark(BaseModel):
    """One approval given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str
    roles: list[Role]
    at: UtcDateTime


class ApprovalState(BaseModel):
    """One incident's current draft and what was decided about it (the Faust table's value).

    Fields added after the first release have defaults, so states stored by an earlier version
    still load from the table's changelog."""

    model_config = ConfigDict(extra="forbid")

    draft: Draft = Field(description="the latest version, with the communicators' edits applied")
    requirement: Requirement
    status: DraftStatus
    arrived_at: UtcDateTime
    approvals: list[Mark] = Field(default_factory=list)
    edited: list[str] = Field(default_factory=list, description="channel/language of edited texts")
    held_by: str | None = None
    escalated_at: UtcDateTime | None = None
    closed_at: UtcDateTime | None = None
    publish_at: UtcDateTime | None = Field(
        default=None, description="when the approved draft publishes (set by an approval or a reschedule)"
    )
    scheduled_by: str | None = Field(default=None, description="who set `publish_at`")
    reopened_at: UtcDateTime | None = Field(
        default=None, description="an unscheduled draft waits again from then: its deadlines restart"
    )

    @property
    def approvals_needed(self) -> int:
        """A blocked draft under `auto` waits for one person."""
        return max(self.requirement.approvals_needed, 1 if self.requirement.mode is ApprovalMode.AUTO else 0)

    @property
    def waiting_since(self) -> datetime:
        """Where the approval deadlines count from."""
        return self.reopened_at or self.arrived_at

    def due(self, now: datetime) -> bool:
        """Has a time passed that was not acted on yet (the timer sends a tick then)?"""
        if self.status is DraftStatus.SCHEDULED:
            return self.publish_at is not None and now >= self.publish_at
        if not self.status.open:
            return False
        expire, escalate = self.requirement.expire_after, self.requirement.escalate_after
        if expire is not None and now >= self.waiting_since + expire:
            return True
        return (
            escalate is not None
            and self.status is DraftStatus.PENDING
            and self.escalated_at is None
            and now >= self.waiting_since + escalate
        )


@dataclass
class Step:
    state: ApprovalState | None
    approval: Approval | None = None
    audit: list[AuditEvent] = field(default_factory=list)
    escalate: bool = False


def publish(state: ApprovalState, now: datetime, approvers: list[str], events: list[AuditEvent]) -> Step:
    """The approval for `alerts.approved`, and its `published` event; the same whether the
    last approval came now or the scheduled time did."""
    state.status, state.closed_at = DraftStatus.PUBLISHED, now
    approval = Approval(
        draft=state.draft, approved_by=approvers, approved_at=now, policy=state.requirement.rule
    )
    decided = max((mark.at for mark in state.approvals), default=now)
    waited = (decided - state.arrived_at).total_seconds()
    people, seconds = ", ".join(approvers), f"{waited:.0f}"
    words = said(N_("approved by %(people)s after %(seconds)s s"), people=people, seconds=seconds)
    details: dict[str, object] = {"waited_s": waited}
    if state.publish_at is not None:
        late = max((now - state.publish_at).total_seconds(), 0.0)
        words = said(
            N_("approved by %(people)s after %(seconds)s s; scheduled for %(at)s by %(person)s"),
            people=people,
            seconds=seconds,
            at=state.publish_at,
            person=state.scheduled_by or "?",
        )
        details |= {"publish_at": iso(state.publish_at), "scheduled_by": state.scheduled_by, "late_s": late}
    events.append(event(state, now, approvers[-1], AuditAction.PUBLISHED, details=details, **words))
    return Step(state, approval=approval, audit=events)


def event(
    state: ApprovalState,
    now: datetime,
    actor: str,
    action: AuditAction,
    *,
    message: str = "",
    message_id: str = "",
    params: Mapping[str, Any] | None = None,
    status: DraftStatus | None = None,
    accepted: bool = True,
    decision: Decision | None = None,
    details: dict[str, object] | None = None,
) -> AuditEvent:
    """An event about `state`'s draft. Its message is a person's words (`message=`), or worded
    by a msgid: `**said(N_("..."), name=value)` gives the English, the msgid and its values."""
    return AuditEvent(
        at=now,
        actor=actor,
        action=action,
        incident_key=state.draft.incident_key,
        alert_id=state.draft.alert_id,
        version=state.draft.version,
        decision_id=decision.decision_id if decision else None,
        accepted=accepted,
        message=message,
        message_id=message_id,
        params=dict(params or {}),
        status=status or state.status,
        policy=f"{state.requirement.rule} ({state.requirement.mode.value})",
        approvers=[mark.user for mark in state.approvals],
        channel=decision.channel if decision else None,
        language=decision.language if decision else None,
        details=dict(details or {}),
    )


def accepted(
    state: ApprovalState,
    decision: Decision,
    now: datetime,
    *,
    message: str = "",
    message_id: str = "",
    params: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """The event of `decision`, accepted: worded like `event`'s."""
    return event(
        state,
        now,
        decision.actor,
        AuditAction(decision.action.value),
        message=message,
        message_id=message_id,
        params=params,
        decision=decision,
    )


def refuse(state: ApprovalState, decision: Decision, now: datetime, problem: Problem) -> Step:
    """A refused decision, audited: its message is the problem's (then its hint), in English;
    the problem itself (the one error shape: the field, the rule, a hint, their msgids) is kept
    in `details.problem`, for the console to say it in the reader's language."""
    message = f"{problem.message}; {problem.hint}" if problem.hint else problem.message
    refusal = event(
        state,
        now,
        decision.actor,
        AuditAction(decision.action.value),
        message=message,
        accepted=False,
        decision=decision,
        details={"problem": problem.model_dump(mode="json")},
    )
    return Step(state, audit=[refusal])


#: A draft's status as a value of a refusal's message: its English word, said again in the
#: reader's (the console's status labels, the same msgids).
STATUS_WORDS = {
    DraftStatus.PENDING: N_("pending"),
    DraftStatus.SCHEDULED: N_("scheduled"),
    DraftStatus.HELD: N_("on hold"),
    DraftStatus.PUBLISHED: N_("published"),
    DraftStatus.REJECTED: N_("rejected"),
    DraftStatus.EXPIRED: N_("expired"),
    DraftStatus.SUPERSEDED: N_("superseded"),
}


def status_said(status: DraftStatus) -> dict[str, str]:
    """`status` as a message value (`Problem.said(..., status=status_said(s))`)."""
    return term(STATUS_WORDS[status], status.value)


def refusal_without_state(decision: Decision, now: datetime) -> AuditEvent:
    problem = Problem.said(
        "incident_key", "approval.unknown_draft", N_("no draft is known for this incident")
    )
    return AuditEvent(
        at=now,
        actor=decision.actor,
        action=AuditAction(decision.action.value),
        incident_key=decision.incident_key,
        alert_id=decision.alert_id,
        version=decision.version,
        decision_id=decision.decision_id,
        accepted=False,
        message=problem.message,
        details={"problem": problem.model_dump(mode="json")},
    )


def iso(when: datetime) -> str:
    """A time in audit messages: UTC, to the second (the console shows it in its own zone)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def minutes(delta: timedelta) -> dict[str, Any]:
    """A delay as a message value (`%(delay)s`): "15 min", "30 s"."""
    seconds = delta.total_seconds()
    if seconds >= 60:
        return said(N_("%(count)s min"), count=f"{seconds / 60:.0f}")
    return said(N_("%(count)s s"), count=f"{seconds:.0f}")
