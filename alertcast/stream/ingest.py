"""Ingest agent: raw submissions in, versioned incidents, their drafts and where each draft
stands (approved at once, or waiting: alertcast.stream.approval), or rejections with reasons, out."""

from __future__ import annotations

import logging
import time
from typing import Any

from alertcast.clock import clock
from alertcast.i18n import N_
from alertcast.ingest.detect import parse_document
from alertcast.models.alert import AcceptedIncident, Rejection
from alertcast.models.incident import Incident, Info
from alertcast.models.problem import Problem
from alertcast.stream import approval, compose, metrics
from alertcast.stream.app import (
    accepted,
    app,
    drafted,
    for_each_event,
    partition_of,
    produce,
    rejected,
    send_durably,
    settings,
    submitted,
    versions,
)

log = logging.getLogger(__name__)

SOURCE_HEADER = "alertcast-source"
CONTENT_TYPE_HEADER = "content-type"


def header(event: Any, name: str, default: str) -> str:
    value = (event.headers or {}).get(name)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else default


@app.agent(submitted, concurrency=settings.worker_concurrency)
async def ingest(stream: Any) -> None:
    await for_each_event(stream, ingest_one)


async def ingest_one(event: Any) -> None:
    """Several submissions at once, one incident's in order, and in order with the decisions
    about it (the lock is the approval's): each waits for the brokers to hold its output before
    its state is written (send_durably)."""
    key = (event.key or b"").decode("utf-8", "replace")
    async with approval.incidents.hold(key):  # before any wait: see alertcast.stream.keyed
        await ingest_in_order(event)


async def ingest_in_order(event: Any) -> None:
    raw: bytes = event.value or b""
    source = header(event, SOURCE_HEADER, "kafka")
    started = time.perf_counter()
    try:
        await handle(event, raw, source)
    except Exception as error:  # a bug must not lose the input nor stop the agent
        log.exception("ingest failed on a submission from %s", source)
        problem = Problem.said(
            "",
            "internal_error",
            N_("alertcast could not process this input: %(error)s"),
            N_("report it to the alertcast operators with this rejection; the input is kept"),
            value=type(error).__name__,
            error=str(error),
        )
        await reject(event.key, raw, source, [problem])
    metrics.INGEST_SECONDS.observe(time.perf_counter() - started)


async def reject(key: bytes | None, raw: bytes, source: str, problems: list[Problem]) -> None:
    rejection = Rejection.of(raw, source, clock.now(), problems)
    await produce(rejected, key, rejection.model_dump_json().encode())
    metrics.rejected(source, (problem.rule for problem in problems))
    log.info("rejected a submission from %s: %d problem(s)", source, len(problems))


async def handle(event: Any, raw: bytes, source: str) -> None:
    key = event.key.decode("utf-8", "replace") if event.key else None
    result = parse_document(raw, header(event, CONTENT_TYPE_HEADER, "") or None, source=source)
    if result.problems or not result.incidents:
        # A feed may hold good and bad items: the bad ones are rejected, the good ones go on.
        await reject(event.key, raw, source, result.problems)
    for incident in result.incidents:
        if incident.key != key or not on_its_partition(event):
            # Keyed wrongly (or a document holding several incidents), or placed by another
            # partitioner: re-submit each under its own key, so all versions of one incident
            # meet on one partition and table, the partition its decisions are on.
            await produce(
                submitted,
                incident.key.encode(),
                incident.model_dump_json().encode(),
                headers={SOURCE_HEADER: source.encode(), CONTENT_TYPE_HEADER: b"application/json"},
            )
            metrics.ingested(source, "rekeyed")
            continue
        await accept(incident, result.warnings)


def on_its_partition(event: Any) -> bool:
    """Whether a submission is on the partition its key maps to with murmur2, as every Kafka
    client puts it by default (Java's, aiokafka's, alertcast's own), and so on the partition
    number of the decisions about it, which read the approval state ingest writes. A producer
    with another partitioner (librdkafka's default is CRC32) has its submissions re-submitted."""
    message = event.message
    count = app.consumer.topic_partitions(message.topic)
    return count is None or message.partition == partition_of(event.key or b"", count)


async def accept(incident: Incident, warnings: list[Problem]) -> None:
    """Number the version; a message seen before (same sender and identifier) is dropped.

    The accepted incident, its draft and what its approval sends are in Kafka before the
    approval state is written, and that state is held before the table records the message as
    seen, so a replay after a crash never drops a message whose version was not sent on."""
    state = versions.get(incident.key) or {"version": 0, "messages": {}}
    if incident.message_key in state["messages"]:
        log.info("duplicate %s ignored (already version %s)", incident.message_key, state["messages"])
        metrics.ingested(incident.source, "duplicate")
        return
    warnings = list(warnings)
    if incident.references and state["version"] == 0:
        warnings.append(
            Problem.said(
                "references",
                "unknown_reference",
                N_("refers to a message alertcast has not seen: accepted as a new incident"),
                N_("check the references, or submit the original first"),
                value=incident.key,
            )
        )
    if not incident.info and state.get("info"):
        # A Cancel usually carries no <info>: it ends what the last version said, so its texts
        # ("FIN D'ALERTE – ...") and the site need that version's info.
        incident = incident.model_copy(update={"info": [Info.model_validate(i) for i in state["info"]]})
    version = state["version"] + 1
    message = AcceptedIncident(
        incident_key=incident.key,
        version=version,
        received_at=clock.now(),
        incident=incident,
        warnings=warnings,
    )
    draft = await compose.draft_of(message)
    step = approval.receive(draft)
    await send_durably(
        (accepted, incident.key.encode(), message.model_dump_json().encode()),
        (drafted, incident.key.encode(), draft.model_dump_json().encode()),
        *await approval.outputs_of(incident.key, step),
    )
    held = await approval.settle(incident.key, step)
    if held is not None:
        await held
    await versions.put(
        incident.key,
        {
            "version": version,
            "messages": {**state["messages"], incident.message_key: version},
            "info": [info.model_dump(mode="json") for info in incident.info],
        },
    )
    metrics.ingested(incident.source, "accepted")
