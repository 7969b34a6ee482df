"""Pause switches in the console, in real Chromium on the real pipeline: a real broker, a real
`alertcast worker` (website and webhook channels, the webhook posting to a local receiver, no
policy file: drafts go out at once) and `alertcast web`'s app under uvicorn on 127.0.0.1.

A communicator pauses, sees what waits (counted per channel, "en pause" in the grid), resumes
or drops one delivery; the supervisor reads who did it in the journal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_support import LazyChromium, blocking, describe, load_axe, run_axe, screenshot, uvicorn_app
from conftest import Receiver
from kafka_io import read_until_found
from playwright.sync_api import Page, expect
from test_console_browser import PASSWORD, TIMEOUT_MS, fits_phone, incident

from alertcast import topics
from alertcast.models.decision import Role
from alertcast.settings import Settings
from alertcast.submit import produce
from alertcast.web.app import WebConfig, create_app
from alertcast.web.console import ConsoleConfig
from alertcast.web.console.auth import User, hash_password

pytestmark = pytest.mark.browser

CHANNELS = ["website", "webhook"]
HEADLINE = "Route D 934 fermée entre Arras et Cambrai"


@dataclass
class PauseStack:
    web_url: str
    broker: str
    prefix: str
    settings: Settings
    receiver: Receiver

    def submit(self, identifier: str) -> None:
        produce([incident(identifier, HEADLINE)], self.settings, "test")

    def receipts(self, found: Any, what: str) -> dict[str, list[str]]:
        """Each channel's receipt statuses, in order, once `found(statuses)` holds."""
        messages = read_until_found(
            self.broker, self.prefix + "deliveries.receipts", lambda r: found(statuses(r)), what=what
        )
        return statuses(messages)


def statuses(receipts: list[dict[str, Any]]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for receipt in receipts:
        seen.setdefault(receipt["channel"], []).append(receipt["status"])
    return seen


@pytest.fixture
def stack(
    broker: str, prefix: str, start_worker, worker_env: dict[str, str], receiver: Receiver
) -> Iterator[PauseStack]:
    topics.apply(broker, prefix)
    Path(worker_env["ALERTCAST_SITE_DIR"]).mkdir(parents=True, exist_ok=True)
    start_worker(
        ALERTCAST_CHANNELS=json.dumps(CHANNELS),
        ALERTCAST_WEBHOOK_URLS=json.dumps([receiver.url]),
        ALERTCAST_WEBHOOK_SECRET="test-webhook-secret",
    )
    password = hash_password(PASSWORD)
    users = [
        User(name="alice", roles=[Role.COMMUNICATOR], password_argon2=password, display_name="Alice"),
        User(name="bruno", roles=[Role.SUPERVISOR], password_argon2=password, display_name="Bruno"),
    ]
    config = WebConfig(bootstrap=broker, topic_prefix=prefix)
    console = ConsoleConfig.for_tests(users, decision_wait_s=10, channels=CHANNELS)
    with uvicorn_app(lambda: create_app(config, console_config=console)) as url:
        yield PauseStack(
            web_url=url,
            broker=broker,
            prefix=prefix,
            settings=Settings(bootstrap=broker, topic_prefix=prefix),
            receiver=receiver,
        )


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[LazyChromium]:
    expect.set_options(timeout=TIMEOUT_MS)
    chromium = LazyChromium(tmp_path / "chromium-profile", TIMEOUT_MS)
    try:
        yield chromium
    finally:
        chromium.close()


def login(page: Page, stack: PauseStack, name: str, then: str) -> None:
    page.goto(stack.web_url + then)
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.get_by_label("Identifiant").fill(name)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(stack.web_url + then)


def pause(page: Page, scope: str, reason: str) -> None:
    """The pause form: `scope` is a channel, or "" for everything."""
    page.get_by_label("Portée de la pause").select_option(scope)
    page.get_by_label("Motif de la pause").fill(reason)
    page.get_by_role("button", name="Mettre en pause").click()
    expect(page.locator("#notice")).to_contain_text("Pause enregistrée")


def test_a_paused_channel_holds_counted_and_goes_out_once_on_resume(
    stack: PauseStack, browser: LazyChromium
) -> None:
    page = browser.new_page()
    page.set_viewport_size({"width": 360, "height": 740})
    login(page, stack, "alice", "/console/deliveries")
    expect(page.locator("#no-pause")).to_have_text("Aucune pause : les diffusions partent.")

    pause(page, "webhook", "jeton du webhook compromis")
    switch = page.locator("li.switch[data-scope=webhook]")
    expect(switch).to_contain_text("webhook en pause")
    expect(switch).to_contain_text("par alice")
    expect(switch).to_contain_text("motif : jeton du webhook compromis")

    stack.submit("pause-road-1")
    row = page.locator("#grid tr", has_text=HEADLINE)
    webhook = row.locator("td[data-channel=webhook] .cell")
    expect(webhook).to_have_attribute("data-state", "paused")  # arrived through the live fragment
    expect(webhook).to_contain_text("en pause")
    expect(webhook.get_by_role("button", name="Ne pas publier")).to_be_visible()
    expect(row.locator("td[data-channel=website] .cell")).to_have_attribute("data-state", "sent")
    expect(page.locator("table.held tr[data-channel=webhook] .held-count")).to_have_text("1")
    expect(page.locator("table.held tbody tr")).to_have_count(1)
    fits_phone(page)
    screenshot(page, "console-pause-held")
    load_axe(page)
    report = run_axe(page)
    assert report.passed > 0
    assert not blocking(report.violations), describe(blocking(report.violations))
    held = stack.receipts(lambda s: s == {"website": ["sent"], "webhook": ["paused"]}, "held")
    assert held["webhook"] == ["paused"]
    assert stack.receiver.bodies() == []  # the webhook's request was answered "paused", not posted

    switch.get_by_role("button", name="Reprendre").click()
    expect(page.locator("#notice")).to_contain_text("Reprise enregistrée")
    expect(page.locator("#no-pause")).to_be_visible()
    expect(webhook).to_have_attribute("data-state", "sent")
    expect(page.locator("#none-held")).to_have_text("Aucune diffusion retenue.")
    stack.receipts(lambda s: s.get("webhook") == ["paused", "sent"], "sent on resume")
    bodies = stack.receiver.bodies()
    assert len(bodies) == 1 and HEADLINE.split(" entre")[0] in bodies[0]["text"]
    screenshot(page, "console-pause-resumed")

    page.get_by_role("button", name="Se déconnecter").click()
    login(page, stack, "bruno", "/console/queue")
    page.goto(stack.web_url + "/console/audit?actor=alice")
    rows = page.locator("table.audit tbody tr")
    expect(rows).to_have_count(2)  # newest first
    expect(rows.nth(0)).to_contain_text("fin de pause (webhook)")
    expect(rows.nth(1)).to_contain_text("pause (webhook)")
    expect(rows.nth(1)).to_contain_text("jeton du webhook compromis")
    expect(rows.nth(1)).to_contain_text("portée : webhook")
    for index in (0, 1):
        expect(rows.nth(index).locator("td").nth(1)).to_have_text("alice")
    screenshot(page, "console-pause-audit")


def test_a_held_delivery_dropped_in_the_console_never_goes_out(
    stack: PauseStack, browser: LazyChromium
) -> None:
    page = browser.new_page()
    login(page, stack, "alice", "/console/deliveries")
    pause(page, "", "texte contesté par la préfecture")  # everything
    everything = page.locator('li.switch[data-scope="*"]')
    expect(everything).to_contain_text("tout en pause")

    stack.submit("pause-drop-1")
    row = page.locator("#grid tr", has_text=HEADLINE)
    webhook = row.locator("td[data-channel=webhook] .cell")
    website = row.locator("td[data-channel=website] .cell")
    expect(webhook).to_have_attribute("data-state", "paused")
    expect(website).to_have_attribute("data-state", "paused")
    expect(page.locator("table.held tr[data-channel=webhook] .held-count")).to_have_text("1")
    expect(page.locator("table.held tr[data-channel=website] .held-count")).to_have_text("1")

    webhook.get_by_role("button", name="Ne pas publier").click()
    expect(page.locator("#notice")).to_contain_text("ne sera pas publiée")
    expect(webhook).to_have_attribute("data-state", "dropped")
    expect(webhook).to_contain_text("écarté")
    expect(page.locator("table.held tbody tr")).to_have_count(1)  # only the website waits now
    expect(page.locator("table.held tr[data-channel=website] .held-count")).to_have_text("1")
    stack.receipts(lambda s: s.get("webhook") == ["paused", "dropped"], "dropped")
    screenshot(page, "console-pause-dropped")

    everything.get_by_role("button", name="Reprendre").click()
    expect(page.locator("#notice")).to_contain_text("Reprise enregistrée")
    expect(website).to_have_attribute("data-state", "sent")
    after = stack.receipts(lambda s: s.get("website") == ["paused", "sent"], "website on resume")
    assert after["webhook"] == ["paused", "dropped"]
    expect(webhook).to_have_attribute("data-state", "dropped")
    assert stack.receiver.bodies() == []

    audit = read_until_found(
        stack.broker,
        stack.prefix + "audit.events",
        lambda e: sorted(x["action"] for x in e if x["actor"] == "alice") == ["drop", "pause", "resume"],
        what="alice's pause, drop and resume",
    )
    drop = next(event for event in audit if event["action"] == "drop")
    assert drop["channel"] == "webhook" and drop["details"]["previous_status"] == "paused"
    receipts = read_until_found(stack.broker, stack.prefix + "deliveries.receipts", lambda r: len(r) >= 4)
    webhook_keys = {r["delivery_key"] for r in receipts if r["channel"] == "webhook"}
    assert webhook_keys == {drop["details"]["delivery_key"]}
    switch = next(event for event in audit if event["action"] == "pause")
    assert switch["details"] == {"scope": "*"} and switch["message"] == "texte contesté par la préfecture"
