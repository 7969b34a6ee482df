"""Bluesky replies read by the worker (alertcast/stream/replies.py), on a real broker with the
reference PDS: the worker publishes an alert on its account, a citizen's account of the same PDS
answers under it, and the leader, reading the PDS's firehose from the cursor it keeps on
`replies.cursors`, puts exactly one reply tied to that alert on `replies.received` (our own post,
on the same firehose, is not one); a second worker started later reads nothing again, only
what came after."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for
from kafka_io import read_until, read_until_found
from servers.pds import Pds
from test_pipeline_kafka import cli
from test_replies_bluesky import account, create_post
from test_replies_servers import messages_in

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def pds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pds]:
    """The reference PDS; a missing install fails (never skips) with what to run."""
    try:
        server = Pds(tmp_path_factory.mktemp("pds-worker-replies")).start()
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield server
    finally:
        server.stop()


def test_a_citizen_s_reply_under_our_bluesky_post_reaches_the_inbox_tied_to_its_alert_once(
    broker: str,
    prefix: str,
    start_worker: Any,
    worker_env: dict[str, str],
    pds: Pds,
    current_examples: Path,
) -> None:
    us = account(pds)
    secret = f"ALERTCAST_TEST_BLUESKY_PASSWORD_{uuid.uuid4().hex[:6].upper()}"
    env = {
        **worker_env,
        "ALERTCAST_CHANNELS": json.dumps(["bluesky"]),
        "ALERTCAST_BLUESKY_ACCOUNTS": json.dumps(
            [{"name": "ville", "service": pds.url, "identifier": us.handle, "app_password_env": secret}]
        ),
        secret: us.password,
        "ALERTCAST_REPLIES_POLL_S": "1",
    }
    worker = start_worker(**env)
    assert cli("submit", str(current_examples / "03-storm-warning.json"), env=env).returncode == 0
    receipt = read_until(broker, prefix + "deliveries.receipts", 1, what=worker.log_tail())[0]
    assert receipt["status"] == "sent", receipt["error"]
    assert receipt["post_id"].startswith(f"at://{us.did}/app.bsky.feed.post/")

    citizen = account(pds)
    ours = {"uri": receipt["post_id"], "cid": receipt["details"]["cid"]}
    answer = create_post(
        pds, citizen, "Les arbres sont tombés rue Pasteur", reply={"root": ours, "parent": ours}
    )

    (reply,) = read_until(broker, prefix + "replies.received", 1, what=lambda: worker.log_tail())
    assert reply["id"] == f"bluesky:{answer['uri']}"
    assert reply["alert_id"] == receipt["alert_id"] and reply["in_reply_to"] == receipt["post_id"]
    assert (reply["network"], reply["author"]) == ("bluesky", citizen.handle)
    assert reply["text"] == "Les arbres sont tombés rue Pasteur"
    cursors = read_until_found(
        broker, prefix + "replies.cursors", lambda got: any(c.get("seq") for c in got), 60
    )
    assert cursors[-1]["service"] == pds.url

    # A new leader, later, continues from the kept cursor: it polls and reads nothing again.
    worker.stop()
    before = messages_in(broker, prefix + "replies.cursors")
    again = start_worker(**env)
    wait_for(
        lambda: messages_in(broker, prefix + "replies.cursors") >= before + 2, 120, lambda: again.log_tail()
    )
    assert messages_in(broker, prefix + "replies.received") == 1
    later = create_post(pds, citizen, "Dégagé à 18 h", reply={"root": ours, "parent": ours})
    replies = read_until(broker, prefix + "replies.received", 2, what=lambda: again.log_tail())
    assert [r["id"] for r in replies] == [reply["id"], f"bluesky:{later['uri']}"]
    assert replies[1]["alert_id"] == receipt["alert_id"]
