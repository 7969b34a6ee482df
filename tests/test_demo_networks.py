"""The demo's networks without their slow servers: what is left out says so and how to add it,
and the worker is routed to exactly the networks that started, each read back from its server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alertcast import demo_networks
from alertcast.demo_networks import DemoNetworks

pytestmark = pytest.mark.servers  # the contract servers and an SMTP server, on 127.0.0.1


def test_without_synapse_and_the_pds_installed_the_demo_says_so_and_routes_to_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_networks, "installed", lambda network: False)
    networks = DemoNetworks(tmp_path)
    try:
        networks.start_slow()
        networks.start_fast()
        left_out = networks.finish(timeout_s=1)

        assert left_out == [
            "matrix (Synapse is not installed: scripts/install-servers.sh installs it)",
            "bluesky (the Bluesky PDS is not installed: scripts/install-servers.sh installs it)",
        ]
        assert networks.channels() == ["email", "mastodon", "x", "facebook", "telegram"]
        env = networks.env()
        assert "ALERTCAST_MATRIX_ACCOUNTS" not in env and "ALERTCAST_BLUESKY_ACCOUNTS" not in env
        for channel in networks.channels():
            (account,) = json.loads(env[f"ALERTCAST_{channel.upper()}_ACCOUNTS"])
            secret = next(value for key, value in account.items() if key.endswith("_env"))
            assert env[secret], f"{channel}: the secret its account names is in the worker's env"
            assert "127.0.0.1" in json.dumps(account), f"{channel}: a local server"
        assert networks.posts() == {channel: [] for channel in networks.channels()}
    finally:
        networks.stop()
