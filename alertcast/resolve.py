"""`alertcast deliveries resolve`: a person's decision on a dead, unknown or paused delivery.

The worker owns the ledger, so the decision travels like any delivery: the original request is
found on `deliveries.requests` and produced again with the decision in its headers; the
delivery agent then posts it again, records it as posted at the link the person gives, or
drops it.
"""

from __future__ import annotations

import getpass

from alertcast.delivery.ledger import Resolution
from alertcast.errors import AlertcastError
from alertcast.models.alert import DeliveryRequest
from alertcast.settings import Settings
from alertcast.topic_reader import read_to_end

RESOLUTION_HEADER = "alertcast-resolution"
RESOLVED_BY_HEADER = "alertcast-resolved-by"
POST_URL_HEADER = "alertcast-post-url"


def resolution_headers(resolution: Resolution, by: str, url: str | None = None) -> list[tuple[str, bytes]]:
    """The headers the delivery agent reads (alertcast.stream.deliver.answer_in)."""
    headers = [(RESOLUTION_HEADER, resolution.value.encode()), (RESOLVED_BY_HEADER, by.encode())]
    if url:
        headers.append((POST_URL_HEADER, url.encode()))
    return headers


class NotFound(AlertcastError, LookupError):
    pass


def find_request(settings: Settings, delivery_key: str) -> DeliveryRequest:
    """The request with this delivery key, read from the start of `deliveries.requests`."""
    found: DeliveryRequest | None = None
    for record in read_to_end(settings, "deliveries.requests"):
        request = DeliveryRequest.model_validate_json(record.value)
        if request.delivery_key == delivery_key:
            found = request
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

    request = find_request(settings, delivery_key)
    headers = resolution_headers(resolution, by or getpass.getuser(), url)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap.split(","), acks="all", enable_idempotence=True
    )
    try:
        producer.send(
            settings.topic("deliveries.requests"),
            key=request.partition_key,  # today's key, whatever key the request was first sent with
            value=request.model_dump_json().encode(),
            headers=headers,
        ).get(timeout=30)
    finally:
        producer.close()
