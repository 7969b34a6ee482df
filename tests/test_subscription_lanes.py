"""Where a subscription's alerts are sent, and the lane they are paced and keyed by."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from alertcast.models.alert import delivery_partition_key
from alertcast.subscriptions.lanes import MAIL_LANE, Addressed, addressed
from alertcast.subscriptions.model import Subscription, create

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
KEYS = {
    "p256dh": base64.urlsafe_b64encode(b"\x04" + bytes(64)).decode().rstrip("="),
    "auth": base64.urlsafe_b64encode(bytes(16)).decode().rstrip("="),
}


def made(**fields: object) -> Subscription:
    subscription = create(areas=["62041"], now=NOW, **fields)  # type: ignore[arg-type]
    assert isinstance(subscription, Subscription), subscription
    return subscription


def test_push_subscribers_of_one_service_share_its_lane_and_so_one_partition_key() -> None:
    a = made(channel="webpush", push={"endpoint": "https://fcm.googleapis.com/fcm/send/abc", **KEYS})
    b = made(channel="webpush", push={"endpoint": "https://fcm.googleapis.com/fcm/send/xyz", **KEYS})
    c = made(
        channel="webpush", push={"endpoint": "https://updates.push.services.mozilla.com/wpush/v2/q", **KEYS}
    )
    assert addressed(a) == Addressed("webpush", a.id, "https://fcm.googleapis.com")
    assert addressed(b) is not None and addressed(b).lane == addressed(a).lane  # type: ignore[union-attr]
    assert addressed(c) == Addressed("webpush", c.id, "https://updates.push.services.mozilla.com")
    assert (
        delivery_partition_key("webpush", "https://fcm.googleapis.com")
        == b"webpush:https://fcm.googleapis.com"
    )


def test_immediate_mail_goes_to_email_subscribers_on_the_mail_lane_and_digests_and_feeds_are_not_sent() -> (
    None
):
    mail = made(channel="email", email="claire@exemple.fr")
    assert addressed(mail) == Addressed("email_subscribers", mail.id, MAIL_LANE)
    assert addressed(made(channel="email", email="claire@exemple.fr", digest="daily")) is None
    assert addressed(made(channel="feed")) is None
