"""Citizens' conversations folded from the two topics that make them: where each stands.

`replies.received` brings the citizens' messages (keyed by alert), `audit.events` the people's
acts on them (marked answered, handed to a service, an answer asked and what became of it).
The two are read side by side with no order between them, so the acts are kept by
conversation ref and action id, apart from the replies, and only combined when asked: an act
replayed before its reply still counts once the reply arrives.

Both readers of these topics share this fold, so they never disagree: the console's inbox
(`alertcast.web.console.inbox_model`, which adds the charter's verdicts) and the worker that
warns the competent service and then the supervisor before a conversation is missed
(`alertcast.replies.circuit`). Pure: `now` is passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.replies.actions import Kind, ReplyAction, ReplyActionOutcome, State
from alertcast.replies.model import Network, Reply, Turn
from alertcast.replies.routing import RoutingRules
from alertcast.replies.sla import ConversationState, SlaPolicy, conversation_state

#: The people's acts on conversations, in `audit.events` (a person's verdict is the console's
#: alone, but it is folded here too so an event is counted once by id, whoever reads it).
REPLY_ACTIONS = frozenset(
    {
        AuditAction.REPLY_ANSWERED,
        AuditAction.REPLY_ASSIGNED,
        AuditAction.REPLY_MODERATED,
        AuditAction.REPLY_ACTION_REQUESTED,
        AuditAction.REPLY_ACTED,
    }
)

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


@dataclass
class Conversation:
    """One conversation on one network: its citizens' replies, oldest first."""

    ref: str
    network: Network
    conversation: str
    alert_id: str | None
    replies: list[Reply] = field(default_factory=list)


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


class ConversationLog:
    """Every conversation's replies and acts, as read so far."""

    def __init__(self) -> None:
        self.conversations: dict[str, Conversation] = {}  # by ref
        self.replies: dict[str, Reply] = {}  # by reply id: repeats are dropped here
        self.answered: dict[str, list[tuple[datetime, str]]] = {}  # by ref
        self.assigned: dict[str, Assignment] = {}  # by ref: the latest
        self.requested: dict[str, tuple[ReplyAction, str]] = {}  # by action id: (request, its ref)
        self.outcomes: dict[str, ReplyActionOutcome] = {}  # by action id: the latest
        self._events: set[str] = set()

    def add(self, reply: Reply) -> Conversation | None:
        """A citizen's reply into its conversation; None for a repeat (same id), dropped."""
        if reply.id in self.replies:
            return None
        self.replies[reply.id] = reply
        ref = thread_ref(reply.network, reply.conversation)
        found = self.conversations.get(ref)
        if found is None:
            found = self.conversations[ref] = Conversation(
                ref, reply.network, reply.conversation, reply.alert_id
            )
        found.alert_id = found.alert_id or reply.alert_id
        found.replies.append(reply)
        found.replies.sort(key=lambda item: item.at)
        return found

    def apply(self, event: AuditEvent) -> bool:
        """A person's act on a conversation; False when it is no such act or was applied already
        (an act this process produced comes back from Kafka with the same event id)."""
        if event.action not in REPLY_ACTIONS or event.event_id in self._events:
            return False
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
        return True

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

    def turns(self, ref: str, now: datetime) -> list[Turn]:
        """Who spoke when in the conversation: the citizens' replies, and our answers (marked
        answered by a person, or an answer the worker posted), in time order."""
        found = self.conversations.get(ref)
        # A network's clock a little ahead of ours must not leave a reply with no deadline.
        turns = [Turn(who="citizen", at=min(reply.at, now)) for reply in found.replies] if found else []
        turns += [Turn(who="us", at=at) for at, _ in self.answered.get(ref, [])]
        turns += [
            Turn(who="us", at=min(act.settled_at or act.at, now))
            for act in self.acts(ref)
            if act.kind == "answer" and act.state == "done"
        ]
        turns.sort(key=lambda turn: (turn.at, turn.who == "us"))
        return turns

    def circuit(self, ref: str, policy: SlaPolicy, now: datetime, tz: str) -> ConversationState | None:
        """Where the 72-hour circuit stands at `now` (None: no citizen has written yet)."""
        return conversation_state(self.turns(ref, now), policy, now, tz)

    def service(self, ref: str, routing: RoutingRules, category_of: CategoryOf) -> str:
        """The competent service: the one a person handed the conversation to, else the one the
        rules give (a keyword in any of the citizens' replies, else the category of the alert)."""
        assignment = self.assigned.get(ref)
        if assignment is not None:
            return assignment.service
        found = self.conversations[ref]
        text = "\n".join(reply.text for reply in found.replies)
        whole = found.replies[0].model_copy(update={"text": text})
        return routing.route(whole, category_of(found.alert_id) if found.alert_id else None)
