"""`alertcast deliveries resolve`: a person's decision on a dead or unknown delivery.

The worker owns the ledger, so the decision travels like any delivery: the original request is
found on `deliveries.requests` and produced again with the decision in its headers; the
delivery agent then posts it again, or records it as posted at the link the person gives.
"""

from __future__ import annotations

import getpass
import time

from alertcast.delivery.ledger import Resolution
from alertcast.models.alert import DeliveryRequest
from alertcast.settings import Settings

RESOLUTION_HEADER = "alertcast-resolution"
RESOLVED_BY_HEADER = "alertcast-resolved-by"
POST_URL_HEADER = "alertcast-post-url"


def resolution_headers(resolution: Resolution, by: str, url: str | None = None) -> list[tuple[str, bytes]]:
    """The headers the delivery agent reads (alertcast.stream.deliver.answer_in)."""
    headers = [(RESOLUTION_HEADER, resolution.value.encode()), (RESOLVED_BY_HEADER, by.encode())]
    if url:
        headers.append((POST_URL_HEADER, url.encode()))
    return headers


class NotFound(LookupError):
    pass


def find_request(
    settings: Settings, delivery_key: str, timeout_s: float = 10.0
) -> tuple[bytes, DeliveryRequest]:
    """The request with this delivery key, read from the start of `deliveries.requests`."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.topic("deliveries.requests"),
        bootstrap_servers=settings.bootstrap.split(","),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=1000,
    )
    found: tuple[bytes, DeliveryRequest] | None = None
    deadline = time.monotonic() + timeout_s
    try:
        while found is None and time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=500)
            if (
                not batches
                and consumer.assignment()
                and all(
                    consumer.position(tp) >= end
                    for tp, end in consumer.end_offsets(list(consumer.assignment())).items()
                )
            ):
                break  # read to the end: it is not there
            for records in batches.values():
                for record in records:
                    request = DeliveryRequest.model_validate_json(record.value)
                    if request.delivery_key == delivery_key:
                        found = (record.key, request)
    finally:
        consumer.close()
    if found is None:
        raise NotFound(
            f"no delivery {delivery_key!r} on {settings.topic('deliveries.requests')}; "
            "the key is alert:version:channel:account, as in the receipts"
        )
    return found


def resolve(
    settings: Settings, delivery_key: str, resolution: Resolution, url: str | None, by: str | None
) -> None:
    from kafka import KafkaProducer

    key, request = find_request(settings, delivery_key)
    headers = resolution_headers(resolution, by or getpass.getuser(), url)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap.split(","), acks="all", enable_idempotence=True
    )
    try:
        producer.send(
            settings.topic("deliveries.requests"),
            key=key,
            value=request.model_dump_json().encode(),
            headers=headers,
        ).get(timeout=30)
    finally:
        producer.close()
