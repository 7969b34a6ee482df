"""The KPIs' arithmetic on hand-built publications (pure: no broker, no clock of today's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alertcast.kpis.report import (
    Conversation,
    Delivery,
    Publication,
    last_receipt_delay,
    percentile,
    report,
    timing,
)
from alertcast.models.alert import DeliveryStatus
from alertcast.replies.kpi import Handled
from alertcast.replies.sla import ConversationState

NOW = datetime(2031, 3, 3, 10, 0, tzinfo=UTC)
SENT, DEAD, UNKNOWN = DeliveryStatus.SENT, DeliveryStatus.DEAD, DeliveryStatus.UNKNOWN


def at(seconds: float, start: datetime = NOW - timedelta(hours=2)) -> datetime:
    return start + timedelta(seconds=seconds)


def delivered(
    channel: str, status: DeliveryStatus | None, seconds: float | None, account: str = "a"
) -> Delivery:
    return Delivery(
        channel=channel, account=account, status=status, at=None if seconds is None else at(seconds)
    )


def publication(
    alert_id: str = "a1",
    version: int = 1,
    *,
    source: str = "api-dir",
    category: str | None = "road_closure",
    areas: tuple[str, ...] = ("Arras",),
    submitted: float = 0,
    decided: float | None = 120,
    released: float | None = 120,
    deliveries: tuple[Delivery, ...] = (),
    start: datetime = NOW - timedelta(hours=2),
) -> Publication:
    return Publication(
        alert_id=alert_id,
        version=version,
        source=source,
        category=category,
        areas=list(areas),
        submitted_at=at(submitted, start),
        decided_at=None if decided is None else at(decided, start),
        released_at=None if released is None else at(released, start),
        deliveries=list(deliveries),
    )


def test_percentiles_interpolate_between_the_closest_ranks() -> None:
    values = [float(n) for n in range(10, 0, -1)]  # 10..1, unsorted on purpose
    assert percentile(values, 0.5) == pytest.approx(5.5)
    assert percentile(values, 0.9) == pytest.approx(9.1)
    assert percentile(values, 0) == 1 and percentile(values, 1) == 10
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0], 0.5) == 2.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        percentile([1.0], 1.5)
    described = timing([30.0, 10.0, 20.0])
    assert (described.count, described.median_s, described.samples) == (3, 20.0, [10.0, 20.0, 30.0])
    assert described.p90_s == pytest.approx(28.0)
    assert timing([]).median_s is None and timing([]).p90_s is None


def test_no_data_gives_zeros_and_no_times() -> None:
    empty = report([], NOW, "24h", conversations=[])
    assert (empty.alerts, empty.publications, empty.not_published, empty.dead, empty.unknown) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert empty.to_approval.count == 0 and empty.to_approval.median_s is None
    assert empty.to_receipt.count == 0 and empty.to_receipt.p90_s is None
    assert empty.to_receipt_by_channel == {} and empty.by_category == {} and empty.by_area == {}
    assert empty.since == NOW - timedelta(hours=24) and empty.until == NOW
    assert empty.replies is not None and empty.replies.conversations == 0
    assert report([], NOW).replies is None  # no inbox to read: no reply figures, not zeros


def test_one_alert_times_from_submission_to_the_last_channel() -> None:
    one = publication(
        areas=("Arras", "Cambrai", "Arras"),
        deliveries=(
            delivered("website", SENT, 122),
            delivered("mastodon", SENT, 125, "prefecture"),
            delivered("mastodon", SENT, 130, "mairie"),
            delivered("email", DEAD, 200),
            delivered("x", DeliveryStatus.SKIPPED, 121),
        ),
    )
    kpis = report([one], NOW)
    assert (kpis.alerts, kpis.publications, kpis.not_published) == (1, 1, 0)
    assert kpis.to_approval.samples == [120.0] and kpis.to_approval.median_s == 120.0
    assert kpis.to_receipt.samples == [80.0]  # the email's dead receipt came last
    assert {name: t.samples for name, t in kpis.to_receipt_by_channel.items()} == {
        "email": [80.0],
        "mastodon": [10.0],  # its last account
        "website": [2.0],
    }
    assert kpis.to_receipt_by_source["api-dir"].median_s == 80.0
    assert kpis.by_category == {"road_closure": 1}
    assert kpis.by_area == {"Arras": 1, "Cambrai": 1}
    assert (kpis.dead, kpis.unknown) == (1, 0)
    assert kpis.deliveries["mastodon"].sent == 2 and kpis.deliveries["x"].ended == 1


def test_nothing_waiting_before_the_last_receipt_counts() -> None:
    waiting = publication(
        deliveries=(
            delivered("website", SENT, 121),
            delivered("mastodon", None, None),
            delivered("matrix", DeliveryStatus.PAUSED, 150),
            delivered("telegram", UNKNOWN, 400),
        )
    )
    assert last_receipt_delay(waiting) is None
    kpis = report([waiting], NOW)
    assert kpis.to_receipt.count == 0
    assert sorted(kpis.to_receipt_by_channel) == ["telegram", "website"]  # settled channels still count
    assert kpis.deliveries["mastodon"].waiting == 1 and kpis.deliveries["matrix"].waiting == 1
    assert kpis.unknown == 1
    only_skipped = publication(deliveries=(delivered("x", DeliveryStatus.SKIPPED, 121),))
    assert last_receipt_delay(only_skipped) is None  # nothing went out: no time to report


def test_medians_per_source_and_channel_on_known_values() -> None:
    pubs = [
        publication(
            f"a{n}",
            source="api-dir" if n % 2 else "console:alice",
            submitted=0,
            decided=60 * n,
            released=60 * n,
            deliveries=(delivered("website", SENT, 60 * n + n),),
        )
        for n in range(1, 11)
    ]
    kpis = report(pubs, NOW)
    assert kpis.to_approval.median_s == pytest.approx(330.0)  # 5.5 minutes
    assert kpis.to_approval.p90_s == pytest.approx(546.0)  # 9.1 minutes
    assert kpis.to_approval_by_source["api-dir"].samples == [60.0, 180.0, 300.0, 420.0, 540.0]
    assert kpis.to_approval_by_source["console:alice"].median_s == 360.0
    assert kpis.to_receipt_by_channel["website"].median_s == pytest.approx(5.5)
    assert kpis.to_receipt_by_channel["website"].p90_s == pytest.approx(9.1)


def test_the_window_keeps_what_was_submitted_in_it() -> None:
    recent = publication("recent", start=NOW - timedelta(hours=3))
    old = publication("old", category="weather", start=NOW - timedelta(days=8))
    later = publication("later", start=NOW + timedelta(minutes=5))  # not yet, for this clock
    assert report([recent, old, later], NOW, "24h").alerts == 1
    assert report([recent, old, later], NOW, "7d").alerts == 1
    month = report([recent, old, later], NOW, "30d")
    assert month.alerts == 2 and month.by_category == {"road_closure": 1, "weather": 1}


def test_versions_count_once_per_alert_and_unapproved_ones_wait() -> None:
    first = publication("a1", 1, category="weather", areas=("Lille",))
    update = publication(
        "a1", 2, category="flood", areas=("Lille", "Douai"), submitted=600, decided=630, released=630
    )
    pending = publication("a2", 1, submitted=700, decided=None, released=None)
    kpis = report([first, update, pending], NOW)
    assert (kpis.alerts, kpis.publications, kpis.not_published) == (2, 2, 1)
    assert kpis.by_category == {"flood": 1, "road_closure": 1}  # each alert's latest version
    assert kpis.by_area == {"Lille": 1, "Arras": 1, "Douai": 1}
    assert list(kpis.by_area) == ["Arras", "Douai", "Lille"]  # ties by name; the most first
    assert kpis.to_approval.samples == [30.0, 120.0]


def test_a_clock_behind_never_makes_a_negative_delay() -> None:
    skewed = publication(decided=-5, released=-5, deliveries=(delivered("website", SENT, -6),))
    kpis = report([skewed], NOW)
    assert kpis.to_approval.samples == [0.0] and kpis.to_receipt.samples == [0.0]


def test_replies_answered_within_the_circuit_and_missed() -> None:
    def conversation(
        state: str, service: str, hours_ago: float, answered_after: float | None = None
    ) -> Conversation:
        circuit = ConversationState(
            state=state,  # type: ignore[arg-type]
            first_answer_after=None if answered_after is None else timedelta(hours=answered_after),
        )
        return Conversation(
            started_at=NOW - timedelta(hours=hours_ago),
            handled=Handled(service=service, network="mastodon", state=circuit),
        )

    conversations = [
        conversation("hit", "routes", 30, answered_after=2),
        conversation("hit", "routes", 20, answered_after=4),
        conversation("missed", "transports", 100, answered_after=80),
        conversation("active", "transports", 1),
        conversation("missed", "routes", 24 * 10),  # outside 7 days
    ]
    replies = report([], NOW, conversations=conversations).replies
    assert replies is not None
    assert (replies.conversations, replies.hit, replies.missed, replies.active) == (4, 2, 1, 1)
    assert replies.by_service["routes"].median_first_answer == timedelta(hours=3)
    assert replies.by_service["transports"].missed == 1
    assert replies.by_network["mastodon"].conversations == 4
    day = report([], NOW, "24h", conversations=conversations).replies
    assert day is not None and (day.hit, day.missed, day.active) == (1, 0, 1)
