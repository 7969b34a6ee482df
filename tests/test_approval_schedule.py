"""Scheduled publication, pure: approve in the evening, publish at 06:00 (or N minutes before the
onset); move or cancel it until it fires; refused past the alert's expiry; the state survives
a restart because it is the table's JSON; paused channels hold what it publishes.

Every time is relative to the injected clock's now (`alertcast.clock`), so nothing depends on
today's date.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alertcast import examples
from alertcast.approval import schedule
from alertcast.approval.policy import Requirement
from alertcast.approval.workflow import ApprovalState, Step, decide, receive_draft, refusal_for_approval
from alertcast.clock import clock
from alertcast.delivery import machine
from alertcast.delivery.pause import Pause, PauseBoard
from alertcast.models.alert import Approval, ChannelText, DeliveryRequest, DeliveryStatus, Draft, alert_id_for
from alertcast.models.decision import (
    ApprovalMode,
    AuditAction,
    Decision,
    DecisionAction,
    DraftStatus,
    Role,
)
from alertcast.models.incident import Incident

EVENING = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)  # the injected now: the evening before
SIX = timedelta(hours=11)  # 06:00 the next morning, from EVENING
ONE = Requirement(
    rule="un", mode=ApprovalMode.ONE, escalate_after=timedelta(minutes=15), expire_after=timedelta(hours=2)
)
TWO = Requirement(rule="deux", mode=ApprovalMode.TWO)
TEXT = "Car scolaire ligne 12 (Bapaume - Arras) supprimé demain matin. Source : Région."


class Moving:
    """The injected clock's time source: tests move it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def move(self, delta: timedelta) -> datetime:
        self.at += delta
        return self.at


@pytest.fixture
def now() -> Iterator[Moving]:
    moving = Moving(EVENING)
    clock.set(moving)
    try:
        yield moving
    finally:
        clock.set(None)


def bus_incident(onset: datetime | None, expires: datetime | None) -> Incident:
    """The school-bus example, sent just before now, with the times the test needs."""
    document = examples.document("02-school-bus-cancelled.json", now=clock.now())
    document["info"][0].update(
        onset=onset.isoformat() if onset else None, expires=expires.isoformat() if expires else None
    )
    return Incident.model_validate(document)


def draft(version: int = 1, *, onset: timedelta | None = SIX, lasts: timedelta = timedelta(hours=5)) -> Draft:
    start = clock.now() + onset if onset is not None else None
    incident = bus_incident(start, (start or clock.now()) + lasts)
    text = ChannelText(channel="webhook", language="fr", text=TEXT, length=len(TEXT), limit=500)
    return Draft(
        alert_id=alert_id_for(incident.key),
        incident_key=incident.key,
        version=version,
        received_at=clock.now(),
        incident=incident,
        texts=[text],
    )


def arrive(d: Draft | None = None, requirement: Requirement = ONE) -> ApprovalState:
    step = receive_draft(None, d or draft(), requirement, clock.now())
    assert step.state is not None and step.state.status is DraftStatus.PENDING
    return step.state


def no_recheck(*_: Any) -> ChannelText:
    raise AssertionError("a refused edit is not checked")


def decision(
    state: ApprovalState,
    action: DecisionAction,
    actor: str = "alice",
    roles: tuple[Role, ...] = (Role.COMMUNICATOR,),
    **fields: Any,
) -> Decision:
    return Decision(
        incident_key=state.draft.incident_key,
        alert_id=state.draft.alert_id,
        version=state.draft.version,
        action=action,
        actor=actor,
        roles=list(roles),
        at=clock.now(),
        **fields,
    )


def act(
    state: ApprovalState,
    action: DecisionAction,
    actor: str = "alice",
    roles: tuple[Role, ...] = (Role.COMMUNICATOR,),
    **fields: Any,
) -> Step:
    return decide(state, decision(state, action, actor, roles, **fields), clock.now(), no_recheck)


def tick(state: ApprovalState) -> Step:
    return act(state, DecisionAction.TICK, "system:deadline", ())


def restarted(state: ApprovalState | None) -> ApprovalState:
    """What a worker reads back from the `approval_state` table (its changelog) after a restart."""
    assert state is not None
    return ApprovalState.model_validate_json(state.model_dump_json())


def problem_of(step: Step) -> dict[str, Any]:
    [refusal] = step.audit
    assert refusal.accepted is False
    problem: dict[str, Any] = refusal.details["problem"]
    return problem


def test_approved_in_the_evening_published_at_six_once_after_a_restart(now: Moving) -> None:
    state = arrive()
    six = now.at + SIX
    step = act(state, DecisionAction.APPROVE, publish_at=six)
    assert step.approval is None and step.state is not None
    assert step.state.status is DraftStatus.SCHEDULED and step.state.publish_at == six
    [given] = step.audit
    assert given.accepted and given.action is AuditAction.APPROVE and given.status is DraftStatus.SCHEDULED
    assert given.details["publish_at"] == "2026-12-03T06:00:00Z" and given.details["scheduled_by"] == "alice"
    assert "to be published at 2026-12-03T06:00:00Z" in given.message

    state = restarted(step.state)
    now.move(SIX - timedelta(seconds=1))
    assert not state.due(now.at) and tick(state).approval is None  # the approval deadline does not apply
    now.move(timedelta(seconds=1))
    assert state.due(now.at)  # the 1 s timer sends its tick within a second of the time
    state = restarted(state)
    fired = tick(state)
    assert fired.approval is not None and fired.approval.approved_at == six
    assert fired.approval.approved_by == ["alice"] and fired.approval.policy == "un"
    [published] = fired.audit
    assert published.action is AuditAction.PUBLISHED and published.actor == "alice"
    assert published.details["scheduled_by"] == "alice" and published.details["late_s"] == 0
    assert published.details["waited_s"] == 0  # the person's delay, not the wait for six o'clock
    assert fired.state is not None and fired.state.status is DraftStatus.PUBLISHED
    now.move(timedelta(seconds=1))
    again = tick(restarted(fired.state))  # a second tick sent before the first was applied
    assert again.approval is None and again.audit == []


def test_the_scheduled_approval_is_the_immediate_one_at_another_time(now: Moving) -> None:
    immediate = act(arrive(), DecisionAction.APPROVE)
    assert immediate.approval is not None
    scheduled = act(arrive(), DecisionAction.APPROVE, publish_at=now.at + timedelta(minutes=5))
    now.move(timedelta(minutes=5))
    fired = tick(restarted(scheduled.state))
    assert fired.approval is not None
    differs = {"approved_at"}
    assert fired.approval.model_dump(exclude=differs) == immediate.approval.model_dump(exclude=differs)
    assert [e.action for e in fired.audit] == [AuditAction.PUBLISHED]
    assert fired.audit[0].actor == immediate.audit[-1].actor == "alice"


def test_onset_minus_minutes_is_resolved_when_approved(now: Moving) -> None:
    step = act(arrive(), DecisionAction.APPROVE, before_onset_minutes=30)
    assert step.state is not None and step.state.status is DraftStatus.SCHEDULED
    assert step.state.publish_at == now.at + SIX - timedelta(minutes=30)
    no_onset = act(arrive(draft(onset=None)), DecisionAction.APPROVE, before_onset_minutes=30)
    assert no_onset.state is not None and no_onset.state.status is DraftStatus.PENDING
    assert no_onset.state.approvals == [] and no_onset.approval is None
    problem = problem_of(no_onset)
    assert (problem["path"], problem["rule"]) == ("before_onset_minutes", "schedule.no_onset")
    assert problem["hint"] and "publish_at" in no_onset.audit[0].message


def test_a_time_past_the_alerts_expiry_is_refused_with_the_reason(now: Moving) -> None:
    state = arrive(draft(lasts=timedelta(hours=1)))  # expires at 07:00
    refused = act(state, DecisionAction.APPROVE, publish_at=now.at + SIX + timedelta(hours=1))
    assert (
        refused.approval is None and refused.state is not None and refused.state.status is DraftStatus.PENDING
    )
    problem = problem_of(refused)
    assert (problem["path"], problem["rule"]) == ("publish_at", "schedule.after_expiry")
    assert "is not before the alert expires (2026-12-03T07:00:00Z)" in refused.audit[0].message
    assert refused.audit[0].action is AuditAction.APPROVE and refused.audit[0].actor == "alice"
    late_onset = act(state, DecisionAction.APPROVE, before_onset_minutes=0)
    assert late_onset.state is not None and late_onset.state.status is DraftStatus.SCHEDULED


def test_times_in_the_past_or_both_kinds_are_refused_a_few_seconds_late_is_now(now: Moving) -> None:
    past = act(arrive(), DecisionAction.APPROVE, publish_at=now.at - timedelta(minutes=5))
    assert problem_of(past)["rule"] == "schedule.past" and past.approval is None
    both = act(arrive(), DecisionAction.APPROVE, publish_at=now.at + SIX, before_onset_minutes=10)
    assert problem_of(both)["rule"] == "schedule.two_times"
    just = act(arrive(), DecisionAction.APPROVE, publish_at=now.at - timedelta(seconds=20))
    assert just.approval is None and just.state is not None and just.state.status is DraftStatus.SCHEDULED
    now.move(timedelta(seconds=1))  # the minute typed has begun: the next tick publishes it
    fired = tick(restarted(just.state))
    assert fired.approval is not None and fired.approval.approved_at == now.at


def test_rescheduled_it_fires_at_the_new_time_only(now: Moving) -> None:
    scheduled = act(arrive(), DecisionAction.APPROVE, publish_at=now.at + SIX)
    state = restarted(scheduled.state)
    moved = act(state, DecisionAction.RESCHEDULE, "bob", publish_at=now.at + SIX + timedelta(minutes=30))
    assert moved.approval is None and moved.state is not None
    [event] = moved.audit
    assert event.accepted and event.action is AuditAction.RESCHEDULE and event.status is DraftStatus.SCHEDULED
    assert (
        event.details["previous"] == "2026-12-03T06:00:00Z"
        and event.details["publish_at"] == "2026-12-03T06:30:00Z"
    )
    now.move(SIX)
    assert tick(restarted(moved.state)).approval is None
    now.move(timedelta(minutes=30))
    fired = tick(restarted(moved.state))
    assert fired.approval is not None and fired.approval.approved_by == ["alice"]
    assert fired.audit[0].details["scheduled_by"] == "bob"
    too_late = act(restarted(fired.state), DecisionAction.RESCHEDULE, publish_at=now.at + SIX)
    assert too_late.audit[0].accepted is False and "already published" in too_late.audit[0].message


def test_reschedule_refusals_and_moving_it_to_now(now: Moving) -> None:
    pending = act(arrive(), DecisionAction.RESCHEDULE, publish_at=now.at + SIX)
    assert problem_of(pending)["rule"] == "schedule.not_scheduled"
    state = act(arrive(), DecisionAction.APPROVE, publish_at=now.at + SIX).state
    assert state is not None
    operator = act(state, DecisionAction.RESCHEDULE, "olivier", (Role.OPERATOR,), publish_at=now.at + SIX)
    assert problem_of(operator)["rule"] == "schedule.role"
    missing = act(state, DecisionAction.RESCHEDULE)
    assert problem_of(missing)["rule"] == "schedule.time_missing"
    past = act(state, DecisionAction.RESCHEDULE, publish_at=now.at - timedelta(hours=1))
    assert problem_of(past)["rule"] == "schedule.past"
    assert state.status is DraftStatus.SCHEDULED and state.publish_at == now.at + SIX
    at_once = act(state, DecisionAction.RESCHEDULE, publish_at=now.at)
    assert at_once.approval is None and [e.action for e in at_once.audit] == [AuditAction.RESCHEDULE]
    fired = tick(restarted(at_once.state))  # only a tick publishes
    assert fired.approval is not None and fired.approval.approved_at == now.at


def test_decisions_applied_again_after_a_crash_never_publish_ahead_of_a_later_move(now: Moving) -> None:
    """Decisions are read at least once: after a crash the uncommitted ones are applied again,
    in order, later. A move to a time that has come meanwhile must not publish before the move
    that followed it is applied again too."""
    stored = restarted(act(arrive(), DecisionAction.APPROVE, publish_at=now.at + SIX).state)
    soon = decision(stored, DecisionAction.RESCHEDULE, publish_at=now.at + timedelta(seconds=5))
    later = decision(stored, DecisionAction.RESCHEDULE, publish_at=now.at + timedelta(hours=1))
    now.move(timedelta(seconds=30))  # the worker crashed after both, before its commit; another reads them
    state = restarted(stored)
    for again in (soon, later):
        step = decide(state, again, now.at, no_recheck)
        assert step.approval is None and step.state is not None
        state = step.state
    assert state.publish_at == later.publish_at and tick(state).approval is None


def test_unscheduled_it_never_fires_and_waits_again_with_fresh_deadlines(now: Moving) -> None:
    scheduled = act(arrive(), DecisionAction.APPROVE, publish_at=now.at + SIX)
    now.move(timedelta(hours=10))  # far past the 2 h approval deadline counted from arrival
    cancelled = act(restarted(scheduled.state), DecisionAction.UNSCHEDULE, "bob", reason="verglas levé")
    state = cancelled.state
    assert state is not None and state.status is DraftStatus.PENDING and cancelled.approval is None
    assert state.approvals == [] and state.publish_at is None
    assert (
        cancelled.audit[0].action is AuditAction.UNSCHEDULE and "verglas levé" in cancelled.audit[0].message
    )
    now.move(timedelta(hours=1))  # six o'clock passes
    assert tick(restarted(state)).approval is None and restarted(state).status is DraftStatus.PENDING
    again = act(restarted(state), DecisionAction.UNSCHEDULE)
    assert problem_of(again)["rule"] == "schedule.not_scheduled"
    approved = act(restarted(state), DecisionAction.APPROVE)  # the same person may approve again
    assert approved.approval is not None
    now.move(timedelta(hours=2))
    expired = tick(restarted(state))  # the deadlines count from the unscheduling
    assert expired.state is not None and expired.state.status is DraftStatus.EXPIRED


def test_a_scheduled_draft_is_not_edited_held_or_approved_again_but_may_be_rejected(now: Moving) -> None:
    state = act(arrive(), DecisionAction.APPROVE, publish_at=now.at + SIX).state
    assert state is not None
    edit = act(state, DecisionAction.EDIT, channel="webhook", language="fr", text=TEXT + " Merci.")
    hold = act(state, DecisionAction.HOLD, "bob")
    approve = act(state, DecisionAction.APPROVE, "bob")
    for refused in (edit, hold, approve):
        problem = problem_of(refused)
        assert problem["rule"] == "schedule.scheduled" and "unschedule" in problem["hint"]
    assert approve.audit[0].message.startswith("already approved, to be published at 2026-12-03T06:00:00Z")
    console = refusal_for_approval(
        state, decision(state, DecisionAction.APPROVE, "bob")
    )  # asked before sending
    assert console is not None and "reschedule or unschedule" in console.message
    rejected = act(state, DecisionAction.REJECT, "bob", reason="doublon")
    assert rejected.state is not None and rejected.state.status is DraftStatus.REJECTED
    now.move(SIX)
    assert tick(restarted(rejected.state)).approval is None


def test_two_person_rule_either_approver_gives_the_time(now: Moving) -> None:
    state = arrive(requirement=TWO)
    first = act(state, DecisionAction.APPROVE, publish_at=now.at + SIX)
    assert first.state is not None and first.state.status is DraftStatus.PENDING
    assert "1 more approval(s) needed; to be published at" in first.audit[0].message
    second = act(restarted(first.state), DecisionAction.APPROVE, "bob", (Role.SUPERVISOR,))
    assert (
        second.state is not None and second.state.status is DraftStatus.SCHEDULED and second.approval is None
    )
    now.move(SIX)
    fired = tick(restarted(second.state))
    assert fired.approval is not None and fired.approval.approved_by == ["alice", "bob"]
    # the time passed before the second approval: published on the next tick
    late = act(
        arrive(draft(version=1), TWO), DecisionAction.APPROVE, publish_at=now.at + timedelta(minutes=1)
    )
    now.move(timedelta(minutes=2))
    done = act(restarted(late.state), DecisionAction.APPROVE, "bob", (Role.SUPERVISOR,))
    assert done.approval is None and done.state is not None and done.state.status is DraftStatus.SCHEDULED
    published = tick(restarted(done.state))
    assert published.approval is not None and published.approval.approved_at == now.at
    assert published.audit[0].details["late_s"] == 60


def test_a_new_version_supersedes_the_scheduled_one(now: Moving) -> None:
    scheduled = act(arrive(), DecisionAction.APPROVE, publish_at=now.at + SIX).state
    step = receive_draft(scheduled, draft(version=2), ONE, now.at)
    superseded = step.audit[0]
    assert (
        superseded.action is AuditAction.SUPERSEDED
        and "to be published at 2026-12-03T06:00:00Z" in superseded.message
    )
    assert (
        step.state is not None and step.state.status is DraftStatus.PENDING and step.state.publish_at is None
    )
    now.move(SIX)
    assert tick(restarted(step.state)).approval is None


def test_no_worker_until_after_expiry_publishes_nothing(now: Moving) -> None:
    state = act(
        arrive(draft(lasts=timedelta(hours=1))), DecisionAction.APPROVE, publish_at=now.at + SIX
    ).state
    now.move(SIX + timedelta(hours=2))
    step = tick(restarted(state))
    assert step.approval is None and step.state is not None and step.state.status is DraftStatus.EXPIRED
    assert "nothing published" in step.audit[0].message and step.audit[0].action is AuditAction.EXPIRED


def test_a_late_tick_still_publishes_and_says_how_late(now: Moving) -> None:
    state = act(arrive(), DecisionAction.APPROVE, publish_at=now.at + SIX).state
    now.move(SIX + timedelta(minutes=3))  # a worker restarted meanwhile
    fired = tick(restarted(state))
    assert fired.approval is not None and fired.audit[0].details["late_s"] == 180


def test_states_stored_before_scheduling_existed_still_load(now: Moving) -> None:
    state = act(arrive(), DecisionAction.APPROVE, "alice").state
    stored = state.model_dump(mode="json") if state else {}
    for added in ("publish_at", "scheduled_by", "reopened_at"):
        del stored[added]
    old = ApprovalState.model_validate(stored)
    assert old.status is DraftStatus.PUBLISHED and old.publish_at is None
    pending = arrive().model_dump(mode="json")
    for added in ("publish_at", "scheduled_by", "reopened_at"):
        del pending[added]
    waiting = ApprovalState.model_validate(pending)
    now.move(timedelta(hours=2))
    assert tick(waiting).state is not None and waiting.status is DraftStatus.EXPIRED


def test_fired_while_paused_the_deliveries_are_held(now: Moving) -> None:
    """Pause switches act on each delivery, downstream: a scheduled publication meets them like
    any other (the delivery machine is the one the deliver agent runs)."""
    state = act(arrive(), DecisionAction.APPROVE, publish_at=now.at + SIX).state
    board = PauseBoard()
    board.apply(
        Pause(channel="webhook", paused=True, by="bob", at=now.at + timedelta(hours=10), reason="piratage")
    )
    now.move(SIX)
    fired = tick(restarted(state))
    assert fired.approval is not None
    request = request_for(fired.approval, "webhook")
    step = machine.arrive(request, None, None, now.at)
    assert isinstance(step, machine.Proceed)
    held = machine.before_post(request, step, None, board.holding("webhook", "default"), now.at)
    assert isinstance(held, machine.Finish) and held.status is DeliveryStatus.PAUSED
    assert held.entry is not None and held.entry.request == request  # sent on resume


def request_for(approval: Approval, channel: str) -> DeliveryRequest:
    """What the fan-out makes of an approval for one account."""
    draft = approval.draft
    return DeliveryRequest(
        alert_id=draft.alert_id,
        version=draft.version,
        channel=channel,
        incident=draft.incident,
        text=next(text for text in draft.texts if text.channel == channel),
        approved_at=approval.approved_at,
    )


def test_the_console_mirrors_the_schedule_from_the_audit(now: Moving) -> None:
    """The console rebuilds the state from audit events: `schedule.mirror` keeps its time."""
    agent = arrive()
    mirror = arrive()
    events = []
    for action, fields in (
        (DecisionAction.APPROVE, {"publish_at": now.at + SIX}),
        (DecisionAction.RESCHEDULE, {"before_onset_minutes": 15}),
    ):
        step = act(agent, action, **fields)
        assert step.state is not None
        agent = step.state
        events += step.audit
    for event in events:
        mirror.status = event.status or mirror.status
        schedule.mirror(mirror, event)
    assert (mirror.status, mirror.publish_at, mirror.scheduled_by) == (
        DraftStatus.SCHEDULED,
        agent.publish_at,
        "alice",
    )
    [cancelled] = act(agent, DecisionAction.UNSCHEDULE).audit
    schedule.mirror(mirror, cancelled)
    assert mirror.publish_at is None and mirror.approvals == [] and mirror.status is DraftStatus.PENDING
