"""Who is told, and when, that a citizen's conversation waits too long: the 72-hour circuit's
warnings, folded from the same topics as the inbox.

At the warning (`warn_before` ahead of the deadline, as the inbox shows "soon") the competent
service's person on duty is told, from the duty rota (its primary, else its backup, else the
supervisor: somebody always hears); once the deadline has passed (the conversation is
"missed"), the supervisor. Each stage once per wait: a notice's key is the conversation, the
round (how many of our answers came before this wait: a next-response deadline is a new
round) and the stage. A sent notice is an audit event (`reply_circuit_warned`,
`reply_circuit_missed`) and `apply` of it marks the key, so a worker that restarts and reads
the log again sends nothing twice. Nothing is owed while nobody waits: answered (marked, or
an answer posted) before the warning, nothing is sent.

Whom a stage tells is decided when it is due, from the rota then. A stage overdue by more than
the rota's `max_wait` (a conversation found after a long outage, or the whole history on the
first start) tells nobody, as the duty desk does with old drafts. Pure: `now` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from alertcast.duty.escalation import sending
from alertcast.duty.rota import Rota, who_is_on_duty
from alertcast.i18n import N_, said
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.replies.conversations import ConversationLog
from alertcast.replies.model import Network, Reply
from alertcast.replies.routing import RoutingRules
from alertcast.replies.sla import SlaPolicy, conversation_state

CIRCUIT_ACTOR = "system:circuit"


class CircuitStage(StrEnum):
    WARNING = "warning"  # the service's person on duty
    DEADLINE = "deadline"  # the supervisor


STAGE_ACTIONS = {
    CircuitStage.WARNING: AuditAction.REPLY_CIRCUIT_WARNED,
    CircuitStage.DEADLINE: AuditAction.REPLY_CIRCUIT_MISSED,
}
ACTION_STAGES = {action: stage for stage, action in STAGE_ACTIONS.items()}


def notice_key(ref: str, round_: int, stage: CircuitStage) -> str:
    return f"{ref}:{round_}:{stage.value}"


@dataclass(frozen=True)
class Notice:
    """One notice owed now about one conversation (`person` None: nobody in the rota to tell)."""

    ref: str
    network: Network
    alert_id: str | None
    round: int
    stage: CircuitStage
    person: str | None
    service: str  # the competent service (routing, or a person's assignment)
    duty_service: str  # the rota's service that answered for it ("*" when it has no rota of its own)
    at: datetime  # when the stage fell due
    deadline: datetime
    waiting_since: datetime

    @property
    def key(self) -> str:
        return notice_key(self.ref, self.round, self.stage)


class Circuit:
    """The conversations, the categories of the alerts they answer, and the notices sent."""

    def __init__(self) -> None:
        self.log = ConversationLog()
        self.categories: dict[str, str] = {}  # by alert id, from the `drafted` audit events
        self.sent: dict[str, str | None] = {}  # by notice key: whom it told

    def add(self, reply: Reply) -> None:
        self.log.add(reply)

    def apply(self, event: AuditEvent) -> None:
        """One audit event: a person's act on a conversation, a draft's category (for routing by
        category), or a notice already sent."""
        if event.action is AuditAction.DRAFTED and event.alert_id and event.details.get("category"):
            self.categories[event.alert_id] = str(event.details["category"])
            return
        stage = ACTION_STAGES.get(event.action)
        if stage is not None:
            details = event.details
            round_ = details.get("round")
            if details.get("ref") and isinstance(round_, int):
                person = details.get("person")
                key = notice_key(str(details["ref"]), round_, stage)
                self.sent[key] = person if isinstance(person, str) else None
            return
        self.log.apply(event)

    def category(self, alert_id: str) -> str | None:
        return self.categories.get(alert_id)

    def due(
        self, rota: Rota | None, policy: SlaPolicy, routing: RoutingRules, tz: str, now: datetime
    ) -> list[Notice]:
        """The notices owed at `now`, the oldest wait first, warning before deadline; none
        without a rota."""
        if rota is None:
            return []
        owed: list[Notice] = []
        for ref, conversation in self.log.conversations.items():
            turns = self.log.turns(ref, now)
            state = conversation_state(turns, policy, now, tz)
            if state is None or state.waiting_since is None or state.due is None or state.warn_at is None:
                continue  # nobody waits: answered, or no citizen message has happened yet
            waiting_since = state.waiting_since
            round_ = sum(1 for turn in turns if turn.who == "us" and turn.at <= waiting_since)
            stages = ((CircuitStage.WARNING, state.warn_at), (CircuitStage.DEADLINE, state.due))
            pending = [
                (stage, at)
                for stage, at in stages
                if notice_key(ref, round_, stage) not in self.sent
                and (now >= at if stage is CircuitStage.WARNING else now > at)
                and now - at <= rota.max_wait
            ]
            if not pending:
                continue
            service = self.log.service(ref, routing, self.category)
            on = who_is_on_duty(rota, service, now)
            for stage, at in pending:
                person = (
                    on.primary or on.backup or on.supervisor
                    if stage is CircuitStage.WARNING
                    else on.supervisor
                )
                owed.append(
                    Notice(
                        ref=ref,
                        network=conversation.network,
                        alert_id=conversation.alert_id,
                        round=round_,
                        stage=stage,
                        person=person,
                        service=service,
                        duty_service=on.service,
                        at=at,
                        deadline=state.due,
                        waiting_since=waiting_since,
                    )
                )
        owed.sort(key=lambda notice: (notice.waiting_since, notice.stage is CircuitStage.DEADLINE))
        return owed

    def mark(self, notice: Notice) -> None:
        """A notice handled in this process, before its audit event comes back from the log."""
        self.sent.setdefault(notice.key, notice.person)


def notice_event(notice: Notice, now: datetime, sent: list[str], failed: dict[str, str]) -> AuditEvent:
    """The audit event of a notice: accepted when at least one channel took it."""
    words = said(
        N_("%(person)s warned before the deadline of a conversation waiting for %(service)s: %(outcome)s")
        if notice.stage is CircuitStage.WARNING
        else N_("%(person)s told the deadline passed of a conversation waiting for %(service)s: %(outcome)s"),
        person=notice.person or "?",
        service=notice.service,
        outcome=sending(sent, failed, N_("no channel took the notice")),
    )
    words["message"] = words["message"][:2000]  # the channels' errors may be long
    return AuditEvent(
        at=now,
        actor=CIRCUIT_ACTOR,
        action=STAGE_ACTIONS[notice.stage],
        alert_id=notice.alert_id or "",
        accepted=bool(sent),
        **words,
        details={
            "ref": notice.ref,
            "round": notice.round,
            "stage": notice.stage.value,
            "person": notice.person,
            "service": notice.service,
            "duty_service": notice.duty_service,
            "network": notice.network,
            "sent": sent,
            "failed": failed,
            "due_at": notice.at.isoformat(),
            "deadline": notice.deadline.isoformat(),
            "waiting_since": notice.waiting_since.isoformat(),
        },
    )
