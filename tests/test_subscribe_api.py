"""The public subscribe endpoints against the real Starlette app, without a broker: subscriptions
go to an in-memory producer, confirmation mails to an in-memory mailer, communes come from
Etalab's official list (installed by `make install`). A citizen subscribes this browser or an
address, confirms, unsubscribes from the link; forged, changed or expired links, other sites'
forms and hostile bodies are refused 4xx in the one error shape, never 5xx."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest
from conftest import PROBLEM_SHAPE
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_console_security import MemoryProducer

from alertcast.clock import clock
from alertcast.delivery.retry import TransientError
from alertcast.errors import ConfigurationError
from alertcast.settings import Settings
from alertcast.site.builder import build_site
from alertcast.site.subscribe import SubscribePage
from alertcast.subscriptions.directory import CommuneDirectory
from alertcast.subscriptions.model import EndReason, Subscription
from alertcast.subscriptions.tokens import sign
from alertcast.subscriptions.vapid import generate_key_file
from alertcast.web.app import WebConfig, create_app
from alertcast.web.console import ConsoleConfig
from alertcast.web.producer import Message, ProduceError
from alertcast.web.subscribe import Subscribe, SubscribeConfig
from alertcast.web.subscribe_mail import AddressRefused

SECRET = b"a subscription secret of 32 bytes!"
NOW = datetime(2030, 3, 1, 8, 0, tzinfo=UTC)
TOPIC = "t.subscriptions"
BEUVRY, MARCQ = "62126", "59378"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SITE = "https://alertes.ville-exemple.fr"


class MemoryMailer:
    sender = "Alertes de la ville <alertes@ville-exemple.fr>"

    def __init__(self) -> None:
        self.sent: list[tuple[EmailMessage, str]] = []
        self.failure: Exception | None = None

    async def send(self, message: EmailMessage, to: str) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent.append((message, to))

    def link(self, action: str) -> str:
        text = self.sent[-1][0].get_content()
        found = re.search(rf"https?://\S+/subscribe/{action}\?token=\S+", text)
        assert found, text
        return found.group(0)


class Client:
    """A synchronous client of the app in-process (httpx's ASGI transport), one event loop per
    request: hypothesis drives it like any function, and no server or port is involved."""

    def __init__(self, app: Any) -> None:
        self._transport = httpx.ASGITransport(app=app)

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(transport=self._transport, base_url="http://127.0.0.1") as client:
                return await client.request(method, url, **options)

        return anyio.run(send)

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)

    def options(self, url: str, **options: Any) -> httpx.Response:
        return self.request("OPTIONS", url, **options)


class Fake:
    """The app and what it wrote, with the monotonic clock of its rate limits in hand."""

    def __init__(self, rate_per_minute: int = 1000) -> None:
        self.producer = MemoryProducer()
        self.mailer = MemoryMailer()
        self.seconds = 0.0
        config = SubscribeConfig(
            secret=SECRET,
            page=SubscribePage(vapid_key="BK" + "A" * 85),
            links_url="https://api.ville-exemple.fr",
            site_url=SITE,
            allowed_origins=frozenset({SITE}),
            rate_per_minute=rate_per_minute,
            mailer=self.mailer,
            directory=CommuneDirectory.official(),
        )
        self.app = create_app(
            WebConfig(topic_prefix="t."),
            producer=self.producer,
            follow_topics=False,
            monotonic=lambda: self.seconds,
            console_config=ConsoleConfig.for_tests([]),
            subscribe_config=config,
        )
        self.client = Client(self.app)
        self.subscribe: Subscribe = self.app.state.subscribe

    def written(self) -> list[Message]:
        return [m for m in self.producer.messages if m.topic == TOPIC]

    def last(self) -> Subscription:
        value = self.written()[-1].value
        assert value is not None
        return Subscription.model_validate_json(value)


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[None]:
    clock.set(lambda: NOW)
    yield
    clock.set(None)


@pytest.fixture
def fake() -> Fake:
    return Fake()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def browser_subscription(endpoint: str = "https://push.example.net/wpush/v2/gAAAAABn") -> dict[str, Any]:
    """What `PushSubscription.toJSON()` gives: a real P-256 public key and a 16-byte secret."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": b64url(point), "auth": b64url(os.urandom(16))},
    }


def assert_problems(answer: Any, status: int | tuple[int, ...]) -> list[dict[str, Any]]:
    """A refusal: the status wanted, and every problem in the one shape."""
    wanted = status if isinstance(status, tuple) else (status,)
    assert answer.status_code in wanted, (answer.status_code, answer.text[:500])
    body = answer.json()
    assert body["problems"], body
    for problem in body["problems"]:
        assert set(problem) == PROBLEM_SHAPE, problem
    return list(body["problems"])


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


# -- search -------------------------------------------------------------------------------


def test_communes_are_found_by_name_whatever_the_spelling_and_by_postcode(fake: Fake) -> None:
    def codes(q: str) -> list[str]:
        answer = fake.client.get("/subscribe/communes", params={"q": q})
        assert answer.status_code == 200
        return [place["code"] for place in answer.json()]

    assert codes("beuvry")[:2] == [BEUVRY, "59080"]  # Beuvry, then Beuvry-la-Forêt
    for spelling in ("marcq en baroeul", "Marcq-en-Barœul", "MARCQ EN BARŒUL", "marcq-en-barœul "):
        assert codes(spelling)[0] == MARCQ, spelling
    assert codes("62660")[0] == BEUVRY  # its postcode
    assert codes("st omer")[0] == "62765"  # Saint-Omer (Pas-de-Calais), the most populated
    assert len(codes("sa")) == 20 and codes("") == [] and codes("x") == []
    place = fake.client.get("/subscribe/communes", params={"q": "beuvry"}).json()[0]
    assert place == {"code": BEUVRY, "name": "Beuvry", "departement": "62", "postcodes": ["62660"]}
    merged = fake.client.get("/subscribe/communes", params={"q": "Saint-Pol-sur-Mer"}).json()[0]
    assert merged["code"] == "59183" and merged["via"] == "Saint-Pol-sur-Mer"  # now part of Dunkerque


def test_search_answers_a_browser_without_script_with_the_page_and_keeps_the_chosen(fake: Fake) -> None:
    answer = fake.client.get(
        "/subscribe/communes", params=[("q", "beuvry"), ("areas", MARCQ), ("lang", "fr")], headers=HTML
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert 'name="add" value="62126"' in page and "Ajouter : Beuvry (62660)" in page
    assert re.search(r'<input type="checkbox" id="area-59378" name="areas" value="59378" checked>', page)
    assert '<input type="hidden" name="areas" value="59378">' in page  # kept by the next search
    assert f'href="{SITE}/subscribe.html" aria-current="page"' in page
    added = fake.client.get(
        "/subscribe/communes", params=[("q", "beuvry"), ("areas", MARCQ), ("add", BEUVRY)], headers=HTML
    ).text
    assert 'id="area-62126" name="areas" value="62126" checked' in added
    assert 'name="add" value="62126"' not in added  # chosen: no longer offered
    nothing = fake.client.get("/subscribe/communes", params={"q": "zzzqqq"}, headers=HTML).text
    assert "Aucune commune ne correspond à « zzzqqq »" in nothing


# -- push ---------------------------------------------------------------------------------


def test_a_browser_subscribes_to_push_and_is_active_at_once(fake: Fake) -> None:
    browser = browser_subscription()
    answer = fake.client.post("/subscribe/push", json={"subscription": browser, "areas": [BEUVRY, MARCQ]})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "active" and body["areas"] == [BEUVRY, MARCQ]
    assert body["unsubscribe_url"].startswith("https://api.ville-exemple.fr/subscribe/unsubscribe?token=")
    [message] = fake.written()
    assert message.key == body["id"].encode()
    stored = fake.last()
    assert stored.channel == "webpush" and stored.confirmed_at == NOW and stored.push is not None
    assert stored.push.endpoint == browser["endpoint"] and stored.push.p256dh == browser["keys"]["p256dh"]
    assert fake.subscribe.store.get(stored.id) == stored


def test_the_same_browser_subscribing_again_replaces_its_subscription(fake: Fake) -> None:
    browser = browser_subscription()
    first = fake.client.post("/subscribe/push", json={"subscription": browser, "areas": [BEUVRY]}).json()
    second = fake.client.post("/subscribe/push", json={"subscription": browser, "areas": [MARCQ]}).json()
    assert first["id"] != second["id"]
    ended = fake.last()
    assert ended.id == first["id"] and ended.end_reason is EndReason.UNSUBSCRIBED
    assert [s.id for s in fake.subscribe.store.by_endpoint(browser["endpoint"])] == [second["id"]]


# -- e-mail: double opt-in ----------------------------------------------------------------


def test_an_address_is_pending_until_the_mailed_link_confirms_it(fake: Fake) -> None:
    form = {"email": "Camille.Martin@Exemple.FR", "areas": [BEUVRY, MARCQ], "digest": "daily", "lang": "fr"}
    answer = fake.client.post("/subscribe/email", data=form, headers=HTML)
    assert answer.status_code == 200, answer.text
    assert "Vérifiez votre messagerie" in answer.text and "Camille.Martin@exemple.fr" in answer.text
    pending = fake.last()
    assert pending.status(NOW, timedelta(days=90)) == "pending" and pending.digest == "daily"
    message, to = fake.mailer.sent[-1]
    assert to == "Camille.Martin@exemple.fr" and message["To"] == to
    assert "Beuvry (62660)" in message.get_content() and "Marcq-en-Barœul (59700)" in message.get_content()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"] == f"<{fake.mailer.link('unsubscribe')}>"

    confirm = fake.mailer.link("confirm")
    assert confirm.startswith("https://api.ville-exemple.fr/subscribe/confirm?token=")
    page = fake.client.get(urlsplit(confirm)._replace(scheme="", netloc="").geturl(), headers=HTML)
    assert page.status_code == 200 and "Abonnement confirmé" in page.text and "Beuvry (62660)" in page.text
    assert page.headers["referrer-policy"] == "same-origin" and page.headers["cache-control"] == "no-store"
    active = fake.last()
    assert active.id == pending.id and active.confirmed_at == NOW
    count = len(fake.written())
    again = fake.client.get("/subscribe/confirm", params={"token": token_of(confirm)})
    assert again.status_code == 200 and again.json()["status"] == "active"
    assert len(fake.written()) == count  # a second click (or a mail scanner) changes nothing


def test_the_json_e_mail_subscription_answers_202_pending(fake: Fake) -> None:
    answer = fake.client.post("/subscribe/email", json={"email": "a@exemple.fr", "areas": ["62"]})
    assert answer.status_code == 202 and answer.json()["status"] == "pending"
    assert fake.last().areas == ["62"] and "département 62" in fake.mailer.sent[-1][0].get_content()


def test_the_form_page_ties_each_error_to_its_field_and_keeps_the_input(fake: Fake) -> None:
    answer = fake.client.post(
        "/subscribe/email", data={"email": "pas-une-adresse", "areas": [], "lang": "fr"}, headers=HTML
    )
    assert answer.status_code == 422
    page = answer.text
    assert "<title>Erreur : Recevoir les alertes" in page
    assert 'role="alert"' in page and '<a href="#email">' in page and '<a href="#q">' in page
    assert re.search(
        r'id="email" name="email" value="pas-une-adresse"[^>]*\s+'
        r'aria-describedby="email-hint email-error" aria-invalid="true"',
        page,
    )
    assert 'id="email-error">Erreur : Saisissez une adresse e-mail valide' in page
    assert '<fieldset id="areas" class="areas" aria-describedby="areas-error">' in page
    assert 'id="areas-error">Erreur : Choisissez au moins une commune.' in page
    assert not fake.written() and not fake.mailer.sent


# -- unsubscribe --------------------------------------------------------------------------


def test_unsubscribe_get_asks_with_a_button_and_one_click_post_ends_it(fake: Fake) -> None:
    body = fake.client.post(
        "/subscribe/push", json={"subscription": browser_subscription(), "areas": [BEUVRY]}
    ).json()
    path = urlsplit(body["unsubscribe_url"])._replace(scheme="", netloc="").geturl()
    page = fake.client.get(path, headers=HTML)
    assert page.status_code == 200 and "Me désabonner" in page.text and "Beuvry (62660)" in page.text
    assert f'<form method="post" action="unsubscribe?token={token_of(path)}">' in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert len(fake.written()) == 1  # a GET (a mail scanner following links) ends nothing

    one_click = fake.client.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200 and one_click.json()["status"] == "ended"
    ended = fake.last()
    assert ended.id == body["id"] and ended.end_reason is EndReason.UNSUBSCRIBED and ended.ended_at == NOW
    again = fake.client.post(path, headers=HTML)
    assert again.status_code == 200 and "déjà terminé" in again.text
    assert len(fake.written()) == 2
    multipart = fake.client.post(path, files={"List-Unsubscribe": (None, "One-Click")})  # RFC 8058 allows it
    assert multipart.status_code == 200


def test_an_unsubscribe_link_for_a_subscription_not_read_yet_erases_its_key(fake: Fake) -> None:
    token = sign("NotReadYetByThisProcess", "unsubscribe", SECRET, NOW)
    answer = fake.client.post("/subscribe/unsubscribe", params={"token": token})
    assert answer.status_code == 200
    [tombstone] = fake.written()
    assert tombstone.key == b"NotReadYetByThisProcess" and tombstone.value is None


def test_forged_changed_misused_and_expired_links_are_refused_4xx(fake: Fake) -> None:
    fake.client.post("/subscribe/email", json={"email": "a@exemple.fr", "areas": [BEUVRY]})
    confirm = token_of(fake.mailer.link("confirm"))
    unsubscribe = token_of(fake.mailer.link("unsubscribe"))
    action, subscription_id, issued, mac = confirm.split(".")
    other_secret = sign(subscription_id, "confirm", b"another secret, also 32 bytes long", NOW)
    cases = {
        f"{action}.{subscription_id}.{issued}.{mac[:-2]}AA": (403, "token_signature"),
        other_secret: (403, "token_signature"),
        "confirm.abc": (400, "token_malformed"),
        "": (400, "token_malformed"),
        "x" * 5000: (400, "token_malformed"),
        unsubscribe: (400, "token_action"),  # each link does one thing
        sign("UnknownSubscription1", "confirm", SECRET, NOW): (404, "unknown_subscription"),
    }
    for token, (status, rule) in cases.items():
        answer = fake.client.get("/subscribe/confirm", params={"token": token})
        [problem] = assert_problems(answer, status)
        assert problem["rule"] == rule, (token[:40], problem)
        assert mac not in answer.text
    page = fake.client.get("/subscribe/confirm", params={"token": "confirm.abc"}, headers=HTML)
    assert page.status_code == 400 and "Ce lien ne fonctionne pas" in page.text
    assert_problems(fake.client.post("/subscribe/unsubscribe", params={"token": confirm}), 400)

    clock.set(lambda: NOW + timedelta(hours=49))
    [problem] = assert_problems(fake.client.get("/subscribe/confirm", params={"token": confirm}), 410)
    assert problem["rule"] == "token_expired"
    late = fake.client.post("/subscribe/unsubscribe", params={"token": unsubscribe})
    assert late.status_code == 200  # ending always works, months later


# -- who may ask, how often ---------------------------------------------------------------


def test_other_sites_forms_are_refused_and_our_own_sites_are_served(fake: Fake) -> None:
    form = {"email": "a@exemple.fr", "areas": BEUVRY}
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        [problem] = assert_problems(fake.client.post("/subscribe/email", data=form, headers=headers), 403)
        assert problem["rule"] == "cross_origin"
    page = fake.client.post("/subscribe/email", data=form, headers={"Origin": "https://evil.example", **HTML})
    assert page.status_code == 403 and "vient d&#39;un autre site" in page.text
    assert not fake.mailer.sent

    same_host = fake.client.post("/subscribe/email", data=form, headers={"Origin": "https://127.0.0.1"})
    assert same_host.status_code == 202
    same_origin = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}  # the browser's own word
    assert fake.client.post("/subscribe/email", data=form, headers=same_origin).status_code == 202
    forged = {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-site"}  # a sibling host
    assert_problems(fake.client.post("/subscribe/email", data=form, headers=forged), 403)
    ours = fake.client.post(
        "/subscribe/push",
        json={"subscription": browser_subscription(), "areas": [BEUVRY]},
        headers={"Origin": SITE},
    )
    assert ours.status_code == 201 and ours.headers["access-control-allow-origin"] == SITE
    preflight = fake.client.options(
        "/subscribe/push", headers={"Origin": SITE, "Access-Control-Request-Method": "POST"}
    )
    assert (
        preflight.status_code == 204 and preflight.headers["access-control-allow-headers"] == "Content-Type"
    )
    assert_problems(fake.client.options("/subscribe/push", headers={"Origin": "https://evil.example"}), 403)
    search = fake.client.get("/subscribe/communes", params={"q": "beuvry"}, headers={"Origin": SITE})
    assert search.headers["access-control-allow-origin"] == SITE


def test_each_client_has_a_rate_and_each_address_a_few_mails_an_hour() -> None:
    fake = Fake(rate_per_minute=2)
    post = {"subscription": browser_subscription(), "areas": [BEUVRY]}
    assert [fake.client.post("/subscribe/push", json=post).status_code for _ in range(2)] == [201, 201]
    refused = fake.client.post("/subscribe/push", json=post)
    [problem] = assert_problems(refused, 429)
    assert problem["rule"] == "rate_limited" and int(refused.headers["retry-after"]) >= 1
    page = fake.client.post("/subscribe/email", data={"email": "a@exemple.fr", "areas": BEUVRY}, headers=HTML)
    assert page.status_code == 429 and "Trop de demandes" in page.text
    assert [fake.client.get("/subscribe/communes", params={"q": "ab"}).status_code for _ in range(20)] == [
        200
    ] * 20
    fake.seconds += 60
    assert fake.client.post("/subscribe/push", json=post).status_code == 201

    # Signed links come from mail providers' few addresses for thousands of subscribers: a good
    # link is rated per subscription, a bad one against the client.
    links = [sign(f"Subscription{n:08d}", "unsubscribe", SECRET, NOW) for n in range(5)]
    assert [fake.client.post("/subscribe/unsubscribe", params={"token": t}).status_code for t in links] == [
        200
    ] * 5
    hammered = [
        fake.client.post("/subscribe/unsubscribe", params={"token": links[0]}).status_code for _ in range(2)
    ]
    assert hammered == [200, 429]
    fake.seconds += 60  # a full bucket again for this client's bad links
    garbage = [fake.client.get("/subscribe/confirm", params={"token": f"x{n}"}).status_code for n in range(3)]
    assert garbage == [400, 400, 429]

    fake = Fake()
    statuses = [
        fake.client.post("/subscribe/email", json={"email": "b@exemple.fr", "areas": [BEUVRY]}).status_code
        for _ in range(4)
    ]
    assert statuses == [202, 202, 202, 429] and len(fake.mailer.sent) == 3


def test_kafka_or_the_mail_server_down_is_503_to_retry_and_a_refused_address_422(fake: Fake) -> None:
    async def down(messages: list[Message]) -> None:
        raise ProduceError("broker unreachable")

    fake.mailer.failure = TransientError("connection refused")
    answer = fake.client.post("/subscribe/email", json={"email": "a@exemple.fr", "areas": [BEUVRY]})
    assert_problems(answer, 503)
    assert answer.headers["retry-after"] == "30"
    fake.mailer.failure = AddressRefused("550 no such user")
    page = fake.client.post(
        "/subscribe/email", data={"email": "nobody@exemple.fr", "areas": BEUVRY}, headers=HTML
    )
    assert page.status_code == 422 and "Le serveur de messagerie refuse cette adresse" in page.text
    fake.producer.send_all = down  # type: ignore[method-assign]
    assert_problems(
        fake.client.post("/subscribe/push", json={"subscription": browser_subscription(), "areas": [BEUVRY]}),
        503,
    )


# -- hostile input ------------------------------------------------------------------------

GOOD = browser_subscription()
HOSTILE: list[tuple[str, str, dict[str, str], bytes]] = [
    ("POST", "/subscribe/push", {"Content-Type": "application/json"}, b"{" * 100),
    ("POST", "/subscribe/push", {"Content-Type": "application/json"}, b"[" * 20000),  # 20 KB deep
    ("POST", "/subscribe/push", {"Content-Type": "application/json"}, b"[]"),
    ("POST", "/subscribe/push", {"Content-Type": "application/json"}, b'"text"'),
    ("POST", "/subscribe/push", {"Content-Type": "application/json"}, b"\xff\xfe\x00"),
    ("POST", "/subscribe/push", {"Content-Type": "application/json"}, b" " * 17000),
    ("POST", "/subscribe/push", {"Content-Type": "application/json", "Content-Length": "99999999"}, b"{}"),
    ("POST", "/subscribe/push", {"Content-Type": "application/json", "Content-Length": "-1"}, b"{}"),
    ("POST", "/subscribe/push", {"Content-Type": "text/plain"}, b"hello"),
    ("POST", "/subscribe/push", {"Content-Type": "multipart/form-data; boundary=x"}, b"--x--"),
    ("POST", "/subscribe/email", {"Content-Type": "application/x-www-form-urlencoded"}, b"a=%ff%fe"),
    (
        "POST",
        "/subscribe/email",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"&".join([b"areas=62126"] * 500),
    ),
    (
        "POST",
        "/subscribe/email",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"email=a%00b@x.fr&areas=62126",
    ),
    (
        "POST",
        "/subscribe/email",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"email=a%0d%0aBcc:%20x@y.fr@x.fr&areas=62126",
    ),
    ("POST", "/subscribe/email", {}, b""),
    ("GET", "/subscribe/communes?q=" + "%F0%9F%98%80" * 3000, {}, b""),
    ("GET", "/subscribe/communes?q=%ED%A0%80&areas=%00&add=" + "9" * 100, HTML, b""),
    ("GET", "/subscribe/confirm?token=%ED%A0%80", {}, b""),
    ("GET", "/subscribe/unsubscribe?token=unsubscribe.AAAAAAAAAAAAAAAA.1.x&token=b", HTML, b""),
    ("DELETE", "/subscribe/push", {}, b""),
]
JSON_BODIES: list[Any] = [
    {
        "subscription": {**GOOD, "keys": {"p256dh": "!!!notbase64", "auth": GOOD["keys"]["auth"]}},
        "areas": [BEUVRY],
    },
    {"subscription": {**GOOD, "keys": {"p256dh": b64url(b"short"), "auth": "AAAA"}}, "areas": [BEUVRY]},
    {"subscription": {**GOOD, "keys": "not an object"}, "areas": [BEUVRY]},
    {"subscription": {**GOOD, "endpoint": "http://push.example.net/x"}, "areas": [BEUVRY]},
    {"subscription": {**GOOD, "endpoint": "https://user:pw@push.example.net/x"}, "areas": [BEUVRY]},
    {"subscription": {**GOOD, "endpoint": "https://push.example.net/\u0000x"}, "areas": [BEUVRY]},
    {"subscription": {**GOOD, "endpoint": "https://" + "a" * 5000}, "areas": [BEUVRY]},
    {"subscription": {**GOOD, "endpoint": 42}, "areas": [BEUVRY]},
    {"subscription": GOOD, "areas": ["62999"]},  # well-formed, not a commune
    {"subscription": GOOD, "areas": ["99999", "2C001", "00"]},
    {"subscription": GOOD, "areas": ["62294"]},  # Enguinegatte, now part of Enquin-lez-Guinegatte
    {"subscription": GOOD, "areas": [str(62001 + i) for i in range(60)]},
    {"subscription": GOOD, "areas": []},
    {"subscription": GOOD, "areas": [62126, None, {"a": 1}]},
    {"subscription": GOOD, "areas": {"62126": True}},
    {"subscription": GOOD, "areas": ["\ud800"]},
    {"subscription": GOOD},
    {"areas": [BEUVRY]},
    {"subscription": None, "areas": [BEUVRY]},
]


def test_hostile_requests_are_refused_4xx_in_the_one_shape_never_5xx(fake: Fake) -> None:
    for method, path, headers, body in HOSTILE:
        answer = fake.client.request(method, path, headers=headers, content=body)
        label = f"{method} {path[:60]} {body[:40]!r}"
        assert answer.status_code < 500, (label, answer.status_code, answer.text[:300])
        if answer.status_code >= 400 and "json" in answer.headers["content-type"]:
            assert_problems(answer, answer.status_code)
    for document in JSON_BODIES:
        answer = fake.client.post(
            "/subscribe/push", content=json.dumps(document), headers={"Content-Type": "application/json"}
        )
        problems = assert_problems(answer, (400, 422))
        assert all(p["path"] for p in problems), (document, problems)
    big = fake.client.post(
        "/subscribe/push", content=b"{" + b" " * 20000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert assert_problems(big, 413)[0]["rule"] == "body_too_large"
    lenient = fake.client.post(
        "/subscribe/push", json={"subscription": GOOD, "areas": "62126 59378", "language": "de"}
    )
    assert lenient.status_code == 201 and fake.last().language == "fr"  # a page's lang it cannot speak
    fake.producer.messages.clear()
    sixty = fake.client.post("/subscribe/push", json=JSON_BODIES[11])
    assert {p["rule"] for p in assert_problems(sixty, 422)} >= {"too_long"}
    unknown = fake.client.post("/subscribe/push", json=JSON_BODIES[8])
    assert [p["rule"] for p in assert_problems(unknown, 422)] == ["unknown_commune"]
    former = fake.client.post("/subscribe/push", json=JSON_BODIES[10])
    [problem] = assert_problems(former, 422)
    assert problem["rule"] == "former_commune" and "62295" in problem["message"]
    assert not fake.written() and not fake.mailer.sent


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/subscribe/push", "/subscribe/email", "/subscribe/unsubscribe"]),
    media=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "", "text/html"]),
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=30),
            lambda inner: (
                st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
            ),
            max_leaves=20,
        ).map(lambda value: json.dumps(value).encode()),
    ),
    html=st.booleans(),
)
def test_any_body_to_any_write_endpoint_never_answers_5xx(
    fake: Fake, path: str, media: str, body: bytes, html: bool
) -> None:
    headers = {"Content-Type": media, **(HTML if html else {})}
    answer = fake.client.post(path, content=body, headers=headers)
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])


# -- configuration, the read model, the static page ---------------------------------------


def test_settings_refuse_a_short_secret_and_give_none_without_one(tmp_path: Path) -> None:
    assert SubscribeConfig.from_settings(Settings(_env_file=None)) is None
    with pytest.raises(ConfigurationError, match="at least 32 bytes") as short:
        Settings(_env_file=None, subscription_secret="too short").subscription_key()
    assert "too short" not in str(short.value)
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(b"k" * 40 + b"\n")
    assert Settings(_env_file=None, subscription_secret_file=secret_file).subscription_key() == b"k" * 40
    secret_file.write_bytes(b"k" * 10)
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        Settings(_env_file=None, subscription_secret_file=secret_file).subscription_key()
    with pytest.raises(ConfigurationError, match="not both"):
        Settings(
            _env_file=None, subscription_secret="k" * 32, subscription_secret_file=secret_file
        ).subscription_key()
    key_file = tmp_path / "vapid.pem"
    key = generate_key_file(key_file)
    on = Settings(
        _env_file=None,
        subscription_secret="k" * 32,
        site_base_url="https://alertes.ville-exemple.fr/",
        subscribe_base_url="https://api.ville-exemple.fr",
        vapid_private_key_file=key_file,
    )
    config = SubscribeConfig.from_settings(on)
    assert config is not None and config.secret == b"k" * 32 and config.mailer is None
    assert config.links_url == "https://api.ville-exemple.fr"
    assert config.allowed_origins == {"https://alertes.ville-exemple.fr", "https://api.ville-exemple.fr"}
    page = SubscribePage.from_settings(on)
    assert page == SubscribePage(
        api="https://api.ville-exemple.fr", vapid_key=key.application_server_key, email=False
    )
    with pytest.raises(ConfigurationError, match="not in ALERTCAST_EMAIL_ACCOUNTS"):
        SubscribeConfig.from_settings(
            Settings(_env_file=None, subscription_secret="k" * 32, subscribe_email_account="nobody")
        )


def test_the_read_model_follows_the_topic_tombstones_included(fake: Fake) -> None:
    body = fake.client.post(
        "/subscribe/push", json={"subscription": browser_subscription(), "areas": [BEUVRY]}
    ).json()
    stored = fake.subscribe.store.get(body["id"])
    assert stored is not None
    other = Subscribe(fake.subscribe.config, MemoryProducer(), lambda name: f"t.{name}")
    other.on_message(TOPIC, stored.id.encode(), stored.model_dump_json().encode())
    other.on_message(TOPIC, b"junk", b"{not json")
    other.on_message("t.other", b"x", b"{}")
    assert other.store.get(stored.id) == stored and len(other.store) == 1
    other.on_message(TOPIC, stored.id.encode(), b"")  # a tombstone (alertcast subscribers delete)
    assert other.store.get(stored.id) is None and other.store.by_endpoint(stored.push.endpoint) == []  # type: ignore[union-attr]


def test_the_site_writes_the_subscribe_page_only_when_subscriptions_are_on(tmp_path: Path) -> None:
    page = SubscribePage(api="https://api.ville-exemple.fr", vapid_key="BKey")
    changed = build_site([], tmp_path / "on", now=NOW, subscribe=page)
    names = {p.relative_to(tmp_path / "on").as_posix() for p in changed}
    assert {"subscribe.html", "sw.js", "assets/subscribe.js"} <= names
    html = (tmp_path / "on" / "subscribe.html").read_text()
    assert 'action="https://api.ville-exemple.fr/subscribe/communes"' in html
    assert 'action="https://api.ville-exemple.fr/subscribe/email"' in html
    assert 'data-key="BKey"' in html and 'data-sw="sw.js"' in html
    assert '<a href="subscribe.html">Recevoir les alertes</a>' in (tmp_path / "on" / "index.html").read_text()
    english = build_site([], tmp_path / "en", now=NOW, subscribe=SubscribePage(), language="en")
    assert english and "Get alerts on this device" in (tmp_path / "en" / "subscribe.html").read_text()
    build_site([], tmp_path / "off", now=NOW)
    assert not (tmp_path / "off" / "subscribe.html").exists() and not (tmp_path / "off" / "sw.js").exists()
    assert "subscribe.html" not in (tmp_path / "off" / "index.html").read_text()
