"""Delivery agent: each request published on its channel, concurrently, through the ledger.

Deliveries of different alerts run side by side (agent concurrency); the versions of one alert
on one account are serialised, so an update always finds the post it edits. Requests are keyed
by (channel, account) (`delivery_partition_key`), so one worker owns an account: its post rate
and its circuit breaker hold across the cluster, with no shared store.

This module only moves things: it reads the ledger, calls the network, writes the ledger and
the receipts. Every decision between is alertcast.delivery.machine's.

Each network attempt goes through its account's circuit breaker: while the circuit is open the
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

from alertcast.channels.base import Channel, LookupUnsupported
from alertcast.channels.email_subscribers import SubscriberEmailChannel
from alertcast.channels.registry import build_channels
from alertcast.channels.sms import SmsChannel
from alertcast.channels.webpush import WebPushChannel
from alertcast.channels.website import WebsiteChannel
from alertcast.clock import clock
from alertcast.delivery import machine
from alertcast.delivery.breaker import Breakers
from alertcast.delivery.ledger import LedgerEntry, Resolution, previous_post, thread_key
from alertcast.delivery.machine import Finish, Operation, PersonsAnswer, Post, Proceed
from alertcast.delivery.retry import OutcomeUnknown, PermanentError, RetryPolicy, TransientError
from alertcast.delivery.throttle import Throttle
from alertcast.models.alert import DeliveryRequest, DeliveryStatus, Receipt
from alertcast.models.post import PostResult
from alertcast.resolve import POST_URL_HEADER, RESOLUTION_HEADER, RESOLVED_BY_HEADER
from alertcast.stream import metrics, pauses, site, sms_receipts, subscriptions
from alertcast.stream.app import (
    app,
    dead,
    for_each_event,
    ledger,
    produce,
    receipts,
    requests,
    send_durably,
    settings,
)
from alertcast.stream.keyed import KeyedLocks

log = logging.getLogger(__name__)

channels: dict[str, Channel] = build_channels(settings)
retry = RetryPolicy()
throttle = Throttle(settings.channel_rates)
threads = KeyedLocks()
breakers = Breakers(settings.breaker_failures, settings.breaker_cooldown_s, on_change=metrics.breaker_changed)
for _name, _channel in channels.items():
    breakers.announce(_name)  # every configured channel's gauge exists (closed) from the start
    if isinstance(_channel, WebsiteChannel):
        site.connect(_channel)
    if isinstance(_channel, WebPushChannel | SubscriberEmailChannel):
        subscriptions.connect(_channel)
    if isinstance(_channel, SmsChannel):
        sms_receipts.connect(_channel)


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
    if not (
        receipt.status is DeliveryStatus.SENT
        and getattr(channels.get(request.channel), "receipt_from_writer", False)
    ):
        metrics.observe_receipt(request.approved_at, receipt)
        await produce(receipts, request.delivery_key.encode(), value)
    if receipt.status is DeliveryStatus.DEAD:
        await produce(dead, request.delivery_key.encode(), value)


def entry_of(key: str) -> LedgerEntry | None:
    value = ledger.get(key)
    return LedgerEntry.model_validate_json(value) if value else None


async def record(entry: LedgerEntry, durable: bool = False) -> None:
    """Write the entry; `durable` waits until its changelog record is in Kafka (before posting)."""
    sent = await ledger.put(entry.delivery_key, entry.model_dump_json())
    if durable:
        await sent


def earlier_entries(request: DeliveryRequest) -> dict[int, LedgerEntry]:
    """The ledger entries of the alert's earlier versions on this account (same partition)."""
    return {v: entry for v, key in machine.earlier_keys(request).items() if (entry := entry_of(key))}


def thread_of(request: DeliveryRequest) -> PostResult | None:
    return previous_post(earlier_entries(request))


async def deliver_one(
    request: DeliveryRequest, started: float, answer: PersonsAnswer | None = None
) -> Receipt:
    """The request through the state machine: each step decided there, done here."""
    channel = channels.get(request.channel)
    if channel is None:
        error = f"channel {request.channel!r} is not configured on this worker"
        metrics.delivery_failed(request.channel, "dead")
        return receipt_for(request, DeliveryStatus.DEAD, started, error=error)
    entry = entry_of(request.delivery_key)
    if answer is not None:
        log.info("delivery %s: %s decided %s", request.delivery_key, answer.by, answer.resolution.value)
    step = machine.arrive(request, entry, answer, clock.now())
    if isinstance(step, Finish):
        return await finish(request, step, started)
    if step.look_up and step.entry is not None:
        found = await look_up(channel, request, step)
        if found is not None:
            return await finish(request, found, started)
    previous = thread_of(request) if machine.needs_thread(request) else None
    holder = pauses.board.holding(request.channel, request.account)
    next_step = machine.before_post(request, step, previous, holder, clock.now())
    if isinstance(next_step, Finish):
        return await finish(request, next_step, started)
    return await finish(request, await post(channel, request, next_step, previous), started)


async def look_up(channel: Channel, request: DeliveryRequest, step: Proceed) -> Finish | None:
    """Was an in-flight attempt posted before a restart? A Finish if the network can say yes or
    cannot say at all; None to post."""
    assert step.entry is not None
    try:
        existing = await channel.find_existing(request)
    except LookupUnsupported:
        return machine.looked_up(step.entry, None, supported=False, now=clock.now())
    if existing is not None:
        log.info("delivery %s was posted before a restart: not again", request.delivery_key)
    return machine.looked_up(step.entry, existing, supported=True, now=clock.now())


async def post(channel: Channel, request: DeliveryRequest, step: Post, previous: PostResult | None) -> Finish:
    """In flight (durably) first, then the network through the retry policy and the breaker."""

    async def attempt() -> PostResult:
        return await call(channel, request, step, previous)

    await record(step.entry, durable=True)
    try:
        result, tries = await retry.run(lambda: guarded(request, attempt))
    except (OutcomeUnknown, TransientError, PermanentError) as failure:
        ending = machine.failed(step.entry, failure, retry.attempts, clock.now())
        log.error("delivery %s %s: %s", request.delivery_key, ending.status.value, failure)
        return ending
    return machine.posted(step.entry, result, tries, clock.now())


async def finish(request: DeliveryRequest, step: Finish, started: float) -> Receipt:
    """Record what changed, drop held versions of an ended alert, count a new failure."""
    if step.drop_held:
        await drop_held_versions(request)
    if step.write and step.entry is not None:
        await record(step.entry)
    if step.failed:
        metrics.delivery_failed(request.channel, step.status.value)
    return receipt_for(request, step.status, started, error=step.error, entry=step.entry)


async def drop_held_versions(request: DeliveryRequest) -> None:
    """An alert ended while its earlier versions were held: they must not go out on resume."""
    for held, dropped in machine.held_versions_dropped(earlier_entries(request), clock.now()):
        receipt = receipt_for(held, DeliveryStatus.DROPPED, time.perf_counter(), entry=dropped)
        await send_durably((receipts, held.delivery_key.encode(), receipt.model_dump_json().encode()))
        await record(dropped)


async def guarded(request: DeliveryRequest, attempt: Callable[[], Awaitable[PostResult]]) -> PostResult:
    """One attempt through the account's breaker, paced by the account's post rate; only real
    answers of the network move the breaker."""
    channel_id = request.channel
    breaker = breakers.of(channel_id, request.paced_as)
    # Paced first, then asked: a request that waited its turn while the circuit opened (the
    # calls before it failed) must not call the network when its turn comes.
    paced = await throttle.pace(channel_id, request.paced_as)
    if paced > 0:
        log.info("delivery %s paced %.1f s by the %s post rate", request.delivery_key, paced, channel_id)
    wait = breaker.acquire()
    if wait > 0:
        where = f"{channel_id}/{request.paced_as}"
        raise TransientError(f"circuit open for {where}: network not called", retry_after=wait)
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


async def call(
    channel: Channel, request: DeliveryRequest, step: Post, previous: PostResult | None
) -> PostResult:
    if step.operation is Operation.PUBLISH or previous is None:
        return await channel.publish(request)
    if step.operation is Operation.END:
        return await channel.end(request, previous)
    return await channel.update(request, previous)


def receipt_for(
    request: DeliveryRequest,
    status: DeliveryStatus,
    started: float,
    error: str | None = None,
    entry: LedgerEntry | None = None,
) -> Receipt:
    latency_ms = (time.perf_counter() - started) * 1000
    return machine.receipt(request, status, latency_ms, clock.now(), error=error, entry=entry)
