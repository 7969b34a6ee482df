"""Issue 9: a worker killed (SIGKILL) in the middle of a fan-out, after networks stored posts
and before it learnt so, is restarted, and every channel has its post EXACTLY ONCE, counted on
the servers. The Mastodon server ignores Idempotency-Key (as GoToSocial does), so only the
adapter's lookup of the marker prevents a second status; Telegram offers no lookup, so its
delivery becomes `unknown` and a person settles it with `alertcast deliveries resolve`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("faults_support")  # before its import: it is also this tier's plugin
from conftest import wait_for  # noqa: E402
from faults_support import ALL_CHANNELS, Networks, incident, latest, read_until  # noqa: E402
from test_pipeline_kafka import cli  # noqa: E402

pytestmark = pytest.mark.faults
pytest_plugins = ["faults_support"]

#: Networks that store the post, then hold their answer until the worker is dead.
HELD = ("mastodon", "x", "facebook", "telegram")
#: The first worker's HTTP timeout: longer than any wait below, so it never gives up on a held
#: answer (and retries) before it is killed.
HOLD_S = 300.0


def test_a_worker_killed_mid_fan_out_and_restarted_posts_everything_exactly_once(
    broker: str,
    prefix: str,
    start_worker: Any,
    worker_env: dict[str, str],
    networks: Networks,
    tmp_path: Path,
) -> None:
    ids = {channel: networks.add(channel, mastodon="contract") for channel in ALL_CHANNELS}
    networks.mastodon.state.ignore_idempotency = True  # GoToSocial's way: a second POST, a second status
    networks.hold()  # the contract servers store each post, then hold their answer
    env = networks.env(worker_env)
    first = start_worker(**env, ALERTCAST_HTTP_TIMEOUT_S=str(HOLD_S))  # no client timeout meanwhile
    assert (
        cli("submit", str(incident(tmp_path, "01-road-closure-d934.json", networks.tag)), env=env).returncode
        == 0
    )
    submitted = time.monotonic()

    # The moment of the crash: the quick networks are done (receipts), the held ones have stored
    # the post and the worker is waiting for their answer.
    quick = [channel for channel in ALL_CHANNELS if channel not in HELD]
    read_until(
        broker,
        prefix + "deliveries.receipts",
        lambda got: {r["channel"] for r in got if r["status"] == "sent"} >= set(quick),
        what=first.log_tail,
    )
    wait_for(
        lambda: all(len(networks.posts(ids[channel])) == 1 for channel in HELD),
        120,
        lambda: f"the held networks to store their post\n{first.log_tail()}",
    )
    assert first.process is not None
    first.process.kill()
    first.process.wait(timeout=30)
    networks.release()
    # It died waiting: its HTTP timeout (HOLD_S) had not run out, so it never retried nor learnt.
    assert time.monotonic() - submitted < HOLD_S

    second = start_worker(**env)
    receipts = read_until(
        broker,
        prefix + "deliveries.receipts",
        lambda got: (
            len(latest(got)) == len(ALL_CHANNELS)
            and all(r["status"] != "in_flight" for r in latest(got).values())
        ),
        what=second.log_tail,
    )
    final = {channel: r for (_, channel, _), r in latest(receipts).items()}
    statuses = {channel: r["status"] for channel, r in final.items()}
    assert statuses == {**dict.fromkeys(ALL_CHANNELS, "sent"), "telegram": "unknown"}, second.log_tail()
    for channel, identity in ids.items():
        if channel != "website":
            assert len(networks.posts(identity)) == 1, (channel, networks.posts(identity))
    for channel in ("mastodon", "x", "facebook"):  # found by the marker, not posted again
        assert final[channel]["post_id"] == str(networks.posts(ids[channel])[0]["id"]), channel
    assert networks.telegram.state.sends() == 1  # unknown: nobody posted blind

    # A person looks at the channel, sees the message and says so: the delivery is settled.
    (message,) = networks.posts(ids["telegram"])
    seen = f"https://t.me/{message['chat']['username']}/{message['message_id']}"
    key = final["telegram"]["delivery_key"]
    resolved = cli("deliveries", "resolve", key, "--posted", seen, "--by", "astreinte", env=env)
    assert resolved.returncode == 0, resolved.stderr
    settled = read_until(
        broker,
        prefix + "deliveries.receipts",
        lambda got: any(r["delivery_key"] == key and r["status"] == "sent" for r in got),
        what=second.log_tail,
    )
    (receipt,) = [r for r in settled if r["delivery_key"] == key and r["status"] == "sent"]
    assert receipt["url"] == seen
    assert networks.telegram.state.sends() == 1 and len(networks.posts(ids["telegram"])) == 1
