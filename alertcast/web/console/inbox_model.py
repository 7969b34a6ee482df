"""The inbox's read model: every citizen's reply, as the duty communicator must handle it.

Fed by `replies.received` (one `Reply` per message, keyed by the alert it answers) and by the
people's acts on `audit.events` (a conversation marked answered, handed to another service, a
reply's verdict changed). The two topics are read side by side with no order between them, so
the acts are kept by conversation and reply id, apart from the replies, and only combined when
a page asks: an act replayed before its reply still counts once the reply arrives.

What is decided once, on arrival: the charter's verdict (`alertcast.replies.moderation`), a
pure function of the text. What depends on the moment or on other topics is computed per page:
the competent service (`routing`: the alert's category comes from the drafts, which may arrive
after the reply) and the 72-hour circuit (`sla`, with the injected clock's "now").

The fold of replies and acts into conversations is `alertcast.replies.conversations`, shared
with the worker that warns the services before a conversation is missed: both see the same
circuit. A reply read twice (a worker killed between sending it and keeping its cursor) has the
same id: the second is dropped. An act this process produced is applied at once and dropped when it
comes back from Kafka, by its event id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from alertcast.clock import clock
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.replies.actions import Kind
from alertcast.replies.conversations import (
    REPLY_ACTIONS,
    Act,
    Assignment,
    CategoryOf,
    ConversationLog,
    load_routing,
    safe_url,
    thread_ref,
)
from alertcast.replies.model import Network, Reply
from alertcast.replies.moderation import Action, ModerationDecision, Reason, moderate
from alertcast.replies.routing import RoutingRules
from alertcast.replies.sla import ConversationState, SlaPolicy

log = logging.getLogger(__name__)

#: Citizens of a French body write French: the charter judges in it, and explains in it to the
#: console (English insults are not in the French lexicon: a person still reads every reply).
MODERATION_LANGUAGE = "fr"
#: Where a conversation stands for the person on duty (Chatwoot's active/hit/missed, read at now).
Due = Literal["due", "soon", "overdue", "answered", "answered_late"]
OPEN: frozenset[Due] = frozenset({"due", "soon", "overdue"})
#: The list's filters (the `state` query parameter).
STATE_FILTERS = ("open", "overdue", "answered", "moderated")

#: Folded with the worker's circuit in alertcast.replies.conversations; importable from here too.
__all__ = ["REPLY_ACTIONS", "Act", "Assignment", "CategoryOf", "load_routing", "safe_url", "thread_ref"]


def marked(text: str, reasons: Iterable[Reason]) -> list[tuple[str, Reason | None]]:
    """The text cut at its reasons' spans, so a page marks them without building HTML (the first
    of overlapping spans wins; nothing of the text is lost)."""
    spans = sorted((r for r in reasons if r.end > r.start and r.end <= len(text)), key=lambda r: r.start)
    out: list[tuple[str, Reason | None]] = []
    at = 0
    for reason in spans:
        if reason.start < at:
            continue
        if reason.start > at:
            out.append((text[at : reason.start], None))
        out.append((text[reason.start : reason.end], reason))
        at = reason.end
    if at < len(text):
        out.append((text[at:], None))
    return out


@dataclass
class Entry:
    """One reply and the charter's verdict on it, decided when it arrived."""

    reply: Reply
    machine: ModerationDecision

    @property
    def segments(self) -> list[tuple[str, Reason | None]]:
        return marked(self.reply.text, self.machine.reasons)

    @property
    def link(self) -> str | None:
        return safe_url(self.reply.url)


@dataclass
class Thread:
    """One conversation on one network: its citizens' replies, oldest first."""

    ref: str
    network: Network
    conversation: str
    alert_id: str | None
    entries: list[Entry] = field(default_factory=list)

    @property
    def latest(self) -> datetime:
        return self.entries[-1].reply.at


@dataclass(frozen=True)
class ThreadView:
    """A conversation as a page shows it at one moment."""

    thread: Thread
    service: str
    assignment: Assignment | None  # None: the routing rules chose the service
    circuit: ConversationState | None  # None: no citizen message has happened yet at `now`
    due: Due
    decisions: dict[str, ModerationDecision]  # by reply id: a person's, else the charter's
    answered: list[tuple[datetime, str]]  # (when, by whom) it was marked answered
    acts: list[Act] = field(default_factory=list)  # actions on the network, oldest first

    def acts_on(self, reply_id: str) -> list[Act]:
        return [act for act in self.acts if act.reply_id == reply_id]

    def hidden_on_network(self, reply_id: str) -> bool:
        """The last hide or unhide of this reply that was done: a hide."""
        done = [act for act in self.acts_on(reply_id) if act.kind != "answer" and act.state == "done"]
        return bool(done) and done[-1].kind == "hide"

    def pending(self, reply_id: str, kind: Kind) -> bool:
        """Asked and not answered yet by the worker: the button is not offered twice."""
        return any(act.kind == kind and act.state == "requested" for act in self.acts_on(reply_id))

    @property
    def moderated(self) -> bool:
        return any(decision.action != "keep" for decision in self.decisions.values())

    @property
    def strictest(self) -> Action:
        actions = {decision.action for decision in self.decisions.values()}
        return "hide" if "hide" in actions else "flag" if "flag" in actions else "keep"

    def decision(self, entry: Entry) -> ModerationDecision:
        return self.decisions.get(entry.reply.id, entry.machine)

    @property
    def summary(self) -> tuple[Action, Reason | str] | None:
        """The strictest verdict in force and why (its first reason, else who decided it), for
        the list (None: every reply is kept)."""
        strictest = self.strictest
        if strictest == "keep":
            return None
        for entry in self.thread.entries:
            decision = self.decision(entry)
            if decision.action == strictest:
                return strictest, decision.reasons[0] if decision.reasons else decision.by
        return None


class InboxModel:
    """The conversations (`ConversationLog`, shared with the worker's circuit) with the
    charter's verdicts and the people's overrides of them, which only the console shows."""

    def __init__(
        self,
        replies_topic: str,
        audit_topic: str,
        routing: RoutingRules,
        sla: SlaPolicy,
        timezone: str,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.replies_topic = replies_topic
        self.audit_topic = audit_topic
        self.routing = routing
        self.sla = sla
        self.timezone = timezone
        self._now = now
        self.log = ConversationLog()
        self.threads: dict[str, Thread] = {}  # by ref
        self.replies: dict[str, Entry] = {}  # by reply id
        self.answered = self.log.answered  # by ref
        self.assigned = self.log.assigned  # by ref: the latest
        self.requested = self.log.requested  # by action id: (request, its ref)
        self.outcomes = self.log.outcomes  # by action id: the latest
        self.overrides: dict[str, ModerationDecision] = {}  # by reply id: the latest person's

    def on_message(self, topic: str, key: bytes | None, value: bytes) -> None:
        """A message of a followed topic; one that does not read is logged and skipped, so a
        broken producer cannot blind the inbox."""
        try:
            if topic == self.replies_topic:
                self.add(Reply.model_validate_json(value))
            elif topic == self.audit_topic:
                event = AuditEvent.model_validate_json(value)
                if event.action in REPLY_ACTIONS:
                    self.apply(event)
        except (ValidationError, ValueError) as error:
            log.warning("inbox: a message of %s does not read, skipped: %s", topic, error)

    def add(self, reply: Reply) -> bool:
        """A reply, judged by the charter; False for a repeat (same id), which is dropped."""
        found = self.log.add(reply)
        if found is None:
            return False
        verdict = moderate(reply, MODERATION_LANGUAGE)
        self.replies[reply.id] = Entry(
            reply=reply, machine=ModerationDecision.automatic(reply, verdict, self._now())
        )
        entries = [self.replies[item.id] for item in found.replies]
        thread = self.threads.get(found.ref)
        if thread is None:
            thread = self.threads[found.ref] = Thread(
                found.ref, found.network, found.conversation, found.alert_id
            )
        thread.alert_id = found.alert_id
        thread.entries = entries
        return True

    def apply(self, event: AuditEvent) -> None:
        """A person's act on a conversation or a reply (read back from Kafka, or just produced
        by this process); applied once by event id."""
        if not self.log.apply(event):
            return
        details = event.details
        if event.action is AuditAction.REPLY_MODERATED and isinstance(details.get("decision"), dict):
            decision = ModerationDecision.model_validate(details["decision"])
            current_decision = self.overrides.get(decision.reply_id)
            if current_decision is None or current_decision.at <= decision.at:
                self.overrides[decision.reply_id] = decision

    # --- what the pages ask -------------------------------------------------------------

    def services(self) -> list[str]:
        """Who a conversation can be handed to: the routing file's services, default first."""
        config = self.routing.config
        return list(dict.fromkeys([config.default, *(rule.service for rule in config.rules)]))

    def decision(self, reply_id: str) -> ModerationDecision | None:
        """The verdict in force on a reply: a person's last, else the charter's."""
        entry = self.replies.get(reply_id)
        return self.overrides.get(reply_id) or (entry.machine if entry else None)

    def view(self, thread: Thread, category_of: CategoryOf) -> ThreadView:
        """`thread` at the clock's now: its service, circuit and verdicts."""
        now = self._now()
        circuit = self.log.circuit(thread.ref, self.sla, now, self.timezone)
        service = self.log.service(thread.ref, self.routing, category_of)
        decisions = {
            entry.reply.id: self.overrides.get(entry.reply.id, entry.machine) for entry in thread.entries
        }
        return ThreadView(
            thread,
            service,
            self.assigned.get(thread.ref),
            circuit,
            _due(circuit, now),
            decisions,
            self.answered.get(thread.ref, []),
            self.acts(thread.ref),
        )

    def acts(self, ref: str) -> list[Act]:
        """The conversation's actions on the network, oldest first."""
        return self.log.acts(ref)

    def views(
        self, category_of: CategoryOf, state: str = "", service: str = "", network: str = ""
    ) -> list[ThreadView]:
        """Every conversation, newest reply first, kept by the filters given (empty: any)."""
        threads = sorted(self.threads.values(), key=lambda thread: thread.latest, reverse=True)
        shown = []
        for thread in threads:
            if network and thread.network != network:
                continue
            view = self.view(thread, category_of)
            if service and view.service != service:
                continue
            if state and not _in_state(view, state):
                continue
            shown.append(view)
        return shown


def by_alert(views: list[ThreadView]) -> list[tuple[str | None, list[ThreadView]]]:
    """The conversations grouped by the alert they answer (None: mentions under no alert),
    each group where its newest conversation falls."""
    groups: dict[str | None, list[ThreadView]] = {}
    for view in views:
        groups.setdefault(view.thread.alert_id, []).append(view)
    return list(groups.items())


def _due(circuit: ConversationState | None, now: datetime) -> Due:
    if circuit is None:
        return "due"
    if circuit.state == "active":
        return "soon" if circuit.warn_at is not None and now >= circuit.warn_at else "due"
    if circuit.due is not None:  # missed and still waiting
        return "overdue"
    return "answered_late" if circuit.state == "missed" else "answered"


def _in_state(view: ThreadView, state: str) -> bool:
    if state == "open":
        return view.due in OPEN
    if state == "overdue":
        return view.due == "overdue"
    if state == "answered":
        return view.due in ("answered", "answered_late")
    if state == "moderated":
        return view.moderated
    return True
