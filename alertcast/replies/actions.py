"""Acting on a network from the inbox: hide (or show again) a citizen's reply, or answer it.

A person asks from the console; the worker does it (alertcast/stream/reply_actions.py), once.
This module says what may be asked and what each network allows, without any I/O:

- hide: Bluesky (our thread's `app.bsky.feed.threadgate` record, `hiddenReplies`), X (`PUT
  /2/tweets/:id/hidden`, replies in conversations we started), Facebook (a comment's
  `is_hidden`), Matrix (a redaction in our room, only once a person confirmed it: it cannot be
  undone). Mastodon offers mute, block and report, nothing that hides a reply under our status:
  the reply stays flagged in the inbox only. Telegram and e-mail have nothing to hide.
- unhide: where hiding is a state we can set back (Bluesky, X, Facebook); a redaction is final.
- answer: a post in the thread under the citizen's reply, where the network has threads
  (Mastodon `in_reply_to_id`, Bluesky reply refs, X `in_reply_to_tweet_id`, a Facebook comment
  reply, Matrix `m.relates_to`, e-mail `In-Reply-To`).

Once, even across a worker killed mid-way: the action's id is its idempotency key. It is the
ledger's key (the same `LedgerEntry` and `next_action` as deliveries), the Bluesky record key
of the answer, the marker in an answer's text where the network has no idempotency key.
Hiding is idempotent on every network (a set, not a counter), so an attempt whose answer was
lost is simply made again; an answer is looked up on the network first, and where the network
cannot say (SMTP), or when every try failed without a refusal (a 5xx may follow a stored post),
it is "unknown" and waits for a person, never posted blind. A person asks again with a new
request (a new id), after looking at the thread.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alertcast.delivery.ledger import Action, LedgerEntry, LedgerState, next_action
from alertcast.delivery.retry import OutcomeUnknown, PermanentError, TransientError
from alertcast.i18n import N_
from alertcast.models.incident import UtcDateTime
from alertcast.models.post import PostResult
from alertcast.replies.model import Network

Kind = Literal["hide", "unhide", "answer"]
State = Literal["requested", "done", "refused", "unknown", "failed"]
#: Each kind and state as people read it (a message's value: `alertcast.i18n.term`).
KIND_WORDS = {"hide": N_("hide"), "unhide": N_("show again"), "answer": N_("answer")}
STATE_WORDS = {
    "requested": N_("requested"),
    "done": N_("done"),
    "refused": N_("impossible"),
    "unknown": N_("outcome unknown"),
    "failed": N_("unsuccessful"),
}
MAX_ANSWER = 5_000

#: Why a network cannot do a kind of action: the refusal the console shows, a msgid (said in
#: the reader's language where it is shown; stored in English in an outcome).
CANNOT: dict[tuple[Network, Kind], str] = {
    ("mastodon", "hide"): N_(
        "Mastodon does not let us hide a reply under our posts (only mute, block or report an "
        "account): it stays flagged in the inbox."
    ),
    ("mastodon", "unhide"): N_("Mastodon does not hide replies: nothing to show again."),
    ("matrix", "unhide"): N_("A Matrix redaction is final: the message cannot be restored."),
    ("telegram", "hide"): N_("Telegram offers no hiding of comments: only deleting them."),
    ("telegram", "unhide"): N_("Telegram does not hide comments: nothing to show again."),
    ("telegram", "answer"): N_("Answering on Telegram from the console is not possible yet."),
    ("email", "hide"): N_("A received e-mail cannot be hidden: only we can see it."),
    ("email", "unhide"): N_("A received e-mail cannot be hidden: nothing to show again."),
}
NOT_OURS = N_("This is not under one of our posts: the network only lets us hide replies under ours.")
UNCONFIRMED = N_("Redacting a Matrix message is final: a person must confirm it first.")
UNSUPPORTED = N_(
    "alertcast cannot do this action on this network: the channel is not configured on the "
    "worker, or its adapter does not support it"
)
#: Every refusal worded here: an outcome's error that is one of them is said in the reader's
#: language; any other (a network's own words) is shown as it came.
REFUSALS = frozenset({*CANNOT.values(), NOT_OURS, UNCONFIRMED, UNSUPPORTED})
#: Networks whose hiding only works in a thread we started (the reply must answer one of our alerts).
OWN_THREAD_ONLY: frozenset[Network] = frozenset({"bluesky", "x", "facebook", "matrix"})


class ReplyAction(BaseModel):
    """One request from the console (`replies.actions`, keyed by conversation ref)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="the idempotency key: ledger key, record key, marker",
    )
    kind: Kind
    network: Network
    account: str | None = Field(default=None, description="our account on the network; None: the first")
    target: str = Field(min_length=1, description="native id of the citizen's reply")
    reply_id: str = Field(min_length=3, description="the inbox's id of that reply (network:native)")
    author: str = Field(default="", description="the citizen's handle, to address an answer")
    conversation: str = Field(min_length=1, description="native id of the thread's root post")
    ref: str = Field(min_length=1, description="the conversation's ref in the console")
    alert_id: str | None = Field(default=None, description="the alert the thread answers; None: a mention")
    text: str | None = Field(default=None, max_length=MAX_ANSWER, description="answer: what we write")
    confirmed_by: str | None = Field(default=None, description="Matrix redaction: who confirmed it")
    by: str = Field(min_length=1, description="who asked")
    at: UtcDateTime

    @model_validator(mode="after")
    def _answer_has_text(self) -> ReplyAction:
        if self.kind == "answer" and not (self.text or "").strip():
            raise ValueError("an answer needs its text")
        if self.kind != "answer" and self.text is not None:
            raise ValueError("only an answer carries a text")
        return self

    @property
    def key(self) -> bytes:
        """The topic key: one conversation's actions stay in order on one partition."""
        return self.ref.encode()


class ReplyActionOutcome(BaseModel):
    """What became of one request (`replies.outcomes`, keyed like the request): the receipt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: str
    kind: Kind
    network: Network
    ref: str
    reply_id: str
    state: State
    post_id: str | None = Field(default=None, description="the network's id of what it did")
    url: str | None = None
    error: str | None = Field(default=None, description="why not, for a person")
    attempts: int = 0
    by: str
    at: UtcDateTime


def refusal(action: ReplyAction) -> str | None:
    """Why the network cannot do this (None: it can)."""
    known = CANNOT.get((action.network, action.kind))
    if known is not None:
        return known
    if action.kind in ("hide", "unhide") and action.network in OWN_THREAD_ONLY and action.alert_id is None:
        return NOT_OURS
    if action.network == "matrix" and action.kind == "hide" and not action.confirmed_by:
        return UNCONFIRMED
    return None


def allowed(network: Network, kind: Kind) -> bool:
    """What the console offers for a reply under one of our alerts (a button or not)."""
    return (network, kind) not in CANNOT


def repeatable(kind: Kind) -> bool:
    """Hiding sets a state: made twice, it is made once. An answer made twice is two posts."""
    return kind in ("hide", "unhide")


class Acting(Protocol):
    """What a channel offers for actions (each only where its network allows it)."""

    async def hide_reply(self, action: ReplyAction) -> PostResult: ...

    async def answer(self, action: ReplyAction) -> PostResult: ...

    async def find_answer(self, action: ReplyAction) -> PostResult | None: ...


def supports(channel: object, kind: Kind) -> bool:
    """Does this channel's adapter implement `kind` (hide and unhide share `hide_reply`)?"""
    return hasattr(channel, "answer" if kind == "answer" else "hide_reply")


# --- the steps of one request (the worker asks them in order) ----------------------------------


@dataclass(frozen=True)
class Finish:
    """The request ends with this outcome; `entry` is recorded (after the outcome is sent) if
    `write` (a settled entry met again is only repeated)."""

    state: State
    entry: LedgerEntry | None = None
    error: str | None = None
    write: bool = True


@dataclass(frozen=True)
class Call:
    """Call the network: `entry` (in flight) is recorded durably first."""

    entry: LedgerEntry


@dataclass(frozen=True)
class LookUp:
    """An answer may have reached the network before a restart: ask it first."""

    entry: LedgerEntry


LEDGER_STATE: dict[LedgerState, State] = {
    LedgerState.SENT: "done",
    LedgerState.UNKNOWN: "unknown",
    LedgerState.DEAD: "failed",
    LedgerState.DROPPED: "refused",
}
LOOKUP_UNSUPPORTED = (
    "le travailleur s'est arrêté pendant l'envoi et le réseau ne peut pas dire si la réponse est partie : "
    "vérifiez sur le réseau avant de la redemander"
)


def arrive(
    action: ReplyAction, entry: LedgerEntry | None, supported: bool, now: datetime
) -> Finish | Call | LookUp:
    """First step: refused by the network (or our adapter), already settled, or go on."""
    if entry is not None and next_action(entry) in (Action.DONE, Action.WAIT):
        return Finish(LEDGER_STATE.get(entry.state, "failed"), entry, entry.error, write=False)
    why = refusal(action) or (None if supported else UNSUPPORTED)
    if why is not None:
        return Finish("refused", error=why, write=False)
    if entry is not None and not repeatable(action.kind):
        return LookUp(entry)
    return Call(in_flight(action, entry, now))


def in_flight(action: ReplyAction, entry: LedgerEntry | None, now: datetime) -> LedgerEntry:
    return LedgerEntry(
        delivery_key=action.action_id,
        state=LedgerState.IN_FLIGHT,
        attempts=(entry.attempts if entry else 0) + 1,
        updated_at=now,
    )


def looked_up(
    action: ReplyAction, entry: LedgerEntry, found: PostResult | None, supported: bool, now: datetime
) -> Finish | Call:
    """After asking the network whether an interrupted answer went out."""
    if not supported:
        unsure = settle(entry, LedgerState.UNKNOWN, now, error=LOOKUP_UNSUPPORTED)
        return Finish("unknown", unsure, LOOKUP_UNSUPPORTED)
    if found is not None:
        return Finish("done", settle(entry, LedgerState.SENT, now, post=found))
    return Call(in_flight(action, entry, now))


def called(entry: LedgerEntry, result: PostResult, tries: int, now: datetime) -> Finish:
    return Finish("done", settle(entry, LedgerState.SENT, now, post=result, attempts=tries))


def failed(
    entry: LedgerEntry, failure: Exception, max_attempts: int, now: datetime, kind: Kind = "hide"
) -> Finish:
    """Unknown (it may be out: a person checks) or failed (refused, or a hiding whose every try
    failed: nothing to fear from asking again). An answer whose last tries failed without a
    refusal may have been stored by a network that then failed to say so: unknown."""
    if isinstance(failure, OutcomeUnknown) or (isinstance(failure, TransientError) and not repeatable(kind)):
        return Finish("unknown", settle(entry, LedgerState.UNKNOWN, now, error=str(failure)), str(failure))
    if not isinstance(failure, TransientError | PermanentError):
        raise TypeError(f"not an action outcome: {failure!r}")
    tries = max_attempts if isinstance(failure, TransientError) else entry.attempts
    dead = settle(entry, LedgerState.DEAD, now, error=str(failure), attempts=tries)
    return Finish("failed", dead, str(failure))


def settle(entry: LedgerEntry, state: LedgerState, now: datetime, **changes: object) -> LedgerEntry:
    return entry.model_copy(update={"state": state, "updated_at": now, **changes})


def outcome(action: ReplyAction, finish: Finish, now: datetime) -> ReplyActionOutcome:
    """The receipt of a finished request, from what the ledger holds."""
    entry = finish.entry
    post = entry.post if entry is not None and entry.post is not None else PostResult()
    return ReplyActionOutcome(
        action_id=action.action_id,
        kind=action.kind,
        network=action.network,
        ref=action.ref,
        reply_id=action.reply_id,
        state=finish.state,
        post_id=post.post_id,
        url=post.url,
        error=finish.error,
        attempts=entry.attempts if entry is not None else 0,
        by=action.by,
        at=now,
    )
