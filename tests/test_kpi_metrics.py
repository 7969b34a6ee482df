"""The KPI histograms of `/metrics`: observed where approvals and receipts happen (the approval
agent, the delivery agent), with the KPI page's definitions (pure: the Faust app is built but
never started)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from channel_requests import delivery_request

from alertcast.approval.policy import Requirement
from alertcast.approval.state import ApprovalState
from alertcast.approval.workflow import Mark
from alertcast.models.alert import DeliveryRequest, DeliveryStatus, Draft, Receipt
from alertcast.models.decision import ApprovalMode, DraftStatus, Role
from alertcast.stream import approval, deliver, metrics, pauses

T0 = datetime(2031, 3, 3, 10, 0, tzinfo=UTC)


def value(name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def receipt_of(request: DeliveryRequest, status: DeliveryStatus, after_s: float) -> Receipt:
    return Receipt(
        delivery_key=request.delivery_key,
        alert_id=request.alert_id,
        version=request.version,
        channel=request.channel,
        account=request.account,
        status=status,
        latency_ms=after_s * 1000,
        at=request.approved_at + timedelta(seconds=after_s),
    )


def test_final_receipts_are_observed_per_channel_and_others_not() -> None:
    request = delivery_request("kpinet", "Vents violents")
    count = value("alertcast_approval_to_receipt_seconds_count", channel="kpinet")
    metrics.observe_receipt(request.approved_at, receipt_of(request, DeliveryStatus.SENT, 1.5))
    metrics.observe_receipt(request.approved_at, receipt_of(request, DeliveryStatus.DEAD, 40))
    metrics.observe_receipt(request.approved_at, receipt_of(request, DeliveryStatus.SKIPPED, 1))
    metrics.observe_receipt(request.approved_at, receipt_of(request, DeliveryStatus.PAUSED, 1))
    assert value("alertcast_approval_to_receipt_seconds_count", channel="kpinet") == count + 2
    assert value("alertcast_approval_to_receipt_seconds_bucket", channel="kpinet", le="2.0") >= 1
    text = metrics.generate_latest(metrics.registry).decode()
    assert 'alertcast_approval_to_receipt_seconds_bucket{channel="kpinet",le="60.0"}' in text


def test_submit_to_approval_is_observed_never_negative() -> None:
    count = value("alertcast_submit_to_approval_seconds_count")
    zero = value("alertcast_submit_to_approval_seconds_bucket", le="1.0")
    metrics.observe_submit_to_approval(T0, T0 - timedelta(seconds=3))  # clocks a little apart
    metrics.observe_submit_to_approval(T0, T0 + timedelta(minutes=10))
    assert value("alertcast_submit_to_approval_seconds_count") == count + 2
    assert value("alertcast_submit_to_approval_seconds_bucket", le="1.0") == zero + 1
    assert value("alertcast_submit_to_approval_seconds_sum") >= 600


def test_the_approval_agent_observes_from_submission_to_the_person_s_approval() -> None:
    incident = delivery_request("kpinet", "Vents violents").incident
    draft = Draft(
        alert_id="a1", incident_key=incident.key, version=1, received_at=T0, incident=incident, texts=[]
    )
    state = ApprovalState(
        draft=draft,
        requirement=Requirement(rule="grave", mode=ApprovalMode.ONE),
        status=DraftStatus.PUBLISHED,
        arrived_at=T0 + timedelta(seconds=1),
        approvals=[Mark(user="alice", roles=[Role.COMMUNICATOR], at=T0 + timedelta(seconds=90))],
    )
    count = value("alertcast_submit_to_approval_seconds_count")
    total = value("alertcast_submit_to_approval_seconds_sum")
    approval._observe_wait(T0 + timedelta(hours=8), state)  # scheduled for 8 h later: not a delay
    assert value("alertcast_submit_to_approval_seconds_count") == count + 1
    assert value("alertcast_submit_to_approval_seconds_sum") == pytest.approx(total + 90)


class Sent:
    """What the agent hands the producer, by topic (alertcast.stream.app.produce)."""

    def __init__(self) -> None:
        self.values: dict[Any, list[bytes]] = {}

    async def produce(self, channel: Any, key: bytes, value: bytes, headers: Any = None) -> None:
        self.values.setdefault(channel, []).append(value)


async def test_the_delivery_agent_observes_the_receipt_it_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    request = delivery_request("kpiwire", "Vents violents")
    loaded = asyncio.Event()
    loaded.set()
    monkeypatch.setattr(pauses, "loaded", loaded)
    sent = Sent()
    monkeypatch.setattr(deliver, "produce", sent.produce)

    async def answered(request: DeliveryRequest, started: float, answer: object = None) -> Receipt:
        return receipt_of(request, DeliveryStatus.SENT, 3)

    monkeypatch.setattr(deliver, "deliver_one", answered)
    count = value("alertcast_approval_to_receipt_seconds_count", channel="kpiwire")
    await deliver.deliver_event(SimpleNamespace(value=request.model_dump_json().encode(), headers={}))
    assert list(sent.values) == [deliver.receipts] and len(sent.values[deliver.receipts]) == 1
    assert value("alertcast_approval_to_receipt_seconds_count", channel="kpiwire") == count + 1
    assert value("alertcast_approval_to_receipt_seconds_sum", channel="kpiwire") == pytest.approx(3)
