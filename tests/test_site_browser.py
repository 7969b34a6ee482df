"""The citizens' side in a real browser: the public site a real worker publishes, read in Chromium.

Every test drives the real pipeline (a real broker, a real `alertcast worker` writing the
site folder, the demo's static server on an ephemeral port) and reads the pages as a
citizen would: follow links, wait for an alert to end, let the optional refresh script
reload the index, use the keyboard, check accessibility with axe-core, weigh the index and
keep phone-sized screenshots for a human to look at.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from browser_support import AxeReport, LazyChromium, blocking, describe, run_axe, screenshot
from conftest import Worker, wait_for
from playwright.sync_api import Page, expect

from alertcast import examples as example_files
from alertcast import topics
from alertcast.models.alert import alert_id_for
from alertcast.models.incident import Incident, MsgType, Reference
from alertcast.settings import Settings
from alertcast.site.serve import serve
from alertcast.submit import produce

pytestmark = pytest.mark.browser

ROAD = "routes@departement-exemple.fr/dir-nord-2026-1203-d934"
BUS = "transports@region-exemple.fr/transports-scolaires-2026-1203-ligne-12"
STORM = "vigilance@prefecture-exemple.gouv.fr/meteo-2026-1203-vent"  # French and English
ROAD_HEADLINE = "Route D 934 fermée entre Arras et Cambrai"
ROAD_REOPENED = "Route D 934 rouverte entre Arras et Cambrai"
PUBLISH_TIMEOUT_S = 90.0
PAGE_TIMEOUT_MS = 15_000
MAX_INDEX_BYTES = 50_000


@dataclass
class Site:
    """The folder a real worker publishes into, served over HTTP on 127.0.0.1."""

    dir: Path
    url: str
    settings: Settings
    worker: Worker

    def submit(self, *incidents: Incident) -> None:
        produce(list(incidents), self.settings, "test")

    def page_url(self, incident_key: str) -> str:
        return f"{self.url}alerts/{alert_id_for(incident_key)}.html"

    def stored(self, incident_key: str) -> dict[str, Any] | None:
        path = self.dir / "data" / f"{alert_id_for(incident_key)}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def wait_published(self, incident_key: str, versions: int = 1, ended: bool = False) -> None:
        """Until the worker has published that many versions and rebuilt the JSON index after."""
        alert_id = alert_id_for(incident_key)

        def done() -> bool:
            stored = self.stored(incident_key)
            if stored is None or len(stored["versions"]) < versions or ended != bool(stored["ended_at"]):
                return False
            index = json.loads((self.dir / "alerts.json").read_text())  # written last by a build
            listed = index["ended" if ended else "current"]
            return any(entry["id"] == alert_id and entry["version"] >= versions for entry in listed)

        wait_for(
            lambda: _quiet(done),
            PUBLISH_TIMEOUT_S,
            lambda: f"{incident_key} at {versions} version(s), ended={ended}\n{self.worker.log_tail()}",
        )


def _quiet(check: Callable[[], bool]) -> bool:
    """A file being replaced may be missing or half-read for an instant: try again later."""
    try:
        return check()
    except (OSError, ValueError, KeyError):
        return False


@pytest.fixture
def site(
    broker: str, prefix: str, start_worker: Callable[..., Worker], worker_env: dict[str, str]
) -> Iterator[Site]:
    topics.apply(broker, prefix)
    worker = start_worker()
    folder = Path(worker_env["ALERTCAST_SITE_DIR"])
    server = serve(folder, 0)  # an ephemeral port, chosen by the kernel
    try:
        yield Site(
            dir=folder,
            url=f"http://127.0.0.1:{server.server_address[1]}/",
            settings=Settings(bootstrap=broker, topic_prefix=prefix),
            worker=worker,
        )
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[LazyChromium]:
    """Headless Chromium with a fresh profile, started by the test's first `new_page()`."""
    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    chromium = LazyChromium(tmp_path / "chromium-profile", PAGE_TIMEOUT_MS)
    try:
        yield chromium
    finally:
        chromium.close()


def examples() -> dict[str, list[Incident]]:
    """deploy/examples/ moved to today (the last one sent 5 minutes ago), by incident key."""
    found: dict[str, list[Incident]] = {}
    for incident in example_files.incidents():  # each test has its own topics and tables
        found.setdefault(incident.key, []).append(incident)
    return found


def cancel_of(incident: Incident, headline: str) -> Incident:
    """The issuer ends an alert: a Cancel that references it, with its own short text.

    A Cancel with no info block is valid CAP (GTFS-RT and DATEX II endings arrive so) but the
    worker does not publish it yet ("no channel text rendered"): see the report of issue 7.
    """
    info = incident.info[0].model_copy(
        update={
            "headline": headline,
            "description": "La situation est revenue à la normale.",
            "instruction": "",
        }
    )
    return Incident(
        identifier=f"{incident.identifier}-fin",
        sender=incident.sender,
        sent=datetime.now(UTC),
        msg_type=MsgType.CANCEL,
        source="test",
        references=[Reference(sender=incident.sender, identifier=incident.identifier, sent=incident.sent)],
        info=[info],
    )


def publish_examples(site: Site, *, end: str | None = None) -> dict[str, list[Incident]]:
    """Every example through the worker; with `end`, that alert is then cancelled (for the archive)."""
    found = examples()
    site.submit(*(incident for versions in found.values() for incident in versions))
    for key, versions in found.items():
        site.wait_published(key, len(versions))
    if end is not None:
        site.submit(cancel_of(found[end][0], "Fin de la perturbation"))
        site.wait_published(end, len(found[end]) + 1, ended=True)
    return found


def reload_until(page: Page, ready: Callable[[], bool], what: str) -> None:
    """Reload (as a citizen would) until the page shows what the worker just published."""

    def reloaded() -> bool:
        page.reload(wait_until="domcontentloaded")
        return ready()

    wait_for(reloaded, 30, what)


def test_alert_is_published_then_ended(site: Site, browser: LazyChromium) -> None:
    road = examples()[ROAD][0]
    site.submit(road)
    site.wait_published(ROAD)

    page = browser.new_page()
    page.goto(site.url)
    current = page.locator("main article.card")
    expect(current.filter(has_text=ROAD_HEADLINE)).to_have_count(1)
    page.get_by_role("link", name=ROAD_HEADLINE).click()
    expect(page).to_have_url(site.page_url(ROAD))
    expect(page.get_by_role("heading", level=1)).to_have_text(ROAD_HEADLINE)
    expect(page.locator(".banner.ended")).to_have_count(0)

    site.submit(cancel_of(road, ROAD_REOPENED))
    banner = page.locator(".banner.ended")
    reload_until(page, lambda: banner.count() == 1, "the 'ended' banner on the alert page")
    expect(banner).to_contain_text("Fin d'alerte")
    expect(page).to_have_title(f"Fin d'alerte : {ROAD_REOPENED} – Alertes")
    expect(page.get_by_role("heading", name=ROAD_HEADLINE)).to_be_visible()  # the history stays

    page.goto(site.url)
    road_card = current.filter(has_text="Route D 934")
    reload_until(page, lambda: road_card.count() == 0, "the alert gone from the index")
    expect(page.locator("main .empty")).to_have_text("Aucune alerte en cours.")
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Archives").click()
    ended = page.locator("main article.card.ended").filter(has_text=ROAD_REOPENED)
    expect(ended).to_have_count(1)
    expect(ended).to_contain_text("Fin d'alerte")
    ended.get_by_role("link", name=ROAD_REOPENED).click()
    expect(page).to_have_url(site.page_url(ROAD))


def test_refresh_script_shows_a_new_alert_without_reload(site: Site, browser: LazyChromium) -> None:
    """refresh.js polls alerts.json every 60 s: Playwright's clock runs those 60 s at once.

    Only the page's timers are fast-forwarded; the fetch, the digest comparison and the
    reload are the script's own, against the real server.
    """
    road = examples()[ROAD][0]
    site.submit(road)
    site.wait_published(ROAD)

    page = browser.new_page()
    page.clock.install()
    page.goto(site.url)
    expect(page.get_by_role("link", name=ROAD_HEADLINE)).to_be_visible()
    page.evaluate("window.__noReloadYet = true")

    storm = examples()[STORM][0]
    site.submit(storm)
    site.wait_published(STORM)
    page.clock.run_for("01:01")  # the script's interval; it fetches, sees a new digest, reloads
    expect(page.get_by_role("link", name=storm.info[0].headline)).to_be_visible()
    reloaded = page.evaluate("window.__noReloadYet === undefined")
    assert reloaded, "the new alert shows, yet the page was not reloaded"
    expect(page.get_by_role("link", name=ROAD_HEADLINE)).to_be_visible()


def test_pages_have_no_serious_accessibility_violation(site: Site, browser: LazyChromium) -> None:
    publish_examples(site, end=BUS)
    page = browser.new_page()
    pages = {
        "index": site.url,
        "alert page (French and English)": site.page_url(STORM),
        "ended alert page": site.page_url(BUS),
        "archive": f"{site.url}archive.html",
    }
    found: dict[str, AxeReport] = {}
    for name, url in pages.items():
        page.goto(url)
        found[name] = run_axe(page)
    page.goto(site.page_url(BUS))  # Arras: an area with an ended alert, no longer on the index
    page.get_by_role("main").get_by_role("link", name="Arras").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Arras")
    found[f"area page ({page.url.removeprefix(site.url)})"] = run_axe(page)

    for name, report in found.items():
        print(
            f"axe-core {report.version} on {name}: {len(report.violations)} violation(s), "
            f"{report.passed} rule(s) passed, {len(report.incomplete)} to review by hand\n"
            f"{describe(report.violations)}"
        )
        assert report.passed > 0, f"axe checked nothing on {name}"
    serious = {name: describe(blocking(r.violations)) for name, r in found.items() if blocking(r.violations)}
    assert not serious, "serious or critical accessibility violations:\n" + "\n".join(
        f"{name}:\n{text}" for name, text in serious.items()
    )


def test_tab_reaches_skip_link_first_and_it_moves_focus_to_main(site: Site, browser: LazyChromium) -> None:
    site.submit(examples()[ROAD][0])
    site.wait_published(ROAD)
    page = browser.new_page()
    for url in (site.url, site.page_url(ROAD)):
        page.goto(url)
        page.keyboard.press("Tab")
        skip = page.locator("a.skip")
        expect(skip).to_be_focused()
        expect(skip).to_have_text("Aller au contenu")
        expect(skip).to_be_in_viewport()  # hidden off-screen until focused, then shown
        page.keyboard.press("Enter")
        expect(page.locator("main#main")).to_be_focused()
        page.keyboard.press("Tab")  # the next stop is inside main, past the header's links
        assert page.evaluate("document.querySelector('main').contains(document.activeElement)"), url


def test_index_weighs_under_50_kb_before_images(site: Site, browser: LazyChromium) -> None:
    publish_examples(site, end=BUS)
    page = browser.new_page()
    page.goto(site.url, wait_until="load")
    entries: list[dict[str, Any]] = page.evaluate(
        """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
               .map(e => ({name: e.name, type: e.initiatorType, transfer: e.transferSize,
                           body: e.encodedBodySize}))"""
    )
    # Images (none yet) and the favicon the browser asks for on its own are not the page's weight.
    counted = [e for e in entries if e["type"] not in ("img", "image") and "favicon" not in e["name"]]
    for entry in entries:
        print(f"  {entry['name']} ({entry['type']}): transfer {entry['transfer']} B, body {entry['body']} B")
    transfer = sum(e["transfer"] for e in counted)
    on_disk = (site.dir / "index.html").stat().st_size
    print(f"index transfer size before images: {transfer} B (HTML on disk: {on_disk} B)")
    assert all(e["transfer"] > 0 for e in counted), "a fresh profile must fetch every file over the network"
    assert transfer < MAX_INDEX_BYTES


def test_phone_screenshots_of_index_and_alert_page(site: Site, browser: LazyChromium) -> None:
    publish_examples(site, end=BUS)
    page = browser.new_page()
    page.set_viewport_size({"width": 360, "height": 780})
    shots = {
        "index-360px": site.url,
        "alert-360px": site.page_url(STORM),
        "ended-alert-360px": site.page_url(BUS),
    }
    for name, url in shots.items():
        page.goto(url, wait_until="load")
        overflow = page.evaluate("document.documentElement.scrollWidth")
        print(f"screenshot {name}: {screenshot(page, name)} (page width {overflow} px)")
        assert overflow <= 360, f"{name} scrolls sideways on a phone ({overflow} px wide)"
