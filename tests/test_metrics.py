"""Metric helpers, the lag and readiness rules, the exposition format, and the breaker's wiring
in the delivery agent: pure (no broker; the Faust app is built but never started)."""

from __future__ import annotations

import pytest
from channel_requests import delivery_request
from faust.types import TP
from prometheus_client.parser import text_string_to_metric_families

from alertcast.delivery.breaker import Breakers, BreakerState
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.stream import deliver, metrics

FAMILIES = {
    "alertcast_ingest": "counter",
    "alertcast_ingest_duration_seconds": "histogram",
    "alertcast_rejections": "counter",
    "alertcast_drafts": "counter",
    "alertcast_compose_duration_seconds": "histogram",
    "alertcast_approval_wait_seconds": "histogram",
    "alertcast_submit_to_approval_seconds": "histogram",
    "alertcast_approval_to_receipt_seconds": "histogram",
    "alertcast_fanout_requests": "counter",
    "alertcast_delivery_duration_seconds": "histogram",
    "alertcast_deliveries_failed": "counter",
    "alertcast_circuit_state": "gauge",
    "alertcast_deliveries_paused": "gauge",
    "alertcast_account_healthy": "gauge",
    "alertcast_consumer_lag": "gauge",
    "alertcast_stream_override_calls": "counter",
}


def value(name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_every_family_is_exposed_with_help_and_prefix() -> None:
    text = metrics.generate_latest(metrics.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name, kind in FAMILIES.items():
        assert families[name].type == kind, name
        assert len(families[name].documentation) > 20, name
    ours = [name for name in families if name.startswith("alertcast")]
    assert sorted(ours) == sorted(FAMILIES)
    assert "process_resident_memory_bytes" in families  # the process collector is registered


def test_ingest_outcomes_and_rejections_by_source_and_rule() -> None:
    before = value("alertcast_ingest_total", source="api-x", outcome="rejected")
    rule_before = value("alertcast_rejections_total", source="api-x", rule="missing")
    metrics.rejected("api-x", ["missing", "missing", "enum"])
    assert value("alertcast_ingest_total", source="api-x", outcome="rejected") == before + 1
    assert value("alertcast_rejections_total", source="api-x", rule="missing") == rule_before + 1
    assert value("alertcast_rejections_total", source="api-x", rule="enum") >= 1
    metrics.rejected("api-x", [])
    assert value("alertcast_rejections_total", source="api-x", rule="unknown") >= 1
    metrics.ingested("s" * 300, "accepted")
    assert value("alertcast_ingest_total", source="s" * metrics.MAX_LABEL, outcome="accepted") >= 1


def test_stage_helpers() -> None:
    metrics.drafted(blocked=True, problems=2)
    metrics.drafted(blocked=False, problems=1)
    metrics.drafted(blocked=False, problems=0)
    for outcome in ("blocked", "problems", "ready"):
        assert value("alertcast_drafts_total", outcome=outcome) >= 1
    count = value("alertcast_approval_wait_seconds_count")
    metrics.observe_approval_wait(-3)  # a clock skew never makes a negative wait
    metrics.observe_approval_wait(90)
    assert value("alertcast_approval_wait_seconds_count") == count + 2
    assert value("alertcast_approval_wait_seconds_bucket", le="0.0") == 0
    metrics.observe_delivery("mastodon", "sent", 0.2)
    assert (
        value("alertcast_delivery_duration_seconds_bucket", channel="mastodon", status="sent", le="0.25") >= 1
    )
    metrics.delivery_failed("mastodon", "unknown")
    assert value("alertcast_deliveries_failed_total", channel="mastodon", status="unknown") >= 1
    metrics.fanned_out("x", "skipped")
    assert value("alertcast_fanout_requests_total", channel="x", outcome="skipped") >= 1
    for state, number in ((BreakerState.OPEN, 2), (BreakerState.HALF_OPEN, 1), (BreakerState.CLOSED, 0)):
        metrics.breaker_changed("bluesky", state)
        assert metrics.registry.get_sample_value("alertcast_circuit_state", {"channel": "bluesky"}) == number


def test_lag_is_end_minus_committed_or_log_start_when_nothing_committed() -> None:
    a0, a1, b0, c0 = TP("a", 0), TP("a", 1), TP("b", 0), TP("c", 0)
    lag = metrics.lag_by_topic(
        [a0, a1, b0, c0],
        ends={a0: 10, a1: 5, b0: 7},  # c0's end is unknown: left out, not guessed
        committed={a0: 4, a1: None, b0: 7},
        starts={a1: 2},
    )
    assert lag == {"a": 6 + 3, "b": 0}
    assert metrics.lag_by_topic([a0], ends={a0: 3}, committed={a0: 9}, starts={}) == {"a": 0}


def test_readiness_says_what_is_missing() -> None:
    def ready(**changes: object) -> tuple[bool, str]:
        args: dict[str, object] = {
            "rebalancing": False,
            "recovering": False,
            "assigned": 3,
            "broker_error": None,
        }
        return metrics.readiness(**{**args, **changes})  # type: ignore[arg-type]

    assert ready() == (True, "3 partitions assigned, broker answers")
    assert ready(rebalancing=True) == (False, "rebalancing: waiting for partitions")
    assert ready(assigned=0) == (False, "no partitions assigned yet")
    assert ready(recovering=True)[1].startswith("recovering tables")
    assert ready(broker_error="TimeoutError") == (False, "broker did not answer: TimeoutError")


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_delivery_attempts_go_through_the_channel_breaker(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(
        deliver,
        "breakers",
        Breakers(threshold=2, cooldown_s=30, monotonic=clock, on_change=metrics.breaker_changed),
    )
    calls: list[str] = []
    testnet = delivery_request("testnet", "Vents violents")

    async def down() -> deliver.PostResult:
        calls.append("down")
        raise TransientError("503")

    async def up() -> deliver.PostResult:
        calls.append("up")
        return deliver.PostResult(post_id="1")

    async def refused() -> deliver.PostResult:
        calls.append("refused")
        raise PermanentError("400")

    for _ in range(2):
        with pytest.raises(TransientError, match="503"):
            await deliver.guarded(testnet, down)
    assert metrics.registry.get_sample_value("alertcast_circuit_state", {"channel": "testnet"}) == 2
    with pytest.raises(TransientError, match="circuit open") as raised:
        await deliver.guarded(testnet, up)
    assert raised.value.retry_after == pytest.approx(30)
    assert calls == ["down", "down"]  # the open circuit did not call the network
    clock.now += 30
    with pytest.raises(PermanentError):
        await deliver.guarded(testnet, refused)  # the probe: refused, but the network answered
    assert metrics.registry.get_sample_value("alertcast_circuit_state", {"channel": "testnet"}) == 0
    assert (await deliver.guarded(testnet, up)).post_id == "1"
