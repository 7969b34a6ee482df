"""The decision state machine of one draft, as plain functions: draft in, decisions in, ticks in;
out come the new state, at most one approval to publish, audit events, and whether to call
the supervisors.

The approval agent keeps one `ApprovalState` per incident key in a Faust table and calls
these functions; tests call them with a fake clock. Every refusal is a value (an audit event
with `accepted=False` and a message a person can act on), never an exception. An approval may
name a publication time: the draft is then SCHEDULED and a later tick publishes it (the rules
of times, moving and cancelling are in `schedule`; the state and events in `state`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alertcast.approval import schedule
from alertcast.approval.policy import Requirement
from alertcast.approval.state import (
    APPROVER_ROLES,
    DEADLINE_ACTOR,
    POLICY_ACTOR,
    ApprovalState,
    Mark,
    Recheck,
    Step,
    accepted,
    event,
    minutes,
    publish,
    refusal_without_state,
    refuse,
    status_said,
)
from alertcast.i18n import N_, said
from alertcast.models.alert import ChannelText, Draft
from alertcast.models.decision import (
    ApprovalMode,
    AuditAction,
    AuditEvent,
    Decision,
    DecisionAction,
    DraftStatus,
    Role,
)
from alertcast.models.problem import Problem

__all__ = [
    "APPROVER_ROLES",
    "DEADLINE_ACTOR",
    "POLICY_ACTOR",
    "ApprovalState",
    "Mark",
    "Recheck",
    "Step",
    "decide",
    "receive_draft",
    "refusal_for_approval",
    "text_key",
    "tick",
    "unpublishable",
]


def text_key(channel: str, language: str) -> str:
    return f"{channel}/{language}"


def _blocked(text: ChannelText) -> dict[str, Any]:
    """Why `text` is blocked, as a message value (said again in each reader's language)."""
    return {"message": text.reason, "message_id": text.reason_id, "params": text.params}


def unpublishable(draft: Draft, edited: list[str] | None = None) -> Problem | None:
    """Why this draft cannot be published as it is, or None."""
    if not draft.texts:
        return Problem.said("texts", "approval.no_text", N_("no channel text was rendered"))
    if draft.blocked:
        rules = ", ".join(dict.fromkeys(f.rule for f in draft.findings if f.blocking)) or "charter"
        return Problem.said(
            "findings",
            "approval.incident_blocked",
            N_(
                "the charter blocks the incident itself (%(rules)s): the issuer must send a corrected version"
            ),
            rules=rules,
        )
    for text in draft.texts:
        if text.blocked and text_key(text.channel, text.language) in (edited or []):
            return Problem.said(
                "texts",
                "approval.edited_blocked",
                N_("the edited %(channel)s text (%(language)s) is blocked: %(reason)s"),
                channel=text.channel,
                language=text.language,
                reason=_blocked(text),
            )
    if all(text.blocked for text in draft.texts):
        reasons = {text.reason: _blocked(text) for text in draft.texts if text.reason}
        return Problem.said(
            "texts",
            "approval.all_blocked",
            N_("every text is blocked, edit at least one: %(reasons)s"),
            reasons=list(reasons.values()),
        )
    return None


def receive_draft(
    previous: ApprovalState | None, draft: Draft, requirement: Requirement, now: datetime
) -> Step:
    """A new draft (or a replay of one already seen, which changes nothing)."""
    if previous is not None and previous.draft.version >= draft.version:
        return Step(previous)
    events: list[AuditEvent] = []
    if previous is not None and previous.status.open:
        versions = {"version": draft.version, "previous": previous.draft.version}
        words = said(N_("version %(version)s replaced %(previous)s before a decision"), **versions)
        if previous.status is DraftStatus.SCHEDULED and previous.publish_at:
            words = said(
                N_(
                    "version %(version)s replaced %(previous)s before a decision"
                    " (it was to be published at %(at)s)"
                ),
                **versions,
                at=previous.publish_at,
            )
        events.append(
            event(previous, now, POLICY_ACTOR, AuditAction.SUPERSEDED, status=DraftStatus.SUPERSEDED, **words)
        )
    state = ApprovalState(draft=draft, requirement=requirement, status=DraftStatus.PENDING, arrived_at=now)
    if not draft.texts:
        state.status, state.closed_at = DraftStatus.REJECTED, now
        events.append(
            event(state, now, POLICY_ACTOR, AuditAction.DRAFTED, **said(N_("no channel text rendered")))
        )
        return Step(state, audit=events)
    blocked = unpublishable(draft)
    if requirement.mode is ApprovalMode.AUTO and blocked is None:
        events.append(
            event(state, now, POLICY_ACTOR, AuditAction.DRAFTED, **said(N_("published at once (auto)")))
        )
        return publish(state, now, [POLICY_ACTOR + ":auto"], events)
    words = (
        said(N_("waits for %(count)s approval(s)"), count=state.approvals_needed)
        if blocked is None
        else said(
            N_("waits for %(count)s approval(s); %(problem)s"),
            count=state.approvals_needed,
            problem=blocked.model_dump(mode="json", include={"message", "message_id", "params"}),
        )
    )
    details = _rule(state) | _about(draft)
    events.append(event(state, now, POLICY_ACTOR, AuditAction.DRAFTED, details=details, **words))
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


def _about(draft: Draft) -> dict[str, object]:
    """What the duty desk needs to call someone about a waiting draft (which service's rota,
    what to say), in the `drafted` event: the duty shell follows the audit log only."""
    main = draft.incident.main_info
    return {
        "headline": main.headline if main else draft.incident_key,
        "category": main.category.value if main else None,
        "severity": main.severity.value if main else None,
        "source": draft.incident.source,
        "incident_status": draft.incident.status.value,
    }


def decide(state: ApprovalState | None, decision: Decision, now: datetime, recheck: Recheck) -> Step:
    """Apply one person's decision (or a deadline tick) to the draft's state."""
    if decision.action is DecisionAction.TICK:
        return tick(state, now) if state is not None else Step(state)
    if state is None:
        return Step(None, audit=[refusal_without_state(decision, now)])
    if decision.version != state.draft.version:
        return refuse(
            state,
            decision,
            now,
            Problem.said(
                "version",
                "approval.stale_version",
                N_("version %(current)s is the current one, reload the draft"),
                value=decision.version,
                current=state.draft.version,
            ),
        )
    if not state.status.open:
        return refuse(
            state,
            decision,
            now,
            Problem.said(
                "action",
                "approval.closed",
                N_("this draft is already %(status)s"),
                value=decision.action.value,
                status=status_said(state.status),
            ),
        )
    if decision.action is DecisionAction.RESCHEDULE:
        return schedule.reschedule(state, decision, now)
    if decision.action is DecisionAction.UNSCHEDULE:
        return schedule.unschedule(state, decision, now)
    if state.status is DraftStatus.SCHEDULED and decision.action is not DecisionAction.REJECT:
        return schedule.while_scheduled(state, decision, now)
    if decision.action is DecisionAction.EDIT:
        return _edit(state, decision, now, recheck)
    if decision.action is DecisionAction.APPROVE:
        return _approve(state, decision, now)
    if decision.action is DecisionAction.REJECT:
        if not decision.reason.strip():
            refusal = Problem.said("reason", "approval.reason_missing", N_("a rejection needs a reason"))
            return refuse(state, decision, now, refusal)
        state.status, state.closed_at = DraftStatus.REJECTED, now
        return Step(state, audit=[accepted(state, decision, now, message=decision.reason)])
    # HOLD, RELEASE: a scheduled draft was sent to `while_scheduled` above
    if decision.action is DecisionAction.HOLD:
        state.status, state.held_by = DraftStatus.HELD, decision.actor
        return Step(state, audit=[accepted(state, decision, now, message=decision.reason)])
    # RELEASE
    if state.status is not DraftStatus.HELD:
        refusal = Problem.said(
            "action", "approval.not_held", N_("this draft is not on hold"), value=decision.action.value
        )
        return refuse(state, decision, now, refusal)
    state.status, state.held_by = DraftStatus.PENDING, None
    return Step(state, audit=[accepted(state, decision, now, message=decision.reason)])


def tick(state: ApprovalState, now: datetime) -> Step:
    """Times: publish a scheduled draft, expire an unapproved one, or call the supervisors once."""
    if not state.due(now):
        return Step(state)
    if state.status is DraftStatus.SCHEDULED:
        return schedule.fire(state, now)
    expire = state.requirement.expire_after
    if expire is not None and now >= state.waiting_since + expire:
        state.status, state.closed_at = DraftStatus.EXPIRED, now
        words = said(
            N_("not approved within %(delay)s (rule %(rule)s)"),
            delay=minutes(expire),
            rule=state.requirement.rule,
        )
        return Step(state, audit=[event(state, now, DEADLINE_ACTOR, AuditAction.EXPIRED, **words)])
    state.escalated_at = now
    after = state.requirement.escalate_after
    words = said(
        N_("no decision within %(delay)s: supervisors called"), delay=minutes(after) if after else "?"
    )
    called = event(state, now, DEADLINE_ACTOR, AuditAction.ESCALATED, **words)
    return Step(state, audit=[called], escalate=True)


def _held(state: ApprovalState, decision: Decision) -> Problem:
    return Problem.said(
        "action",
        "approval.held",
        N_("on hold by %(person)s: release it first"),
        value=decision.action.value,
        person=state.held_by or "?",
    )


def refusal_for_approval(state: ApprovalState, decision: Decision) -> Problem | None:
    """Why this person cannot approve now, or None. The web asks it too, to answer at once."""
    if not APPROVER_ROLES.intersection(decision.roles):
        return Problem.said(
            "roles",
            "approval.role",
            N_("only a communicator or a supervisor can approve"),
            value=[role.value for role in decision.roles],
        )
    if state.status is DraftStatus.HELD:
        return _held(state, decision)
    if state.status is DraftStatus.SCHEDULED:
        return Problem.said(
            "action",
            "schedule.scheduled",
            N_("already approved, to be published at %(at)s: reschedule or unschedule it"),
            value=decision.action.value,
            at=state.publish_at or state.arrived_at,
        )
    blocked = unpublishable(state.draft, state.edited)
    if blocked is not None:
        return blocked
    if any(mark.user == decision.actor for mark in state.approvals):
        return Problem.said(
            "actor",
            "approval.same_person",
            N_("you already approved this draft: the second approval must come from another person"),
            value=decision.actor,
        )
    if state.approvals_needed == 2 and len(state.approvals) == 1:
        first = state.approvals[0]
        if Role.SUPERVISOR not in first.roles and Role.SUPERVISOR not in decision.roles:
            return Problem.said(
                "roles",
                "approval.supervisor",
                N_("a two-person rule needs a supervisor for one of the two approvals"),
                value=[role.value for role in decision.roles],
            )
    return None


def _approve(state: ApprovalState, decision: Decision, now: datetime) -> Step:
    """An approval, at once or for a time (`publish_at`, `before_onset_minutes`). Under a
    two-person rule either approver may give the time (the latest given stands); the draft is
    scheduled when the last approval needed arrives, and the next tick publishes it, even when
    that time has already come (see `schedule`: only ticks publish a scheduled draft)."""
    refusal = refusal_for_approval(state, decision)
    if refusal is not None:
        return refuse(state, decision, now, refusal)
    planned = schedule.planned_time(decision, state.draft.incident, now)
    if isinstance(planned, Problem):
        return refuse(state, decision, now, planned)
    state.approvals.append(Mark(user=decision.actor, roles=decision.roles, at=now))
    if planned is not None:
        state.publish_at, state.scheduled_by = planned, decision.actor
    remaining = state.approvals_needed - len(state.approvals)
    later = state.publish_at is not None
    if remaining <= 0 and later:
        state.status = DraftStatus.SCHEDULED
    given = accepted(state, decision, now, **_approved(remaining, state.publish_at, state.scheduled_by))
    given.details |= {"roles": [role.value for role in decision.roles]} | schedule.details(state)
    if remaining > 0 or later:
        return Step(state, audit=[given])
    return publish(state, now, [mark.user for mark in state.approvals], [given])


def _approved(remaining: int, publish_at: datetime | None, by: str | None) -> dict[str, Any]:
    """An approval's message: the approvals still needed, the time it is to be published at."""
    later = {"at": publish_at, "person": by or "?"}
    if remaining > 0 and publish_at is not None:
        return said(
            N_("%(count)s more approval(s) needed; to be published at %(at)s (set by %(person)s)"),
            count=remaining,
            **later,
        )
    if remaining > 0:
        return said(N_("%(count)s more approval(s) needed"), count=remaining)
    if publish_at is not None:
        return said(N_("to be published at %(at)s (set by %(person)s)"), **later)
    return {}


def _edit(state: ApprovalState, decision: Decision, now: datetime, recheck: Recheck) -> Step:
    if decision.channel is None or decision.language is None or decision.text is None:
        refusal = Problem.said(
            "text", "approval.edit_incomplete", N_("an edit names a channel, a language and the new text")
        )
        return refuse(state, decision, now, refusal)
    if state.status is DraftStatus.HELD:
        return refuse(state, decision, now, _held(state, decision))
    index = next(
        (
            i
            for i, text in enumerate(state.draft.texts)
            if text.channel == decision.channel and text.language == decision.language
        ),
        None,
    )
    if index is None:
        refusal = Problem.said(
            "channel",
            "approval.no_such_text",
            N_("this draft has no %(channel)s text in %(language)s"),
            value=decision.channel,
            channel=decision.channel,
            language=decision.language,
        )
        return refuse(state, decision, now, refusal)
    before = state.draft.texts[index]
    after = recheck(decision.channel, decision.text, decision.language, state.draft.incident, before.limit)
    texts = list(state.draft.texts)
    texts[index] = after
    state.draft = state.draft.model_copy(update={"texts": texts})
    key = text_key(decision.channel, decision.language)
    if key not in state.edited:
        state.edited.append(key)
    withdrawn = bool(state.approvals)
    if withdrawn:
        state.approvals, state.publish_at, state.scheduled_by = [], None, None
    if after.blocked:
        words = said(
            N_("blocked: %(reason)s; earlier approvals were of the old text and are withdrawn")
            if withdrawn
            else N_("blocked: %(reason)s"),
            reason=_blocked(after),
        )
    else:
        words = said(
            N_("the charter finds nothing blocking; earlier approvals were of the old text and are withdrawn")
            if withdrawn
            else N_("the charter finds nothing blocking")
        )
    edited = accepted(state, decision, now, **words)
    edited.before, edited.after = before, after
    return Step(state, audit=[edited])
