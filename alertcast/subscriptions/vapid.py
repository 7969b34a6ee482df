"""VAPID (RFC 8292): how a push service knows a push comes from whoever holds the key a
browser subscribed with.

The subscribe page hands the public key to `PushManager.subscribe({applicationServerKey})`;
the browser's push service then binds the subscription to that key and refuses (403) any
push not signed by its private half. So the key pair is made once and kept: a new key ends
every existing push subscription. That is why `generate_key_file` never overwrites a file.

The private key is a secret like the others (`ALERTCAST_VAPID_PRIVATE_KEY`, or better
`ALERTCAST_VAPID_PRIVATE_KEY_FILE`, a secret mount): read at start, never logged, never in
an exception message, never in a repr. Messages say where the key comes from, not what it is.

Each push carries `Authorization: vapid t=<JWT>, k=<public key>`: an ES256 JWT whose claims
are `aud` (the origin of the push endpoint), `exp` (at most 24 h ahead, RFC 8292 §2; we sign
for 12 h so a push service whose clock is ahead still accepts it) and `sub` (a `mailto:` or
`https:` contact the push service's operator can reach us at).

Command line: `alertcast vapid new FILE` makes the key file (0600)
and prints the applicationServerKey; `... public` prints it for the configured key.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import stat
import time
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid.jwt import sign as _sign_jwt  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field

from alertcast.errors import ConfigurationError
from alertcast.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: RFC 8292 §2: "exp" MUST NOT be more than 24 hours from the time of the request.
MAX_TOKEN_LIFETIME_S = 24 * 3600
#: What we sign for: half the maximum leaves room for a push service's clock running ahead.
TOKEN_LIFETIME_S = 12 * 3600

# mailto: with an address, or an https: URL with a host (what push services' operators accept).
_SUBJECT = re.compile(
    r"^(mailto:[^@\s/]+@[^@\s/]+\.[^@\s/]+|https://[^/\s:@]+(:\d+)?(/\S*)?)$", re.IGNORECASE
)


class VapidError(ConfigurationError, ValueError):
    """The VAPID key or contact an operator configured is missing or unusable."""


class VapidClaims(BaseModel):
    """The JWT claims of one VAPID token (RFC 8292 §2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aud: str = Field(description="origin of the push resource: scheme://host[:port]")
    exp: int = Field(description="Unix seconds; at most 24 h after the request")
    sub: str = Field(description="mailto: or https: contact of the application server's operator")


def b64url(data: bytes) -> str:
    """Unpadded base64url, as Web Push writes keys and JWTs."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Padded or not; raises ValueError on anything that is not base64url."""
    data = text.strip().rstrip("=")
    if not re.fullmatch(r"[A-Za-z0-9_-]*", data):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except binascii.Error:
        raise ValueError("not base64url") from None


def origin(endpoint: str) -> str:
    """The ASCII serialisation of an endpoint's origin (RFC 6454): the VAPID `aud`. The
    default port is left out, as a browser and a push service write the origin."""
    parts = urlsplit(endpoint)
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("https", "http") or not host:
        raise ValueError("a push endpoint is an https:// URL with a host")
    port = parts.port
    shown = f"[{host}]" if ":" in host else host
    default = {"https": 443, "http": 80}[scheme]
    return f"{scheme}://{shown}" + (f":{port}" if port is not None and port != default else "")


def check_subject(subject: str) -> str:
    """The `sub` claim: push services refuse a token without a way to reach its sender."""
    subject = subject.strip()
    if not _SUBJECT.match(subject):
        raise VapidError(
            "ALERTCAST_VAPID_SUBJECT must be a contact push services can reach: "
            "mailto:someone@example.org or https://example.org/contact"
        )
    return subject


class VapidKey:
    """A P-256 key pair. The private half stays inside: no attribute, repr or message shows it."""

    __slots__ = ("_private", "_public")

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise VapidError("a VAPID key is a P-256 (secp256r1) key")
        self._private = private_key
        self._public = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @classmethod
    def generate(cls) -> VapidKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_text(cls, text: str | bytes, where: str) -> VapidKey:
        """A PEM key (what `generate_key_file` writes), or the raw 32-byte private key in
        base64url (what `web-push generate-vapid-keys` and most guides print), or a DER key in
        base64url (py-vapid's other form). `where` names the source for the error message,
        which never quotes the text."""
        raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        raw = raw.strip()
        try:
            if raw.startswith("-----BEGIN"):
                key = serialization.load_pem_private_key(raw.encode(), password=None)
            else:
                data = b64url_decode("".join(raw.split()))
                if len(data) == 32:
                    key = ec.derive_private_key(int.from_bytes(data, "big"), ec.SECP256R1())
                else:
                    key = serialization.load_der_private_key(data, password=None)
        except (ValueError, TypeError):
            # `from None`: the parser's own message could quote part of what it was given.
            raise VapidError(
                f"the VAPID key in {where} is not a P-256 private key (PEM, or the 32-byte key in base64url)"
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise VapidError(f"the VAPID key in {where} is not an elliptic-curve (P-256) key")
        return cls(key)

    @property
    def public_key(self) -> bytes:
        """The uncompressed P-256 point (65 bytes, 0x04 first)."""
        return self._public

    @property
    def application_server_key(self) -> str:
        """What the subscribe page passes to `PushManager.subscribe` (base64url, unpadded),
        and the `k=` of every push's Authorization header."""
        return b64url(self._public)

    def private_pem(self) -> bytes:
        """PKCS#8 PEM: only for writing the key file."""
        return self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def claims(self, endpoint: str, subject: str, now: float | None = None) -> VapidClaims:
        """The claims for a push to `endpoint`. `now` is Unix seconds of the wall clock,
        not alertcast's replaceable clock: the token is judged by the push service's own
        clock, whatever date a test sets for the alerts."""
        issued = int(time.time() if now is None else now)
        return VapidClaims(aud=origin(endpoint), exp=issued + TOKEN_LIFETIME_S, sub=check_subject(subject))

    def token(self, claims: VapidClaims) -> str:
        """The ES256 JWT (py-vapid signs: JOSE header, sorted claims, raw r||s signature)."""
        return str(_sign_jwt(claims.model_dump(), self._private))

    def authorization(self, endpoint: str, subject: str, now: float | None = None) -> str:
        """The `Authorization` header value of RFC 8292 §3."""
        token = self.token(self.claims(endpoint, subject, now))
        return f"vapid t={token}, k={self.application_server_key}"

    def __repr__(self) -> str:
        return f"VapidKey(public={self.application_server_key})"

    def __reduce__(self) -> NoReturn:
        # Pickling would carry the private key into wherever the pickle goes (a cache, a log).
        raise TypeError("a VapidKey is not pickled: load it from its file or variable")


def generate_key_file(path: Path) -> VapidKey:
    """Make a key pair and write its private key to `path` as PEM, mode 0600, never
    replacing an existing file (a new key would end every push subscription)."""
    key = VapidKey.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise VapidError(
            f"{path} exists: a new VAPID key would end every push subscription; "
            "remove the file first if that is what you want"
        ) from None
    except OSError as error:
        raise VapidError(f"cannot create {path}: {error.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # the mode of os.open is filtered by the umask; this is not
        os.write(fd, key.private_pem())
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info("VAPID key written to %s (mode 0600); public key %s", path, key.application_server_key)
    return key


def load_key(settings: Settings | None = None) -> VapidKey:
    """The configured key: `ALERTCAST_VAPID_PRIVATE_KEY` or `ALERTCAST_VAPID_PRIVATE_KEY_FILE`
    (exactly one: two sources could hold two keys, and the wrong one ends every subscription)."""
    settings = settings or get_settings()
    value = settings.vapid_private_key.get_secret_value().strip()
    path = settings.vapid_private_key_file
    if value and path is not None:
        raise VapidError("give ALERTCAST_VAPID_PRIVATE_KEY or ALERTCAST_VAPID_PRIVATE_KEY_FILE, not both")
    if value:
        return VapidKey.from_text(value, "ALERTCAST_VAPID_PRIVATE_KEY")
    if path is None:
        raise VapidError(
            "no VAPID key: make one with `alertcast vapid new FILE` "
            "and set ALERTCAST_VAPID_PRIVATE_KEY_FILE to it"
        )
    return load_key_file(path)


def load_key_file(path: Path) -> VapidKey:
    try:
        mode = path.stat().st_mode
        text = path.read_bytes()
    except OSError as error:
        raise VapidError(f"cannot read the VAPID key from file {path}: {error.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the VAPID key file %s can be read by others (mode %o): chmod 600 it", path, mode & 0o777)
    return VapidKey.from_text(text, f"file {path}")
