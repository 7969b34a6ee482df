"""Delivery agent: each request published on its channel, concurrently, through the ledger.

Deliveries of different alerts and channels run side by side (agent concurrency); the versions
of one alert on one account are serialised, so an update always finds the post it edits.

Each network attempt goes through its channel's circuit breaker: while the circuit is open the
attempt does not call the network but fails as a TransientError whose retry_after is the time
until the breaker lets a probe through, so the retry policy waits and tries again (and, after its
last attempt, the delivery is dead like any other). The ledger is untouched by this: the entry
is in flight from before the first attempt to the end, exactly as during backoff waits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from alertcast.channels.base import Channel, LookupUnsupported, PostResult
from alertcast.channels.registry import build_channels
from alertcast.channels.website import WebsiteChannel
from alertcast.clock import clock
from alertcast.delivery.breaker import Breakers
from alertcast.delivery.ledger import (
    AWAITING_A_PERSON,
    Action,
    LedgerEntry,
    LedgerState,
    Resolution,
    next_action,
    previous_post,
    thread_key,
)
from alertcast.delivery.retry import OutcomeUnknown, PermanentError, RetryPolicy, TransientError
from alertcast.delivery.throttle import Throttle
from alertcast.models.alert import DeliveryRequest, DeliveryStatus, Receipt
from alertcast.models.incident import MsgType
from alertcast.resolve import POST_URL_HEADER, RESOLUTION_HEADER, RESOLVED_BY_HEADER
from alertcast.stream import metrics, pauses
from alertcast.stream.app import app, dead, for_each_event, ledger, receipts, requests, send_durably, settings
from alertcast.stream.keyed import KeyedLocks

log = logging.getLogger(__name__)

channels: dict[str, Channel] = build_channels(settings)
EXPIRY_CHECK_S = 30.0
retry = RetryPolicy()
throttle = Throttle(settings.channel_rates)
threads = KeyedLocks()
breakers = Breakers(settings.breaker_failures, settings.breaker_cooldown_s, on_change=metrics.breaker_changed)
for _name in channels:
    breakers[_name]  # every configured channel's gauge exists (closed) from the start

_RECEIPT_STATUS = {
    LedgerState.SENT: DeliveryStatus.SENT,
    LedgerState.DEAD: DeliveryStatus.DEAD,
    LedgerState.UNKNOWN: DeliveryStatus.UNKNOWN,
    LedgerState.DROPPED: DeliveryStatus.DROPPED,
}


class PersonsAnswer(BaseModel):
    resolution: Resolution
    by: str
    url: str | None = None


def answer_in(headers: dict[str, bytes] | None) -> PersonsAnswer | None:
    """A person's decision on a dead or unknown delivery, if this request carries one."""
    text = {name: value.decode("utf-8", "replace") for name, value in (headers or {}).items()}
    if RESOLUTION_HEADER in text:
        return PersonsAnswer(
            resolution=Resolution(text[RESOLUTION_HEADER]),
            by=text.get(RESOLVED_BY_HEADER, "unknown"),
            url=text.get(POST_URL_HEADER),
        )
    return None


@app.agent(requests, concurrency=settings.worker_concurrency)
async def deliver(stream: Any) -> None:
    await for_each_event(stream, deliver_event)


async def deliver_event(event: Any) -> None:
    await pauses.loaded.wait()  # never post on a channel before knowing it is not paused
    request = DeliveryRequest.model_validate_json(event.value)
    answer = answer_in(event.headers)
    started = time.perf_counter()
    async with threads.hold(thread_key(request)):
        receipt = await deliver_one(request, started, answer)
    metrics.observe_delivery(request.channel, receipt.status.value, time.perf_counter() - started)
    value = receipt.model_dump_json().encode()
    await receipts.send(key=request.delivery_key.encode(), value=value)
    if receipt.status is DeliveryStatus.DEAD:
        await dead.send(key=request.delivery_key.encode(), value=value)


async def expire_on_site() -> None:
    """Expiry ends an alert on the public site like a cancel, even when nothing else happens."""
    website = channels.get("website")
    if isinstance(website, WebsiteChannel):
        await website.refresh_expired()


app.timer(interval=EXPIRY_CHECK_S)(expire_on_site)


def entry_of(key: str) -> LedgerEntry | None:
    value = ledger.get(key)
    return LedgerEntry.model_validate_json(value) if value else None


async def record(entry: LedgerEntry, durable: bool = False) -> None:
    """Write the entry; `durable` waits until its changelog record is in Kafka (before posting)."""
    ledger[entry.delivery_key] = entry.model_dump_json()
    if durable:
        await app.producer.flush()


def thread_of(request: DeliveryRequest) -> PostResult | None:
    earlier = {
        version: entry
        for version in range(1, request.version)
        if (entry := entry_of(f"{request.alert_id}:{version}:{request.channel}:{request.account}"))
    }
    return previous_post(earlier)


async def deliver_one(
    request: DeliveryRequest, started: float, answer: PersonsAnswer | None = None
) -> Receipt:
    channel = channels.get(request.channel)
    if channel is None:
        error = f"channel {request.channel!r} is not configured on this worker"
        metrics.delivery_failed(request.channel, "dead")
        return receipt_for(request, DeliveryStatus.DEAD, started, error=error)
    entry = entry_of(request.delivery_key)
    action = next_action(entry, answer.resolution if answer else None)
    if entry is not None and answer is not None and entry.state in AWAITING_A_PERSON:
        log.info("delivery %s: %s decided %s", request.delivery_key, answer.by, answer.resolution.value)
        if answer.resolution is Resolution.WAS_POSTED:
            entry = await settle(
                entry, LedgerState.SENT, post=PostResult(url=answer.url), resolved_by=answer.by, request=None
            )
            return receipt_for(request, DeliveryStatus.SENT, started, entry=entry)
        if answer.resolution is Resolution.DROP:
            entry = await settle(
                entry,
                LedgerState.DROPPED,
                error=f"dropped by {answer.by}",
                resolved_by=answer.by,
                request=None,
            )
            return receipt_for(request, DeliveryStatus.DROPPED, started, entry=entry)
        entry = entry.model_copy(update={"resolved_by": answer.by})
    if entry is not None and action in (Action.DONE, Action.WAIT):
        return receipt_for(request, _RECEIPT_STATUS[entry.state], started, entry=entry)
    if entry is not None and action is Action.LOOK_UP:
        try:
            existing = await channel.find_existing(request)
        except LookupUnsupported:
            reason = "a worker stopped while posting; the network cannot say whether it was posted"
            entry = await settle(entry, LedgerState.UNKNOWN, error=reason)
            metrics.delivery_failed(request.channel, "unknown")
            return receipt_for(request, DeliveryStatus.UNKNOWN, started, entry=entry)
        if existing is not None:
            log.info("delivery %s was posted before a restart: not again", request.delivery_key)
            entry = await settle(entry, LedgerState.SENT, post=existing)
            return receipt_for(request, DeliveryStatus.SENT, started, entry=entry)
    previous = thread_of(request) if request.incident.msg_type is not MsgType.ALERT else None
    if request.incident.msg_type is MsgType.CANCEL and previous is None and request.channel != "website":
        await drop_held_versions(request)
        return receipt_for(request, DeliveryStatus.SKIPPED, started, error="nothing was posted here to end")
    holder = pauses.board.holding(request.channel, request.account)
    if holder is not None:
        held = LedgerEntry(
            delivery_key=request.delivery_key,
            state=LedgerState.PAUSED,
            attempts=entry.attempts if entry else 0,
            updated_at=clock.now(),
            error=f"paused ({holder.scope}) by {holder.by}" + (f": {holder.reason}" if holder.reason else ""),
            resolved_by=entry.resolved_by if entry else None,
            request=request,
        )
        await record(held)
        return receipt_for(request, DeliveryStatus.PAUSED, started, entry=held)
    in_flight = LedgerEntry(
        delivery_key=request.delivery_key,
        state=LedgerState.IN_FLIGHT,
        attempts=(entry.attempts if entry else 0) + 1,
        updated_at=clock.now(),
        resolved_by=entry.resolved_by if entry else None,
    )
    await record(in_flight, durable=True)
    try:
        post, tries = await retry.run(lambda: guarded(request, lambda: call(channel, request, previous)))
    except OutcomeUnknown as unsure:
        log.error("delivery %s unknown: %s", request.delivery_key, unsure)
        entry = await settle(in_flight, LedgerState.UNKNOWN, error=str(unsure))
        metrics.delivery_failed(request.channel, "unknown")
        return receipt_for(request, DeliveryStatus.UNKNOWN, started, entry=entry)
    except (TransientError, PermanentError) as failure:
        log.error("delivery %s dead: %s", request.delivery_key, failure)
        tries = retry.attempts if isinstance(failure, TransientError) else 1
        entry = await settle(in_flight, LedgerState.DEAD, error=str(failure), attempts=tries)
        metrics.delivery_failed(request.channel, "dead")
        return receipt_for(request, DeliveryStatus.DEAD, started, entry=entry)
    entry = await settle(in_flight, LedgerState.SENT, post=post, attempts=tries)
    return receipt_for(request, DeliveryStatus.SENT, started, entry=entry)


async def drop_held_versions(request: DeliveryRequest) -> None:
    """An alert ended while its earlier versions were held: they must not go out on resume."""
    for version in range(1, request.version):
        key = f"{request.alert_id}:{version}:{request.channel}:{request.account}"
        entry = entry_of(key)
        if entry is None or entry.state is not LedgerState.PAUSED or entry.request is None:
            continue
        reason = "the alert ended before this version was posted (it was paused)"
        dropped = settled(entry, LedgerState.DROPPED, error=reason, request=None)
        receipt = receipt_for(entry.request, DeliveryStatus.DROPPED, time.perf_counter(), entry=dropped)
        await send_durably((receipts, key.encode(), receipt.model_dump_json().encode()))
        await record(dropped)


def settled(entry: LedgerEntry, state: LedgerState, **changes: Any) -> LedgerEntry:
    return entry.model_copy(update={"state": state, "updated_at": clock.now(), **changes})


async def settle(entry: LedgerEntry, state: LedgerState, **changes: Any) -> LedgerEntry:
    entry = settled(entry, state, **changes)
    await record(entry)
    return entry


async def guarded(request: DeliveryRequest, attempt: Callable[[], Awaitable[PostResult]]) -> PostResult:
    """One attempt through the channel's breaker, paced by the account's post rate; only real
    answers of the network move the breaker."""
    channel_id = request.channel
    breaker = breakers[channel_id]
    wait = breaker.acquire()
    if wait > 0:
        raise TransientError(f"circuit open for {channel_id}: network not called", retry_after=wait)
    paced = await throttle.pace(channel_id, request.account)
    if paced > 0:
        log.info("delivery %s paced %.1f s by the %s post rate", request.delivery_key, paced, channel_id)
    try:
        post = await attempt()
    except (TransientError, OutcomeUnknown):
        breaker.failed()
        raise
    except PermanentError:
        breaker.succeeded()  # refused, but the network answered: it is up
        raise
    breaker.succeeded()
    return post


async def call(channel: Channel, request: DeliveryRequest, previous: PostResult | None) -> PostResult:
    if previous is None:
        return await channel.publish(request)
    if request.incident.msg_type is MsgType.CANCEL:
        return await channel.end(request, previous)
    return await channel.update(request, previous)


def receipt_for(
    request: DeliveryRequest,
    status: DeliveryStatus,
    started: float,
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
        latency_ms=(time.perf_counter() - started) * 1000,
        error=error or (entry.error if entry else None),
        at=clock.now(),
        details=post.details,
    )
