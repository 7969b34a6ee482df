"""The sms channel's delivery receipts, written to deliveries.receipts as they come.

The gateway tells later, per segment, whether each handset got the SMS; the channel turns that
into the delivery's receipt again, with its numbers counted (alertcast.sms.handsets). This task
only carries those receipts to the topic, keyed by delivery like every receipt, so the console
and the KPIs read the latest one.
"""

from __future__ import annotations

from alertcast.channels.sms import SmsChannel
from alertcast.clock import clock
from alertcast.stream.app import app, produce, receipts


def connect(channel: SmsChannel) -> None:
    async def carry() -> None:
        async for receipt in channel.delivery_receipts(clock.now):
            await produce(receipts, receipt.delivery_key.encode(), receipt.model_dump_json().encode())

    app.task(carry)
