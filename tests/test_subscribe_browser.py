"""The subscribe page in real Chromium: the static page the site builder writes and the public
subscribe endpoints, served together on one origin (as nginx proxying /subscribe to
`alertcast web` serves them), with an in-memory producer and mailer behind the endpoints.

Headless Chromium here cannot reach a push service: `pushManager.subscribe()` waits on its
registration with the browser vendor's service and never settles (checked: no answer after
60 s, with the notification permission granted). So the test that subscribes a device
replaces `PushManager.prototype.subscribe` by a stub that records what the page asked
(userVisibleOnly, the applicationServerKey) and returns a subscription with a real P-256 key;
everything else is real: the service worker the page registers, the POST, the endpoint, the
Subscription written. The notifications are real too: DevTools' `ServiceWorker.
deliverPushMessage` hands the registered worker a push event, as a push service would.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    LazyChromium,
    blocking,
    describe,
    require_browser,
    run_axe,
    screenshot,
    uvicorn_app,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright
from servers import wait_for
from starlette.staticfiles import StaticFiles
from test_console_security import MemoryProducer

from alertcast.models.incident import MsgType
from alertcast.site.builder import build_site
from alertcast.site.subscribe import SubscribePage
from alertcast.subscriptions.directory import CommuneDirectory
from alertcast.subscriptions.model import Subscription
from alertcast.subscriptions.vapid import VapidKey
from alertcast.subscriptions.webpush import PushPayload
from alertcast.web.app import WebConfig, create_app
from alertcast.web.console import ConsoleConfig
from alertcast.web.subscribe import SubscribeConfig

pytestmark = pytest.mark.browser

PAGE_TIMEOUT_MS = 15_000
SECRET = b"a subscription secret of 32 bytes!"
PUSH_BUTTON = "Recevoir les alertes sur cet appareil"
SEARCH_FIELD = "Nom de la commune ou code postal"


class MemoryMailer:
    sender = "Alertes <alertes@ville-exemple.fr>"

    def __init__(self) -> None:
        self.sent: list[tuple[EmailMessage, str]] = []

    async def send(self, message: EmailMessage, to: str) -> None:
        self.sent.append((message, to))


class Served:
    """The site folder and the endpoints on one origin, and what the endpoints wrote."""

    def __init__(self, site_dir: Path, key: VapidKey) -> None:
        self.site_dir = site_dir
        self.key = key
        self.producer = MemoryProducer()
        self.mailer = MemoryMailer()
        self.url = ""

    def app(self) -> Any:
        config = SubscribeConfig(
            secret=SECRET,
            page=SubscribePage(vapid_key=self.key.application_server_key),
            mailer=self.mailer,
            directory=CommuneDirectory.official(),
        )
        app = create_app(
            WebConfig(topic_prefix="t."),
            producer=self.producer,
            follow_topics=False,
            console_config=ConsoleConfig.for_tests([]),
            subscribe_config=config,
        )
        app.mount("/", StaticFiles(directory=self.site_dir, html=True))  # after the endpoints' routes
        return app

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription.model_validate_json(m.value)
            for m in self.producer.messages
            if m.topic == "t.subscriptions" and m.value
        ]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    site_dir = tmp_path_factory.mktemp("site")
    key = VapidKey.generate()
    build_site(
        [], site_dir, now=datetime.now(UTC), subscribe=SubscribePage(vapid_key=key.application_server_key)
    )
    served = Served(site_dir, key)
    with uvicorn_app(served.app) as url:
        served.url = url
        yield served


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[LazyChromium]:
    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    chromium = LazyChromium(tmp_path / "chromium-profile", PAGE_TIMEOUT_MS)
    try:
        yield chromium
    finally:
        chromium.close()


@contextmanager
def without_script(profile: Path) -> Iterator[BrowserContext]:
    """Chromium with JavaScript off: what a citizen with scripts blocked (or a broken one) gets."""
    require_browser()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(CHROMIUM_FLAGS),
            locale="fr-FR",
            java_script_enabled=False,
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def browser_keys() -> dict[str, Any]:
    """A PushSubscription's JSON as a browser makes it: a real P-256 key and auth secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return {
        "endpoint": "https://push.example.net/wpush/v2/" + b64(os.urandom(24)),
        "expirationTime": None,
        "keys": {"p256dh": b64(point), "auth": b64(os.urandom(16))},
    }


STUB = """
(() => {
  const made = %s;
  window.__pushAsked = [];
  PushManager.prototype.getSubscription = async function () { return null; };
  PushManager.prototype.subscribe = async function (options) {
    window.__pushAsked.push({userVisibleOnly: options.userVisibleOnly,
                             key: Array.from(new Uint8Array(options.applicationServerKey))});
    return {endpoint: made.endpoint, options: options, toJSON() { return made; },
            unsubscribe: async () => true};
  };
})();
"""


def axe_clean(page: Page, name: str) -> None:
    report = run_axe(page)
    found = len(report.violations)
    print(f"axe-core {report.version} on {name}: {found} violation(s)\n{describe(report.violations)}")
    assert report.passed > 0, f"axe checked nothing on {name}"
    assert not blocking(report.violations), f"{name}:\n{describe(blocking(report.violations))}"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{name} scrolls sideways on a phone ({width} px wide)"


def test_the_subscribe_page_is_axe_clean_at_360_px(served: Served, browser: LazyChromium) -> None:
    page = browser.new_page()
    page.set_viewport_size({"width": 360, "height": 780})
    page.goto(f"{served.url}/subscribe.html")
    expect(page.get_by_role("button", name=PUSH_BUTTON)).to_be_visible()  # script ran, push offered
    axe_clean(page, "subscribe page")
    page.get_by_label(SEARCH_FIELD).fill("beuvry")
    expect(page.get_by_role("button", name="Ajouter : Beuvry (62660)")).to_be_visible()
    axe_clean(page, "subscribe page with suggestions")
    print(f"screenshot: {screenshot(page, 'subscribe-360px')}")
    page.get_by_role("button", name="Recevoir les alertes par e-mail").click()  # nothing filled in
    expect(page.locator("#email-error")).to_contain_text("Saisissez votre adresse e-mail")
    expect(page).to_have_title("Erreur : Recevoir les alertes – Alertes")
    expect(page.get_by_label("Adresse e-mail")).to_have_attribute("aria-invalid", "true")
    axe_clean(page, "subscribe page with errors")
    print(f"screenshot: {screenshot(page, 'subscribe-errors-360px')}")


def test_without_javascript_a_citizen_finds_a_commune_and_subscribes_by_e_mail(
    served: Served, tmp_path: Path
) -> None:
    with without_script(tmp_path / "profile") as context:
        page = context.new_page()
        page.goto(f"{served.url}/subscribe.html")
        expect(page.get_by_role("button", name=PUSH_BUTTON)).to_be_hidden()  # no script: no push
        page.get_by_label(SEARCH_FIELD).fill("marcq en baroeul")
        page.get_by_label(SEARCH_FIELD).press("Enter")  # the form's first button: search
        page.get_by_role("button", name="Ajouter : Marcq-en-Barœul (59700)").click()
        expect(page.get_by_role("checkbox", name="Marcq-en-Barœul (59700)")).to_be_checked()
        page.get_by_label(SEARCH_FIELD).fill("62660")
        page.get_by_role("button", name="Rechercher").click()
        page.get_by_role("button", name="Ajouter : Beuvry (62660)").click()
        expect(page.get_by_role("checkbox", name="Marcq-en-Barœul (59700)")).to_be_checked()  # kept
        expect(page.get_by_role("checkbox", name="Beuvry (62660)")).to_be_checked()
        page.get_by_label("Adresse e-mail").fill("camille@exemple.fr")
        page.get_by_label("Un résumé par jour").check()
        page.get_by_role("button", name="Recevoir les alertes par e-mail").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Vérifiez votre messagerie")

        message, to = served.mailer.sent[-1]
        assert to == "camille@exemple.fr"
        pending = served.subscriptions()[-1]
        assert (
            pending.areas == ["59378", "62126"] and pending.digest == "daily" and pending.confirmed_at is None
        )
        confirm = next(line for line in message.get_content().splitlines() if "/subscribe/confirm?" in line)
        page.goto(confirm)
        expect(page.get_by_role("heading", level=1)).to_have_text("Abonnement confirmé")
        assert served.subscriptions()[-1].confirmed_at is not None

        unsubscribe = next(
            line for line in message.get_content().splitlines() if "/subscribe/unsubscribe?" in line
        )
        page.goto(unsubscribe)
        page.get_by_role("button", name="Me désabonner").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Vous êtes désabonné")
        assert served.subscriptions()[-1].ended_at is not None


def test_with_javascript_the_page_registers_its_worker_and_posts_the_push_subscription(
    served: Served, browser: LazyChromium
) -> None:
    made = browser_keys()
    page = browser.new_page()
    page.context.grant_permissions(["notifications"], origin=served.url)
    page.add_init_script(STUB % json.dumps(made))
    page.goto(f"{served.url}/subscribe.html")
    page.get_by_role("button", name=PUSH_BUTTON).click()  # no commune yet: said, not sent
    expect(page.locator("#push-status")).to_have_text("Choisissez au moins une commune.")
    expect(page.get_by_label(SEARCH_FIELD)).to_be_focused()

    page.get_by_label(SEARCH_FIELD).fill("marcq en bar")
    expect(page.get_by_role("status").first).to_have_text("1 commune(s) trouvée(s).")
    page.get_by_role("button", name="Ajouter : Marcq-en-Barœul (59700)").click()
    expect(page.get_by_role("checkbox", name="Marcq-en-Barœul (59700)")).to_be_checked()
    page.get_by_role("button", name=PUSH_BUTTON).click()
    expect(page.locator("#push-status")).to_contain_text("C'est fait")
    expect(page.get_by_role("link", name="Ne plus recevoir les alertes sur cet appareil")).to_be_visible()

    worker = page.evaluate(
        "async () => { const r = await navigator.serviceWorker.getRegistration('/');"
        " return r && r.active ? [r.active.scriptURL, r.scope] : null; }"
    )
    assert worker == [f"{served.url}/sw.js", f"{served.url}/"]
    [asked] = page.evaluate("window.__pushAsked")
    assert asked["userVisibleOnly"] is True and bytes(asked["key"]) == served.key.public_key
    subscription = wait_for(
        lambda: next(
            (s for s in served.subscriptions() if s.push and s.push.endpoint == made["endpoint"]), None
        ),
        10,
        "the push subscription written to the topic",
    )
    assert subscription.areas == ["59378"] and subscription.confirmed_at is not None
    assert subscription.push is not None and subscription.push.p256dh == made["keys"]["p256dh"]

    # A push reaches the registered worker (DevTools hands it the event a push service would).
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"])
    )
    cdp.send("ServiceWorker.enable")
    registration = wait_for(
        lambda: (
            page.evaluate("1") and next((r for r in registrations if r["scopeURL"] == f"{served.url}/"), None)
        ),
        10,
        "the service worker's registration in DevTools",
    )

    def push(payload: PushPayload, until: Callable[[], Any], what: str) -> Any:
        """Deliver, and again every 2 s until `until()`: DevTools drops the first push sent
        right after it attaches to the worker in about half the runs here; a repeat is what a
        push service does after a timeout, and the tag makes it harmless."""
        sent = [-10.0]

        def delivered() -> Any:
            if time.monotonic() - sent[0] > 2:
                data = payload.encoded().decode()
                cdp.send(
                    "ServiceWorker.deliverPushMessage",
                    {"origin": served.url, "registrationId": registration["registrationId"], "data": data},
                )
                sent[0] = time.monotonic()
            return until()

        return wait_for(delivered, 20, what)

    def shown() -> list[dict[str, Any]]:
        return list(
            page.evaluate(
                "async () => (await (await navigator.serviceWorker.getRegistration('/')).getNotifications())"
                ".map(n => ({title: n.title, body: n.body, tag: n.tag, data: n.data}))"
            )
        )

    alert = PushPayload(
        title="Route D 934 fermée entre Arras et Cambrai",
        body="Déviation par la D 939.",
        url=f"{served.url}/alerts/0123456789abcdef.html",
        alertId="0123456789abcdef",
        version=1,
        msgType=MsgType.ALERT,
    )
    [first] = push(alert, shown, "the first notification")
    assert first["title"] == alert.title and first["body"] == alert.body and first["tag"] == alert.alert_id
    assert first["data"]["url"] == alert.url
    update = alert.model_copy(
        update={"body": "La route est rouverte.", "version": 2, "msg_type": MsgType.UPDATE}
    )
    push(
        update, lambda: [n["body"] for n in shown()] == ["La route est rouverte."], "the update replacing it"
    )
    hostile = PushPayload(
        title="Autre alerte",
        body="…",
        url="javascript:alert(1)",
        alertId="fedcba9876543210",
        version=1,
        msgType=MsgType.ALERT,
    )
    other = push(
        hostile, lambda: next((n for n in shown() if n["tag"] == hostile.alert_id), None), "a second"
    )
    assert other["data"]["url"] == f"{served.url}/"  # never a script URL: the site instead
