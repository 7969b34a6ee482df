"""Delivery requests are keyed by (channel, account): one account, one partition, one owner.

So one worker paces an account and holds its circuit breaker, and the versions of one alert on
one account stay in order. Every producer of `deliveries.requests` must use the one key."""

from __future__ import annotations

import re
from pathlib import Path

from aiokafka.partitioner import DefaultPartitioner
from channel_requests import delivery_request
from hypothesis import given
from hypothesis import strategies as st

from alertcast.models.alert import delivery_partition_key
from alertcast.models.incident import MsgType
from alertcast.stream import app as stream_app
from alertcast.stream.app import app, partition_for

ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = list(range(6))


def partition_of(key: bytes) -> int:
    """Where Faust's producer (aiokafka's default partitioner, murmur2) puts this key."""
    return int(DefaultPartitioner()(key, PARTITIONS, PARTITIONS))


def test_the_key_is_the_channel_and_the_account() -> None:
    assert delivery_partition_key("webhook", "hook") == b"webhook:hook"
    request = delivery_request("mastodon", "Vents violents", account="prefecture")
    assert request.partition_key == delivery_partition_key("mastodon", "prefecture")


def test_every_request_for_one_account_lands_on_one_partition_whatever_the_alert() -> None:
    requests = [
        delivery_request("webhook", "texte", version, msg_type, account="hook", alert_id=f"alert-{n}")
        for n in range(20)  # 20 alerts, three versions each
        for version, msg_type in ((1, MsgType.ALERT), (2, MsgType.UPDATE), (3, MsgType.CANCEL))
    ]
    assert len({r.delivery_key for r in requests}) == 60
    assert len({partition_of(r.partition_key) for r in requests}) == 1


def test_accounts_spread_over_the_partitions() -> None:
    """The point of the key is ownership, not one hot partition: many accounts use them all."""
    keys = [
        delivery_partition_key(channel, f"account-{n}")
        for channel in ("webhook", "mastodon")
        for n in range(60)
    ]
    assert {partition_of(key) for key in keys} == set(PARTITIONS)


PRODUCERS = {
    "alertcast/stream/fanout.py": r"append\(\(requests, ",
    "alertcast/stream/pauses.py": r"produce\(requests, ",
    "alertcast/stream/digest.py": r"produce\(requests, ",
    "alertcast/resolve.py": r"settings\.topic\(\"deliveries\.requests\"\),",
    "alertcast/web/console/deliveries.py": r"topic=topics\.requests,",
}


def test_every_producer_of_the_requests_topic_keys_by_the_account() -> None:
    """fan-out, the release of paused deliveries, the daily digest, `alertcast deliveries resolve`
    and the console's retry and drop: a request keyed otherwise would be paced by another worker's
    bucket."""
    for path, call in PRODUCERS.items():
        source = (ROOT / path).read_text(encoding="utf-8")
        starts = [m.end() for m in re.finditer(call, source)]
        assert starts, f"{path}: no producer of deliveries.requests found (moved? update this test)"
        for start in starts:
            head = source[start : start + 200]
            keyed = ("key=request.partition_key", "key=delivery.partition_key", "request.partition_key,")
            assert any(key in head for key in keyed), (path, head)
    everything = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "alertcast").rglob("*.py"))
    assert len(re.findall(r"produce\(requests, ", everything)) == 2  # pause release, digest
    assert not re.findall(r"requests\.send\(", everything)
    assert len(re.findall(r"append\(\(requests, ", everything)) == 1  # the fan-out, sent with the approval


@given(key=st.binary(max_size=64), count=st.integers(min_value=1, max_value=64))
def test_the_worker_s_partitioner_puts_a_key_where_aiokafka_s_does(key: bytes, count: int) -> None:
    """The worker keeps each key's hash (alertcast.stream.app.partition_for); the console, the
    CLI and every other client hash it anew: they must agree, or one incident splits in two."""
    partitions = list(range(count))
    assert app.conf.producer_partitioner is partition_for
    expected = DefaultPartitioner()(key, partitions, partitions)
    assert partition_for(key, partitions, partitions) == expected
    assert partition_for(key, partitions, partitions) == expected  # from the kept hash
    assert stream_app.partition_of(key, count) == expected  # what ingest checks a submission by
