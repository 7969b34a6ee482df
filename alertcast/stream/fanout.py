"""The fan-out: one approval's delivery requests, one per (channel, account), sent all at once.

The approval agent sends them with the approval itself (`alertcast.stream.approval._apply`),
durably and before writing its state: a hop of its own (an agent reading `alerts.approved`)
cost one more consume, one more parse of the whole draft and one more acknowledgement per
alert, for no decision of its own; a replayed approval sends the requests again, and the
delivery ledger posts once.

Accounts are chosen by the routes (category, area; exercises only to exercise accounts). Each
request is keyed by its channel and account (`DeliveryRequest.partition_key`), so the worker
owning that partition alone paces the account and holds its circuit breaker. With the webpush
and email_subscribers channels, each subscription the version reaches is one more account
(matched once per version, alertcast.stream.subscriptions), keyed and paced by its lane (its
push service, or the subscribers' mail login: alertcast.subscriptions.lanes).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from alertcast.delivery.routing import Route, select_accounts
from alertcast.models.alert import Approval, ChannelText, DeliveryRequest, DeliveryStatus
from alertcast.stream import metrics, subscriptions
from alertcast.stream.app import receipts, requests, settings
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


async def messages(approval: Approval) -> list[tuple[Any, bytes, bytes]]:
    """(topic, key, value) for each chosen account: its delivery request, or the receipt
    saying why nothing is posted when its text is blocked (visible, not silent)."""
    draft = approval.draft
    accounts = {name: channel.accounts() for name, channel in channels.items()}
    chosen = [(name, account, "") for name, account in select_accounts(draft.incident, accounts, routes)]
    if any(name in channels for name in DELIVERED_BY.values()):
        for to in await subscriptions.matched(draft.incident):
            if to.channel in channels:
                chosen.append((to.channel, to.subscription_id, to.lane))
    out: list[tuple[Any, bytes, bytes]] = []
    for name, account, lane in chosen:
        text = text_for(approval, name)
        request = DeliveryRequest(
            alert_id=draft.alert_id,
            version=draft.version,
            channel=name,
            account=account,
            incident=draft.incident,
            text=text,
            approved_at=approval.approved_at,
            lane=lane,
        )
        if text is not None and text.blocked:
            skipped = receipt_for(request, DeliveryStatus.SKIPPED, time.perf_counter(), error=text.reason)
            out.append((receipts, request.delivery_key.encode(), encoded(skipped)))
            metrics.fanned_out(name, "skipped")
        else:
            out.append((requests, request.partition_key, encoded(request)))
            metrics.fanned_out(name, "requested")
    return out
