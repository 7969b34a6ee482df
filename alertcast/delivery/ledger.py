"""The delivery ledger: one entry per (alert, version, channel, account), and what to do next.

The entry is written *before* the network call (in flight) and after it (sent, dead...), in a
Faust table whose changelog is in Kafka. So when a worker dies between the network accepting a
post and the ledger recording it, the next worker finds "in flight" and asks the network
whether the post exists (`find_existing`) instead of posting again; where the network cannot
tell, the delivery becomes `unknown` and waits for a person: "it was posted" or "post it again".
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from alertcast.models.alert import DeliveryRequest
from alertcast.models.post import PostResult


class LedgerState(StrEnum):
    IN_FLIGHT = "in_flight"
    SENT = "sent"
    DEAD = "dead"
    UNKNOWN = "unknown"
    PAUSED = "paused"  # held by a pause switch; goes out when it is resumed
    DROPPED = "dropped"  # a person decided it must not go out (or the alert ended first)


class LedgerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery_key: str
    state: LedgerState
    attempts: int = 0
    post: PostResult | None = None
    error: str | None = None
    updated_at: datetime
    resolved_by: str | None = Field(default=None, description="who settled an unknown delivery")
    request: DeliveryRequest | None = Field(
        default=None, description="kept while paused: what to send again when the pause ends"
    )


class Action(StrEnum):
    POST = "post"  # nothing was sent before: post
    LOOK_UP = "look_up"  # a previous attempt may have reached the network: ask it first
    DONE = "done"  # already sent: only repeat the receipt
    WAIT = "wait"  # dead or unknown: a person decides (retry from the console or the CLI)
    DROP = "drop"  # a person decided it must not go out


class Resolution(StrEnum):
    """A person's answer for a dead or unknown delivery (console retry button, or
    `alertcast deliveries resolve`), carried in the request's headers."""

    POST_AGAIN = "post-again"
    WAS_POSTED = "was-posted"
    DROP = "drop"  # do not post it (a paused delivery, or a dead or unknown one)


AWAITING_A_PERSON = (LedgerState.DEAD, LedgerState.UNKNOWN, LedgerState.PAUSED)


def next_action(entry: LedgerEntry | None, resolution: Resolution | None = None) -> Action:
    if entry is None:
        return Action.POST
    if resolution is not None and entry.state in AWAITING_A_PERSON:
        return {
            Resolution.POST_AGAIN: Action.POST,
            Resolution.WAS_POSTED: Action.DONE,
            Resolution.DROP: Action.DROP,
        }[resolution]
    return {
        LedgerState.IN_FLIGHT: Action.LOOK_UP,
        LedgerState.SENT: Action.DONE,
        LedgerState.DEAD: Action.WAIT,
        LedgerState.UNKNOWN: Action.WAIT,
        LedgerState.PAUSED: Action.POST,  # sent again on resume (the pause check comes first)
        LedgerState.DROPPED: Action.DONE,
    }[entry.state]


def thread_key(request: DeliveryRequest) -> str:
    """Same alert, channel and account: versions of it follow each other in one thread."""
    return f"{request.alert_id}:{request.channel}:{request.account}"


def previous_post(entries: dict[int, LedgerEntry]) -> PostResult | None:
    """The post an update or end refers to: the first version's post (the thread's root),
    whose details the adapters extend (a Bluesky reply needs the root and the latest parent)."""
    sent = [entries[v] for v in sorted(entries) if entries[v].state is LedgerState.SENT]
    if not sent or sent[0].post is None:
        return None
    return in_thread(sent[0].post, sent[-1].post or sent[0].post)


def in_thread(root: PostResult, latest: PostResult) -> PostResult:
    """What update and end receive: the thread's root post, with its latest post in details."""
    return root.model_copy(update={"details": {**root.details, "latest": latest.model_dump()}})
