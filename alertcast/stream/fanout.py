"""Fan-out agent: one approval in, one delivery request per (channel, account) out, all at once.

Accounts are chosen by the routes (category, area; exercises only to exercise accounts). Each
request is keyed by its channel and account (`DeliveryRequest.partition_key`), so the worker
owning that partition alone paces the account and holds its circuit breaker. With the webpush
and email_subscribers channels, each subscription the version reaches is one more account
(matched once per version, alertcast.stream.subscriptions), keyed and paced by its lane (its
push service, or the subscribers' mail login: alertcast.subscriptions.lanes).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel

from alertcast.delivery.routing import Route, select_accounts
from alertcast.models.alert import Approval, ChannelText, DeliveryRequest, DeliveryStatus
from alertcast.stream import metrics, subscriptions
from alertcast.stream.app import app, approved, for_each_event, receipts, requests, settings
from alertcast.stream.deliver import channels, receipt_for
from alertcast.subscriptions.lanes import DELIVERED_BY

routes = [Route.model_validate(route) for route in settings.routes]


def text_for(approval: Approval, channel: str) -> ChannelText | None:
    """The channel's text in French if there is one, else the first rendered language."""
    texts = [text for text in approval.draft.texts if text.channel == channel]
    french = [text for text in texts if text.language.lower().startswith("fr")]
    chosen = french or texts
    return chosen[0] if chosen else None


def encoded(message: BaseModel) -> bytes:
    return message.model_dump_json().encode()


@app.agent(approved)
async def fan_out(stream: Any) -> None:
    await for_each_event(stream, fan_out_one)


async def fan_out_one(event: Any) -> None:
    approval = Approval.model_validate_json(event.value)
    draft = approval.draft
    accounts = {name: channel.accounts() for name, channel in channels.items()}
    chosen = select_accounts(draft.incident, accounts, routes)
    lanes: dict[tuple[str, str], str] = {}
    if any(name in channels for name in DELIVERED_BY.values()):
        for to in await subscriptions.matched(draft.incident):
            if to.channel in channels:
                chosen.append((to.channel, to.subscription_id))
                lanes[to.channel, to.subscription_id] = to.lane
    sends = []
    for name, account in chosen:
        text = text_for(approval, name)
        request = DeliveryRequest(
            alert_id=draft.alert_id,
            version=draft.version,
            channel=name,
            account=account,
            incident=draft.incident,
            text=text,
            approved_at=approval.approved_at,
            lane=lanes.get((name, account), ""),
        )
        if text is not None and text.blocked:
            # Visible, not silent: the channel's receipt says why nothing was posted.
            skipped = receipt_for(request, DeliveryStatus.SKIPPED, time.perf_counter(), error=text.reason)
            sends.append(receipts.send(key=request.delivery_key.encode(), value=encoded(skipped)))
            metrics.fanned_out(name, "skipped")
        else:
            sends.append(requests.send(key=request.partition_key, value=encoded(request)))
            metrics.fanned_out(name, "requested")
    await asyncio.gather(*sends)
