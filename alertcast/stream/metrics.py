"""What the worker tells its operators: Prometheus metrics and the health pages.

The agents call the small functions below around what they already do; this module also
mounts three pages on the worker's own Faust web server (127.0.0.1 unless deployed otherwise):
`/metrics` (Prometheus text format), `/healthz/live` (the event loop answers) and
`/healthz/ready` (connected to the broker, partitions assigned, tables recovered; 200 or 503
with a JSON reason).

Consumer lag is computed when Prometheus scrapes, from the broker's answer, not from what the
consumer happened to fetch: end offsets come from a ListOffsets request (`highwaters`), and the
committed offsets are the ones Faust itself commits from (seeded from the broker when the
partitions are assigned). The fetch position would hide a backlog that sits in Faust's stream
buffer, and the highwater cached from fetch responses is unknown for a partition that has not
been fetched yet, so neither is used.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from alertcast.delivery.breaker import STATE_VALUES, BreakerState
from alertcast.kpis.report import elapsed_s, receipt_delay_s
from alertcast.models.alert import Receipt
from alertcast.stream.app import app
from alertcast.stream.transport import CALLS

log = logging.getLogger(__name__)

BROKER_TIMEOUT_S = 5.0
MAX_LABEL = 64  # a source name comes from a message header: bounded, whatever a producer sends

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series only double the families
registry = CollectorRegistry()
ProcessCollector(registry=registry)
PlatformCollector(registry=registry)
GCCollector(registry=registry)

# Seconds: a stage is milliseconds when healthy, a channel up to its HTTP timeout and retries.
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
DELIVERY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# A person approves: from seconds (auto) to hours (the night shift).
APPROVAL_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
# From the approval to a network's answer: sub-second (website) to an hour of retries and pauses.
RECEIPT_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

INGESTED = Counter(
    "alertcast_ingest",
    "Incidents handled by the ingest agent, by source and outcome "
    "(accepted, duplicate, rekeyed: re-submitted under its own key, rejected).",
    ["source", "outcome"],
    registry=registry,
)
INGEST_SECONDS = Histogram(
    "alertcast_ingest_duration_seconds",
    "Time the ingest agent spends on one submission (parse, validate, version, produce).",
    buckets=STAGE_BUCKETS,
    registry=registry,
)
REJECTIONS = Counter(
    "alertcast_rejections",
    "Rejected submissions by source and rule (a rejection counts once under each distinct rule "
    "it breaks); the rejections themselves are in incidents.rejected.",
    ["source", "rule"],
    registry=registry,
)
DRAFTS = Counter(
    "alertcast_drafts",
    "Drafts composed by the ingest agent, by outcome (ready; problems: a template failed; "
    "blocked: a charter finding blocks every text).",
    ["outcome"],
    registry=registry,
)
COMPOSE_SECONDS = Histogram(
    "alertcast_compose_duration_seconds",
    "Time composing one incident version takes (templates, charter, fitting).",
    buckets=STAGE_BUCKETS,
    registry=registry,
)
APPROVAL_WAIT_SECONDS = Histogram(
    "alertcast_approval_wait_seconds",
    "Time from a draft to its approval (auto-approval: about zero; a person: the SLA that matters).",
    buckets=APPROVAL_BUCKETS,
    registry=registry,
)
SUBMIT_TO_APPROVAL_SECONDS = Histogram(
    "alertcast_submit_to_approval_seconds",
    "KPI: time from a version's submission (accepted by ingest) to its last approval, a person's "
    "or the automatic one; a scheduled publication's wait for its time is not counted.",
    buckets=APPROVAL_BUCKETS,
    registry=registry,
)
APPROVAL_TO_RECEIPT_SECONDS = Histogram(
    "alertcast_approval_to_receipt_seconds",
    "KPI: time from the approval's release to each final receipt (sent, dead, unknown), by "
    "channel; an alert's slowest channel is its time to the last receipt.",
    ["channel"],
    buckets=RECEIPT_BUCKETS,
    registry=registry,
)
FANOUT = Counter(
    "alertcast_fanout_requests",
    "Delivery requests made by the fan-out (in the approval agent), by channel and outcome "
    "(requested; skipped: the channel's text is blocked, a skipped receipt says why).",
    ["channel", "outcome"],
    registry=registry,
)
DELIVERY_SECONDS = Histogram(
    "alertcast_delivery_duration_seconds",
    "Time from taking a delivery request to its receipt, by channel and receipt status "
    "(sent, dead, unknown, skipped); includes retries and waits on an open circuit.",
    ["channel", "status"],
    buckets=DELIVERY_BUCKETS,
    registry=registry,
)
DELIVERIES_FAILED = Counter(
    "alertcast_deliveries_failed",
    "Deliveries that need a person, by channel and status: dead (gave up after retries, or "
    "refused) or unknown (a worker stopped mid-post and the network cannot say).",
    ["channel", "status"],
    registry=registry,
)
DELIVERIES_PAUSED = Gauge(
    "alertcast_deliveries_paused",
    "Deliveries held by a pause switch on this worker, by channel; they go out on resume.",
    ["channel"],
    registry=registry,
)
ACCOUNT_HEALTHY = Gauge(
    "alertcast_account_healthy",
    "Last periodic check of each channel account: 1 usable, 0 failing (a warning receipt says why).",
    ["channel", "account"],
    registry=registry,
)
CIRCUIT_STATE = Gauge(
    "alertcast_circuit_state",
    "Circuit breaker of each channel: 0 closed, 1 half-open (one probe call), 2 open "
    "(the network is not called until the cool-down ends).",
    ["channel"],
    registry=registry,
)
CONSUMER_LAG = Gauge(
    "alertcast_consumer_lag",
    "Messages not yet processed in the partitions assigned to this worker, per topic the "
    "agents read: end offset minus committed offset (measured at scrape time).",
    ["topic"],
    registry=registry,
)


class OverrideCalls:
    """`alertcast_stream_override_calls_total{name}`: how many times each override of Faust's
    consumer (alertcast/stream/transport.py) ran in this worker; one at 0 after traffic is a fix
    that is not wired (the kafka tier checks every one)."""

    def collect(self) -> Iterable[CounterMetricFamily]:
        family = CounterMetricFamily(
            "alertcast_stream_override_calls",
            "Calls of each override of Faust's consumer, flow control and app (transport.py), by name.",
            labels=["name"],
        )
        for name, count in sorted(CALLS.items()):
            family.add_metric([name], count)
        yield family


registry.register(OverrideCalls())


def _label(value: str) -> str:
    return value[:MAX_LABEL] or "unknown"


def ingested(source: str, outcome: str) -> None:
    INGESTED.labels(_label(source), outcome).inc()


def rejected(source: str, rules: Iterable[str]) -> None:
    """One rejected submission, counted once per distinct rule it breaks."""
    INGESTED.labels(_label(source), "rejected").inc()
    for rule in sorted(set(rules)) or ["unknown"]:
        REJECTIONS.labels(_label(source), rule).inc()


def drafted(blocked: bool, problems: int) -> None:
    DRAFTS.labels("blocked" if blocked else "problems" if problems else "ready").inc()


def observe_approval_wait(seconds: float) -> None:
    """For the approval agent: seconds from the draft (its received_at) to the approval."""
    APPROVAL_WAIT_SECONDS.observe(max(0.0, seconds))


def observe_submit_to_approval(submitted_at: datetime, decided_at: datetime) -> None:
    """For the approval agent, once a version is approved (see alertcast.kpis.report)."""
    SUBMIT_TO_APPROVAL_SECONDS.observe(elapsed_s(submitted_at, decided_at))


def observe_receipt(approved_at: datetime, receipt: Receipt) -> None:
    """For whoever sends a receipt (the delivery agent, the site writer): final ones only."""
    delay = receipt_delay_s(approved_at, receipt.status, receipt.at)
    if delay is not None:
        APPROVAL_TO_RECEIPT_SECONDS.labels(_label(receipt.channel)).observe(delay)


def fanned_out(channel: str, outcome: str) -> None:
    FANOUT.labels(channel, outcome).inc()


def observe_delivery(channel: str, status: str, seconds: float) -> None:
    DELIVERY_SECONDS.labels(channel, status).observe(max(0.0, seconds))


def delivery_failed(channel: str, status: str) -> None:
    DELIVERIES_FAILED.labels(channel, status).inc()


def paused_now(counts: dict[str, int]) -> None:
    for labels in list(DELIVERIES_PAUSED._metrics):
        if labels[0] not in counts:
            DELIVERIES_PAUSED.labels(*labels).set(0)
    for channel, count in counts.items():
        DELIVERIES_PAUSED.labels(_label(channel)).set(count)


def account_checked(channel: str, account: str, ok: bool) -> None:
    ACCOUNT_HEALTHY.labels(_label(channel), _label(account)).set(1 if ok else 0)


def breaker_changed(channel: str, state: BreakerState) -> None:
    """The `on_change` hook of the delivery agent's breakers."""
    CIRCUIT_STATE.labels(channel).set(STATE_VALUES[state])


def lag_by_topic(
    partitions: Iterable[tuple[str, int]],
    ends: Mapping[Any, int | None],
    committed: Mapping[Any, int | None],
    starts: Mapping[Any, int | None],
) -> dict[str, int]:
    """Per topic, the sum over its partitions of end offset minus committed offset. A partition
    with nothing committed yet lags from the log's start (the worker reads from the earliest
    offset); one whose end offset is unknown is left out rather than guessed."""
    lag: dict[str, int] = {}
    for tp in partitions:
        end = ends.get(tp)
        done = committed.get(tp)
        if done is None:
            done = starts.get(tp)
        if end is not None and done is not None:
            lag[tp[0]] = lag.get(tp[0], 0) + max(0, end - done)
    return lag


def readiness(
    *, rebalancing: bool, recovering: bool, assigned: int, broker_error: str | None
) -> tuple[bool, str]:
    """Ready to process: partitions assigned, no rebalance or table recovery under way, and the
    broker answers now. The reason says what is missing."""
    if rebalancing:
        return False, "rebalancing: waiting for partitions"
    if assigned == 0:
        return False, "no partitions assigned yet"
    if recovering:
        return False, "recovering tables from their changelogs"
    if broker_error is not None:
        return False, f"broker did not answer: {broker_error}"
    return True, f"{assigned} partitions assigned, broker answers"


def source_topics() -> set[str]:
    """The topics the agents read (not the tables' changelogs, which Faust reads on its own)."""
    return {name for agent in app.agents.values() for name in getattr(agent.channel, "topics", ())}


async def refresh_consumer_lag() -> None:
    """Ask the broker for end offsets of this worker's partitions and update the lag gauge; on
    failure the gauge is emptied: a missing series is honest, a stale one is not."""
    try:
        consumer = app.consumer
        wanted = source_topics()
        partitions = sorted(tp for tp in consumer.assignment() if tp.topic in wanted)
        ends: Mapping[Any, int] = {}
        starts: Mapping[Any, int] = {}
        if partitions:
            ends = await asyncio.wait_for(consumer.highwaters(*partitions), BROKER_TIMEOUT_S)
        # Faust's record of the offsets it commits; checked when made (transport.CONSUMER_ATTRIBUTES).
        committed: Mapping[Any, int | None] = consumer._committed_offset  # type: ignore[attr-defined]
        fresh = [tp for tp in partitions if committed.get(tp) is None]
        if fresh:
            starts = await asyncio.wait_for(consumer.earliest_offsets(*fresh), BROKER_TIMEOUT_S)
        lag = lag_by_topic(partitions, ends, committed, starts)
    except Exception as error:  # no consumer yet, broker away: report what is known
        log.debug("consumer lag not measured: %r", error)
        CONSUMER_LAG.clear()
        return
    CONSUMER_LAG.clear()
    for topic, behind in lag.items():
        CONSUMER_LAG.labels(topic).set(behind)


async def check_ready() -> tuple[bool, str]:
    try:
        assignment = sorted(app.consumer.assignment())
    except Exception as error:  # the consumer is not started yet
        return False, f"consumer not started: {type(error).__name__}"
    broker_error = None
    if assignment and not app.rebalancing:
        try:
            await asyncio.wait_for(app.consumer.highwaters(assignment[0]), BROKER_TIMEOUT_S)
        except Exception as error:
            broker_error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return readiness(
        rebalancing=app.rebalancing,
        recovering=bool(getattr(app, "in_recovery", False)),
        assigned=len(assignment),
        broker_error=broker_error,
    )


@app.page("/metrics")
async def metrics_page(self: Any, request: Any) -> Any:
    await refresh_consumer_lag()
    return self.bytes(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})


@app.page("/healthz/live")
async def live_page(self: Any, request: Any) -> Any:
    """Answering at all proves the event loop runs (the web server shares it with the agents)."""
    if app.crashed:
        return self.json({"live": False, "reason": f"crashed: {app.crash_reason!r}"}, status=503)
    return self.json({"live": True, "reason": "event loop answers"})


@app.page("/healthz/ready")
async def ready_page(self: Any, request: Any) -> Any:
    ok, reason = await check_ready()
    return self.json({"ready": ok, "reason": reason}, status=200 if ok else 503)
