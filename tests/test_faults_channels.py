"""Issue 9's faults on the channels, through the real pipeline and the real channel servers: a
network that never recovers ends in `deliveries.dead` without holding the others back; an
exercise reaches exercise accounts only, labelled; `alertcast channels check` finds a revoked
token before a crisis does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("faults_support")  # before its import: it is also this tier's plugin
from faults_support import ALL_CHANNELS, Networks, incident, latest, read_until  # noqa: E402
from test_pipeline_kafka import cli  # noqa: E402

from alertcast.delivery.retry import RetryPolicy  # noqa: E402

pytestmark = pytest.mark.faults
pytest_plugins = ["faults_support"]


def test_a_network_that_never_recovers_ends_dead_with_its_reason_and_the_other_is_sent(
    broker: str,
    prefix: str,
    start_worker: Any,
    worker_env: dict[str, str],
    networks: Networks,
    tmp_path: Path,
) -> None:
    hook = networks.add("webhook")
    mastodon = networks.add("mastodon")
    hook.ref.failures = 10**6  # 503 to every request, for good
    env = networks.env(worker_env)
    worker = start_worker(**env)
    assert (
        cli("submit", str(incident(tmp_path, "03-storm-warning.json", networks.tag)), env=env).returncode == 0
    )

    (dead,) = read_until(broker, prefix + "deliveries.dead", bool, what=worker.log_tail)
    assert (dead["channel"], dead["account"], dead["status"]) == ("webhook", hook.name, "dead")
    assert "503" in dead["error"], dead["error"]
    assert dead["attempts"] == RetryPolicy().attempts == hook.ref.refused  # retried, then given up
    receipts = read_until(broker, prefix + "deliveries.receipts", lambda got: len(got) >= 2)
    assert {(r["channel"], r["status"]) for r in receipts} == {("webhook", "dead"), ("mastodon", "sent")}
    (status,) = networks.posts(mastodon)  # read back from mastodon-mock
    sent = next(r for r in receipts if r["channel"] == "mastodon")
    assert status["id"] == sent["post_id"]
    assert hook.ref.bodies() == []


def test_an_exercise_reaches_only_exercise_accounts_labelled_and_never_a_public_one(
    broker: str,
    prefix: str,
    start_worker: Any,
    worker_env: dict[str, str],
    networks: Networks,
    tmp_path: Path,
) -> None:
    networks.add("website")  # public by nature: no exercise on the public site either
    public = [networks.add(channel, "public") for channel in ALL_CHANNELS if channel != "website"]
    drills = [
        networks.add(channel, "exercices", exercise=True) for channel in ALL_CHANNELS if channel != "website"
    ]
    env = networks.env(worker_env)
    worker = start_worker(**env)
    exercise = incident(tmp_path, "01-road-closure-d934.json", networks.tag, status="Exercise")
    assert cli("submit", str(exercise), env=env).returncode == 0

    receipts = read_until(
        broker,
        prefix + "deliveries.receipts",
        lambda got: len(latest(got)) >= len(drills),
        what=worker.log_tail,
    )
    expected = {(i.channel, i.name) for i in drills}
    errors = [r["error"] for r in receipts if r["error"]]
    assert {(r["channel"], r["account"]): r["status"] for r in receipts} == dict.fromkeys(expected, "sent"), (
        errors
    )
    # Fan-out asked for these deliveries and no other (read from its topic, not inferred).
    requests = read_until(broker, prefix + "deliveries.requests", lambda got: len(got) >= len(drills))
    assert {(r["channel"], r["account"]) for r in requests} == expected
    for drill in drills:
        (post,) = networks.posts(drill)
        assert post["text"].startswith("EXERCICE"), (drill.channel, post["text"])
    for identity in public:
        assert networks.posts(identity) == [], identity.channel
    alert_id = receipts[0]["alert_id"]
    assert not (Path(env["ALERTCAST_SITE_DIR"]) / "alerts" / f"{alert_id}.html").exists()
    email = next(i for i in drills if i.channel == "email")
    (mail,) = networks.mails(email.ref)
    assert mail.message["Subject"].startswith("[EXERCICE]")


def test_channels_check_reports_revoked_tokens_in_its_table_and_exits_2(
    networks: Networks, tmp_path: Path
) -> None:
    accounts = [networks.add(channel) for channel in ALL_CHANNELS]
    revoked_mastodon = networks.add("mastodon", "ville", mastodon="contract")
    networks.mastodon.state.revoke(revoked_mastodon.ref[2])
    revoked_page = networks.add("facebook", "page-ville")
    networks.facebook.state.revoke(
        next(token for token, page in networks.facebook.state.tokens.items() if page == revoked_page.ref)
    )
    env = networks.env({**os.environ, "ALERTCAST_SITE_DIR": str(tmp_path / "site")})

    result = subprocess.run(
        [sys.executable, "-m", "alertcast", "channels", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr  # DESIGN: 2 = refused (a failing account)
    rows = {tuple(line.split()[:2]): line for line in result.stdout.splitlines()[1:]}
    assert set(rows) == {(i.channel, i.name) for i in [*accounts, revoked_mastodon, revoked_page]}
    failing = {key for key, line in rows.items() if line.split()[2] == "FAILING"}
    assert failing == {("mastodon", "ville"), ("facebook", "page-ville")}, result.stdout
    assert "token revoked or invalid" in rows[("mastodon", "ville")]
    assert "token revoked or invalid" in rows[("facebook", "page-ville")]
    assert all(line.split()[2] == "ok" for key, line in rows.items() if key not in failing), result.stdout
    for variable, secret in networks.secrets.items():
        assert secret not in result.stdout + result.stderr, f"the secret of {variable} was printed"
    assert not [i for i in accounts if i.channel != "website" and networks.posts(i)], "a check posted"


def test_an_alert_without_a_link_still_fits_where_the_adapter_adds_its_reference_line(
    broker: str,
    prefix: str,
    start_worker: Any,
    worker_env: dict[str, str],
    networks: Networks,
    tmp_path: Path,
) -> None:
    """Without a link the marker cannot hide in a fragment: X, Mastodon and Facebook add a last
    line `réf. ac-...` (22 characters). The text compose fitted to the limit must leave room
    for it, or the post is refused at the worst moment (the storm warning fills X's 280)."""
    ids = {channel: networks.add(channel) for channel in ("mastodon", "x", "facebook")}
    env = networks.env(worker_env)
    worker = start_worker(**env)
    assert (
        cli("submit", str(incident(tmp_path, "03-storm-warning.json", networks.tag)), env=env).returncode == 0
    )
    receipts = latest(
        read_until(
            broker, prefix + "deliveries.receipts", lambda got: len(latest(got)) >= 3, what=worker.log_tail
        )
    )
    assert {r["channel"]: r["status"] for r in receipts.values()} == dict.fromkeys(ids, "sent"), [
        r["error"] for r in receipts.values()
    ]
    for channel, identity in ids.items():
        (post,) = networks.posts(identity)
        assert re.search(r"\nréf\. ac-[0-9a-f]{12}$", post["text"].rstrip()), (channel, post["text"])
