"""The duty communicator's console in real Chromium, on the real pipeline: a real broker, a real
`alertcast worker` with a policy file, `alertcast web`'s app under uvicorn on 127.0.0.1, the
webhook channel posting to a local receiver and the website channel writing a served folder.
Screenshots (phone width) go to artifacts/screenshots/."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import uvicorn
from browser_support import LazyChromium, screenshot
from conftest import Receiver, Worker, wait_for
from kafka_io import read_until
from playwright.sync_api import Page, expect

from alertcast import examples, topics
from alertcast.models.decision import Role
from alertcast.models.incident import Incident
from alertcast.settings import Settings
from alertcast.site.serve import serve
from alertcast.submit import produce
from alertcast.web.app import WebConfig, create_app
from alertcast.web.console import ConsoleConfig
from alertcast.web.console.auth import User, hash_password

pytestmark = pytest.mark.browser

PASSWORD = "mot de passe du test navigateur"
POLICY = """
rules:
  - name: grave
    severities: [Severe, Extreme]
    approval: two
default:
  name: autre
  approval: one
"""
OPINION = "Route D 934 fermée entre Arras et Cambrai. Scandaleux, la faute du département."
FIXED = "Route D 934 fermée entre Arras et Cambrai. Suivez la déviation par la D 939. Source : Département."
TIMEOUT_MS = 60_000


@dataclass
class Stack:
    web_url: str
    site_url: str
    broker: str
    prefix: str
    settings: Settings
    receiver: Receiver
    worker: Worker

    def submit(self, incident: Incident) -> None:
        produce([incident], self.settings, "test")


def incident(identifier: str, headline: str, **info: object) -> Incident:
    document = examples.document("01-road-closure-d934.json")
    document["identifier"] = identifier
    document["info"][0].update(headline=headline, **info)
    return Incident.model_validate(document)


@pytest.fixture
def stack(
    broker: str,
    prefix: str,
    start_worker: Callable[..., Worker],
    worker_env: dict[str, str],
    receiver: Receiver,
    tmp_path: Path,
) -> Iterator[Stack]:
    topics.apply(broker, prefix)
    site_dir = Path(worker_env["ALERTCAST_SITE_DIR"])
    site_dir.mkdir(parents=True, exist_ok=True)
    site = serve(site_dir, 0)
    site_url = f"http://127.0.0.1:{site.server_address[1]}"
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    worker = start_worker(
        ALERTCAST_POLICY_FILE=str(policy),
        ALERTCAST_CHANNELS=json.dumps(["website", "webhook"]),
        ALERTCAST_WEBHOOK_URLS=json.dumps([receiver.url]),
        ALERTCAST_WEBHOOK_SECRET="test-webhook-secret",
        ALERTCAST_SITE_BASE_URL=site_url,
    )
    password = hash_password(PASSWORD)
    users = [
        User(name="alice", roles=[Role.COMMUNICATOR], password_argon2=password, display_name="Alice"),
        User(name="bruno", roles=[Role.SUPERVISOR], password_argon2=password, display_name="Bruno"),
    ]
    config = WebConfig(bootstrap=broker, topic_prefix=prefix)
    console = ConsoleConfig.for_tests(users, decision_wait_s=10, policy_file=policy)
    server = uvicorn.Server(  # a factory: aiokafka's producer is made inside the server's event loop
        uvicorn.Config(
            lambda: create_app(config, console_config=console),
            factory=True,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), 60, "the web server")
    assert server.started, "the web server stopped during its start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Stack(
            web_url=f"http://127.0.0.1:{port}",
            site_url=site_url,
            broker=broker,
            prefix=prefix,
            settings=Settings(bootstrap=broker, topic_prefix=prefix),
            receiver=receiver,
            worker=worker,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        site.shutdown()
        site.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[LazyChromium]:
    expect.set_options(timeout=TIMEOUT_MS)
    chromium = LazyChromium(tmp_path / "chromium-profile", TIMEOUT_MS)
    try:
        yield chromium
    finally:
        chromium.close()


def login(page: Page, stack: Stack, name: str, then: str = "/console/queue") -> None:
    page.goto(stack.web_url + then)
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.get_by_label("Identifiant").fill(name)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(stack.web_url + then)


def fits_phone(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width} px wide on a 360-px phone"


def test_live_queue_blocked_edit_fixed_approved_and_delivered(stack: Stack, browser: LazyChromium) -> None:
    page = browser.new_page()
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(stack.web_url + "/console/queue")
    expect(page).to_have_url(f"{stack.web_url}/console/login?next=/console/queue")
    screenshot(page, "console-login")
    login(page, stack, "alice")
    expect(page.locator(".empty").first).to_have_text("Aucun brouillon en attente.")
    page.evaluate("window.__notReloaded = true")

    road = incident("console-road-1", "Route D 934 fermée entre Arras et Cambrai")
    stack.submit(road)
    card = page.locator(".card", has_text="Route D 934 fermée")
    expect(card).to_be_visible()  # arrived through the live fragment...
    assert page.evaluate("window.__notReloaded === true")  # ...without a reload
    fits_phone(page)
    screenshot(page, "console-queue-live")

    card.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Route D 934 fermée entre Arras et Cambrai")
    webhook = page.locator("#text-webhook-fr")
    webhook.locator("summary").click()
    webhook.get_by_label("Texte webhook").fill(OPINION)
    webhook.get_by_role("button", name="Enregistrer la modification").click()
    expect(page.locator("#outcome")).to_contain_text("modification : acceptée")
    expect(webhook).to_have_class("channel blocked")
    expect(webhook.locator("mark.block")).to_have_text("Scandaleux")
    fits_phone(page)
    screenshot(page, "console-edit-blocked")

    page.get_by_role("button", name="Approuver").click()
    expect(page.locator("#refusal")).to_contain_text("le texte webhook modifié (fr) est bloqué")
    assert stack.receiver.bodies() == []

    webhook.locator("summary").click()
    webhook.get_by_label("Texte webhook").fill(FIXED)
    webhook.get_by_role("button", name="Enregistrer la modification").click()
    expect(page.locator("#outcome")).to_contain_text("modification : acceptée")
    expect(webhook).to_have_class("channel")
    clicked = time.monotonic()
    page.get_by_role("button", name="Approuver").click()
    expect(page.locator("#outcome")).to_contain_text("approbation : acceptée")

    page.goto(stack.web_url + "/console/deliveries")
    row = page.locator("tr", has_text="Route D 934 fermée")
    first_sent = row.locator(".cell[data-state=sent]").first
    expect(first_sent).to_be_visible()
    seen_in_browser = time.monotonic() - clicked
    expect(row.locator("td[data-channel=webhook] .cell")).to_have_attribute("data-state", "sent")
    expect(row.locator("td[data-channel=website] .cell")).to_have_attribute("data-state", "sent")
    fits_phone(page)
    screenshot(page, "console-delivery-grid")

    [approval] = read_until(stack.broker, stack.prefix + "alerts.approved", 1)
    receipts = read_until(stack.broker, stack.prefix + "deliveries.receipts", 2)
    approved_at = datetime.fromisoformat(approval["approved_at"])
    first_receipt = min(datetime.fromisoformat(r["at"]) for r in receipts)
    print(
        f"approval-to-first-receipt: {(first_receipt - approved_at).total_seconds() * 1000:.0f} ms "
        f"(Kafka timestamps); click-to-first-'sent'-in-the-grid: {seen_in_browser:.2f} s (browser)"
    )
    assert stack.receiver.bodies()[0]["text"] == FIXED

    link = row.locator("td[data-channel=website] a")
    expect(link).to_have_attribute("href", f"{stack.site_url}/alerts/{approval['draft']['alert_id']}.html")
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Route D 934 fermée entre Arras et Cambrai")


def test_two_person_rule_and_a_rejected_draft_never_published(stack: Stack, browser: LazyChromium) -> None:
    page = browser.new_page()
    page.set_viewport_size({"width": 360, "height": 740})
    storm = incident("console-grave-1", "Route D 934 coupée par une inondation", severity="Severe")
    minor = incident("console-mineure-1", "Route D 12 fermée pour travaux")
    stack.submit(storm)
    stack.submit(minor)
    login(page, stack, "alice")
    cards = page.locator(".card")
    expect(cards).to_have_count(2)
    expect(cards.first).to_contain_text("inondation")  # the severe one first

    cards.first.get_by_role("link").click()
    expect(page.locator("#approvals")).to_contain_text("approbations 0/2")
    draft_url = page.url
    page.get_by_role("button", name="Approuver").click()
    expect(page.locator("#outcome")).to_contain_text("encore 1 approbation(s) nécessaire(s)")
    expect(page.locator("#approvals")).to_contain_text("approbations 1/2 : alice")
    page.get_by_role("button", name="Approuver").click()
    expect(page.locator("#refusal")).to_contain_text("doit venir d'une autre personne")
    screenshot(page, "console-two-person-refused")

    page.get_by_role("button", name="Se déconnecter").click()
    login(page, stack, "bruno")
    page.goto(draft_url)
    page.get_by_role("button", name="Approuver").click()
    expect(page.locator("#outcome")).to_contain_text("approbation : acceptée")
    expect(page.locator("#approvals")).to_contain_text("alice, bruno")

    page.goto(stack.web_url + "/console/queue")
    page.locator(".card", has_text="Route D 12").get_by_role("link").click()
    page.get_by_label("Motif du rejet").fill("travaux déjà annoncés")
    page.get_by_role("button", name="Rejeter").click()
    expect(page.locator("#outcome")).to_contain_text("rejet : acceptée")
    expect(page.locator("#status")).to_have_text("rejeté")
    screenshot(page, "console-rejected")

    page.goto(stack.web_url + "/console/deliveries")
    storm_row = page.locator("tr", has_text="inondation")
    expect(storm_row.locator("td[data-channel=webhook] .cell")).to_have_attribute("data-state", "sent")
    expect(page.locator("tr", has_text="Route D 12")).to_have_count(0)
    approvals = read_until(stack.broker, stack.prefix + "alerts.approved", 1)
    assert [a["draft"]["incident_key"] for a in approvals] == [storm.key]
    assert approvals[0]["approved_by"] == ["alice", "bruno"]
    assert all("Route D 12" not in body["text"] for body in stack.receiver.bodies())

    page.goto(stack.web_url + "/console/audit?actor=alice")
    rows = page.locator("table.audit tbody tr")
    expect(rows).to_have_count(1)  # alice's one approval (the web refused her second at once)
    expect(rows.first).to_contain_text("approbation")
    fits_phone(page)
    screenshot(page, "console-audit")
