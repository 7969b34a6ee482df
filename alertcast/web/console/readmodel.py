"""The console's read model: what it shows, rebuilt in memory from the topics on every start.

Drafts come from `alerts.drafted`; where each stands comes from `audit.events`, written by
the worker when it applied the policy or a decision, so the console mirrors the agent's
`ApprovalState` with the same workflow code (the web answers "you already approved this" at
once, and the agent still has the last word). A draft and the events the policy makes of it
are sent together, on two topics, so an event may be read before its draft: it is kept until
the draft comes (as on a start, when the whole audit log may be read before the drafts).
Deliveries come from `deliveries.requests` (what is awaited) and `deliveries.receipts`/
`deliveries.dead` (what the channels answered); the pause switches from `config.pauses`, as
every worker reads them, and the deliveries they hold are the cells whose latest receipt says
`paused`. A decision's outcome is awaited by its id, so a person sees what the worker made of
their click.

Console sessions end here too: a logout's audit event carries the session's revocation id, so
every web process refuses that session from the moment the event arrives (the process that
handled the logout records it at once, before the round trip). Login events are handed to
`on_login`, so each process's login throttle also counts the failures other processes saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alertcast.approval import schedule
from alertcast.approval.policy import Requirement
from alertcast.approval.workflow import ApprovalState, Mark, text_key
from alertcast.delivery.pause import Pause, PauseBoard
from alertcast.models.alert import (
    AcceptedIncident,
    Approval,
    DeliveryRequest,
    DeliveryStatus,
    Draft,
    Receipt,
    alert_id_for,
)
from alertcast.models.decision import (
    ApprovalMode,
    AuditAction,
    AuditEvent,
    Decision,
    DecisionAction,
    DraftStatus,
    Role,
)

log = logging.getLogger(__name__)

UNKNOWN_REQUIREMENT = Requirement(rule="?", mode=ApprovalMode.ONE)


@dataclass
class DraftView:
    """The latest version of one alert's draft, as the approval agent last described it."""

    state: ApprovalState
    said: AuditEvent | None = None  # the last accepted event that said something about it
    known_policy: bool = False  # False until the agent's `drafted` event arrived
    pending: dict[str, Decision] = field(default_factory=dict)  # sent, no outcome yet
    called: list[str] = field(default_factory=list)  # people on duty called about this version
    taken_by: str | None = None  # who acknowledged a duty call about it

    @property
    def draft(self) -> Draft:
        return self.state.draft

    @property
    def status(self) -> DraftStatus:
        return self.state.status

    @property
    def message(self) -> str:
        """What the last event said, in English as stored (pages show `said` in their language)."""
        return self.said.message if self.said is not None else ""


@dataclass
class Cell:
    """One (alert version, channel, account) of the delivery grid."""

    request: DeliveryRequest | None = None
    receipt: Receipt | None = None

    @property
    def state(self) -> str:
        return self.receipt.status.value if self.receipt is not None else "waiting"

    @property
    def channel(self) -> str:
        return self.request.channel if self.request else self.receipt.channel if self.receipt else ""


@dataclass
class Topics:
    accepted: str
    drafted: str
    decisions: str
    approved: str
    requests: str
    receipts: str
    dead: str
    audit: str
    pauses: str
    replies: str  # citizens' replies: the inbox's (inbox_model.py), not this read model's

    @classmethod
    def with_prefix(cls, topic: Callable[[str], str]) -> Topics:
        return cls(
            accepted=topic("incidents.accepted"),
            drafted=topic("alerts.drafted"),
            decisions=topic("alerts.decisions"),
            approved=topic("alerts.approved"),
            requests=topic("deliveries.requests"),
            receipts=topic("deliveries.receipts"),
            dead=topic("deliveries.dead"),
            audit=topic("audit.events"),
            pauses=topic("config.pauses"),
            replies=topic("replies.received"),
        )

    def all(self) -> list[str]:
        return list(vars(self).values())


LOGIN_ACTIONS = (AuditAction.LOGIN, AuditAction.LOGIN_FAILED)
SESSION_ACTIONS = frozenset(
    {AuditAction.LOGIN, AuditAction.LOGIN_FAILED, AuditAction.LOGIN_THROTTLED, AuditAction.LOGOUT}
)
MAX_REVOKED = 100_000  # past this, revocations of already expired sessions are forgotten
MAX_EARLY = 100_000  # alerts with audit events waiting for their draft; past this, the oldest go


class ConsoleReadModel:
    def __init__(self, topics: Topics, now: Callable[[], float] = time.time) -> None:
        self.topics = topics
        self._now = now
        self.revoked: dict[str, int] = {}  # session revocation id -> the session's expiry (epoch s)
        self.on_login: Callable[[AuditEvent], None] | None = None
        self.drafts: dict[str, DraftView] = {}  # by alert id
        self.incidents: dict[str, list[AcceptedIncident]] = {}  # by alert id, by version
        self.approvals: dict[str, dict[int, Approval]] = {}  # by alert id, version
        self.cells: dict[str, Cell] = {}  # by delivery key
        self.audit: list[AuditEvent] = []
        # by alert id, version: events read before their draft
        self._early: dict[str, dict[int, list[AuditEvent]]] = {}
        self.outcomes: dict[str, AuditEvent] = {}  # by decision id
        self.pauses = PauseBoard()
        self.revision = 0
        self._waiters: dict[str, asyncio.Future[AuditEvent]] = {}
        self._changed: list[asyncio.Future[None]] = []
        self._handlers: dict[str, Callable[[bytes], None]] = {
            topics.accepted: self._on_accepted,
            topics.drafted: self._on_drafted,
            topics.decisions: self._on_decision,
            topics.approved: self._on_approved,
            topics.requests: self._on_request,
            topics.receipts: self._on_receipt,
            topics.dead: self._on_receipt,
            topics.audit: self._on_audit,
            topics.pauses: self._on_pause,
        }

    def on_message(self, topic: str, key: bytes | None, value: bytes) -> None:
        handler = self._handlers.get(topic)
        if handler is not None:
            handler(value)
            self.revision += 1
            changed, self._changed = self._changed, []
            for future in changed:
                if not future.done():
                    future.set_result(None)

    # --- what the pages ask -------------------------------------------------------------

    def queue(self) -> list[DraftView]:
        """Drafts awaiting a person, most urgent first: severity, then the oldest."""
        waiting = [view for view in self.drafts.values() if view.status.open]
        return sorted(waiting, key=lambda v: (-v.draft.incident.severity_rank, v.draft.received_at))

    def recently_auto(self, limit: int = 20) -> list[DraftView]:
        """Published without a person: to read afterwards."""
        auto = [
            view
            for view in self.drafts.values()
            if view.status is DraftStatus.PUBLISHED and view.state.requirement.mode is ApprovalMode.AUTO
        ]
        return sorted(auto, key=lambda v: v.draft.received_at, reverse=True)[:limit]

    def grid(self) -> list[tuple[Approval, dict[str, list[Cell]]]]:
        """Each alert's latest approved version with its cells by channel, newest first."""
        rows = []
        for alert_id, versions in self.approvals.items():
            approval = versions[max(versions)]
            by_channel: dict[str, list[Cell]] = {}
            for text in approval.draft.texts:
                by_channel.setdefault(text.channel, [])
            for cell in self.cells.values():
                request = cell.request
                receipt = cell.receipt
                version = request.version if request else receipt.version if receipt else 0
                channel = request.channel if request else receipt.channel if receipt else ""
                alert = request.alert_id if request else receipt.alert_id if receipt else ""
                if alert == alert_id and version == approval.draft.version:
                    by_channel.setdefault(channel, []).append(cell)
            rows.append((approval, by_channel))
        return sorted(rows, key=lambda row: row[0].approved_at, reverse=True)

    def channels(self) -> list[str]:
        found = {channel for _, cells in self.grid() for channel in cells}
        return sorted(found)

    def held(self) -> Counter[str]:
        """Deliveries waiting on a pause now, per channel: the cells whose latest receipt says
        paused (as `alertcast deliveries paused` counts them)."""
        return Counter(
            cell.channel
            for cell in self.cells.values()
            if cell.receipt is not None and cell.receipt.status is DeliveryStatus.PAUSED
        )

    def switched(self, pause: Pause) -> bool:
        """Whether this switch (or a later one of its scope) has come back from `config.pauses`."""
        current = self.pauses.switches.get(pause.scope)
        return current is not None and current.at >= pause.at

    async def until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Wait, at most `timeout_s`, until `condition()` holds after some message; its last value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not condition():
            left = deadline - loop.time()
            if left <= 0:
                return False
            future: asyncio.Future[None] = loop.create_future()
            self._changed.append(future)
            try:
                await asyncio.wait_for(future, left)
            except TimeoutError:
                return condition()
        return True

    def revoke(self, revocation: str, expires: int) -> None:
        """A session ended by a logout: refused from now on, until it would have expired anyway."""
        if expires <= self._now():  # replayed from long ago: that cookie is refused as expired
            return
        self.revoked[revocation] = max(expires, self.revoked.get(revocation, 0))
        if len(self.revoked) > MAX_REVOKED:
            now = self._now()
            self.revoked = {r: at for r, at in self.revoked.items() if at > now}

    def is_revoked(self, revocation: str) -> bool:
        return revocation in self.revoked

    def own_incidents(self, user: str) -> list[AcceptedIncident]:
        """The latest version of each incident this user wrote in the console."""
        source = f"console:{user}"
        mine = [
            versions[-1]
            for versions in self.incidents.values()
            if versions and any(version.incident.source == source for version in versions)
        ]
        return sorted(mine, key=lambda message: message.received_at, reverse=True)

    def events_for(self, alert_id: str) -> list[AuditEvent]:
        return [event for event in self.audit if event.alert_id == alert_id]

    def filtered_audit(
        self,
        actor: str = "",
        action: str = "",
        alert: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
        sessions: bool = False,
    ) -> list[AuditEvent]:
        """The journal, newest first. Logins and logouts (many a day) only when asked for:
        `sessions`, or an action filter naming one of them."""
        events = [
            event
            for event in self.audit
            if (sessions or action or event.action not in SESSION_ACTIONS)
            and (not actor or actor.lower() in event.actor.lower())
            and (not action or event.action.value == action)
            and (not alert or alert in event.alert_id or alert in event.incident_key)
            and (since is None or event.at >= since)
            and (until is None or event.at < until + timedelta(days=1))
        ]
        return sorted(events, key=lambda event: event.at, reverse=True)

    async def outcome(self, decision_id: str, timeout_s: float) -> AuditEvent | None:
        """What the approval agent made of a decision, if it answers within `timeout_s`."""
        if decision_id in self.outcomes:
            return self.outcomes[decision_id]
        if timeout_s <= 0:
            return None
        future = self._waiters.setdefault(decision_id, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            return None
        finally:
            if future.done() or decision_id in self.outcomes:
                self._waiters.pop(decision_id, None)

    def sent(self, decision: Decision) -> None:
        """A decision this process produced: shown as pending until its outcome arrives."""
        view = self.drafts.get(decision.alert_id)
        if view is not None and decision.decision_id not in self.outcomes:
            view.pending[decision.decision_id] = decision
        self.revision += 1

    # --- topics ---------------------------------------------------------------------------

    def _on_accepted(self, value: bytes) -> None:
        message = AcceptedIncident.model_validate_json(value)
        versions = self.incidents.setdefault(_id(message), [])
        if all(existing.version != message.version for existing in versions):
            versions.append(message)
            versions.sort(key=lambda m: m.version)

    def _on_drafted(self, value: bytes) -> None:
        draft = Draft.model_validate_json(value)
        view = self.drafts.get(draft.alert_id)
        if view is not None and view.draft.version >= draft.version:
            return
        state = ApprovalState(
            draft=draft,
            requirement=UNKNOWN_REQUIREMENT,
            status=DraftStatus.PENDING,
            arrived_at=draft.received_at,
        )
        view = DraftView(state=state)
        self.drafts[draft.alert_id] = view
        early = self._early.pop(draft.alert_id, {})
        for event in early.pop(draft.version, []):
            self._describe(view, event)
        if later := {version: events for version, events in early.items() if version > draft.version}:
            self._early[draft.alert_id] = later

    def _on_decision(self, value: bytes) -> None:
        decision = Decision.model_validate_json(value)
        view = self.drafts.get(decision.alert_id)
        if (
            view is not None
            and decision.action is not DecisionAction.TICK
            and decision.decision_id not in self.outcomes
        ):
            view.pending[decision.decision_id] = decision

    def _on_approved(self, value: bytes) -> None:
        approval = Approval.model_validate_json(value)
        self.approvals.setdefault(approval.draft.alert_id, {})[approval.draft.version] = approval

    def _on_request(self, value: bytes) -> None:
        request = DeliveryRequest.model_validate_json(value)
        self.cells.setdefault(request.delivery_key, Cell()).request = request

    def _on_receipt(self, value: bytes) -> None:
        receipt = Receipt.model_validate_json(value)
        cell = self.cells.setdefault(receipt.delivery_key, Cell())
        if cell.receipt is None or cell.receipt.at <= receipt.at:
            cell.receipt = receipt

    def _on_pause(self, value: bytes) -> None:
        if value:  # a tombstone clears nothing, as in the worker (alertcast.stream.pauses)
            self.pauses.apply(Pause.model_validate_json(value))

    def _on_audit(self, value: bytes) -> None:
        event = AuditEvent.model_validate_json(value)
        self.audit.append(event)
        if event.action is AuditAction.LOGOUT:
            revocation, expires = event.details.get("session"), event.details.get("expires")
            if isinstance(revocation, str) and isinstance(expires, int):
                self.revoke(revocation, expires)
        elif event.action in LOGIN_ACTIONS and self.on_login is not None:
            self.on_login(event)
        if event.decision_id is not None:
            self.outcomes[event.decision_id] = event
            waiter = self._waiters.pop(event.decision_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(event)
        view = self.drafts.get(event.alert_id)
        if (
            event.alert_id
            and event.version is not None
            and (view is None or event.version > view.draft.version)
        ):
            self._keep_early(event)
        elif view is not None and event.version == view.draft.version:
            self._describe(view, event)

    def _keep_early(self, event: AuditEvent) -> None:
        """An event about a draft not read yet: described once the draft comes (`_on_drafted`)."""
        assert event.version is not None
        self._early.setdefault(event.alert_id, {}).setdefault(event.version, []).append(event)
        if len(self._early) > MAX_EARLY:  # alerts whose drafts are gone (retention): forgotten
            del self._early[next(iter(self._early))]

    def _describe(self, view: DraftView, event: AuditEvent) -> None:
        """What `event` changes in where the draft stands."""
        if event.decision_id is not None:
            view.pending.pop(event.decision_id, None)
        if not event.accepted:
            return
        if event.action is AuditAction.NOTIFIED:  # duty calls: beside the state, not part of it
            view.called.append(str(event.details.get("person", "?")))
            return
        if event.action is AuditAction.ACKNOWLEDGED:
            view.taken_by = event.actor
            return
        _mirror(view, event)


def _mirror(view: DraftView, event: AuditEvent) -> None:
    """The agent's state after `event`, rebuilt with the same models."""
    state = view.state
    if event.status is not None:
        state.status = event.status
    if event.message:
        view.said = event
    if event.action is AuditAction.DRAFTED:
        view.known_policy = True
        with contextlib.suppress(KeyError, ValueError):
            details = event.details
            state.requirement = Requirement(
                rule=str(details["rule"]),
                mode=ApprovalMode(str(details["mode"])),
                escalate_after=_seconds(details.get("escalate_after_s")),
                expire_after=_seconds(details.get("expire_after_s")),
            )
        state.arrived_at = event.at
    elif event.action is AuditAction.APPROVE:
        roles = [Role(role) for role in event.details.get("roles", []) if role in Role.__members__.values()]
        state.approvals.append(Mark(user=event.actor, roles=roles, at=event.at))
    elif event.action is AuditAction.EDIT and event.after is not None:
        texts = [
            event.after
            if text.channel == event.after.channel and text.language == event.after.language
            else text
            for text in state.draft.texts
        ]
        state.draft = state.draft.model_copy(update={"texts": texts})
        key = text_key(event.after.channel, event.after.language)
        if key not in state.edited:
            state.edited.append(key)
        state.approvals = []
    elif event.action is AuditAction.HOLD:
        state.held_by = event.actor
    elif event.action is AuditAction.RELEASE:
        state.held_by = None
    elif event.action is AuditAction.ESCALATED:
        state.escalated_at = event.at
    schedule.mirror(state, event)  # a scheduled time, moved or withdrawn


def _seconds(value: object) -> timedelta | None:
    return timedelta(seconds=float(value)) if isinstance(value, int | float) else None


def _id(message: AcceptedIncident) -> str:
    return alert_id_for(message.incident_key)
