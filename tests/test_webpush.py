"""Web Push: VAPID keys (RFC 8292), payloads encrypted aes128gcm (RFC 8291), and the RFC 8030
headers that make an Update replace a push still waiting in the push service.

Pure tests check the key file, the claims, the headers and how each answer is mapped (answers
played by httpx's MockTransport). The `servers` tests push to a local push service written
from the RFCs (tests/servers/push_service.py), which checks the VAPID signature itself and
holds messages until the test "delivers" them; the test side then decrypts them with the
subscription's private key, as a browser would.
"""

from __future__ import annotations

import base64
import json
import logging
import pickle
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from servers.push_service import BrowserSubscription, PushService

from alertcast import cli
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.http import make_client
from alertcast.models.alert import ChannelText, DeliveryRequest
from alertcast.models.incident import Incident, MsgType
from alertcast.settings import Settings
from alertcast.subscriptions.model import PushEndpoint
from alertcast.subscriptions.vapid import VapidError, VapidKey, generate_key_file, load_key, origin
from alertcast.subscriptions.webpush import (
    DEFAULT_TTL_S,
    MAX_PAYLOAD_BYTES,
    MAX_TTL_S,
    PushPayload,
    SubscriptionGone,
    encrypt,
    headers_for,
    push_alert,
    topic_for,
    urgency_for,
)

NOW = datetime(2019, 3, 4, 7, 30, tzinfo=UTC)  # the alerts' clock (samples are old)
SUBJECT = "mailto:alertes@prefecture.example.fr"
ENDPOINT = "https://push.example.net/wpush/v2/gAAAAABsecretpath"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def request(
    alert_id: str = "a1b2c3d4e5f60718",
    version: int = 1,
    msg_type: MsgType = MsgType.ALERT,
    expires_in: timedelta | None = timedelta(hours=6),
    urgency: str = "Immediate",
    severity: str = "Severe",
    text: str = "Vents jusqu'à 120 km/h à Arras cet après-midi. Rentrez le mobilier de jardin.",
    description: str = "",
) -> DeliveryRequest:
    info: dict[str, Any] = {
        "category": "weather",
        "event": "Tempête",
        "headline": "Vents violents à Arras",
        "urgency": urgency,
        "severity": severity,
        "description": description,
    }
    if expires_in is not None:
        info["expires"] = NOW + expires_in
    incident = Incident.model_validate(
        {
            "identifier": f"storm-{version}",
            "sender": "prefecture-62",
            "sent": NOW,
            "msg_type": msg_type,
            "references": []
            if msg_type is MsgType.ALERT
            else [{"sender": "prefecture-62", "identifier": "storm-1"}],
            "info": [info],
        }
    )
    return DeliveryRequest(
        alert_id=alert_id,
        version=version,
        channel="webpush",
        incident=incident,
        text=ChannelText(channel="webpush", language="fr", text=text, length=len(text)) if text else None,
        approved_at=NOW,
    )


def browser() -> BrowserSubscription:
    """A browser-side subscription not registered with any service (pure tests)."""
    return BrowserSubscription(
        id="x",
        endpoint=ENDPOINT,
        private_key=ec.generate_private_key(ec.SECP256R1()),
        auth=b"0123456789abcdef",
    )


def endpoint_of(subscription: BrowserSubscription) -> PushEndpoint:
    data = subscription.to_json()
    return PushEndpoint(endpoint=data["endpoint"], **data["keys"])


def verify_jwt(token: str, public: bytes) -> dict[str, Any]:
    header, claims, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    return dict(json.loads(base64.urlsafe_b64decode(claims + "==")))


def mock_client(
    answer: Callable[[httpx.Request], httpx.Response],
) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return answer(req)

    return make_client(transport=httpx.MockTransport(handler)), seen


# --- VAPID keys and claims -----------------------------------------------------------------------


def test_key_file_is_private_kept_and_gives_the_application_server_key(tmp_path: Path) -> None:
    path = tmp_path / "vapid.pem"
    made = generate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    with pytest.raises(VapidError, match="end every push subscription"):
        generate_key_file(path)  # never replaced: a new key ends every subscription
    loaded = load_key(Settings(_env_file=None, vapid_private_key_file=path))
    server_key = loaded.application_server_key
    assert server_key == made.application_server_key
    assert "=" not in server_key and len(server_key) == 87
    raw = base64.urlsafe_b64decode(server_key + "=")
    assert len(raw) == 65 and raw[0] == 4  # uncompressed P-256, what PushManager.subscribe takes
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


def test_key_from_environment_in_the_raw_form_and_refusals(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    raw = b64url(private.private_numbers().private_value.to_bytes(32, "big"))
    key = load_key(Settings(_env_file=None, vapid_private_key=raw))
    assert key.public_key == VapidKey(private).public_key
    path = tmp_path / "k.pem"
    generate_key_file(path)
    with pytest.raises(VapidError, match="not both"):
        load_key(Settings(_env_file=None, vapid_private_key=raw, vapid_private_key_file=path))
    with pytest.raises(VapidError, match="no VAPID key"):
        load_key(Settings(_env_file=None))
    with pytest.raises(VapidError, match="cannot read"):
        load_key(Settings(_env_file=None, vapid_private_key_file=tmp_path / "missing.pem"))
    rsa_like = tmp_path / "bad.pem"
    rsa_like.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(VapidError, match="not a P-256 private key"):
        load_key(Settings(_env_file=None, vapid_private_key_file=rsa_like))


def test_cli_makes_the_file_and_prints_the_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "vapid.pem"
    assert cli.main(["vapid", "new", str(path)]) == 0
    printed = capsys.readouterr().out.strip()
    assert cli.main(["vapid", "public", str(path)]) == 0
    assert capsys.readouterr().out.strip() == printed
    assert cli.main(["vapid", "new", str(path)]) == 2  # refused: it exists
    with pytest.raises(SystemExit) as usage:
        cli.main(["vapid", "rotate"])
    assert usage.value.code == 64


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc:def", "https://fcm.googleapis.com"),
        (
            "https://Updates.Push.Services.Mozilla.com:443/wpush/v2/x",
            "https://updates.push.services.mozilla.com",
        ),
        ("https://127.0.0.1:8443/push/x?y=1", "https://127.0.0.1:8443"),
        ("https://[::1]:9000/push/x", "https://[::1]:9000"),
    ],
)
def test_aud_is_the_origin_of_the_endpoint(endpoint: str, expected: str) -> None:
    assert origin(endpoint) == expected


def test_token_claims_and_signature() -> None:
    key = VapidKey.generate()
    header = key.authorization(ENDPOINT, SUBJECT, now=1_700_000_000)
    scheme, params = header.split(" ", 1)
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    assert scheme == "vapid" and parts["k"] == key.application_server_key
    claims = verify_jwt(parts["t"], key.public_key)
    assert claims["aud"] == "https://push.example.net"
    assert claims["sub"] == SUBJECT
    assert 1_700_000_000 < claims["exp"] <= 1_700_000_000 + 24 * 3600
    with pytest.raises(VapidError, match="mailto"):
        key.authorization(ENDPOINT, "alertes@prefecture.example.fr")


# --- headers ----------------------------------------------------------------------------------------


def test_topic_is_short_url_safe_and_stable_per_alert() -> None:
    first = headers_for(request(version=1).incident, "a1b2c3d4e5f60718", NOW)
    update = headers_for(request(version=2, msg_type=MsgType.UPDATE).incident, "a1b2c3d4e5f60718", NOW)
    cancel = headers_for(request(version=3, msg_type=MsgType.CANCEL).incident, "a1b2c3d4e5f60718", NOW)
    other = headers_for(request().incident, "ffff0000aaaa1111", NOW)
    assert first.topic == update.topic == cancel.topic != other.topic
    for topic in (first.topic, other.topic, topic_for("x" * 500), topic_for("é/ç?&=")):
        assert len(topic) <= 32
        assert set(topic) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_ttl_is_the_time_left_until_expiry() -> None:
    assert headers_for(request(expires_in=timedelta(hours=6)).incident, "a", NOW).ttl == 6 * 3600
    assert headers_for(request(expires_in=None).incident, "a", NOW).ttl == DEFAULT_TTL_S
    assert headers_for(request(expires_in=timedelta(days=90)).incident, "a", NOW).ttl == MAX_TTL_S
    assert MAX_TTL_S == 28 * 24 * 3600
    later = NOW + timedelta(hours=7)
    assert headers_for(request(expires_in=timedelta(hours=6)).incident, "a", later).ttl == 0


@pytest.mark.parametrize(
    ("urgency", "severity", "expected"),
    [
        ("Immediate", "Minor", "high"),
        ("Expected", "Severe", "normal"),
        ("Future", "Extreme", "low"),
        ("Past", "Severe", "very-low"),
        ("Unknown", "Moderate", "normal"),
        ("Unknown", "Extreme", "high"),
    ],
)
def test_urgency_from_the_alert(urgency: str, severity: str, expected: str) -> None:
    assert urgency_for(request(urgency=urgency, severity=severity).incident) == expected


def test_payload_is_small_json_and_a_long_text_is_shortened_to_fit() -> None:
    payload = PushPayload.for_request(request(), url="https://alertes.example.fr/alerts/a1b2.html")
    assert json.loads(payload.encoded()) == {
        "title": "Vents violents à Arras",
        "body": "Vents jusqu'à 120 km/h à Arras cet après-midi. Rentrez le mobilier de jardin.",
        "url": "https://alertes.example.fr/alerts/a1b2.html",
        "alertId": "a1b2c3d4e5f60718",
        "version": 1,
        "msgType": "Alert",
        "lang": "fr",
    }
    long = PushPayload.for_request(request(text="", description="Évacuez. " * 1000))
    assert len(long.encoded()) <= MAX_PAYLOAD_BYTES and long.body.endswith("…")
    assert len(encrypt(endpoint_of(browser()), long.encoded())) <= 4096
    cancel = PushPayload.for_request(request(version=2, msg_type=MsgType.CANCEL, text=""))
    assert cancel.title.startswith("FIN D'ALERTE") and cancel.msg_type is MsgType.CANCEL


def test_encryption_round_trip_with_the_browser_key() -> None:
    subscription = browser()
    body = encrypt(endpoint_of(subscription), b'{"title":"t"}')
    assert subscription.decrypt(body) == b'{"title":"t"}'
    assert encrypt(endpoint_of(subscription), b"x") != encrypt(endpoint_of(subscription), b"x")  # fresh salt


# --- answers ------------------------------------------------------------------------------------------


async def test_expired_alert_sends_nothing() -> None:
    client, seen = mock_client(lambda req: httpx.Response(201))
    async with client:
        result = await push_alert(
            client,
            endpoint_of(browser()),
            request(),
            VapidKey.generate(),
            SUBJECT,
            now=NOW + timedelta(days=1),
        )
    assert result.status == "skipped" and result.headers.ttl == 0 and seen == []


async def test_request_headers_and_created_answer() -> None:
    location = "https://push.example.net/m/123"
    client, seen = mock_client(lambda req: httpx.Response(201, headers={"Location": location, "TTL": "3600"}))
    key = VapidKey.generate()
    async with client:
        result = await push_alert(client, endpoint_of(browser()), request(), key, SUBJECT, now=NOW)
    assert result.status == "sent" and result.location == location and result.ttl_accepted == 3600
    sent = seen[0].headers
    assert sent["TTL"] == str(6 * 3600) and sent["Urgency"] == "high"
    assert sent["Topic"] == topic_for("a1b2c3d4e5f60718")
    assert sent["Content-Encoding"] == "aes128gcm"
    assert (
        sent["Authorization"].startswith("vapid t=")
        and f"k={key.application_server_key}" in sent["Authorization"]
    )


@pytest.mark.parametrize(
    ("answer", "expected", "retry_after"),
    [
        (httpx.Response(202), None, None),
        (httpx.Response(404), SubscriptionGone, None),
        (httpx.Response(410, json={"message": "gone: /wpush/v2/gAAAAABsecretpath"}), SubscriptionGone, None),
        (httpx.Response(413), PermanentError, None),
        (httpx.Response(429, headers={"Retry-After": "7"}), TransientError, 7.0),
        (httpx.Response(503, headers={"Retry-After": "30"}), TransientError, 30.0),
        (httpx.Response(500), TransientError, None),
        (httpx.Response(403), PermanentError, None),
    ],
)
async def test_answers_are_mapped(
    answer: httpx.Response, expected: type[Exception] | None, retry_after: float | None
) -> None:
    client, _ = mock_client(lambda req: answer)
    async with client:
        if expected is None:
            result = await push_alert(
                client, endpoint_of(browser()), request(), VapidKey.generate(), SUBJECT, now=NOW
            )
            assert result.status == "sent" and result.status_code == 202
            return
        with pytest.raises(expected) as raised:
            await push_alert(client, endpoint_of(browser()), request(), VapidKey.generate(), SUBJECT, now=NOW)
    assert "secretpath" not in str(raised.value)  # the endpoint is a capability: origin only
    if expected is PermanentError:
        assert not isinstance(raised.value, SubscriptionGone)
    if isinstance(raised.value, TransientError):
        assert raised.value.retry_after == retry_after


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")])
async def test_network_failures_are_transient(failure: Exception) -> None:
    def fail(req: httpx.Request) -> httpx.Response:
        raise failure

    client, _ = mock_client(fail)
    async with client:
        with pytest.raises(TransientError) as raised:
            await push_alert(client, endpoint_of(browser()), request(), VapidKey.generate(), SUBJECT, now=NOW)
    assert "secretpath" not in str(raised.value)


async def test_private_key_is_never_logged_nor_in_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "vapid.pem"
    key = generate_key_file(path)
    path.chmod(0o644)  # readable by others: warned about, still without the key
    key = load_key(Settings(_env_file=None, vapid_private_key_file=path))
    pem = path.read_text()
    private = serialization.load_pem_private_key(pem.encode(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    number = private.private_numbers().private_value
    forms = [
        "".join(pem.splitlines()[1:-1]),
        b64url(number.to_bytes(32, "big")),
        number.to_bytes(32, "big").hex(),
        str(number),
    ]
    texts = [repr(key), str(key)]
    client, _ = mock_client(lambda req: httpx.Response(401, text="bad JWT"))
    async with client:
        with pytest.raises(PermanentError) as refused:
            await push_alert(client, endpoint_of(browser()), request(), key, SUBJECT, now=NOW)
    texts.append(str(refused.value))
    broken = tmp_path / "broken.pem"
    broken.write_text(pem.replace(pem.splitlines()[2][:8], "AAAAAAAA"))
    for settings in (
        Settings(_env_file=None, vapid_private_key=forms[1] + "xx"),
        Settings(_env_file=None, vapid_private_key_file=broken),
    ):
        with pytest.raises(VapidError) as bad:
            load_key(settings)
        texts += [str(bad.value), repr(bad.value)]
    with pytest.raises(TypeError):
        pickle.dumps(key)
    assert "can be read by others" in caplog.text
    assert "HTTP Request: POST https://push.example.net/<redacted>" in caplog.text  # httpx's own log
    assert "secretpath" not in caplog.text  # the endpoint is personal data: its origin only
    for form in forms:
        assert form not in caplog.text
        for text in texts:
            assert form not in text


# --- against the local push service --------------------------------------------------------------------


@pytest.fixture(scope="module")
def service() -> Iterator[PushService]:
    running = PushService().start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def client(service: PushService) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(verify=service.client_ssl()) as made:
        yield made


@pytest.fixture
def key() -> VapidKey:
    return VapidKey.generate()


@pytest.mark.servers
async def test_the_push_service_decrypts_what_was_sent(
    service: PushService, client: httpx.AsyncClient, key: VapidKey
) -> None:
    subscription = service.subscribe(key.application_server_key)
    url = "https://alertes.example.fr/alerts/a1b2c3d4e5f60718.html"
    result = await push_alert(client, endpoint_of(subscription), request(), key, SUBJECT, url=url, now=NOW)
    assert result.status == "sent" and result.status_code == 201
    assert result.location and result.location.startswith(service.url + "/message/")
    [delivered] = service.deliver(subscription)
    assert delivered.json() == json.loads(PushPayload.for_request(request(), url).encoded())
    assert delivered.json()["body"].startswith("Vents jusqu'à 120 km/h")
    message = delivered.message
    assert (message.ttl, message.urgency, message.topic) == (6 * 3600, "high", topic_for("a1b2c3d4e5f60718"))
    assert message.headers["content-encoding"] == "aes128gcm"


@pytest.mark.servers
async def test_an_update_replaces_the_pending_push(
    service: PushService, client: httpx.AsyncClient, key: VapidKey
) -> None:
    subscription = service.subscribe(key.application_server_key)
    push = endpoint_of(subscription)
    await push_alert(client, push, request(version=1, text="Version 1"), key, SUBJECT, now=NOW)
    await push_alert(
        client, push, request(alert_id="0000111122223333", text="Autre alerte"), key, SUBJECT, now=NOW
    )
    update = request(version=2, msg_type=MsgType.UPDATE, text="Version 2 : vents jusqu'à 140 km/h")
    await push_alert(client, push, update, key, SUBJECT, now=NOW)
    assert len(service.pending(subscription)) == 2  # the phone is off: version 1 was replaced
    delivered = {d.json()["alertId"]: d.json() for d in service.deliver(subscription)}
    assert delivered["a1b2c3d4e5f60718"]["version"] == 2
    assert delivered["a1b2c3d4e5f60718"]["body"].startswith("Version 2")
    assert delivered["0000111122223333"]["body"] == "Autre alerte"
    assert [m.topic for m in service.state.replaced if m.subscription_id == subscription.id] == [
        topic_for("a1b2c3d4e5f60718")
    ]


@pytest.mark.servers
async def test_the_service_refuses_a_bad_vapid_signature(
    service: PushService, client: httpx.AsyncClient, key: VapidKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscription = service.subscribe()  # not bound to a key: only the signature decides
    other = VapidKey.generate()
    signed_by_other = other.authorization

    def forged(self: VapidKey, endpoint: str, subject: str, now: float | None = None) -> str:
        # A token signed by another key, presented with our public key.
        token = signed_by_other(endpoint, subject, now).split("t=", 1)[1].split(",", 1)[0]
        return f"vapid t={token}, k={self.application_server_key}"

    monkeypatch.setattr(VapidKey, "authorization", forged)
    with pytest.raises(PermanentError, match="401"):
        await push_alert(client, endpoint_of(subscription), request(), key, SUBJECT, now=NOW)
    monkeypatch.undo()
    [refused] = service.attempts(subscription)
    assert refused.status == 401 and "signature" in refused.reason
    assert service.pending(subscription) == []
    result = await push_alert(client, endpoint_of(subscription), request(), key, SUBJECT, now=NOW)
    assert result.status == "sent"  # the same push, honestly signed, is accepted


@pytest.mark.servers
async def test_a_subscription_made_with_another_key_is_refused(
    service: PushService, client: httpx.AsyncClient, key: VapidKey
) -> None:
    subscription = service.subscribe(VapidKey.generate().application_server_key)
    with pytest.raises(PermanentError, match="403") as raised:
        await push_alert(client, endpoint_of(subscription), request(), key, SUBJECT, now=NOW)
    assert not isinstance(raised.value, SubscriptionGone)


@pytest.mark.servers
async def test_gone_subscription_is_reported(
    service: PushService, client: httpx.AsyncClient, key: VapidKey
) -> None:
    subscription = service.subscribe(key.application_server_key)
    service.gone(subscription)
    with pytest.raises(SubscriptionGone) as gone:
        await push_alert(client, endpoint_of(subscription), request(), key, SUBJECT, now=NOW)
    assert gone.value.status_code == 410
    assert subscription.id not in str(gone.value)


@pytest.mark.servers
async def test_expired_alert_never_reaches_the_service(
    service: PushService, client: httpx.AsyncClient, key: VapidKey
) -> None:
    subscription = service.subscribe(key.application_server_key)
    result = await push_alert(
        client, endpoint_of(subscription), request(), key, SUBJECT, now=NOW + timedelta(hours=6, seconds=1)
    )
    assert result.status == "skipped"
    assert service.attempts(subscription) == [] and service.deliver(subscription) == []
