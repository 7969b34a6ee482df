"""One Web Push message to one subscription, by the standards: RFC 8030 (the push itself),
RFC 8291 (the payload encrypted `aes128gcm` to the browser's keys) and RFC 8292 (VAPID).

The push service stores the message until the browser comes online (at most `TTL` seconds)
and never sees the text: it is encrypted to the subscription's P-256 key and auth secret.
pywebpush does the encryption (`WebPusher.encode`); the POST goes through our one httpx
client (`alertcast.http.make_client`), not pywebpush's requests or aiohttp, so timeouts, the
User-Agent and the retry policy are the same as every other channel's.

Headers, from the alert:
- `TTL`: seconds until the alert expires (latest `expires` of its infos), at most 4 weeks
  (FCM's own limit; others cut longer ones anyway); a day when the alert gives no expiry.
  An alert already expired is not sent at all: a notification about something over is noise.
- `Urgency` (RFC 8030 §5.3), which decides whether a device on battery is woken: CAP
  Immediate → high, Expected → normal, Future → low, Past → very-low (no action is needed any
  more: it may wait for the device to wake anyway). Unknown → normal, the push service's own
  default when the header is absent, since not knowing is no reason to delay a public alert;
  high when the severity is Severe or Extreme (a severe alert of unknown urgency wakes).
- `Topic` (RFC 8030 §5.4): 32 base64url characters from SHA-256 of the alert id, the same
  for every version of an alert, so an Update or a Cancel replaces a version the push service
  still holds (the phone was off) instead of queuing behind it.

Answers: 201/202 sent; 404/410 the subscription is gone (`SubscriptionGone`: the caller ends
it); 413 too large and other 4xx are `PermanentError`; 429 and 5xx `TransientError` with the
`Retry-After` asked for. A timeout is `TransientError` too, even once the request has left: a
repeated push carries the same Topic, so it replaces the first while that one is pending, and
the service worker shows notifications tagged by alert id, so a repeat delivered after the
first replaces it on screen instead of adding a second one. Nothing is lost by retrying.

The endpoint is personal data and a capability (whoever knows it can push to that browser):
messages and logs show only its origin (`shown_url`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field
from pywebpush import WebPusher  # type: ignore[import-untyped]

from alertcast.channels.account import seconds_until, shown_url
from alertcast.clock import clock
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.models.alert import DeliveryRequest
from alertcast.models.incident import SEVERITY_RANK, Incident, MsgType, Severity, Status, Urgency
from alertcast.render.compose import END_LABELS, EXERCISE_LABELS
from alertcast.subscriptions.model import PushEndpoint
from alertcast.subscriptions.vapid import VapidKey

log = logging.getLogger(__name__)

PushUrgency = Literal["very-low", "low", "normal", "high"]

MAX_TTL_S = 28 * 24 * 3600  # 2,419,200 s: FCM's maximum
DEFAULT_TTL_S = 24 * 3600  # an alert without expiry: a day, then the site tells the rest
TOPIC_LENGTH = 32
#: RFC 8030 §7.2: a push service accepts at least 4096 bytes of body. aes128gcm adds a header
#: (16 salt + 4 record size + 1 + 65 key id), a 16-byte tag and a 1-byte delimiter (RFC 8291).
MAX_BODY_BYTES = 4096
ENCRYPTION_OVERHEAD = 16 + 4 + 1 + 65 + 16 + 1
MAX_PAYLOAD_BYTES = MAX_BODY_BYTES - ENCRYPTION_OVERHEAD  # 3993

_URGENCY: dict[Urgency, PushUrgency] = {
    Urgency.IMMEDIATE: "high",
    Urgency.EXPECTED: "normal",
    Urgency.FUTURE: "low",
    Urgency.PAST: "very-low",
    Urgency.UNKNOWN: "normal",
}
_URGENCY_RANK: dict[PushUrgency, int] = {"very-low": 0, "low": 1, "normal": 2, "high": 3}


class SubscriptionGone(PermanentError):
    """The push service says the subscription no longer exists (404/410): the browser
    unsubscribed or the push service expired it. Never retried; the caller ends the
    subscription (`EndReason.ENDPOINT_GONE`)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class PushPayload(BaseModel):
    """The JSON the service worker receives (camelCase, as JavaScript reads it). Small on
    purpose: it must fit one record under 4 KB; the page at `url` has the rest. The service
    worker shows it with `tag: alertId`, so a later version replaces an earlier one on screen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    title: str
    body: str
    url: str | None = None
    alert_id: str = Field(alias="alertId")
    version: int = Field(ge=1)
    msg_type: MsgType = Field(alias="msgType")
    lang: str = Field(default="fr", description="the text's language, for screen readers")

    def encoded(self) -> bytes:
        data = self.model_dump(mode="json", by_alias=True)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    def fitted(self, limit: int = MAX_PAYLOAD_BYTES) -> PushPayload:
        """The payload with its body shortened (ending in "…") so the JSON fits `limit`
        bytes; a push service answers 413 to a larger one, and nothing arrives at all."""
        if len(self.encoded()) <= limit:
            return self
        low, high = 0, len(self.body)
        while low < high:  # the longest body prefix that fits
            middle = (low + high + 1) // 2
            if len(self._with_body(middle).encoded()) <= limit:
                low = middle
            else:
                high = middle - 1
        fitted = self._with_body(low)
        if len(fitted.encoded()) > limit:
            raise PermanentError(f"the push payload of {self.alert_id} cannot fit {limit} bytes")
        return fitted

    def _with_body(self, length: int) -> PushPayload:
        return self.model_copy(update={"body": self.body[:length].rstrip() + "…"})

    @classmethod
    def for_request(cls, request: DeliveryRequest, url: str | None = None) -> PushPayload:
        """Title: the headline (labelled EXERCICE, FIN D'ALERTE as every channel labels them);
        body: the text compose rendered, else the description, else the event."""
        text = request.text
        if text is not None and text.blocked:
            raise PermanentError(f"{request.delivery_key}: the text is blocked: {text.reason}")
        language = (text.language if text else "fr").split("-")[0].lower()
        language = language if language in END_LABELS else "fr"
        incident = request.incident
        info = incident.info_for(language) or incident.main_info
        title = info.headline if info else ""
        if incident.msg_type is MsgType.CANCEL:
            title = END_LABELS[language] + (f" – {title}" if title else "")
        if incident.status in (Status.EXERCISE, Status.TEST):
            title = f"{EXERCISE_LABELS[language]} – {title}"
        body = text.text if text is not None else ""
        if not body.strip() and info is not None:
            body = info.description or info.event
        return cls(
            title=title,
            body=body.strip(),
            url=url,
            alert_id=request.alert_id,
            version=request.version,
            msg_type=incident.msg_type,
            lang=language,
        ).fitted()


class PushHeaders(BaseModel):
    """The RFC 8030 headers of one push."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttl: int = Field(ge=0, le=MAX_TTL_S, description="seconds the push service keeps it")
    urgency: PushUrgency
    topic: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="replaces a pending push")

    def as_http(self) -> dict[str, str]:
        return {"TTL": str(self.ttl), "Urgency": self.urgency, "Topic": self.topic}


class PushResult(BaseModel):
    """What happened to one push."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["sent", "skipped"]
    headers: PushHeaders
    status_code: int | None = Field(default=None, description="the push service's answer")
    location: str | None = Field(default=None, description="the push message resource (RFC 8030 §5)")
    ttl_accepted: int | None = Field(default=None, description="the TTL the push service says it keeps")
    reason: str = ""


def topic_for(alert_id: str) -> str:
    """The first 24 bytes of SHA-256(alert id) in base64url: 32 characters, no padding, the
    same for every version of an alert and unrelated across alerts."""
    digest = hashlib.sha256(alert_id.encode()).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def ttl_for(incident: Incident, now: datetime) -> int:
    """Seconds until the alert expires, within [0, MAX_TTL_S]; DEFAULT_TTL_S without expiry."""
    expiries = [info.expires for info in incident.info if info.expires is not None]
    if not expiries:
        return DEFAULT_TTL_S
    seconds = int((max(expiries) - now).total_seconds())
    return max(0, min(seconds, MAX_TTL_S))


def urgency_for(incident: Incident) -> PushUrgency:
    """The most urgent of the alert's infos (they are one alert in several languages)."""
    best: PushUrgency = "normal" if not incident.info else "very-low"
    for info in incident.info:
        urgency = _URGENCY[info.urgency]
        if info.urgency is Urgency.UNKNOWN and SEVERITY_RANK[info.severity] >= SEVERITY_RANK[Severity.SEVERE]:
            urgency = "high"
        if _URGENCY_RANK[urgency] > _URGENCY_RANK[best]:
            best = urgency
    return best


def headers_for(incident: Incident, alert_id: str, now: datetime | None = None) -> PushHeaders:
    now = now or clock.now()
    return PushHeaders(ttl=ttl_for(incident, now), urgency=urgency_for(incident), topic=topic_for(alert_id))


def encrypt(push: PushEndpoint, plaintext: bytes) -> bytes:
    """RFC 8291 aes128gcm: a fresh ephemeral key and salt each time, one record."""
    pusher = WebPusher({"endpoint": push.endpoint, "keys": {"p256dh": push.p256dh, "auth": push.auth}})
    try:
        body = pusher.encode(plaintext, content_encoding="aes128gcm")["body"]
    except ValueError:
        # pywebpush checks only the key's length; a 65-byte key off the curve fails here.
        raise PermanentError(
            f"the push subscription at {shown_url(push.endpoint)} has a p256dh key that is no P-256 point"
        ) from None
    return bytes(body)


async def send(
    client: httpx.AsyncClient,
    push: PushEndpoint,
    payload: PushPayload,
    headers: PushHeaders,
    vapid: VapidKey,
    subject: str,
) -> PushResult:
    """POST one encrypted push. Raises `SubscriptionGone`, `PermanentError`, `TransientError`."""
    body = encrypt(push, payload.encoded())
    request_headers = {
        **headers.as_http(),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "Authorization": vapid.authorization(push.endpoint, subject),
    }
    where = shown_url(push.endpoint)
    try:
        with _HIDDEN.hiding(push.endpoint):
            response = await client.post(push.endpoint, content=body, headers=request_headers)
    except (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ConnectError) as error:
        raise TransientError(f"push service {where} not reached: {type(error).__name__}") from None
    except httpx.TimeoutException as error:
        # The request may have been stored: a repeat has the same Topic (see the docstring).
        raise TransientError(f"push service {where} did not answer in time: {type(error).__name__}") from None
    except httpx.TransportError as error:
        raise TransientError(f"push service {where} failed: {type(error).__name__}") from None
    return _outcome(response, where, headers)


async def push_alert(
    client: httpx.AsyncClient,
    push: PushEndpoint,
    request: DeliveryRequest,
    vapid: VapidKey,
    subject: str,
    url: str | None = None,
    now: datetime | None = None,
) -> PushResult:
    """One alert version to one subscriber; nothing sent when the alert has already expired."""
    headers = headers_for(request.incident, request.alert_id, now)
    if headers.ttl == 0:
        log.info("push of %s skipped: the alert has expired", request.delivery_key)
        return PushResult(status="skipped", headers=headers, reason="the alert has expired")
    return await send(client, push, PushPayload.for_request(request, url), headers, vapid, subject)


class _HideEndpoints(logging.Filter):
    """httpx logs every request's URL at INFO; a push endpoint is a subscriber's personal data
    and lets anyone push to that browser. While a push is in flight its endpoint is shown in
    httpx's records as its origin only. Only the endpoints in flight are kept (as many as
    pushes run at once), unlike `channels.account.hide_url`, which remembers for good."""

    def __init__(self) -> None:
        super().__init__()
        self._in_flight: dict[str, int] = {}
        self._installed = False

    @contextlib.contextmanager
    def hiding(self, endpoint: str) -> Iterator[None]:
        if not self._installed:
            logging.getLogger("httpx").addFilter(self)
            self._installed = True
        forms = {endpoint, str(httpx.URL(endpoint))}  # as given, and as httpx writes it
        for form in forms:
            self._in_flight[form] = self._in_flight.get(form, 0) + 1
        try:
            yield
        finally:
            for form in forms:
                left = self._in_flight.pop(form, 1) - 1
                if left > 0:
                    self._in_flight[form] = left

    def filter(self, record: logging.LogRecord) -> bool:
        if self._in_flight:
            message = record.getMessage()
            cleaned = message
            for endpoint in list(self._in_flight):
                if endpoint in cleaned:
                    cleaned = cleaned.replace(endpoint, shown_url(endpoint))
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        return True


_HIDDEN = _HideEndpoints()


def _outcome(response: httpx.Response, where: str, headers: PushHeaders) -> PushResult:
    status = response.status_code
    if 200 <= status < 300:  # 201 Created, or 202 Accepted when a receipt was asked for
        accepted = response.headers.get("TTL", "")
        return PushResult(
            status="sent",
            headers=headers,
            status_code=status,
            location=response.headers.get("Location"),
            ttl_accepted=int(accepted) if accepted.isdigit() else None,
        )
    said = f"push service {where} answered {status}{_reason(response)}"
    if status in (404, 410):
        raise SubscriptionGone(f"{said}: the subscription is gone", status)
    if status == 429 or status >= 500:
        retry_after = seconds_until(response.headers.get("Retry-After", ""), datetime.now(UTC))
        raise TransientError(said, retry_after=retry_after)
    if status == 413:
        raise PermanentError(f"{said}: the payload is too large")
    if status == 401:
        raise PermanentError(f"{said}: the push service refused our VAPID token")
    if status == 403:
        # RFC 8292 §4.2: the subscription is bound to another applicationServerKey. Not "gone":
        # a replaced key in the settings would otherwise end every subscription at once.
        raise PermanentError(f"{said}: this subscription was made with another VAPID key")
    raise PermanentError(said)


def _reason(response: httpx.Response) -> str:
    """A short reason from the answer (autopush and FCM answer JSON with a message), without
    echoing the endpoint's path, which is the subscription's secret."""
    text = response.text.strip()
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            text = str(data.get("message") or data.get("error") or text)
    except ValueError:
        pass
    try:
        path = response.request.url.path
    except RuntimeError:  # a response built without its request
        path = ""
    if path and path != "/":
        text = text.replace(path, "/<redacted>")
    text = " ".join(text.split())[:200]
    return f": {text}" if text else ""


__all__ = [
    "DEFAULT_TTL_S",
    "MAX_PAYLOAD_BYTES",
    "MAX_TTL_S",
    "PushHeaders",
    "PushPayload",
    "PushResult",
    "SubscriptionGone",
    "encrypt",
    "headers_for",
    "push_alert",
    "send",
    "topic_for",
    "ttl_for",
    "urgency_for",
]
