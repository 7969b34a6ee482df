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

A reply read twice (a worker killed between sending it and keeping its cursor) has the same id:
the second is dropped. An act this process produced is applied at once and dropped when it
comes back from Kafka, by its event id.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from alertcast.clock import clock
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.replies.actions import Kind, ReplyAction, ReplyActionOutcome, State
from alertcast.replies.model import Network, Reply, Turn
from alertcast.replies.moderation import Action, ModerationDecision, Reason, moderate
from alertcast.replies.routing import RoutingRules
from alertcast.replies.sla import ConversationState, SlaPolicy, conversation_state

log = logging.getLogger(__name__)

#: Citizens of a French body write French: the charter judges in it, and explains in it to the
#: console (English insults are not in the French lexicon: a person still reads every reply).
MODERATION_LANGUAGE = "fr"
REPLY_ACTIONS = frozenset(
    {
        AuditAction.REPLY_ANSWERED,
        AuditAction.REPLY_ASSIGNED,
        AuditAction.REPLY_MODERATED,
        AuditAction.REPLY_ACTION_REQUESTED,
        AuditAction.REPLY_ACTED,
    }
)
#: Where a conversation stands for the person on duty (Chatwoot's active/hit/missed, read at now).
Due = Literal["due", "soon", "overdue", "answered", "answered_late"]
OPEN: frozenset[Due] = frozenset({"due", "soon", "overdue"})
#: The list's filters (the `state` query parameter).
STATE_FILTERS = ("open", "overdue", "answered", "moderated")

CategoryOf = Callable[[str], str | None]


def load_routing(path: Path | None) -> RoutingRules:
    """The body's routing file, else the shipped one; a broken file stops the start (RoutingError)."""
    if path is not None:
        return RoutingRules.from_yaml(path.read_text(encoding="utf-8"))
    shipped = resources.files("alertcast.replies").joinpath("routing.yaml")
    return RoutingRules.from_yaml(shipped.read_text(encoding="utf-8"))


def thread_ref(network: str, conversation: str) -> str:
    """A conversation's id in URLs: native ids carry slashes and colons (Bluesky's at:// URIs)."""
    return hashlib.sha256(f"{network}\0{conversation}".encode()).hexdigest()[:20]


def safe_url(url: str | None) -> str | None:
    """A link to the original only when it is http(s): the URL is the citizen's network's, but a
    `javascript:` one must never become a link in the console."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


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
class Assignment:
    service: str
    by: str
    at: datetime


@dataclass(frozen=True)
class Act:
    """An action on the network asked from the console, and what became of it so far."""

    action_id: str
    kind: Kind
    reply_id: str
    by: str
    at: datetime
    state: State
    text: str | None = None
    error: str | None = None
    url: str | None = None
    settled_at: datetime | None = None  # when the worker said what became of it


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
    def summary(self) -> tuple[Action, str] | None:
        """The strictest verdict in force and why, for the list (None: every reply is kept)."""
        strictest = self.strictest
        if strictest == "keep":
            return None
        for entry in self.thread.entries:
            decision = self.decision(entry)
            if decision.action == strictest:
                why = decision.reasons[0].message if decision.reasons else f"verdict de {decision.by}"
                return strictest, why
        return None


class InboxModel:
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
        self.threads: dict[str, Thread] = {}  # by ref
        self.replies: dict[str, Entry] = {}  # by reply id: repeats are dropped here
        self.answered: dict[str, list[tuple[datetime, str]]] = {}  # by ref
        self.assigned: dict[str, Assignment] = {}  # by ref: the latest
        self.overrides: dict[str, ModerationDecision] = {}  # by reply id: the latest person's
        self.requested: dict[str, tuple[ReplyAction, str]] = {}  # by action id: (request, its ref)
        self.outcomes: dict[str, ReplyActionOutcome] = {}  # by action id: the latest
        self._events: set[str] = set()

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
        if reply.id in self.replies:
            return False
        verdict = moderate(reply, MODERATION_LANGUAGE)
        entry = Entry(reply=reply, machine=ModerationDecision.automatic(reply, verdict, self._now()))
        self.replies[reply.id] = entry
        ref = thread_ref(reply.network, reply.conversation)
        thread = self.threads.get(ref)
        if thread is None:
            thread = self.threads[ref] = Thread(ref, reply.network, reply.conversation, reply.alert_id)
        thread.alert_id = thread.alert_id or reply.alert_id
        thread.entries.append(entry)
        thread.entries.sort(key=lambda item: item.reply.at)
        return True

    def apply(self, event: AuditEvent) -> None:
        """A person's act on a conversation or a reply (read back from Kafka, or just produced
        by this process); applied once by event id."""
        if event.event_id in self._events:
            return
        self._events.add(event.event_id)
        details = event.details
        ref = str(details.get("ref", ""))
        if event.action is AuditAction.REPLY_ANSWERED and ref:
            marks = self.answered.setdefault(ref, [])
            marks.append((event.at, event.actor))
            marks.sort()
        elif event.action is AuditAction.REPLY_ASSIGNED and ref and details.get("service"):
            current = self.assigned.get(ref)
            if current is None or current.at <= event.at:
                self.assigned[ref] = Assignment(str(details["service"]), event.actor, event.at)
        elif event.action is AuditAction.REPLY_MODERATED and isinstance(details.get("decision"), dict):
            decision = ModerationDecision.model_validate(details["decision"])
            current_decision = self.overrides.get(decision.reply_id)
            if current_decision is None or current_decision.at <= decision.at:
                self.overrides[decision.reply_id] = decision
        elif event.action is AuditAction.REPLY_ACTION_REQUESTED and isinstance(details.get("request"), dict):
            action = ReplyAction.model_validate(details["request"])
            self.requested[action.action_id] = (action, action.ref)
        elif event.action is AuditAction.REPLY_ACTED and details.get("action_id"):
            result = ReplyActionOutcome.model_validate(
                {key: value for key, value in details.items() if key in ReplyActionOutcome.model_fields}
            )
            known = self.outcomes.get(result.action_id)
            if known is None or known.at <= result.at:
                self.outcomes[result.action_id] = result

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
        answered = self.answered.get(thread.ref, [])
        # A network's clock a little ahead of ours must not leave a reply with no deadline.
        turns = [Turn(who="citizen", at=min(entry.reply.at, now)) for entry in thread.entries]
        turns += [Turn(who="us", at=at) for at, _ in answered]
        acts = self.acts(thread.ref)
        turns += [
            Turn(who="us", at=min(act.settled_at or act.at, now))
            for act in acts
            if act.kind == "answer" and act.state == "done"
        ]
        turns.sort(key=lambda turn: (turn.at, turn.who == "us"))
        circuit = conversation_state(turns, self.sla, now, self.timezone)
        assignment = self.assigned.get(thread.ref)
        service = assignment.service if assignment else self._route(thread, category_of)
        decisions = {
            entry.reply.id: self.overrides.get(entry.reply.id, entry.machine) for entry in thread.entries
        }
        return ThreadView(thread, service, assignment, circuit, _due(circuit, now), decisions, answered, acts)

    def acts(self, ref: str) -> list[Act]:
        """The conversation's actions on the network: each request with its outcome (either may
        be read first: they come from different partitions), oldest first."""
        acts: dict[str, Act] = {}
        for action_id, (action, at_ref) in self.requested.items():
            if at_ref == ref:
                acts[action_id] = Act(
                    action_id, action.kind, action.reply_id, action.by, action.at, "requested", action.text
                )
        for action_id, result in self.outcomes.items():
            if result.ref != ref:
                continue
            asked = acts.get(action_id)
            acts[action_id] = Act(
                action_id,
                result.kind,
                result.reply_id,
                result.by,
                asked.at if asked else result.at,
                result.state,
                asked.text if asked else None,
                result.error,
                safe_url(result.url),
                result.at,
            )
        return sorted(acts.values(), key=lambda act: act.at)

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

    def _route(self, thread: Thread, category_of: CategoryOf) -> str:
        """The service the rules give: a keyword in any of the citizens' replies counts, else the
        category of the alert they answer."""
        text = "\n".join(entry.reply.text for entry in thread.entries)
        whole = thread.entries[0].reply.model_copy(update={"text": text})
        return self.routing.route(whole, category_of(thread.alert_id) if thread.alert_id else None)


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
