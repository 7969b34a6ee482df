"""The delivery state machine: what one delivery request does next, decided without I/O.

The delivery agent (alertcast.stream.deliver) reads the ledger, calls the network and writes
the ledger; every choice in between is made here, in steps it asks in this order:

1. `arrive`: what the ledger entry and a person's answer (if the request carries one) say:
   finish at once (already sent, waiting for a person, settled by the person), or go on,
   asking the network first when a previous attempt may have reached it;
2. `looked_up`: what the network's answer to that question means;
3. `before_post`: an end with nothing to end, a pause holding the account, or the entry that
   goes "in flight" before the network is called;
4. `posted` / `failed`: how the call ended.

Each step returns a `Finish` (the receipt's status, and the entry to record first when it
changed) or the next thing to do. Pure, so every path is a unit test of milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from alertcast.delivery.ledger import (
    AWAITING_A_PERSON,
    Action,
    LedgerEntry,
    LedgerState,
    Resolution,
    next_action,
)
from alertcast.delivery.pause import Pause
from alertcast.delivery.retry import OutcomeUnknown, PermanentError, TransientError
from alertcast.models.alert import DeliveryRequest, DeliveryStatus, Receipt
from alertcast.models.incident import MsgType
from alertcast.models.post import PostResult

RECEIPT_STATUS = {
    LedgerState.SENT: DeliveryStatus.SENT,
    LedgerState.DEAD: DeliveryStatus.DEAD,
    LedgerState.UNKNOWN: DeliveryStatus.UNKNOWN,
    LedgerState.DROPPED: DeliveryStatus.DROPPED,
    LedgerState.PAUSED: DeliveryStatus.PAUSED,
}
LOOKUP_UNSUPPORTED = "a worker stopped while posting; the network cannot say whether it was posted"
NOTHING_TO_END = "nothing was posted here to end"
ENDED_WHILE_HELD = "the alert ended before this version was posted (it was paused)"


class PersonsAnswer(BaseModel):
    """A person's decision on a dead, unknown or paused delivery (carried in request headers)."""

    resolution: Resolution
    by: str
    url: str | None = None


@dataclass(frozen=True)
class Finish:
    """The delivery ends now with a receipt of `status`; `entry` is recorded first if `write`."""

    status: DeliveryStatus
    entry: LedgerEntry | None = None
    error: str | None = None
    write: bool = False
    drop_held: bool = False  # the alert ended: its earlier versions held by a pause are dropped

    @property
    def failed(self) -> bool:
        """A new failure to count (a repeated receipt of an old one is not)."""
        return self.write and self.status in (DeliveryStatus.DEAD, DeliveryStatus.UNKNOWN)


@dataclass(frozen=True)
class Proceed:
    """Go on towards the network from `entry` (None: never tried); `look_up` asks it first."""

    entry: LedgerEntry | None
    look_up: bool = False
    resolved_by: str | None = None


class Operation(StrEnum):
    PUBLISH = "publish"
    UPDATE = "update"
    END = "end"


@dataclass(frozen=True)
class Post:
    """Call the network: `entry` (in flight) is recorded durably first, then `operation`."""

    entry: LedgerEntry
    operation: Operation


def settled(entry: LedgerEntry, state: LedgerState, now: datetime, **changes: Any) -> LedgerEntry:
    return entry.model_copy(update={"state": state, "updated_at": now, **changes})


def version_key(request: DeliveryRequest, version: int) -> str:
    """The delivery key of another version of this request's alert on the same account."""
    return f"{request.alert_id}:{version}:{request.channel}:{request.account}"


def earlier_keys(request: DeliveryRequest) -> dict[int, str]:
    """The ledger keys of the versions before this one: its thread on this account."""
    return {version: version_key(request, version) for version in range(1, request.version)}


def arrive(
    request: DeliveryRequest, entry: LedgerEntry | None, answer: PersonsAnswer | None, now: datetime
) -> Finish | Proceed:
    """First step: the ledger entry (None: never seen) and a person's answer, if any.

    A person's answer is honoured even when no entry is found (a request produced before the
    key of `deliveries.requests` changed, its entry on a partition another worker owns): "it was
    posted" and "drop" must never turn into a post.
    """
    if answer is not None and (entry is None or entry.state in AWAITING_A_PERSON):
        base = entry or LedgerEntry(delivery_key=request.delivery_key, state=LedgerState.DEAD, updated_at=now)
        if answer.resolution is Resolution.WAS_POSTED:
            done = settled(
                base,
                LedgerState.SENT,
                now,
                post=PostResult(url=answer.url),
                resolved_by=answer.by,
                request=None,
            )
            return Finish(DeliveryStatus.SENT, done, write=True)
        if answer.resolution is Resolution.DROP:
            dropped = settled(
                base,
                LedgerState.DROPPED,
                now,
                error=f"dropped by {answer.by}",
                resolved_by=answer.by,
                request=None,
            )
            return Finish(DeliveryStatus.DROPPED, dropped, write=True)
        again = entry.model_copy(update={"resolved_by": answer.by}) if entry else None
        return Proceed(again, resolved_by=answer.by)
    action = next_action(entry)
    if entry is not None and action in (Action.DONE, Action.WAIT):
        return Finish(RECEIPT_STATUS[entry.state], entry)
    return Proceed(entry, look_up=entry is not None and action is Action.LOOK_UP)


def looked_up(
    entry: LedgerEntry, existing: PostResult | None, supported: bool, now: datetime
) -> Finish | None:
    """After asking the network whether an in-flight attempt was posted; None: post it."""
    if not supported:
        return Finish(
            DeliveryStatus.UNKNOWN,
            settled(entry, LedgerState.UNKNOWN, now, error=LOOKUP_UNSUPPORTED),
            write=True,
        )
    if existing is not None:
        return Finish(DeliveryStatus.SENT, settled(entry, LedgerState.SENT, now, post=existing), write=True)
    return None


def needs_thread(request: DeliveryRequest) -> bool:
    """Updates and ends refer to the post of the first version: read the thread first."""
    return request.incident.msg_type is not MsgType.ALERT


def operation(request: DeliveryRequest, previous: PostResult | None) -> Operation:
    if previous is None:
        return Operation.PUBLISH
    return Operation.END if request.incident.msg_type is MsgType.CANCEL else Operation.UPDATE


def before_post(
    request: DeliveryRequest,
    step: Proceed,
    previous: PostResult | None,
    holder: Pause | None,
    now: datetime,
) -> Finish | Post:
    """Just before the network: an end with nothing posted to end, a pause, or the call."""
    entry = step.entry
    resolved_by = entry.resolved_by if entry else step.resolved_by
    cancel = request.incident.msg_type is MsgType.CANCEL
    if cancel and previous is None and request.channel != "website":
        return Finish(DeliveryStatus.SKIPPED, error=NOTHING_TO_END, drop_held=True)
    if holder is not None:
        why = f"paused ({holder.scope}) by {holder.by}" + (f": {holder.reason}" if holder.reason else "")
        held = LedgerEntry(
            delivery_key=request.delivery_key,
            state=LedgerState.PAUSED,
            attempts=entry.attempts if entry else 0,
            updated_at=now,
            error=why,
            resolved_by=resolved_by,
            request=request,
        )
        return Finish(DeliveryStatus.PAUSED, held, write=True)
    in_flight = LedgerEntry(
        delivery_key=request.delivery_key,
        state=LedgerState.IN_FLIGHT,
        attempts=(entry.attempts if entry else 0) + 1,
        updated_at=now,
        resolved_by=resolved_by,
    )
    return Post(in_flight, operation(request, previous))


def posted(in_flight: LedgerEntry, post: PostResult, tries: int, now: datetime) -> Finish:
    return Finish(
        DeliveryStatus.SENT, settled(in_flight, LedgerState.SENT, now, post=post, attempts=tries), write=True
    )


def failed(in_flight: LedgerEntry, failure: Exception, max_attempts: int, now: datetime) -> Finish:
    """The call's last error: unknown (a person decides) or dead (after every attempt, or refused)."""
    if isinstance(failure, OutcomeUnknown):
        unsure = settled(in_flight, LedgerState.UNKNOWN, now, error=str(failure))
        return Finish(DeliveryStatus.UNKNOWN, unsure, write=True)
    if not isinstance(failure, TransientError | PermanentError):
        raise TypeError(f"not a delivery outcome: {failure!r}")
    tries = max_attempts if isinstance(failure, TransientError) else 1
    dead = settled(in_flight, LedgerState.DEAD, now, error=str(failure), attempts=tries)
    return Finish(DeliveryStatus.DEAD, dead, write=True)


def held_versions_dropped(
    earlier: dict[int, LedgerEntry], now: datetime
) -> list[tuple[DeliveryRequest, LedgerEntry]]:
    """An alert ended while earlier versions were held by a pause: they must not go out on
    resume. Each held version's request (for its receipt) and its entry, dropped."""
    return [
        (entry.request, settled(entry, LedgerState.DROPPED, now, error=ENDED_WHILE_HELD, request=None))
        for _, entry in sorted(earlier.items())
        if entry.state is LedgerState.PAUSED and entry.request is not None
    ]


def receipt(
    request: DeliveryRequest,
    status: DeliveryStatus,
    latency_ms: float,
    now: datetime,
    error: str | None = None,
    entry: LedgerEntry | None = None,
) -> Receipt:
    post = entry.post if entry and entry.post else PostResult()
    return Receipt(
        delivery_key=request.delivery_key,
        alert_id=request.alert_id,
        version=request.version,
        channel=request.channel,
        account=request.account,
        status=status,
        post_id=post.post_id,
        url=post.url,
        attempts=entry.attempts if entry else 0,
        latency_ms=latency_ms,
        error=error or (entry.error if entry else None),
        at=now,
        details=post.details,
    )
