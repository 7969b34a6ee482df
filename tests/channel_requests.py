"""The delivery request the channel adapter tests send: one builder for every network."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from alertcast.models.alert import ChannelText, DeliveryRequest
from alertcast.models.incident import Incident, MsgType, Status

SENT = datetime(2019, 3, 4, 7, 30, tzinfo=UTC)


def delivery_request(
    channel: str,
    text: str,
    version: int = 1,
    msg_type: MsgType = MsgType.ALERT,
    status: Status = Status.ACTUAL,
    account: str = "prefecture",
    alert_id: str | None = None,
    headline: str = "Vents violents à Arras",
) -> DeliveryRequest:
    """A storm warning (version 1 an Alert; later versions reference it) carrying `text`."""
    references = (
        [{"sender": "prefecture-62", "identifier": "storm-1"}] if msg_type is not MsgType.ALERT else []
    )
    incident = Incident.model_validate(
        {
            "identifier": f"storm-{version}",
            "sender": "prefecture-62",
            "sent": SENT,
            "status": status,
            "msg_type": msg_type,
            "references": references,
            "info": [{"category": "weather", "event": "Tempête", "headline": headline}],
        }
    )
    return DeliveryRequest(
        alert_id=alert_id or uuid.uuid4().hex[:16],
        version=version,
        channel=channel,
        account=account,
        incident=incident,
        text=ChannelText(channel=channel, language="fr", text=text, length=len(text)),
        approved_at=SENT,
    )
