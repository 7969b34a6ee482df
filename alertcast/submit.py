"""`alertcast submit`: validate locally with the same parser as the worker, then produce.

Validating first means a service learns at once, with the same messages, what the worker
would have refused; only valid incidents reach the topic, each under its incident key.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alertcast.ingest.json_ import parse_json
from alertcast.models.incident import Incident
from alertcast.settings import Settings

EXIT_OK, EXIT_REFUSED = 0, 2


def read_incidents(files: list[Path], source: str) -> tuple[list[Incident], list[str]]:
    """All incidents of all files, or the error lines naming the file of each problem."""
    incidents: list[Incident] = []
    errors: list[str] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as error:
            errors.append(f"{path}: cannot read: {error.strerror}")
            continue
        result = parse_json(data, source=source)
        errors += [f"{path}: {problem.line()}" for problem in result.problems]
        incidents += result.incidents
    return incidents, errors


def produce(incidents: list[Incident], settings: Settings, source: str) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap.split(","),
        acks="all",
        enable_idempotence=True,
        client_id="alertcast-submit",
    )
    try:
        for incident in incidents:
            producer.send(
                settings.topic("incidents.submitted"),
                key=incident.key.encode(),
                value=incident.model_dump_json().encode(),
                headers=[("alertcast-source", source.encode()), ("content-type", b"application/json")],
            ).get(timeout=30)
    finally:
        producer.close()


def submit_files(files: list[Path], settings: Settings, source: str) -> int:
    incidents, errors = read_incidents(files, source)
    if errors:
        for line in errors:
            print(line, file=sys.stderr)
        print(f"refused: {len(errors)} problem(s); nothing was submitted", file=sys.stderr)
        return EXIT_REFUSED
    produce(incidents, settings, source)
    for incident in incidents:
        print(incident.key)
    return EXIT_OK
