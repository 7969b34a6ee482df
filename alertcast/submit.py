"""`alertcast submit` and `alertcast parse`: the worker's own parsers, run locally.

Validating first means a service learns at once, with the same messages, what the worker
would have refused; only valid incidents reach the topic, each under its incident key.
Human lines are in `language` (the CLI's); None: in English as the problems are stored.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alertcast.i18n import speaker
from alertcast.ingest.detect import parse_document
from alertcast.models.incident import Incident
from alertcast.settings import Settings

EXIT_OK, EXIT_WARNINGS, EXIT_REFUSED = 0, 1, 2


def read_incidents(
    files: list[Path], source: str, language: str | None = None
) -> tuple[list[Incident], list[str]]:
    """All incidents of all files, or the error lines naming the file of each problem."""
    _ = speaker(language or "en")
    incidents: list[Incident] = []
    errors: list[str] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as error:
            errors.append(_("%(path)s: cannot read: %(error)s", path=path, error=error.strerror))
            continue
        result = parse_document(data, source=source)
        errors += [f"{path}: {problem.line(language)}" for problem in result.problems]
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


def submit_files(files: list[Path], settings: Settings, source: str, *, language: str | None = None) -> int:
    _ = speaker(language or "en")
    incidents, errors = read_incidents(files, source, language)
    if errors:
        for line in errors:
            print(line, file=sys.stderr)
        print(_("refused: %(count)s problem(s); nothing was submitted", count=len(errors)), file=sys.stderr)
        return EXIT_REFUSED
    produce(incidents, settings, source)
    for incident in incidents:
        print(incident.key)
    return EXIT_OK


def parse_files(files: list[Path], source: str, *, language: str | None = None) -> int:
    """`alertcast parse`: print each normalised incident as JSON, or why the file is refused."""
    _ = speaker(language or "en")
    status = EXIT_OK
    for path in files:
        try:
            result = parse_document(path.read_bytes(), source=source)
        except OSError as error:
            print(_("%(path)s: cannot read: %(error)s", path=path, error=error.strerror), file=sys.stderr)
            status = EXIT_REFUSED
            continue
        for incident in result.incidents:
            print(incident.model_dump_json(indent=2, exclude_none=True))
        for warning in result.warnings:
            print(_("%(path)s: warning: %(line)s", path=path, line=warning.line(language)), file=sys.stderr)
        for problem in result.problems:
            print(_("%(path)s: refused: %(line)s", path=path, line=problem.line(language)), file=sys.stderr)
        if result.problems or not result.incidents:
            status = EXIT_REFUSED
        elif result.warnings and status == EXIT_OK:
            status = EXIT_WARNINGS
        print(
            _(
                "%(path)s: %(format)s, %(incidents)s incident(s), %(problems)s problem(s), "
                "%(warnings)s warning(s)",
                path=path,
                format=result.format,
                incidents=len(result.incidents),
                problems=len(result.problems),
                warnings=len(result.warnings),
            ),
            file=sys.stderr,
        )
    return status
