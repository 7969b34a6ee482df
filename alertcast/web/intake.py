"""The intake API: POST an incident document (any format the one detector reads), GET its state.

A POST is all or nothing, like `alertcast submit`: every incident of the document is valid and
produced (202), or nothing is and every problem is listed (400 unreadable, 422 invalid) and
the refusal is also written to `incidents.rejected`. The ingest agent versions and dedupes;
this process only validates early, so a sender learns at once what the worker would refuse.

Incident ids in URLs are `alert_id_for(incident key)`: 16 hex characters, the id the
website already uses for the alert's page, so no key with '/' or '@' needs URL quoting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from alertcast.clock import clock
from alertcast.i18n import N_
from alertcast.ingest.detect import parse_document
from alertcast.models.alert import AcceptedIncident, Rejection, alert_id_for
from alertcast.models.incident import Incident, MsgType
from alertcast.models.problem import Problem
from alertcast.web.errors import error_response
from alertcast.web.keys import AuthFailure, KeyRing, SourceKey, presented_key
from alertcast.web.producer import Message, ProduceError, Producer
from alertcast.web.ratelimit import RateLimiter

log = logging.getLogger(__name__)

API = "/api/v1"
SOURCE_HEADER = "alertcast-source"
CONTENT_TYPE_HEADER = "content-type"
MEDIA_TYPES = (
    "application/json",
    "text/json",
    "application/cap+xml",
    "application/xml",
    "text/xml",
    "application/x-protobuf",
    "application/protobuf",
    "application/vnd.google.protobuf",
    "application/octet-stream",
)
# Problems that mean "could not even be read" (400), as opposed to "read, but invalid" (422).
UNREADABLE_RULES = frozenset(
    {
        "json_syntax",
        "xml_syntax",
        "xml_forbidden_construct",
        "protobuf_decode",
        "gtfs_rt_json",
        "unknown_format",
        "empty",
    }
)


class SubmittedIncident(BaseModel):
    key: str = Field(description="the incident key (sender/identifier of its first version)")
    id: str = Field(description="alert_id_for(key): the id in status_url and on the public site")
    status_url: str


class Submitted(BaseModel):
    """The 202 answer: Kafka holds these incidents; the worker will version them."""

    incidents: list[SubmittedIncident]
    warnings: list[Problem] = Field(default_factory=list)


class VersionSummary(BaseModel):
    version: int
    msg_type: MsgType
    identifier: str
    sent: datetime
    received_at: datetime


IncidentStateName = Literal["accepted", "rejected", "unknown-yet"]


class IncidentState(BaseModel):
    """What the worker made of an incident: `unknown-yet` until it has accepted or refused it."""

    id: str
    key: str
    state: IncidentStateName
    versions: list[VersionSummary] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list, description="of the last refused submission")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


@dataclass
class _Entry:
    key: str
    readers: set[str] = field(default_factory=set)
    versions: dict[int, VersionSummary] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    rejected: bool = False


class ReadModel:
    """Incident states from `incidents.accepted` and `incidents.rejected`, plus this process's
    own 202s (so a sender can read `unknown-yet` at once). Readers are the sources that
    submitted any version; replaying a topic is harmless (versions are keyed by number)."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def _entry(self, key: str) -> _Entry:
        incident_id = alert_id_for(key)
        if incident_id not in self._entries:
            self._entries[incident_id] = _Entry(key=key)
        return self._entries[incident_id]

    def submitted(self, key: str, source: str) -> None:
        self._entry(key).readers.add(source)

    def on_accepted(self, value: bytes) -> None:
        message = AcceptedIncident.model_validate_json(value)
        entry = self._entry(message.incident_key)
        entry.readers.add(message.incident.source)
        incident = message.incident
        entry.versions[message.version] = VersionSummary(
            version=message.version,
            msg_type=incident.msg_type,
            identifier=incident.identifier,
            sent=incident.sent,
            received_at=message.received_at,
        )

    def on_rejected(self, key: bytes | None, value: bytes) -> None:
        if not key:
            return  # refused before any incident key was known: nothing to attach it to
        rejection = Rejection.model_validate_json(value)
        entry = self._entry(key.decode("utf-8", "replace"))
        entry.readers.add(rejection.source)
        entry.rejected = True
        entry.problems = rejection.problems

    def get(self, incident_id: str) -> tuple[IncidentState, set[str]] | None:
        entry = self._entries.get(incident_id)
        if entry is None:
            return None
        state: IncidentStateName = (
            "accepted" if entry.versions else "rejected" if entry.rejected else "unknown-yet"
        )
        versions = [entry.versions[number] for number in sorted(entry.versions)]
        view = IncidentState(
            id=incident_id, key=entry.key, state=state, versions=versions, problems=entry.problems
        )
        return view, set(entry.readers)


@dataclass
class Intake:
    keys: KeyRing
    limiter: RateLimiter
    producer: Producer
    read_model: ReadModel
    submitted_topic: str
    rejected_topic: str
    max_body_bytes: int
    now: Callable[[], datetime] = clock.now

    async def submit(self, request: Request) -> Response:
        source = self._admit(request)
        if isinstance(source, Response):
            return source
        content_type = request.headers.get("content-type", "")
        media = content_type.split(";")[0].strip().lower()
        if not (media in MEDIA_TYPES or media.endswith(("+json", "+xml"))):
            return error_response(
                415,
                "unsupported_media_type",
                [
                    Problem.said(
                        "Content-Type",
                        "media_type",
                        N_("alertcast does not read '%(media)s'"),
                        N_(
                            "use application/json, application/cap+xml, application/xml "
                            "or application/x-protobuf"
                        ),
                        value=content_type[:200] or None,
                        media=media or "(none)",
                    )
                ],
            )
        limit = source.max_body_bytes or self.max_body_bytes
        body = await _read_body(request, limit)
        if isinstance(body, Response):
            return body
        result = await run_in_threadpool(parse_document, body, content_type, source.name)
        problems = list(result.problems)
        if not problems and not result.incidents:
            problems.append(Problem.said("", "empty", N_("the document holds no incident")))
        if problems:
            await self._reject(source.name, body, problems)
            unreadable = all(p.path == "" and p.rule in UNREADABLE_RULES for p in problems)
            status, error = (400, "unreadable_document") if unreadable else (422, "invalid_document")
            return error_response(status, error, problems)
        incidents, warnings = _as_source(result.incidents, source.name)
        messages = [
            Message(
                topic=self.submitted_topic,
                key=incident.key.encode(),
                value=incident.model_dump_json().encode(),
                headers=[(SOURCE_HEADER, source.name.encode()), (CONTENT_TYPE_HEADER, b"application/json")],
            )
            for incident in incidents
        ]
        try:
            await self.producer.send_all(messages)
        except ProduceError as failure:
            log.error("could not produce %d incident(s) from %s: %s", len(messages), source.name, failure)
            return _unavailable()
        keys = list(dict.fromkeys(incident.key for incident in incidents))
        for key in keys:
            self.read_model.submitted(key, source.name)
        answer = Submitted(
            incidents=[
                SubmittedIncident(
                    key=key, id=alert_id_for(key), status_url=f"{API}/incidents/{alert_id_for(key)}"
                )
                for key in keys
            ],
            warnings=[*result.warnings, *warnings],
        )
        return JSONResponse(answer.model_dump(mode="json"), status_code=202)

    async def status(self, request: Request) -> Response:
        source = self._admit(request)
        if isinstance(source, Response):
            return source
        incident_id = str(request.path_params["incident_id"])
        found = self.read_model.get(incident_id)
        if found is None or not (source.admin or source.name in found[1]):
            # Another source's incident is "not found" too: ids must not reveal what others sent.
            return error_response(
                404,
                "not_found",
                [
                    Problem.said(
                        "id",
                        "unknown_incident",
                        N_("no incident with this id was submitted by this source"),
                        N_("use the status_url of the 202 answer; a new submission shows within seconds"),
                        value=incident_id[:100],
                    )
                ],
            )
        return JSONResponse(found[0].model_dump(mode="json"))

    def _admit(self, request: Request) -> SourceKey | Response:
        """Who is asking, and are they within their rate: 401 or 429 otherwise."""
        presented = presented_key(request.headers)
        source = self.keys.authenticate(presented)
        if isinstance(source, AuthFailure):
            challenge = 'Bearer realm="alertcast"' + (', error="invalid_token"' if presented else "")
            return error_response(
                401, source.reason, [source.problem], headers={"WWW-Authenticate": challenge}
            )
        wait = self.limiter.check(source.name, source.rate_per_minute)
        if wait:
            problem = Problem.said(
                "Authorization",
                "rate_limited",
                N_("more than %(rate)s requests a minute from this source"),
                N_("retry after %(wait)s s; ask the operators for a higher rate if this is normal traffic"),
                value=source.name,
                rate=source.rate_per_minute,
                wait=wait,
            )
            return error_response(429, "rate_limited", [problem], headers={"Retry-After": str(wait)})
        return source

    async def _reject(self, source: str, body: bytes, problems: list[Problem]) -> None:
        """Nothing refused is dropped silently: the refusal is also on the topic, as the worker writes it."""
        rejection = Rejection.of(body, source, self.now(), problems)
        message = Message(
            topic=self.rejected_topic,
            key=None,
            value=rejection.model_dump_json().encode(),
            headers=[(SOURCE_HEADER, source.encode())],
        )
        try:
            await self.producer.send_all([message])
        except ProduceError as failure:  # the sender still gets every reason in the answer
            log.error("could not write a rejection of %s to %s: %s", source, self.rejected_topic, failure)


async def _read_body(request: Request, limit: int) -> bytes | Response:
    """The body, or 413 as soon as it is known to be too large: by Content-Length, then by counting."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            return error_response(
                400,
                "bad_request",
                [Problem.said("Content-Length", "content_length", N_("not a number"), value=declared[:50])],
            )
        if length > limit:
            return _too_large(length, limit)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _too_large(len(body), limit)
    except ClientDisconnect:
        return error_response(
            400,
            "bad_request",
            [Problem.said("", "client_disconnect", N_("the body ended early"), value=len(body))],
        )
    return bytes(body)


def _too_large(size: int, limit: int) -> Response:
    problem = Problem.said(
        "",
        "body_too_large",
        N_("the body is larger than this source's limit of %(limit)s bytes"),
        N_("send one incident per request, or ask the operators for a higher limit"),
        value=size,
        limit=limit,
    )
    return error_response(413, "body_too_large", [problem])


def _unavailable() -> Response:
    problem = Problem.said(
        "",
        "kafka_unavailable",
        N_("alertcast could not store the incident; nothing was accepted"),
        N_("retry the same request in a few seconds (a duplicate is recognised)"),
    )
    return error_response(503, "unavailable", [problem], headers={"Retry-After": "5"})


def _as_source(incidents: list[Incident], name: str) -> tuple[list[Incident], list[Problem]]:
    """The authenticated source is the source: a `source` field in the document cannot claim another."""
    out: list[Incident] = []
    warnings: list[Problem] = []
    for index, incident in enumerate(incidents):
        if incident.source != name:
            warnings.append(
                Problem.said(
                    f"{index}.source" if len(incidents) > 1 else "source",
                    "source_overridden",
                    N_("the source is the API key's: '%(source)s'"),
                    N_("leave `source` out; alertcast sets it"),
                    value=incident.source,
                    source=name,
                )
            )
        out.append(incident.model_copy(update={"source": name}))
    return out, warnings
