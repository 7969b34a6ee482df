"""Scheduled publication: a communicator approves now, and the draft publishes at a time (or N
minutes before the alert's onset), e.g. the school-bus notice approved the evening before for
06:00.

The time is a field of the draft's `ApprovalState`, which lives in the Kafka-backed
`approval_state` table: a restarted or replacing worker knows it, nothing is kept in a timer's
memory. The approval agent's 1 s timer already sends a `tick` for every due draft (deadlines);
a scheduled draft is due at its time, and the tick publishes it through `state.publish`, so the
approval on `alerts.approved`, the delivery requests and the audit are those of an immediate
approval. Pause switches act downstream, on each delivery: a publication that fires while a
channel is paused is held there like any other.

Only a tick publishes a scheduled draft, never the decision that set or moved its time, even a
time already come (it then goes out on the next tick, within a second). Decisions are read at
least once: after a crash, those not yet committed are applied again, in order, and later
than first. Were a decision to publish when its time has come, a replayed "move to 08:00"
could publish at once because 08:00 passed meanwhile, before the replay of the "move to 09:00"
that followed it; ticks come after every decision already in the log, so they see the last.

A time is checked when it is given (an approval or a reschedule): not in the past beyond
`TOLERANCE` (a form sent a few seconds after the minute it names), before the alert's earliest
expiry, and "before onset" needs an onset. Refusals carry a `Problem` (the field, a stable rule
id for the catalogs, a hint) like every other input refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from alertcast.approval.state import (
    APPROVER_ROLES,
    DEADLINE_ACTOR,
    ApprovalState,
    Step,
    accepted,
    event,
    iso,
    publish,
    refuse,
    status_said,
)
from alertcast.i18n import N_, said
from alertcast.models.decision import AuditAction, AuditEvent, Decision, DraftStatus
from alertcast.models.incident import Incident
from alertcast.models.problem import Problem

TOLERANCE = timedelta(seconds=60)
"""How far in the past a time may be and still mean "now" (the minute a person typed has begun)."""


def earliest_onset(incident: Incident) -> datetime | None:
    return min((info.onset for info in incident.info if info.onset is not None), default=None)


def earliest_expiry(incident: Incident) -> datetime | None:
    """The first language to expire ends the alert for scheduling: no text goes out expired."""
    return min((info.expires for info in incident.info if info.expires is not None), default=None)


def planned_time(decision: Decision, incident: Incident, now: datetime) -> datetime | Problem | None:
    """The publication time `decision` asks for, None for "at once", or why it cannot be."""
    if decision.publish_at is not None and decision.before_onset_minutes is not None:
        return Problem.said(
            "before_onset_minutes",
            "schedule.two_times",
            N_("a publication time and a number of minutes before onset were both given"),
            N_("give one of publish_at or before_onset_minutes"),
            value=decision.before_onset_minutes,
        )
    value: object
    if decision.publish_at is not None:
        at, path, value = decision.publish_at, "publish_at", iso(decision.publish_at)
    elif decision.before_onset_minutes is not None:
        onset = earliest_onset(incident)
        path, value = "before_onset_minutes", decision.before_onset_minutes
        if onset is None:
            return Problem.said(
                path,
                "schedule.no_onset",
                N_("the alert gives no onset to count the minutes from"),
                N_("give the publication time itself (publish_at)"),
                value=value,
            )
        at = onset - timedelta(minutes=decision.before_onset_minutes)
    else:
        return None
    if at < now - TOLERANCE:
        return Problem.said(
            path,
            "schedule.past",
            N_("the publication time %(at)s has already passed (now %(now)s)"),
            N_("approve without a time to publish now, or give a later time"),
            value=value,
            at=at,
            now=now,
        )
    expiry = earliest_expiry(incident)
    if expiry is not None and at >= expiry:
        return Problem.said(
            path,
            "schedule.after_expiry",
            N_("the publication time %(at)s is not before the alert expires (%(expires)s)"),
            N_("give an earlier time, or ask the issuer for a version with a later expiry"),
            value=value,
            at=at,
            expires=expiry,
        )
    return at


def details(state: ApprovalState) -> dict[str, object]:
    """What an accepted approval or reschedule tells the console about the time."""
    if state.publish_at is None:
        return {}
    return {"publish_at": iso(state.publish_at), "scheduled_by": state.scheduled_by}


def while_scheduled(state: ApprovalState, decision: Decision, now: datetime) -> Step:
    """An edit, hold or approval of a scheduled draft: the approvals were of this text at that
    time, so the schedule is moved or cancelled first, never changed under it."""
    return refuse(
        state,
        decision,
        now,
        Problem.said(
            "action",
            "schedule.scheduled",
            N_("already approved, to be published at %(at)s"),
            N_("reschedule it, or unschedule it to edit, hold or approve it again"),
            value=decision.action.value,
            at=state.publish_at or state.arrived_at,
        ),
    )


def _not_for(state: ApprovalState, decision: Decision, now: datetime) -> Step | None:
    """Why this person cannot move or cancel this draft's schedule, as a refused step."""
    if not APPROVER_ROLES.intersection(decision.roles):
        problem = Problem.said(
            "roles",
            "schedule.role",
            N_("only a communicator or a supervisor can move or cancel a scheduled publication"),
            value=[role.value for role in decision.roles],
        )
        return refuse(state, decision, now, problem)
    if state.status is not DraftStatus.SCHEDULED:
        problem = Problem.said(
            "action",
            "schedule.not_scheduled",
            N_("this draft is not scheduled (it is %(status)s)"),
            N_("approve it with a time to schedule it"),
            value=decision.action.value,
            status=status_said(state.status),
        )
        return refuse(state, decision, now, problem)
    return None


def reschedule(state: ApprovalState, decision: Decision, now: datetime) -> Step:
    """A new time for a scheduled draft (one already come: the next tick publishes it)."""
    refused = _not_for(state, decision, now)
    if refused is not None:
        return refused
    planned = planned_time(decision, state.draft.incident, now)
    if planned is None:
        planned = Problem.said(
            "publish_at",
            "schedule.time_missing",
            N_("a reschedule needs the new time"),
            N_("give publish_at or before_onset_minutes; to stop the publication, unschedule it"),
        )
    if isinstance(planned, Problem):
        return refuse(state, decision, now, planned)
    before = state.publish_at
    state.publish_at, state.scheduled_by = planned, decision.actor
    moved = accepted(
        state,
        decision,
        now,
        **said(N_("moved from %(before)s to %(after)s"), before=before or now, after=planned),
    )
    moved.details |= details(state) | {"previous": iso(before) if before else None}
    return Step(state, audit=[moved])


def unschedule(state: ApprovalState, decision: Decision, now: datetime) -> Step:
    """The publication is cancelled: the draft waits again for every approval (they were given
    for that time), and its approval deadlines count from now."""
    refused = _not_for(state, decision, now)
    if refused is not None:
        return refused
    before = state.publish_at
    reopen(state, now)
    reason = decision.reason.strip()  # a person's words: a value, said as they wrote it
    message = (
        N_("not published at %(at)s; waits for %(count)s approval(s) again: %(reason)s")
        if reason
        else N_("not published at %(at)s; waits for %(count)s approval(s) again")
    )
    words = said(message, at=before or now, count=state.approvals_needed, reason=reason)
    cancelled = accepted(state, decision, now, **words)
    cancelled.details["previous"] = iso(before) if before else None
    return Step(state, audit=[cancelled])


def reopen(state: ApprovalState, now: datetime) -> None:
    state.status = DraftStatus.PENDING
    state.approvals, state.publish_at, state.scheduled_by = [], None, None
    state.reopened_at, state.escalated_at = now, None


def fire(state: ApprovalState, now: datetime) -> Step:
    """The time has come (the timer's tick): publish, unless the alert expired meanwhile (only
    when no worker ran between the time and the expiry): an expired alert is never posted."""
    expiry = earliest_expiry(state.draft.incident)
    if expiry is not None and now >= expiry:
        state.status, state.closed_at = DraftStatus.EXPIRED, now
        words = said(
            N_(
                "the alert expired (%(expires)s) before its scheduled publication (%(at)s) was made:"
                " nothing published"
            ),
            expires=expiry,
            at=state.publish_at or now,
        )
        return Step(state, audit=[event(state, now, DEADLINE_ACTOR, AuditAction.EXPIRED, **words)])
    approvers = [mark.user for mark in state.approvals] or [state.scheduled_by or DEADLINE_ACTOR]
    return publish(state, now, approvers, [])


def mirror(state: ApprovalState, audit: AuditEvent) -> None:
    """The schedule fields after an accepted audit event, for a read model that rebuilds the
    state from `audit.events` (the console); the status itself is in every event."""
    if not audit.accepted:
        return
    if audit.action is AuditAction.UNSCHEDULE:
        reopen(state, audit.at)
    elif audit.action in (AuditAction.APPROVE, AuditAction.RESCHEDULE):
        when = audit.details.get("publish_at")
        if isinstance(when, str):
            state.publish_at = datetime.fromisoformat(when)
            state.scheduled_by = str(audit.details.get("scheduled_by") or audit.actor)
