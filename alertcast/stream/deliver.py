"""Delivery agent: publishes each request on its channel, concurrently, and records the receipt."""

from __future__ import annotations

import logging
import time
from typing import Any

from alertcast.channels.base import Channel
from alertcast.channels.registry import build_channels
from alertcast.clock import clock
from alertcast.delivery.retry import PermanentError, RetryPolicy, TransientError
from alertcast.models.alert import DeliveryRequest, DeliveryStatus, Receipt
from alertcast.stream.app import app, dead, receipts, requests, settings

log = logging.getLogger(__name__)

channels: dict[str, Channel] = build_channels(settings)
retry = RetryPolicy()


@app.agent(requests, concurrency=settings.worker_concurrency)
async def deliver(stream: Any) -> None:
    async for raw in stream:
        request = DeliveryRequest.model_validate_json(raw)
        receipt = await publish(request)
        value = receipt.model_dump_json().encode()
        await receipts.send(key=request.delivery_key.encode(), value=value)
        if receipt.status is DeliveryStatus.DEAD:
            await dead.send(key=request.delivery_key.encode(), value=value)


async def publish(request: DeliveryRequest) -> Receipt:
    started = time.perf_counter()
    common = {
        "delivery_key": request.delivery_key,
        "alert_id": request.alert_id,
        "version": request.version,
        "channel": request.channel,
        "account": request.account,
    }
    channel = channels.get(request.channel)
    if channel is None:
        error = f"channel {request.channel!r} is not configured on this worker"
        return Receipt(**common, status=DeliveryStatus.DEAD, latency_ms=0, error=error, at=clock.now())
    try:
        result, attempts = await retry.run(lambda: channel.publish(request))
    except (TransientError, PermanentError) as failure:
        log.error("delivery %s dead: %s", request.delivery_key, failure)
        return Receipt(
            **common,
            status=DeliveryStatus.DEAD,
            attempts=retry.attempts if isinstance(failure, TransientError) else 1,
            latency_ms=(time.perf_counter() - started) * 1000,
            error=str(failure),
            at=clock.now(),
        )
    return Receipt(
        **common,
        status=DeliveryStatus.SENT,
        post_id=result.post_id,
        url=result.url,
        attempts=attempts,
        latency_ms=(time.perf_counter() - started) * 1000,
        at=clock.now(),
        details=result.details,
    )
