"""The console in French and in English, in real Chromium: the language switch of every page,
the person's choice kept across pages and the login, and axe-core clean in both languages.

The console's read model is fed directly (no broker): this tier checks what people see and
click, `test_catalogs.py` checks that every word comes from the catalogs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import LazyChromium, blocking, describe, load_axe, run_axe, screenshot, uvicorn_app
from playwright.sync_api import Page, expect
from test_catalogs import fill
from test_console_security import PASSWORD, USERS, MemoryProducer, Setup

from alertcast.web.app import WebConfig, create_app
from alertcast.web.console import ConsoleConfig

pytestmark = pytest.mark.browser
TIMEOUT_MS = 60_000
WORDS = {  # what each language calls the same things
    "fr": {
        "login": "Connexion",
        "name": "Identifiant",
        "password": "Mot de passe",
        "queue": "File des brouillons",
    },
    "en": {"login": "Log in", "name": "User name", "password": "Password", "queue": "Draft queue"},
}


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[LazyChromium]:
    expect.set_options(timeout=TIMEOUT_MS)
    chromium = LazyChromium(tmp_path / "chromium-profile", TIMEOUT_MS)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def console_url() -> Iterator[tuple[str, dict[str, str]]]:
    """The web app under uvicorn, its console holding a pending, a scheduled and a published
    alert with a dead delivery, and a pause."""
    made: dict[str, Any] = {}

    def factory() -> Any:
        config = ConsoleConfig.for_tests(USERS, decision_wait_s=0, channels=["webhook", "website"])
        made["app"] = create_app(
            WebConfig(topic_prefix="t."),
            producer=MemoryProducer(),
            follow_topics=False,
            console_config=config,
        )
        return made["app"]

    with uvicorn_app(factory) as url:
        console = made["app"].state.console
        yield url, fill(Setup(MemoryProducer(), console, transport=None))  # type: ignore[arg-type]


def axe_clean(page: Page, name: str) -> None:
    screenshot(page, name)
    load_axe(page)
    report = run_axe(page)
    assert report.passed > 0
    assert not blocking(report.violations), describe(blocking(report.violations))


def test_the_console_switches_language_keeps_it_and_is_axe_clean_in_both(
    console_url: tuple[str, dict[str, str]], browser: LazyChromium
) -> None:
    url, paths = console_url
    page = browser.new_page()
    page.goto(url + "/console/login")
    expect(page.get_by_role("heading", name=WORDS["fr"]["login"])).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name=WORDS["en"]["login"])).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    axe_clean(page, "console-login-en")
    page.get_by_label(WORDS["en"]["name"]).fill("bruno")
    page.get_by_label(WORDS["en"]["password"]).fill(PASSWORD)
    page.get_by_role("button", name=WORDS["en"]["login"]).click()
    expect(page.get_by_role("heading", name=WORDS["en"]["queue"])).to_be_visible()  # the choice was kept
    for language, other in (("en", "Français"), ("fr", "English")):
        for target in (
            "/console/queue",
            paths["pending"],
            paths["scheduled"],
            "/console/deliveries",
            "/console/audit",
        ):
            page.goto(url + paths.get(target, target))
            expect(page.locator("html")).to_have_attribute("lang", language)
            axe_clean(page, f"console-{language}-{target.strip('/').replace('/', '-')}")
        page.get_by_role("link", name=other).click()  # back to the same page, in the other language
        expect(page).to_have_url(url + "/console/audit")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Log", exact=True)).to_be_visible()
