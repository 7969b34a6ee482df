"""The limit a Mastodon instance reports is the one compose fits the text to, through the real
pipeline: the worker's periodic account check reads it, so a 250-character instance gets a text
it accepts (a text fitted to Mastodon's usual 500 would be refused with a 422 and go dead)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_for
from kafka_io import read_until
from servers.mastodon_contract import ContractServer
from test_metrics_kafka import scrape
from test_pipeline_kafka import cli

pytestmark = pytest.mark.servers


@pytest.fixture
def contract() -> Iterator[ContractServer]:
    server = ContractServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_compose_fits_the_text_to_the_instances_own_limit(
    broker: str,
    prefix: str,
    start_worker,
    worker_env: dict[str, str],
    contract: ContractServer,
    current_examples: Path,
) -> None:
    contract.state.max_characters = 250
    account_id, token = contract.state.add_account("prefecture")
    env = {
        **worker_env,
        "ALERTCAST_CHANNELS": json.dumps(["mastodon"]),
        "ALERTCAST_MASTODON_ACCOUNTS": json.dumps(
            [{"name": "main", "base_url": contract.url, "access_token_env": "ALERTCAST_TEST_LIMIT_TOKEN"}]
        ),
        "ALERTCAST_TEST_LIMIT_TOKEN": token,
        # As in production: the text links to the alert's page, whose fragment carries the
        # adapter's marker at no cost (without a link the marker is a 22-character last line).
        "ALERTCAST_SITE_BASE_URL": "https://alertes.exemple.fr",
    }
    worker = start_worker(**env)
    port = env["ALERTCAST_WORKER_WEB_PORT"]

    def checked() -> bool:
        try:
            return scrape(port).value("alertcast_account_healthy", channel="mastodon", account="main") == 1
        except AssertionError:  # the worker's web server is not up yet
            return False

    wait_for(checked, 90, lambda: f"the account checked\n{worker.log_tail()}")
    assert cli("submit", str(current_examples / "03-storm-warning.json"), env=env).returncode == 0

    draft = read_until(broker, prefix + "alerts.drafted", 1)[0]
    french = next(t for t in draft["texts"] if t["channel"] == "mastodon" and t["language"] == "fr")
    assert french["limit"] == 250 and french["length"] <= 250 and french["dropped"], french
    receipt = read_until(broker, prefix + "deliveries.receipts", 1)[0]
    assert receipt["status"] == "sent", receipt["error"]
    [status] = contract.state.statuses_of(account_id)
    assert "Vigilance orange vents violents" in status["content"]
