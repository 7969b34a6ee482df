"""A push service written from RFC 8030 (Web Push), checking RFC 8292 (VAPID) and RFC 8291
(message encryption) as a real one does, and a browser's side of a subscription.

Written from the RFCs, not from alertcast's code or pywebpush: its JWT check uses only
`cryptography`, so a bug shared by the sender and the service could not hide.

The service (HTTPS on 127.0.0.1, an ephemeral port, a certificate from its own test CA: push
endpoints are https:// URLs, and alertcast's subscription model refuses any other):
- `POST /push/<id>`: 404 for an unknown subscription, 410 once `gone()` was called; 401
  without a valid `Authorization: vapid t=<JWT>, k=<key>` (ES256 signature checked against
  `k`, `aud` this service's origin, `exp` in the future and at most 24 h ahead, a `sub`);
  403 when the subscription was made with another applicationServerKey; 400 without a `TTL`
  (§5.2) or with a bad `Urgency` or `Topic` (§5.3, §5.4: at most 32 base64url characters);
  415 unless the body is `aes128gcm`; 413 over 4096 bytes (§7.2); 400 unless the body is one
  RFC 8291 record whose key id is a P-256 point. Accepted: 201 with `Location` and `TTL`.
- The user agent is offline until the test calls `deliver()`: messages wait, a message with
  the same Topic as a waiting one replaces it (§5.4), a message whose TTL ran out is dropped,
  and a TTL of 0 is dropped at once (nobody could take it "immediately").

The browser's side (`BrowserSubscription`): a P-256 key pair and a 16-byte auth secret, as
`PushManager.subscribe` makes them, shown as `toJSON()` shows them; `deliver()` decrypts
every payload with http_ece and the subscription's private key, a real cryptographic check.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import json
import re
import secrets
import shutil
import ssl
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import http_ece
import uvicorn
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from servers.asgi import ThreadedServer

MAX_BODY = 4096
MAX_EXP_AHEAD_S = 24 * 3600
CLOCK_SKEW_S = 60
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_URGENCIES = ("very-low", "low", "normal", "high")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    data = text.rstrip("=")
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


@dataclass
class BrowserSubscription:
    """What a browser keeps for one push subscription: the private key never leaves it."""

    id: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    application_server_key: bytes | None = None

    @property
    def p256dh(self) -> str:
        return b64url(_point(self.private_key))

    def to_json(self) -> dict[str, Any]:
        """As `PushSubscription.toJSON()` gives it to the subscribe page's script."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291: ECDH with the sender's key (the record's key id) and the auth secret."""
        return bytes(
            http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm")
        )


@dataclass(frozen=True)
class Message:
    """A push message the service accepted and holds."""

    id: str
    subscription_id: str
    body: bytes
    ttl: int
    urgency: str
    topic: str | None
    received_at: float  # monotonic
    headers: dict[str, str]


@dataclass(frozen=True)
class Delivered:
    message: Message
    plaintext: bytes

    def json(self) -> Any:
        return json.loads(self.plaintext)


@dataclass(frozen=True)
class Attempt:
    """Every POST, answered or refused, for tests to read."""

    subscription_id: str
    status: int
    reason: str
    headers: dict[str, str]


@dataclass
class PushState:
    origin: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    subscriptions: dict[str, BrowserSubscription] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    pending: dict[str, list[Message]] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    replaced: list[Message] = field(default_factory=list)


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _check_vapid(header: str, origin: str, now: float) -> bytes:
    """The `k` of a valid RFC 8292 Authorization header, or `Refused(401)` saying why."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "vapid":
        raise Refused(401, "Authorization scheme is not vapid")
    params: dict[str, str] = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        params[name.strip().lower()] = value.strip()
    token, key_text = params.get("t", ""), params.get("k", "")
    try:
        key_bytes = b64url_decode(key_text)
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key_bytes)
    except ValueError:
        raise Refused(401, "k is not a P-256 public key") from None
    pieces = token.split(".")
    if len(pieces) != 3:
        raise Refused(401, "t is not a JWS compact serialisation")
    try:
        jose = json.loads(b64url_decode(pieces[0]))
        claims = json.loads(b64url_decode(pieces[1]))
        signature = b64url_decode(pieces[2])
    except (ValueError, binascii.Error):
        raise Refused(401, "t does not decode") from None
    if not isinstance(jose, dict) or jose.get("alg") != "ES256":
        raise Refused(401, "the JWT's alg is not ES256")
    if len(signature) != 64:
        raise Refused(401, "an ES256 signature is 64 bytes (r || s)")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key.verify(der, f"{pieces[0]}.{pieces[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Refused(401, "the JWT signature does not verify with k") from None
    if not isinstance(claims, dict):
        raise Refused(401, "the JWT claims are not an object")
    if claims.get("aud") != origin:
        raise Refused(401, f"aud {claims.get('aud')!r} is not this push service ({origin})")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now or exp > now + MAX_EXP_AHEAD_S + CLOCK_SKEW_S:
        raise Refused(401, "exp is not in the next 24 hours")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.startswith(("mailto:", "https:")):
        raise Refused(401, "sub is not a mailto: or https: contact")
    return key_bytes


def _check_record(body: bytes) -> None:
    """RFC 8291 §4: one aes128gcm record whose key id is the sender's P-256 point."""
    if len(body) < 21 + 65 + 17:
        raise Refused(400, "body too short for an aes128gcm record")
    (rs,) = struct.unpack("!L", body[16:20])
    id_length = body[20]
    if id_length != 65:
        raise Refused(400, "the key id is not a 65-byte P-256 point")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), body[21:86])
    except ValueError:
        raise Refused(400, "the key id is not a P-256 point") from None
    if rs < 18 or len(body) - 86 > rs:
        raise Refused(400, "a push message is one record (RFC 8291 §4)")


class PushApp:
    def __init__(self, state: PushState) -> None:
        self.state = state
        self.app = Starlette(routes=[Route("/push/{sid}", self.push, methods=["POST"])])

    async def push(self, request: Request) -> Response:
        sid = request.path_params["sid"]
        body = await request.body()
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            message = self._accept(sid, headers, body)
        except Refused as refused:
            self._attempt(sid, refused.status, refused.reason, headers)
            return JSONResponse(
                {"code": refused.status, "message": refused.reason}, status_code=refused.status
            )
        self._attempt(sid, 201, "", headers)
        return Response(
            status_code=201,
            headers={"Location": f"{self.state.origin}/message/{message.id}", "TTL": str(message.ttl)},
        )

    def _attempt(self, sid: str, status: int, reason: str, headers: dict[str, str]) -> None:
        with self.state.lock:
            self.state.attempts.append(Attempt(sid, status, reason, headers))

    def _accept(self, sid: str, headers: dict[str, str], body: bytes) -> Message:
        state = self.state
        with state.lock:
            subscription = state.subscriptions.get(sid)
            gone = sid in state.gone
        if gone:
            raise Refused(410, "push subscription has expired or was unsubscribed")
        if subscription is None:
            raise Refused(404, "no such subscription")
        key = _check_vapid(headers.get("authorization", ""), state.origin, time.time())
        if subscription.application_server_key is not None and key != subscription.application_server_key:
            raise Refused(403, "k is not the applicationServerKey of this subscription")
        ttl_text = headers.get("ttl", "")
        if not ttl_text.isdigit():
            raise Refused(400, "TTL header missing or not a number of seconds")
        urgency = headers.get("urgency", "normal")
        if urgency not in _URGENCIES:
            raise Refused(400, f"Urgency must be one of {', '.join(_URGENCIES)}")
        topic = headers.get("topic")
        if topic is not None and not _TOPIC.match(topic):
            raise Refused(400, "Topic must be 1 to 32 characters of the base64url alphabet")
        if len(body) > MAX_BODY:
            raise Refused(413, f"payload over {MAX_BODY} bytes")
        if body:
            if headers.get("content-encoding", "").lower() != "aes128gcm":
                raise Refused(415, "Content-Encoding must be aes128gcm")
            _check_record(body)
        message = Message(
            id=secrets.token_urlsafe(12),
            subscription_id=sid,
            body=body,
            ttl=int(ttl_text),
            urgency=urgency,
            topic=topic,
            received_at=time.monotonic(),
            headers=headers,
        )
        if message.ttl == 0:
            return message  # RFC 8030 §5.2: the user agent is not there now, so it is dropped
        with state.lock:
            waiting = state.pending.setdefault(sid, [])
            if topic is not None:
                state.replaced.extend(m for m in waiting if m.topic == topic)
                waiting[:] = [m for m in waiting if m.topic != topic]
            waiting.append(message)
        return message


class PushService(ThreadedServer):
    """The push service on https://127.0.0.1:<port>; `client_ssl()` trusts its certificate."""

    def __init__(self) -> None:
        self.state = PushState()
        self._dir = Path(tempfile.mkdtemp(prefix="push-service-"))
        self.ca_pem = _certificates(self._dir)
        app = PushApp(self.state).app
        super().__init__(app, name="the push service")
        # The same app served over TLS: push endpoints are https:// (RFC 8030 §8).
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
            ssl_certfile=str(self._dir / "server.pem"),
            ssl_keyfile=str(self._dir / "server.key"),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.url = self.url.replace("http://", "https://")
        self.state.origin = self.url

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def client_ssl(self) -> ssl.SSLContext:
        """Verification on, trusting this service's CA only."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))

    def subscribe(self, application_server_key: str | bytes | None = None) -> BrowserSubscription:
        """What `PushManager.subscribe({applicationServerKey})` makes in a browser."""
        key = application_server_key
        if isinstance(key, str):
            key = b64url_decode(key)
        sid = secrets.token_urlsafe(24)
        subscription = BrowserSubscription(
            id=sid,
            endpoint=f"{self.url}/push/{sid}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=secrets.token_bytes(16),
            application_server_key=key,
        )
        with self.state.lock:
            self.state.subscriptions[sid] = subscription
        return subscription

    def gone(self, subscription: BrowserSubscription) -> None:
        """The browser unsubscribed: pushes get 410 Gone from now on."""
        with self.state.lock:
            self.state.gone.add(subscription.id)
            self.state.pending.pop(subscription.id, None)

    def pending(self, subscription: BrowserSubscription) -> list[Message]:
        with self.state.lock:
            return list(self.state.pending.get(subscription.id, []))

    def attempts(self, subscription: BrowserSubscription) -> list[Attempt]:
        with self.state.lock:
            return [a for a in self.state.attempts if a.subscription_id == subscription.id]

    def deliver(self, subscription: BrowserSubscription) -> list[Delivered]:
        """The user agent comes online: every waiting message within its TTL, decrypted."""
        now = time.monotonic()
        with self.state.lock:
            waiting = self.state.pending.pop(subscription.id, [])
        live = [m for m in waiting if now - m.received_at <= m.ttl]
        return [Delivered(m, subscription.decrypt(m.body)) for m in live]


def _certificates(folder: Path) -> bytes:
    """A test CA and a server certificate for 127.0.0.1 and localhost signed by it; returns
    the CA's PEM (what clients trust)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alertcast test push CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (folder / "server.key").chmod(0o600)
    return ca.public_bytes(serialization.Encoding.PEM)
