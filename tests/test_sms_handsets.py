"""What the gateway's receipts say about each number of one SMS delivery (alertcast.sms.handsets)."""

from __future__ import annotations

from datetime import timedelta

from channel_requests import SENT, delivery_request

from alertcast.models.alert import DeliveryStatus
from alertcast.models.post import PostResult
from alertcast.sms.handsets import Sent
from alertcast.sms.smpp import STATES, DeliveryReceipt

A, B = "+33•••••5678", "+33•••••5432"


def sent() -> Sent:
    parts = [{"to": to, "segment": seq, "message_id": f"{to[-4:]}-{seq}"} for to in (A, B) for seq in (1, 2)]
    post = PostResult(post_id="5678-1", details={"parts": parts, "segments": 2})
    request = delivery_request("sms", "Vents violents").model_copy(update={"approved_at": SENT})
    return Sent(request, post)


def said(message_id: str, stat: str) -> DeliveryReceipt:
    return DeliveryReceipt(message_id=message_id, stat=stat, outcome=STATES[stat])


def test_a_number_has_it_once_every_segment_is_delivered() -> None:
    delivery = sent()
    assert delivery.record(said("5678-1", "DELIVRD")) is False  # one segment of two: still pending
    assert delivery.record(said("5678-2", "DELIVRD")) is True
    receipt = delivery.receipt(SENT + timedelta(seconds=4))
    assert receipt.status is DeliveryStatus.SENT and receipt.error is None
    assert receipt.details["handsets"] == {"delivered": 1, "failed": 0, "pending": 1}
    assert receipt.details["segments"] == 2 and receipt.post_id == "5678-1"  # the post's details kept
    assert receipt.latency_ms == 4000  # from approval
    assert not delivery.complete()


def test_one_failed_segment_means_the_number_never_gets_it_and_a_late_receipt_does_not_undo_it() -> None:
    delivery = sent()
    assert delivery.record(said("5432-2", "UNDELIV")) is True
    assert delivery.record(said("5432-1", "DELIVRD")) is False
    assert delivery.record(said("5432-2", "ENROUTE")) is False  # an intermediate after the final one
    assert delivery.numbers()[B].value == "failed"
    delivery.record(said("5678-1", "DELIVRD"))
    delivery.record(said("5678-2", "EXPIRED"))
    assert delivery.complete()
    receipt = delivery.receipt(SENT)
    assert receipt.error == f"2 of 2 numbers will not receive it: {A} (EXPIRED), {B} (UNDELIV)"
    assert receipt.details["handsets"] == {"delivered": 0, "failed": 2, "pending": 0}
