"""Acting on the networks from the inbox in real Chromium on a 360-px phone: hide a Bluesky reply,
confirm a Matrix redaction, write an answer; axe-core clean on each page, nothing wider than
the phone. The console's read model is fed directly and its producer kept in memory (no
broker): what reaches the worker is checked by the kafka tier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import LazyChromium, blocking, describe, load_axe, run_axe, screenshot, uvicorn_app
from playwright.sync_api import Page, expect
from test_console_inbox import INSULT, reply
from test_console_security import PASSWORD, USERS, MemoryProducer, make_draft

from alertcast.replies.actions import ReplyAction
from alertcast.web.app import WebConfig, create_app
from alertcast.web.console import ConsoleConfig
from alertcast.web.console.inbox_model import thread_ref

pytestmark = pytest.mark.browser
TIMEOUT_MS = 60_000


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[LazyChromium]:
    expect.set_options(timeout=TIMEOUT_MS)
    chromium = LazyChromium(tmp_path / "chromium-profile", TIMEOUT_MS)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def console() -> Iterator[tuple[str, MemoryProducer]]:
    """The web app under uvicorn with an insult under an alert on Bluesky and on Matrix."""
    made: dict[str, Any] = {}
    producer = MemoryProducer()

    def factory() -> Any:
        config = ConsoleConfig.for_tests(USERS, decision_wait_s=0)
        made["app"] = create_app(
            WebConfig(topic_prefix="t."), producer=producer, follow_topics=False, console_config=config
        )
        return made["app"]

    with uvicorn_app(factory) as url:
        target = made["app"].state.console
        draft = make_draft()
        target.on_message(target.topics.drafted, None, draft.model_dump_json().encode())
        for network, native in (("bluesky", "at://did:plc:c/app.bsky.feed.post/3k"), ("matrix", "$e1")):
            insult = reply(native, INSULT, alert_id=draft.alert_id, conversation="root", network=network)
            target.on_message(target.topics.replies, None, insult.model_dump_json().encode())
        yield url, producer


def axe_clean(page: Page, name: str) -> None:
    screenshot(page, name)
    load_axe(page)
    report = run_axe(page)
    assert report.passed > 0
    assert not blocking(report.violations), describe(blocking(report.violations))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width} px wide on a 360-px phone"


def asked(producer: MemoryProducer) -> list[ReplyAction]:
    return [
        ReplyAction.model_validate_json(m.value) for m in producer.messages if m.topic == "t.replies.actions"
    ]


def test_hiding_redacting_and_answering_from_a_phone(
    console: tuple[str, MemoryProducer], browser: LazyChromium
) -> None:
    url, producer = console
    page = browser.new_page()
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(url + f"/console/inbox/{thread_ref('bluesky', 'root')}")
    page.get_by_label("Identifiant").fill("alice")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Masquer sur le réseau")).to_be_visible()
    axe_clean(page, "inbox-bluesky-hide")

    page.get_by_role("button", name="Masquer sur le réseau").click()
    expect(page.get_by_role("status")).to_contain_text("Masquage demandé")
    expect(page.locator("li.act")).to_contain_text("demandée")
    page.get_by_label("Votre réponse, publiée sur Bluesky sous ce message").fill("Réouverture à 18 h.")
    page.get_by_role("button", name="Répondre").click()
    expect(page.get_by_role("status")).to_contain_text("Réponse demandée")
    axe_clean(page, "inbox-bluesky-asked")
    assert [(a.kind, a.network) for a in asked(producer)] == [("hide", "bluesky"), ("answer", "bluesky")]

    page.goto(url + f"/console/inbox/{thread_ref('matrix', 'root')}")
    page.get_by_role("button", name="Caviarder").click()
    expect(page.get_by_role("button", name="Oui, caviarder")).to_be_visible()
    axe_clean(page, "inbox-matrix-confirm")
    assert len(asked(producer)) == 2  # nothing asked before the confirmation
    page.get_by_role("button", name="Oui, caviarder").click()
    expect(page.get_by_role("status")).to_contain_text("Masquage demandé")
    assert asked(producer)[-1].confirmed_by == "alice"
