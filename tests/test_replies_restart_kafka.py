"""Replies read by the worker across a restart, on a real broker, with Telegram's contract
server: a comment read before the restart is not read again after it (Telegram confirms the
updates only when asked with the kept offset), and one written while no worker ran is read by
the next: none lost, none repeated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for
from kafka_io import read_until, read_until_found
from servers.telegram_contract import TelegramServer
from test_pipeline_kafka import cli
from test_replies_servers import messages_in

pytestmark = pytest.mark.kafka


def test_a_restart_between_two_polls_neither_loses_nor_repeats_a_comment(
    broker: str, prefix: str, start_worker: Any, worker_env: dict[str, str], current_examples: Path
) -> None:
    server = TelegramServer().start()
    try:
        state = server.state
        bot_id, token = state.add_bot("prefecture62_bot")
        channel_id = state.add_channel("Alertes Pas-de-Calais", "alertes62")
        group = state.add_group("Alertes Pas-de-Calais (discussion)", linked_to=channel_id)
        state.set_member(channel_id, bot_id, "administrator", can_post_messages=True)
        state.set_member(group, bot_id, "administrator")
        account = {"name": "canal", "chat_id": "@alertes62", "api_base": server.url}
        env = {
            **worker_env,
            "ALERTCAST_CHANNELS": json.dumps(["telegram"]),
            "ALERTCAST_TELEGRAM_ACCOUNTS": json.dumps([{**account, "access_token_env": "ALERTCAST_TEST_TG"}]),
            "ALERTCAST_TEST_TG": token,
            "ALERTCAST_REPLIES_POLL_S": "1",
        }
        worker = start_worker(**env)
        assert cli("submit", str(current_examples / "03-storm-warning.json"), env=env).returncode == 0
        receipt = read_until(broker, prefix + "deliveries.receipts", 1, what=worker.log_tail())[0]
        assert receipt["status"] == "sent", receipt["error"]

        first = state.comment(channel_id, int(receipt["post_id"]), state.add_user("Jean"), "Arbres tombés")
        read_until(broker, prefix + "replies.received", 1, what=lambda: worker.log_tail())
        read_until_found(
            broker,
            prefix + "replies.cursors",
            lambda got: any((c.get("offset") or 0) > 0 and c.get("threads") for c in got),
            60,
        )
        worker.stop()

        second = state.comment(
            channel_id, int(receipt["post_id"]), state.add_user("Marie"), "Et la rue Pasteur ?"
        )
        again = start_worker(**env)
        # The new leader read the second comment and polled again (confirming it): all is settled.
        read_until(broker, prefix + "replies.received", 2, what=lambda: again.log_tail())
        wait_for(lambda: state.pending(bot_id) == 0, 120, lambda: again.log_tail())

        replies = read_until(broker, prefix + "replies.received", 2)
        assert [r["id"] for r in replies] == [f"telegram:{group}:{first}", f"telegram:{group}:{second}"]
        assert {r["alert_id"] for r in replies} == {receipt["alert_id"]}
        assert messages_in(broker, prefix + "replies.received") == 2
    finally:
        server.stop()
