"""Generic webhook: the alert as JSON, POSTed to each configured URL (one account per URL).

Receivers can check where a request comes from and that it is fresh: when a secret is set,
`X-Alertcast-Signature: sha256=<hex>` is HMAC-SHA256 over `<timestamp>.<body>` with the
timestamp in `X-Alertcast-Timestamp` (reject old ones against replay).
`Idempotency-Key` is the delivery key: the same post retried carries the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from alertcast.channels.base import AccountHealth, PostResult
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.models.alert import DeliveryRequest


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def body_of(request: DeliveryRequest) -> bytes:
    payload = {
        "delivery_key": request.delivery_key,
        "alert_id": request.alert_id,
        "version": request.version,
        "msg_type": request.incident.msg_type.value,
        "status": request.incident.status.value,
        "text": request.text.text if request.text else None,
        "language": request.text.language if request.text else None,
        "incident": request.incident.model_dump(mode="json"),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class WebhookChannel:
    id = "webhook"

    def __init__(self, urls: list[str], client: httpx.AsyncClient, secret: str = "") -> None:
        self.urls = urls
        self.client = client
        self.secret = secret

    def accounts(self) -> list[str]:
        return [str(index) for index in range(len(self.urls))]

    async def publish(self, request: DeliveryRequest) -> PostResult:
        url = self.urls[int(request.account)]
        body = body_of(request)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": request.delivery_key,
            "X-Alertcast-Timestamp": timestamp,
        }
        if self.secret:
            headers["X-Alertcast-Signature"] = sign(self.secret, timestamp, body)
        try:
            response = await self.client.post(url, content=body, headers=headers)
        except httpx.TransportError as error:
            raise TransientError(f"{url}: {type(error).__name__}: {error}") from error
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After")
            raise TransientError(
                f"{url} answered {response.status_code}",
                float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        if response.status_code >= 400:
            raise PermanentError(f"{url} answered {response.status_code}: {response.text[:200]}")
        return PostResult(post_id=response.headers.get("Location"), url=url)

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """Receivers get every version as its own POST; `msg_type` says what it is."""
        return await self.publish(request)

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        return await self.publish(request)

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        """Nothing to look up: posting again is safe, the receiver drops a seen Idempotency-Key."""
        return None

    async def check(self, account: str) -> AccountHealth:
        url = self.urls[int(account)]
        try:
            response = await self.client.request("OPTIONS", url)
        except httpx.TransportError as error:
            return AccountHealth(channel=self.id, account=account, ok=False, problem=f"{url}: {error}")
        # Any answer but a gateway error means someone listens (many receivers refuse OPTIONS).
        reachable = response.status_code not in (502, 503, 504)
        return AccountHealth(
            channel=self.id,
            account=account,
            ok=reachable,
            can_post=None,
            problem=None if reachable else f"{url} answered {response.status_code}",
        )

    async def aclose(self) -> None:
        await self.client.aclose()
