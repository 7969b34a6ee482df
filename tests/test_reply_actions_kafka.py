"""An answer asked from the console reaches the citizen's thread once, through the worker's
action ledger (alertcast/stream/reply_actions.py), on a real broker with Mastodon's contract
server ignoring Idempotency-Key (as GoToSocial does): the same request read again by a restarted
worker is only repeated, and a worker killed while the network held its answer is followed by
one that finds the status by its marker instead of posting a second one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import wait_for
from kafka_io import produce, read_until_found
from servers.mastodon_contract import ContractServer

from alertcast.replies.actions import ReplyAction


@pytest.fixture
def mastodon() -> Iterator[ContractServer]:
    server = ContractServer().start()
    server.state.ignore_idempotency = True
    try:
        yield server
    finally:
        server.state.hold_posts = False
        server.stop()


def setting_up(mastodon: ContractServer, worker_env: dict[str, str]) -> tuple[dict[str, str], str, str]:
    """(the worker's environment, our account id, the citizen's question's id)."""
    our_id, token = mastodon.state.add_account("prefecture")
    _, citizen = mastodon.state.add_account("citoyen")

    def post(bearer: str, text: str, parent: str | None = None) -> str:
        body: dict[str, Any] = {"status": text, **({"in_reply_to_id": parent} if parent else {})}
        answer = httpx.post(
            f"{mastodon.url}/api/v1/statuses",
            json=body,
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=10,
        )
        answer.raise_for_status()
        return str(answer.json()["id"])

    root = post(token, "Route fermée à Saint-Étienne")
    question = post(citizen, "Jusqu'à quand ?", root)
    env = {
        **worker_env,
        "ALERTCAST_CHANNELS": json.dumps(["mastodon"]),
        "ALERTCAST_MASTODON_ACCOUNTS": json.dumps(
            [{"name": "main", "base_url": mastodon.url, "access_token_env": "ALERTCAST_TEST_ACT_TOKEN"}]
        ),
        "ALERTCAST_TEST_ACT_TOKEN": token,
        "ALERTCAST_REPLIES_POLL_S": "0",
    }
    return env, our_id, question


def request(question: str) -> ReplyAction:
    """What the console's answer form produces (alertcast/web/console/inbox.py)."""
    return ReplyAction(
        kind="answer",
        network="mastodon",
        target=question,
        reply_id=f"mastodon:{question}",
        author="citoyen",
        conversation=question,
        ref="conversation-1",
        alert_id="alert-1",
        text="Réouverture prévue à 18 h.",
        by="carole",
        at=datetime.now(UTC),
    )


def answers(mastodon: ContractServer, our_id: str, question: str) -> list[dict[str, Any]]:
    with mastodon.state.lock:
        return [
            s
            for s in mastodon.state.statuses.values()
            if s["account"]["id"] == our_id and s["in_reply_to_id"] == question
        ]


def outcomes(broker: str, topic: str, count: int, what: Any) -> list[dict[str, Any]]:
    return read_until_found(broker, topic, lambda got: len(got) >= count, 120, what)


@pytest.mark.kafka
def test_an_answer_read_again_after_a_restart_is_not_posted_again(
    broker: str, prefix: str, start_worker: Any, worker_env: dict[str, str], mastodon: ContractServer
) -> None:
    env, our_id, question = setting_up(mastodon, worker_env)
    action = request(question)
    worker = start_worker(**env)
    produce(broker, prefix + "replies.actions", action.model_dump_json().encode(), action.key)
    (done,) = outcomes(broker, prefix + "replies.outcomes", 1, worker.log_tail)
    assert done["state"] == "done", done
    (status,) = answers(mastodon, our_id, question)
    assert done["post_id"] == status["id"]
    assert status["source_text"].startswith("@citoyen Réouverture prévue à 18 h.")

    # The worker restarts; the same request comes again (a console resending it): the ledger,
    # rebuilt from its changelog, says it is done.
    worker.stop()
    again = start_worker(**env)
    produce(broker, prefix + "replies.actions", action.model_dump_json().encode(), action.key)
    repeated = outcomes(broker, prefix + "replies.outcomes", 2, again.log_tail)
    assert [o["state"] for o in repeated] == ["done", "done"]
    assert repeated[1]["post_id"] == status["id"]
    assert len(answers(mastodon, our_id, question)) == 1
    audit = read_until_found(
        broker,
        prefix + "audit.events",
        lambda got: sum(1 for e in got if e["action"] == "reply_acted") >= 2,
        60,
        again.log_tail,
    )
    acted = [e for e in audit if e["action"] == "reply_acted"]
    assert all(e["details"]["action_id"] == action.action_id and e["accepted"] for e in acted)


@pytest.mark.faults
def test_a_worker_killed_while_the_network_held_the_answer_leaves_one_answer(
    broker: str, prefix: str, start_worker: Any, worker_env: dict[str, str], mastodon: ContractServer
) -> None:
    env, our_id, question = setting_up(mastodon, worker_env)
    action = request(question)
    mastodon.state.hold_posts = True  # stored, then the answer waits: the worker never learns it
    first = start_worker(**env, ALERTCAST_HTTP_TIMEOUT_S="300")
    produce(broker, prefix + "replies.actions", action.model_dump_json().encode(), action.key)
    wait_for(
        lambda: len(answers(mastodon, our_id, question)) == 1,
        120,
        lambda: f"the server to store the answer\n{first.log_tail()}",
    )
    assert first.process is not None
    first.process.kill()
    first.process.wait(timeout=30)
    mastodon.state.hold_posts = False

    second = start_worker(**env)
    (done,) = outcomes(broker, prefix + "replies.outcomes", 1, second.log_tail)
    (status,) = answers(mastodon, our_id, question)  # found by its marker, not posted again
    assert done["state"] == "done" and done["post_id"] == status["id"], done
    assert done["attempts"] == 1  # the first worker's attempt, found: no second call
