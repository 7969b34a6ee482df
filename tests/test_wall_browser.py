"""The demo's wall in Chromium: the networks' servers the demo starts, a real worker routed to
them, the demo's examples submitted in its order, and the wall filling by itself (it reloads
itself; the test never does) with every network's post for each example, then the road
closure's Update and Cancel on every network.

Synapse and the PDS are left out here (the demo starts them when installed; the `faults` tier
covers their adapters): together they take about a minute to start on this machine, and the
wall reads every network the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browser_support import LazyChromium, screenshot
from conftest import Worker
from playwright.sync_api import expect

from alertcast import topics
from alertcast.demo import example_rounds
from alertcast.demo_networks import DemoNetworks
from alertcast.models.alert import alert_id_for
from alertcast.settings import Settings
from alertcast.submit import produce
from alertcast.wall_server import TopicFollower, serve_wall, wall_page

pytestmark = pytest.mark.browser

DELIVERED_WITHIN_MS = 60_000
FAST = ["email", "mastodon", "x", "facebook", "telegram"]


@pytest.fixture
def networks(tmp_path: Path) -> Iterator[DemoNetworks]:
    running = DemoNetworks(tmp_path / "networks")
    try:
        running.start_fast()
        yield running
    finally:
        running.stop()


def test_the_wall_fills_with_every_networks_post_then_the_update_and_the_cancel(
    broker: str,
    prefix: str,
    start_worker: Callable[..., Worker],
    networks: DemoNetworks,
    tmp_path: Path,
) -> None:
    assert networks.channels() == FAST
    topics.apply(broker, prefix)
    # with the site's address, as the demo gives it: each text links to its alert page, so a
    # text too long for X points to the page rather than being blocked. Without it, the school
    # bus example did not fit X whenever its times spanned two days (from about 21:15 Paris time)
    site = "http://127.0.0.1:8080"
    start_worker(
        **networks.env(), ALERTCAST_CHANNELS=json.dumps(["website", *FAST]), ALERTCAST_SITE_BASE_URL=site
    )
    settings = Settings(bootstrap=broker, topic_prefix=prefix)
    follower = TopicFollower(settings).start()
    wall = serve_wall(wall_page(networks.posts, follower, list), 0)
    browser = LazyChromium(tmp_path / "chromium-profile", DELIVERED_WITHIN_MS)
    try:
        alerts, update, cancel = example_rounds(prefix.rstrip("."))
        produce(alerts, settings, "test")
        page = browser.new_page()
        page.set_viewport_size({"width": 1600, "height": 1000})
        page.goto(f"http://127.0.0.1:{wall.server_address[1]}/")
        columns = page.locator("section")
        expect(columns).to_have_count(len(FAST))
        for network in FAST:
            column = page.locator(f"section[data-network='{network}']")
            # each example as the network stored it, timed from its approval (never "…")
            expect(column.locator(".arrival", has_text="s after approval")).to_have_count(
                3, timeout=DELIVERED_WITHIN_MS
            )
            for alert in alerts:  # one post per example, matched to its delivery's receipt
                arrival = column.locator(f".arrival[data-alert='{alert_id_for(alert.key)}']", has_text="v1: ")
                expect(arrival).to_have_count(1)

        produce([update], settings, "test")
        produce([cancel], settings, "test")
        for network in FAST:
            column = page.locator(f"section[data-network='{network}']")
            for version in ("v2: ", "v3: "):
                expect(column.locator(".arrival", has_text=version)).to_have_count(
                    1, timeout=DELIVERED_WITHIN_MS
                )
            expect(column.locator(".text", has_text="FIN D'ALERTE").first).to_be_visible()
            # the Update and the Cancel continue the alert's post: an edit of it, or a reply below it
            assert (
                column.locator(".tag", has_text="edited").count() + column.locator("article.reply").count()
                >= 1
            )
        screenshot(page, "wall")
    finally:
        browser.close()
        wall.shutdown()
        follower.stop()
