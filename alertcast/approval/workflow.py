"""The decision state machine of one draft, as plain functions: draft in, decisions in, ticks in;
out come the new state, at most one approval to publish, audit events, and whether to call
the supervisors.

The approval agent keeps one `ApprovalState` per incident key in a Faust table and calls
these functions; tests call them with a fake clock. Every refusal is a value (an audit event
with `accepted=False` and a message a person can act on), never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from alertcast.approval.policy import Requirement
from alertcast.models.alert import Approval, ChannelText, Draft
from alertcast.models.decision import (
    ApprovalMode,
    AuditAction,
    AuditEvent,
    Decision,
    DecisionAction,
    DraftStatus,
    Role,
)
from alertcast.models.incident import Incident, UtcDateTime

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
    """One incident's current draft and what was decided about it (the Faust table's value)."""

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

    @property
    def approvals_needed(self) -> int:
        """A blocked draft under `auto` waits for one person."""
        return max(self.requirement.approvals_needed, 1 if self.requirement.mode is ApprovalMode.AUTO else 0)

    def due(self, now: datetime) -> bool:
        """Has a deadline passed that was not acted on yet (the timer sends a tick then)?"""
        if not self.status.open:
            return False
        expire, escalate = self.requirement.expire_after, self.requirement.escalate_after
        if expire is not None and now >= self.arrived_at + expire:
            return True
        return (
            escalate is not None
            and self.status is DraftStatus.PENDING
            and self.escalated_at is None
            and now >= self.arrived_at + escalate
        )


@dataclass
class Step:
    state: ApprovalState | None
    approval: Approval | None = None
    audit: list[AuditEvent] = field(default_factory=list)
    escalate: bool = False


def text_key(channel: str, language: str) -> str:
    return f"{channel}/{language}"


def unpublishable(draft: Draft, edited: list[str] | None = None) -> str | None:
    """Why this draft cannot be published as it is, or None."""
    if not draft.texts:
        return "no channel text was rendered"
    if draft.blocked:
        rules = ", ".join(dict.fromkeys(f.rule for f in draft.findings if f.blocking)) or "charter"
        return f"the charter blocks the incident itself ({rules}): the issuer must send a corrected version"
    for text in draft.texts:
        if text.blocked and text_key(text.channel, text.language) in (edited or []):
            return f"the edited {text.channel} text ({text.language}) is blocked: {text.reason}"
    if all(text.blocked for text in draft.texts):
        reasons = "; ".join(dict.fromkeys(text.reason for text in draft.texts if text.reason))
        return f"every text is blocked, edit at least one: {reasons}"
    return None


def receive_draft(
    previous: ApprovalState | None, draft: Draft, requirement: Requirement, now: datetime
) -> Step:
    """A new draft (or a replay of one already seen, which changes nothing)."""
    if previous is not None and previous.draft.version >= draft.version:
        return Step(previous)
    events: list[AuditEvent] = []
    if previous is not None and previous.status.open:
        events.append(
            _event(
                previous,
                now,
                POLICY_ACTOR,
                AuditAction.SUPERSEDED,
                status=DraftStatus.SUPERSEDED,
                message=f"version {draft.version} replaced {previous.draft.version} before a decision",
            )
        )
    state = ApprovalState(draft=draft, requirement=requirement, status=DraftStatus.PENDING, arrived_at=now)
    if not draft.texts:
        state.status, state.closed_at = DraftStatus.REJECTED, now
        events.append(
            _event(state, now, POLICY_ACTOR, AuditAction.DRAFTED, message="no channel text rendered")
        )
        return Step(state, audit=events)
    blocked = unpublishable(draft)
    if requirement.mode is ApprovalMode.AUTO and blocked is None:
        events.append(
            _event(state, now, POLICY_ACTOR, AuditAction.DRAFTED, message="published at once (auto)")
        )
        return _publish(state, now, [POLICY_ACTOR + ":auto"], events)
    message = f"waits for {state.approvals_needed} approval(s)"
    if blocked is not None:
        message += f"; {blocked}"
    events.append(
        _event(state, now, POLICY_ACTOR, AuditAction.DRAFTED, message=message, details=_rule(state))
    )
    return Step(state, audit=events)


def _rule(state: ApprovalState) -> dict[str, object]:
    """The requirement, in the `drafted` audit event, so the console can mirror the state."""
    requirement = state.requirement
    return {
        "rule": requirement.rule,
        "mode": requirement.mode.value,
        "escalate_after_s": requirement.escalate_after.total_seconds()
        if requirement.escalate_after
        else None,
        "expire_after_s": requirement.expire_after.total_seconds() if requirement.expire_after else None,
    }


def decide(state: ApprovalState | None, decision: Decision, now: datetime, recheck: Recheck) -> Step:
    """Apply one person's decision (or a deadline tick) to the draft's state."""
    if decision.action is DecisionAction.TICK:
        return tick(state, now) if state is not None else Step(state)
    if state is None:
        return Step(None, audit=[_refusal_without_state(decision, now)])
    if decision.version != state.draft.version:
        return _refuse(
            state, decision, now, f"version {state.draft.version} is the current one, reload the draft"
        )
    if not state.status.open:
        return _refuse(state, decision, now, f"this draft is already {state.status.value}")
    if decision.action is DecisionAction.EDIT:
        return _edit(state, decision, now, recheck)
    if decision.action is DecisionAction.APPROVE:
        return _approve(state, decision, now)
    if decision.action is DecisionAction.REJECT:
        if not decision.reason.strip():
            return _refuse(state, decision, now, "a rejection needs a reason")
        state.status, state.closed_at = DraftStatus.REJECTED, now
        return Step(state, audit=[_accepted(state, decision, now, message=decision.reason)])
    if decision.action is DecisionAction.HOLD:
        state.status, state.held_by = DraftStatus.HELD, decision.actor
        return Step(state, audit=[_accepted(state, decision, now, message=decision.reason)])
    # RELEASE
    if state.status is not DraftStatus.HELD:
        return _refuse(state, decision, now, "this draft is not on hold")
    state.status, state.held_by = DraftStatus.PENDING, None
    return Step(state, audit=[_accepted(state, decision, now, message=decision.reason)])


def tick(state: ApprovalState, now: datetime) -> Step:
    """Deadlines: expire an unapproved draft, or call the supervisors once."""
    if not state.due(now):
        return Step(state)
    expire = state.requirement.expire_after
    if expire is not None and now >= state.arrived_at + expire:
        state.status, state.closed_at = DraftStatus.EXPIRED, now
        message = f"not approved within {_minutes(expire)} (rule {state.requirement.rule})"
        return Step(state, audit=[_event(state, now, DEADLINE_ACTOR, AuditAction.EXPIRED, message=message)])
    state.escalated_at = now
    after = state.requirement.escalate_after
    message = f"no decision within {_minutes(after) if after else '?'}: supervisors called"
    event = _event(state, now, DEADLINE_ACTOR, AuditAction.ESCALATED, message=message)
    return Step(state, audit=[event], escalate=True)


def refusal_for_approval(state: ApprovalState, decision: Decision) -> str | None:
    """Why this person cannot approve now, or None. The web asks it too, to answer at once."""
    if not APPROVER_ROLES.intersection(decision.roles):
        return "only a communicator or a supervisor can approve"
    if state.status is DraftStatus.HELD:
        return f"on hold by {state.held_by}: release it first"
    blocked = unpublishable(state.draft, state.edited)
    if blocked is not None:
        return blocked
    if any(mark.user == decision.actor for mark in state.approvals):
        return "you already approved this draft: the second approval must come from another person"
    if state.approvals_needed == 2 and len(state.approvals) == 1:
        first = state.approvals[0]
        if Role.SUPERVISOR not in first.roles and Role.SUPERVISOR not in decision.roles:
            return "a two-person rule needs a supervisor for one of the two approvals"
    return None


def _approve(state: ApprovalState, decision: Decision, now: datetime) -> Step:
    refusal = refusal_for_approval(state, decision)
    if refusal is not None:
        return _refuse(state, decision, now, refusal)
    state.approvals.append(Mark(user=decision.actor, roles=decision.roles, at=now))
    remaining = state.approvals_needed - len(state.approvals)
    given = _accepted(
        state, decision, now, message=f"{remaining} more approval(s) needed" if remaining else ""
    )
    given.details["roles"] = [role.value for role in decision.roles]
    if remaining > 0:
        return Step(state, audit=[given])
    return _publish(state, now, [mark.user for mark in state.approvals], [given])


def _edit(state: ApprovalState, decision: Decision, now: datetime, recheck: Recheck) -> Step:
    if decision.channel is None or decision.language is None or decision.text is None:
        return _refuse(state, decision, now, "an edit names a channel, a language and the new text")
    if state.status is DraftStatus.HELD:
        return _refuse(state, decision, now, f"on hold by {state.held_by}: release it first")
    index = next(
        (
            i
            for i, text in enumerate(state.draft.texts)
            if text.channel == decision.channel and text.language == decision.language
        ),
        None,
    )
    if index is None:
        return _refuse(
            state, decision, now, f"this draft has no {decision.channel} text in {decision.language}"
        )
    before = state.draft.texts[index]
    after = recheck(decision.channel, decision.text, decision.language, state.draft.incident, before.limit)
    texts = list(state.draft.texts)
    texts[index] = after
    state.draft = state.draft.model_copy(update={"texts": texts})
    key = text_key(decision.channel, decision.language)
    if key not in state.edited:
        state.edited.append(key)
    message = f"blocked: {after.reason}" if after.blocked else "the charter finds nothing blocking"
    if state.approvals:
        message += "; earlier approvals were of the old text and are withdrawn"
        state.approvals = []
    event = _accepted(state, decision, now, message=message)
    event.before, event.after = before, after
    return Step(state, audit=[event])


def _publish(state: ApprovalState, now: datetime, approvers: list[str], events: list[AuditEvent]) -> Step:
    state.status, state.closed_at = DraftStatus.PUBLISHED, now
    approval = Approval(
        draft=state.draft, approved_by=approvers, approved_at=now, policy=state.requirement.rule
    )
    waited = (now - state.arrived_at).total_seconds()
    events.append(
        _event(
            state,
            now,
            approvers[-1],
            AuditAction.PUBLISHED,
            message=f"approved by {', '.join(approvers)} after {waited:.0f} s",
            details={"waited_s": waited},
        )
    )
    return Step(state, approval=approval, audit=events)


def _event(
    state: ApprovalState,
    now: datetime,
    actor: str,
    action: AuditAction,
    *,
    message: str = "",
    status: DraftStatus | None = None,
    accepted: bool = True,
    decision: Decision | None = None,
    details: dict[str, object] | None = None,
) -> AuditEvent:
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
        status=status or state.status,
        policy=f"{state.requirement.rule} ({state.requirement.mode.value})",
        approvers=[mark.user for mark in state.approvals],
        channel=decision.channel if decision else None,
        language=decision.language if decision else None,
        details=dict(details or {}),
    )


def _accepted(state: ApprovalState, decision: Decision, now: datetime, *, message: str = "") -> AuditEvent:
    return _event(
        state, now, decision.actor, AuditAction(decision.action.value), message=message, decision=decision
    )


def _refuse(state: ApprovalState, decision: Decision, now: datetime, message: str) -> Step:
    event = _event(
        state,
        now,
        decision.actor,
        AuditAction(decision.action.value),
        message=message,
        accepted=False,
        decision=decision,
    )
    return Step(state, audit=[event])


def _refusal_without_state(decision: Decision, now: datetime) -> AuditEvent:
    return AuditEvent(
        at=now,
        actor=decision.actor,
        action=AuditAction(decision.action.value),
        incident_key=decision.incident_key,
        alert_id=decision.alert_id,
        version=decision.version,
        decision_id=decision.decision_id,
        accepted=False,
        message="no draft is known for this incident",
    )


def _minutes(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
