"""The KPIs of one time window: submit → approval, approval → the last channel's receipt
(median and p90, overall, per channel, per source), alerts per category and area, failed
deliveries, and the citizens' answers within the 72-hour circuit.

Definitions, the same for the console page and the worker's Prometheus histograms:

- *submitted* is when ingest accepted the version (`received_at`);
- *decided* is the last person's approval (or the automatic one), never later than the release:
  a scheduled publication's wait for its time is not a delay (as the approval agent measures);
- *released* is the approval on `alerts.approved` (`approved_at`): deliveries start from it;
- a receipt counts when it is final (sent, dead, unknown); a channel's time is its last
  account's, and the alert's is its last channel's, known only once nothing of it is waiting
  (skipped and dropped deliveries end without a time of their own).

A publication is one approved version (updates and cancels too); it belongs to the window it
was submitted in. Alerts per category and area count alerts, not versions.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alertcast.models.alert import DeliveryStatus
from alertcast.models.incident import UtcDateTime
from alertcast.replies.kpi import Handled, Kpi, kpis

WindowName = Literal["24h", "7d", "30d"]
WINDOWS: dict[WindowName, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT_WINDOW: WindowName = "7d"
#: What a channel answered in the end: these receipts carry the time that counts.
FINAL = frozenset({DeliveryStatus.SENT, DeliveryStatus.DEAD, DeliveryStatus.UNKNOWN})
#: Nothing more will happen to these deliveries (a paused one still waits).
SETTLED = FINAL | {DeliveryStatus.SKIPPED, DeliveryStatus.DROPPED}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Delivery(_Model):
    """One (channel, account) of a publication, as its latest receipt left it."""

    channel: str
    account: str = "default"
    status: DeliveryStatus | None = Field(default=None, description="None: no receipt yet")
    at: UtcDateTime | None = Field(default=None, description="the latest receipt's time")


class Publication(_Model):
    """One version of an alert, from its submission to its receipts."""

    alert_id: str
    version: int = Field(ge=1)
    source: str
    category: str | None = None
    areas: list[str] = Field(default_factory=list)
    submitted_at: UtcDateTime
    decided_at: UtcDateTime | None = Field(default=None, description="None: not approved (yet)")
    released_at: UtcDateTime | None = Field(default=None, description="None: not approved (yet)")
    deliveries: list[Delivery] = Field(default_factory=list)


class Conversation(_Model):
    """A citizens' conversation for the report: when it began and how its circuit stands."""

    started_at: UtcDateTime
    handled: Handled


class Timing(_Model):
    count: int = Field(ge=0)
    median_s: float | None = None
    p90_s: float | None = None
    samples: list[float] = Field(default_factory=list, description="seconds, sorted")


class DeliveryCounts(_Model):
    sent: int = 0
    dead: int = 0
    unknown: int = 0
    ended: int = Field(default=0, description="skipped or dropped: nothing to post")
    waiting: int = Field(default=0, description="no receipt yet, or paused")


class ReplyKpis(_Model):
    conversations: int = Field(ge=0)
    hit: int = Field(ge=0, description="answered within the circuit")
    missed: int = Field(ge=0)
    active: int = Field(ge=0, description="waiting for an answer, still in time")
    by_service: dict[str, Kpi]
    by_network: dict[str, Kpi]


class KpiReport(_Model):
    window: WindowName
    since: UtcDateTime
    until: UtcDateTime
    alerts: int = Field(ge=0)
    publications: int = Field(ge=0)
    not_published: int = Field(
        ge=0, description="alerts whose latest version is not approved: waiting, rejected, expired"
    )
    to_approval: Timing
    to_approval_by_source: dict[str, Timing]
    to_receipt: Timing
    to_receipt_by_channel: dict[str, Timing]
    to_receipt_by_source: dict[str, Timing]
    by_category: dict[str, int] = Field(description="alerts, most first; '' when unknown")
    by_area: dict[str, int] = Field(description="alerts, most first; one alert counts in each area")
    deliveries: dict[str, DeliveryCounts] = Field(description="by channel")
    dead: int = Field(ge=0)
    unknown: int = Field(ge=0)
    replies: ReplyKpis | None = Field(default=None, description="None: no inbox to read")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, interpolated between the closest ranks (numpy's
    default), so a median of an even count is the middle two's mean."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 1:
        raise ValueError("q must be between 0 and 1")
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def timing(seconds: Iterable[float]) -> Timing:
    samples = sorted(seconds)
    if not samples:
        return Timing(count=0)
    return Timing(
        count=len(samples),
        median_s=percentile(samples, 0.5),
        p90_s=percentile(samples, 0.9),
        samples=samples,
    )


def elapsed_s(start: datetime, end: datetime) -> float:
    """Seconds from `start` to `end`; never negative (two hosts' clocks a little apart)."""
    return max((end - start).total_seconds(), 0.0)


def receipt_delay_s(released_at: datetime, status: DeliveryStatus, at: datetime) -> float | None:
    """Seconds from the release to a final receipt; None for a receipt that is not final."""
    return elapsed_s(released_at, at) if status in FINAL else None


def channel_delays(publication: Publication) -> dict[str, float]:
    """Each channel's release → its last final receipt, for channels with nothing waiting."""
    released = publication.released_at
    if released is None:
        return {}
    by_channel: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in publication.deliveries:
        by_channel[delivery.channel].append(delivery)
    delays: dict[str, float] = {}
    for channel, deliveries in by_channel.items():
        if any(d.status not in SETTLED for d in deliveries):
            continue
        times = [
            receipt_delay_s(released, d.status, d.at)
            for d in deliveries
            if d.status is not None and d.at is not None
        ]
        known = [t for t in times if t is not None]
        if known:
            delays[channel] = max(known)
    return delays


def last_receipt_delay(publication: Publication) -> float | None:
    """Release → the last channel's final receipt; None while any delivery still waits."""
    if any(d.status not in SETTLED for d in publication.deliveries):
        return None
    delays = channel_delays(publication)
    return max(delays.values()) if delays else None


def _by_count(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def _timings(groups: dict[str, list[float]]) -> dict[str, Timing]:
    return {name: timing(groups[name]) for name in sorted(groups)}


def _counts(deliveries: list[Delivery]) -> DeliveryCounts:
    status = Counter(d.status for d in deliveries)
    return DeliveryCounts(
        sent=status[DeliveryStatus.SENT],
        dead=status[DeliveryStatus.DEAD],
        unknown=status[DeliveryStatus.UNKNOWN],
        ended=status[DeliveryStatus.SKIPPED] + status[DeliveryStatus.DROPPED],
        waiting=sum(n for s, n in status.items() if s not in SETTLED),
    )


def reply_kpis(conversations: Iterable[Conversation]) -> ReplyKpis:
    handled = [conversation.handled for conversation in conversations]
    states = Counter(item.state.state for item in handled)
    return ReplyKpis(
        conversations=len(handled),
        hit=states["hit"],
        missed=states["missed"],
        active=states["active"],
        by_service=kpis(handled, by="service"),
        by_network=kpis(handled, by="network"),
    )


def report(
    publications: Iterable[Publication],
    now: datetime,
    window: WindowName = DEFAULT_WINDOW,
    conversations: Iterable[Conversation] | None = None,
) -> KpiReport:
    """The KPIs of what was submitted in the `window` before `now` (later ones are left out:
    they have not happened yet for this clock)."""
    since = now - WINDOWS[window]
    shown = [p for p in publications if since <= p.submitted_at <= now]
    to_approval: list[float] = []
    to_approval_by_source: dict[str, list[float]] = defaultdict(list)
    to_receipt: list[float] = []
    to_receipt_by_source: dict[str, list[float]] = defaultdict(list)
    to_receipt_by_channel: dict[str, list[float]] = defaultdict(list)
    deliveries: dict[str, list[Delivery]] = defaultdict(list)
    latest: dict[str, Publication] = {}
    for publication in shown:
        current = latest.get(publication.alert_id)
        if current is None or current.version < publication.version:
            latest[publication.alert_id] = publication
        for delivery in publication.deliveries:
            deliveries[delivery.channel].append(delivery)
        if publication.decided_at is not None:
            waited = elapsed_s(publication.submitted_at, publication.decided_at)
            to_approval.append(waited)
            to_approval_by_source[publication.source].append(waited)
        for channel, delay in channel_delays(publication).items():
            to_receipt_by_channel[channel].append(delay)
        last = last_receipt_delay(publication)
        if last is not None:
            to_receipt.append(last)
            to_receipt_by_source[publication.source].append(last)
    counts = {channel: _counts(deliveries[channel]) for channel in sorted(deliveries)}
    return KpiReport(
        window=window,
        since=since,
        until=now,
        alerts=len(latest),
        publications=sum(p.released_at is not None for p in shown),
        not_published=sum(p.released_at is None for p in latest.values()),
        to_approval=timing(to_approval),
        to_approval_by_source=_timings(to_approval_by_source),
        to_receipt=timing(to_receipt),
        to_receipt_by_channel=_timings(to_receipt_by_channel),
        to_receipt_by_source=_timings(to_receipt_by_source),
        by_category=_by_count(Counter(p.category or "" for p in latest.values())),
        by_area=_by_count(Counter(area for p in latest.values() for area in dict.fromkeys(p.areas))),
        deliveries=counts,
        dead=sum(c.dead for c in counts.values()),
        unknown=sum(c.unknown for c in counts.values()),
        replies=None
        if conversations is None
        else reply_kpis(c for c in conversations if since <= c.started_at <= now),
    )
