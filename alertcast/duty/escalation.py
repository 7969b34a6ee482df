"""Whom to call about the drafts waiting for a person, and when: folded from the audit log.

`Desk` reads audit events in their order (`apply`) and keeps one `Watch` per alert whose latest
draft waits for approval: opened by its `drafted` event (the approval agent's, which says what
the policy asks and what the draft is about), closed by a decision (approve, reject, hold), by
the draft's end (published, superseded, expired) or by an acknowledged call. `due` says, for a
given time, which calls are owed: the person on duty at once, the backup once the policy's
escalation deadline has passed (`escalate_after`, else the rota's), the supervisor after twice
that. Each stage is called once: a sent call is an audit event (`notified`), and `apply` of it
marks the stage, so a worker that restarts and reads the log again owes nothing already done.

Whom a stage calls is decided when it is due, from the rota then (a shift may have ended since
the draft arrived); a stage whose person is missing (no shift, no backup) calls the next one in
line, and nobody is called twice for one draft.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from alertcast.duty.rota import Rota, service_for, who_is_on_duty
from alertcast.i18n import N_, said, term
from alertcast.models.decision import AuditAction, AuditEvent, DraftStatus

DUTY_ACTOR = "system:duty"


class Stage(StrEnum):
    PRIMARY = "primary"
    BACKUP = "backup"
    SUPERVISOR = "supervisor"


#: A stage as a message value (`%(stage)s`): its code word in English, said again in the reader's.
STAGE_WORDS = {Stage.PRIMARY: N_("primary"), Stage.BACKUP: N_("backup"), Stage.SUPERVISOR: N_("supervisor")}


def stage_said(stage: str) -> dict[str, str] | str:
    """`stage` as a message value (an unknown one as it is)."""
    return term(STAGE_WORDS[Stage(stage)], stage) if stage in STAGE_WORDS else stage


def sending(sent: list[str], failed: dict[str, str], nobody: str) -> dict[str, Any]:
    """What became of a call or a notice, as a message value (`%(outcome)s`): the channels that
    took it, else `nobody` (a msgid), then those that failed and why (their own words)."""
    failures = "; ".join(f"{channel}: {why}" for channel, why in failed.items())
    channels = ", ".join(sent)
    if sent and failed:
        return said(N_("sent by %(channels)s; failed: %(failures)s"), channels=channels, failures=failures)
    if sent:
        return said(N_("sent by %(channels)s"), channels=channels)
    if failed:
        return said(N_("%(nobody)s; failed: %(failures)s"), nobody=said(nobody), failures=failures)
    return said(nobody)


#: Decisions and ends that stop the calls about a draft: a person has it, or it is over.
STOP_ACTIONS = frozenset(
    {
        AuditAction.APPROVE,
        AuditAction.REJECT,
        AuditAction.HOLD,
        AuditAction.PUBLISHED,
        AuditAction.SUPERSEDED,
        AuditAction.EXPIRED,
        AuditAction.ACKNOWLEDGED,
    }
)


@dataclass
class Watch:
    """One draft version waiting for a person, and who was called about it at each stage."""

    alert_id: str
    incident_key: str
    version: int
    since: datetime
    escalate_after: timedelta | None
    headline: str = ""
    category: str | None = None
    severity: str | None = None
    source: str = ""
    incident_status: str = "Actual"
    called: dict[Stage, str | None] = field(default_factory=dict)  # None: nobody left to call

    def times(self, default: timedelta) -> dict[Stage, datetime]:
        after = self.escalate_after or default
        return {
            Stage.PRIMARY: self.since,
            Stage.BACKUP: self.since + after,
            Stage.SUPERVISOR: self.since + 2 * after,
        }


@dataclass(frozen=True)
class Intent:
    """One call owed now: `person` (None: nobody left in line, the stage is only marked done)."""

    alert_id: str
    incident_key: str
    version: int
    stage: Stage
    person: str | None
    service: str
    due_at: datetime
    waiting_since: datetime
    headline: str
    severity: str | None
    incident_status: str
    called_before: tuple[str, ...]


class Desk:
    """The open watches, by alert id."""

    def __init__(self) -> None:
        self.watches: dict[str, Watch] = {}

    def apply(self, event: AuditEvent) -> None:
        """One audit event, in the log's order (replaying the log rebuilds the same desk)."""
        if not event.alert_id:
            return
        watch = self.watches.get(event.alert_id)
        if event.action is AuditAction.DRAFTED:
            self._drafted(event, watch)
            return
        if watch is None or event.version != watch.version:
            return
        if event.action is AuditAction.NOTIFIED:
            stage = str(event.details.get("stage"))
            if stage in Stage.__members__.values():
                person = event.details.get("person")
                watch.called[Stage(stage)] = person if isinstance(person, str) else None
            return
        if not event.accepted:
            return
        closed = event.status is not None and event.status is not DraftStatus.PENDING
        if event.action in STOP_ACTIONS or closed:
            del self.watches[event.alert_id]

    def _drafted(self, event: AuditEvent, watch: Watch | None) -> None:
        version = event.version or 0
        if watch is not None and watch.version >= version:
            return  # the same draft handled again (a replay): its calls stand
        self.watches.pop(event.alert_id, None)
        if not event.accepted or event.status is not DraftStatus.PENDING:
            return  # published at once, or refused: nobody to call
        details = event.details
        seconds = details.get("escalate_after_s")
        self.watches[event.alert_id] = Watch(
            alert_id=event.alert_id,
            incident_key=event.incident_key,
            version=version,
            since=event.at,
            escalate_after=timedelta(seconds=seconds) if isinstance(seconds, int | float) else None,
            headline=str(details.get("headline") or event.incident_key),
            category=_text(details.get("category")),
            severity=_text(details.get("severity")),
            source=str(details.get("source") or ""),
            incident_status=str(details.get("incident_status") or "Actual"),
        )

    def due(self, rota: Rota | None, now: datetime) -> list[Intent]:
        """The calls owed at `now`, oldest stage first; none without a rota."""
        if rota is None:
            return []
        owed: list[Intent] = []
        for watch in sorted(self.watches.values(), key=lambda w: w.since):
            if now - watch.since > rota.max_wait:
                continue
            service = service_for(rota, watch.category, watch.source)
            for stage, at in watch.times(rota.escalate_after).items():
                if stage in watch.called or now < at:
                    continue
                on = who_is_on_duty(rota, service, now)
                line = {
                    Stage.PRIMARY: (on.primary, on.backup, on.supervisor),
                    Stage.BACKUP: (on.backup, on.supervisor),
                    Stage.SUPERVISOR: (on.supervisor,),
                }[stage]
                before = tuple(p for p in watch.called.values() if p is not None)
                taken = set(before) | {i.person for i in owed if i.alert_id == watch.alert_id}
                person = next((p for p in line if p is not None and p not in taken), None)
                owed.append(
                    Intent(
                        alert_id=watch.alert_id,
                        incident_key=watch.incident_key,
                        version=watch.version,
                        stage=stage,
                        person=person,
                        service=on.service,
                        due_at=at,
                        waiting_since=watch.since,
                        headline=watch.headline,
                        severity=watch.severity,
                        incident_status=watch.incident_status,
                        called_before=before,
                    )
                )
        return owed

    def mark(self, intent: Intent) -> None:
        """A stage done in this process, before its `notified` event comes back from the log."""
        watch = self.watches.get(intent.alert_id)
        if watch is not None and watch.version == intent.version:
            watch.called.setdefault(intent.stage, intent.person)


def _text(value: object) -> str | None:
    return str(value) if value else None


def notified_event(intent: Intent, now: datetime, sent: list[str], failed: dict[str, str]) -> AuditEvent:
    """The audit event of a call: accepted when at least one channel took it."""
    assert intent.person is not None
    words = said(
        N_("%(person)s called as %(stage)s on duty for %(service)s: %(outcome)s"),
        person=intent.person,
        stage=stage_said(intent.stage),
        service=intent.service,
        outcome=sending(sent, failed, N_("no channel took the call")),
    )
    words["message"] = words["message"][:2000]  # the channels' errors may be long
    return AuditEvent(
        at=now,
        actor=DUTY_ACTOR,
        action=AuditAction.NOTIFIED,
        incident_key=intent.incident_key,
        alert_id=intent.alert_id,
        version=intent.version,
        accepted=bool(sent),
        **words,
        details={
            "stage": intent.stage.value,
            "person": intent.person,
            "service": intent.service,
            "sent": sent,
            "failed": failed,
            "due_at": intent.due_at.isoformat(),
            "waiting_since": intent.waiting_since.isoformat(),
        },
    )


def acknowledged_event(
    *,
    actor: str,
    incident_key: str,
    alert_id: str,
    version: int,
    person: str,
    stage: str,
    now: datetime,
) -> AuditEvent:
    """A call answered from its link (by `actor`, logged in; maybe for the `person` called)."""
    words = said(
        N_("%(actor)s has it: the %(stage)s call is acknowledged, nobody else is called")
        if person == actor
        else N_("%(actor)s has it: the %(stage)s call to %(person)s is acknowledged, nobody else is called"),
        actor=actor,
        stage=stage_said(stage),
        person=person,
    )
    return AuditEvent(
        at=now,
        actor=actor,
        action=AuditAction.ACKNOWLEDGED,
        incident_key=incident_key,
        alert_id=alert_id,
        version=version,
        **words,
        details={"stage": stage, "person": person},
    )
