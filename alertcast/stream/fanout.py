"""Fan-out agent: one approval in, one delivery request per (channel, account) out, all at once."""

from __future__ import annotations

import asyncio
from typing import Any

from alertcast.models.alert import Approval, ChannelText, DeliveryRequest
from alertcast.stream.app import app, approved, requests
from alertcast.stream.deliver import channels


def text_for(approval: Approval, channel: str) -> ChannelText | None:
    """The channel's text in French if there is one, else the first rendered language."""
    texts = [text for text in approval.draft.texts if text.channel == channel]
    french = [text for text in texts if text.language.lower().startswith("fr")]
    chosen = french or texts
    return chosen[0] if chosen else None


@app.agent(approved)
async def fan_out(stream: Any) -> None:
    async for raw in stream:
        approval = Approval.model_validate_json(raw)
        draft = approval.draft
        sends = [
            requests.send(
                key=draft.incident_key.encode(),
                value=DeliveryRequest(
                    alert_id=draft.alert_id,
                    version=draft.version,
                    channel=name,
                    account=account,
                    incident=draft.incident,
                    text=text_for(approval, name),
                    approved_at=approval.approved_at,
                )
                .model_dump_json()
                .encode(),
            )
            for name, channel in channels.items()
            for account in channel.accounts()
        ]
        await asyncio.gather(*sends)
