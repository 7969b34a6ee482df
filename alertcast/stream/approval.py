"""Approval: drafts and decisions in, approvals, their delivery requests and audit events out.

A new draft is received where it is composed, by the ingest agent (`receive`, then `settle`),
which sends the draft, its audit events and, if the policy approves it at once, the approval
and its delivery requests in one durable batch: an agent of its own reading `alerts.drafted`
cost one more consume, one more parse of the whole draft and one more acknowledgement per
incident (bench/hop.py: about 0.3 ms of CPU each), for a decision ingest can take as well.
This module's agent reads `alerts.decisions`. Both are keyed by incident key, so a draft and
every decision about it are on one partition number, and one table row per incident
(`approval_state`) holds where it stands; one lock per incident (`incidents`), held by both,
keeps them in order. The policy (a YAML file, re-read when it changes) fixes what each new
draft needs; `alertcast.approval.workflow` decides everything else.

Deadlines and scheduled publications: a Faust table can only be written while processing a
message, so the timer does not touch it. Every second it sends a `tick` decision for each
draft whose time has passed (an approval deadline, or the time a scheduled draft publishes),
and the agent handles it like any decision (an extra tick is harmless: it finds nothing due).
A scheduled draft's time is in its state, so the schedule is Kafka's (the table's changelog),
and it fires within a tick plus a round trip of its time; after a restart or a rebalance the
timer rescans the recovered states at once rather than at its next periodic rescan.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from alertcast.approval.policy import PolicyFile
from alertcast.approval.workflow import DEADLINE_ACTOR, ApprovalState, Step, decide, receive_draft
from alertcast.channels.account import error_text, hide_url, redact_http_logs
from alertcast.clock import clock
from alertcast.http import make_client
from alertcast.models.alert import ChannelText, Draft
from alertcast.models.decision import AuditEvent, Decision, DecisionAction, DraftStatus, PolicyConfig
from alertcast.models.incident import Incident
from alertcast.render.compose import check_edit
from alertcast.stream import fanout
from alertcast.stream.app import app, approved, for_each_event, produce, send_durably, settings, table, topic
from alertcast.stream.keyed import KeyedLocks
from alertcast.stream.metrics import observe_approval_wait, observe_submit_to_approval

log = logging.getLogger(__name__)

TICK_INTERVAL_S = 1.0


policy_file = PolicyFile(settings.policy_file)
decisions = topic("alerts.decisions")
audit = topic("audit.events")
# Per incident key: an ApprovalState as JSON (alertcast.approval.workflow).
states = table("approval_state")
_escalations: set[asyncio.Task[None]] = set()


def recheck(channel: str, text: str, language: str, incident: Incident, limit: int | None) -> ChannelText:
    return check_edit(channel, text, language, incident, charter_dir=settings.charter_dir, limit=limit)


def state_of(key: str) -> ApprovalState | None:
    value = states.get(key)
    return ApprovalState.model_validate_json(value) if value else None


# Several drafts and decisions at once, one incident's in order (see alertcast.stream.keyed):
# held by the ingest agent for a new version, by this module's agent for a decision.
incidents = KeyedLocks()


@app.agent(decisions, concurrency=settings.worker_concurrency)
async def approve(stream: Any) -> None:
    await for_each_event(stream, approve_one)


async def approve_one(event: Any) -> None:
    decision = Decision.model_validate_json(event.value)
    key = decision.incident_key
    async with incidents.hold(key):
        step = decide(state_of(key), decision, clock.now(), recheck)
        await send_durably(*await outputs_of(key, step))
        await settle(key, step)


def receive(draft: Draft) -> Step:
    """Where a new draft stands: what the policy requires of it, and whether that is met at
    once. The caller holds the incident's lock (`incidents`)."""
    requirement = policy_file.current().requirement(draft)
    return receive_draft(state_of(draft.incident_key), draft, requirement, clock.now())


async def outputs_of(key: str, step: Step) -> list[tuple[Any, bytes, bytes]]:
    """The approval, its delivery requests and the audit events, to send durably before the
    state is written (`settle`): a replayed draft or decision then finds no state claiming an
    approval that never left; a repeated approval is harmless (the delivery ledger posts once)."""
    for event in step.audit:
        if not event.accepted:
            log.warning(
                "alert %s: %s refused for %s: %s", event.alert_id, event.action, event.actor, event.message
            )
    outputs = [(audit, key.encode(), event.model_dump_json().encode()) for event in step.audit]
    if step.approval is not None:
        outputs.insert(0, (approved, key.encode(), step.approval.model_dump_json().encode()))
        outputs.extend(await fanout.messages(step.approval))
    return outputs


async def settle(key: str, step: Step) -> asyncio.Future[Any] | None:
    """Write the state once the outputs are held; returns the acknowledgement of its write
    (None if nothing was written), for a caller whose own record must come after it."""
    written = None
    if step.state is not None:
        written = await states.put(key, step.state.model_dump_json())
        open_drafts.note(key, step.state)
    if step.approval is not None:
        _observe_wait(step.approval.approved_at, step.state)
    if step.escalate and step.state is not None:
        task = asyncio.create_task(_escalate(step.state, step.audit[-1]))
        _escalations.add(task)
        task.add_done_callback(_escalations.discard)
    return written


def _observe_wait(approved_at: datetime, state: ApprovalState | None) -> None:
    """Time from the draft reaching this agent to its last approval (0 for auto), for
    Prometheus: a scheduled draft's wait for its time is not a person's delay."""
    if state is not None:
        decided = max((mark.at for mark in state.approvals), default=approved_at)
        observe_approval_wait((min(decided, approved_at) - state.arrived_at).total_seconds())
        observe_submit_to_approval(state.draft.received_at, min(decided, approved_at))


class _Status(BaseModel):
    """Only the status of a stored state: a rescan need not build whole drafts."""

    model_config = ConfigDict(extra="ignore")
    status: DraftStatus


class OpenDrafts:
    """The keys of drafts still open, so the timer does not parse every state ever stored each
    second (the table keeps closed states, and a busy day leaves thousands). The agent keeps it
    current; a periodic rescan picks up states recovered from the changelog after a restart or
    a rebalance."""

    def __init__(self, rescan_s: float = 60.0) -> None:
        self.keys: set[str] = set()
        self.rescan_s = rescan_s
        self._scanned_at: float | None = None

    def rescan_soon(self) -> None:
        """States were recovered (a restart, a rebalance): look at them on the next tick."""
        self._scanned_at = None

    def note(self, key: str, state: ApprovalState) -> None:
        if state.status.open:
            self.keys.add(key)
        else:
            self.keys.discard(key)

    def current(self) -> list[str]:
        if self._scanned_at is None or time.monotonic() - self._scanned_at > self.rescan_s:
            self.keys = {
                key
                for key, value in states.items()
                if value and _Status.model_validate_json(value).status.open
            }
            self._scanned_at = time.monotonic()
        return list(self.keys)


open_drafts = OpenDrafts()


@states.on_recover
async def _recovered() -> None:
    """A draft scheduled on a partition this worker just took over fires on time, not at the
    next periodic rescan."""
    open_drafts.rescan_soon()


async def deadlines() -> None:
    now = clock.now()
    for key in open_drafts.current():
        value = states.get(key)
        if not value:
            open_drafts.keys.discard(key)
            continue
        state = ApprovalState.model_validate_json(value)
        open_drafts.note(key, state)
        if state.due(now):
            tick = Decision(
                incident_key=key,
                alert_id=state.draft.alert_id,
                version=state.draft.version,
                action=DecisionAction.TICK,
                actor=DEADLINE_ACTOR,
                at=now,
            )
            await produce(decisions, key.encode(), tick.model_dump_json().encode())


app.timer(interval=TICK_INTERVAL_S)(deadlines)


async def _escalate(state: ApprovalState, event: AuditEvent) -> None:
    """POST a summary to each supervisors' webhook of the policy; failures are logged (the
    escalation is in the audit log and the console whatever the webhooks answer)."""
    current = policy_file.current()
    config: PolicyConfig | None = getattr(current, "config", None)
    urls = config.escalation.webhooks if config is not None else []
    if not urls:
        return
    main = state.draft.incident.main_info
    body = {
        "event": "alertcast.escalation",
        "alert_id": state.draft.alert_id,
        "incident_key": state.draft.incident_key,
        "version": state.draft.version,
        "headline": main.headline if main else "",
        "severity": main.severity.value if main else "",
        "waiting_since": state.arrived_at.isoformat(),
        "rule": state.requirement.rule,
        "message": event.message,
    }
    redact_http_logs()  # httpx logs each URL: a supervisor's webhook may carry its token
    async with make_client(settings.http_timeout_s) as client:
        for url in urls:
            shown = hide_url(url)
            try:
                answer = await client.post(url, json=body)
                if answer.status_code >= 300:
                    log.error("escalation webhook %s answered %d", shown, answer.status_code)
            except Exception as error:  # a supervisor's endpoint down must not stop the agent
                log.error("escalation webhook %s failed: %s", shown, error_text(error))
