"""Feed pollers, the pure part: what to fetch, what changed since the last poll, what to submit.

The network is injected (`Fetch`), so this decides without doing I/O and tests drive it with
a local server or a dict. Every failure becomes a Problem in the outcome, never an exception:
a poller that raises stops polling, and a silent one hides an outage.

Feeds are snapshots, so most of what a poll sees was seen before. An index entry is fetched
again only when its id or `updated` is new; an incident is submitted again only when its
content changed (a hash of its JSON without `sent` and `source`, which feeds restamp on
every publication). The ingest agent drops a message whose sender and identifier it has
seen, so a changed GTFS-RT alert or DATEX II situation, which keeps its id, is submitted as
an Update of it with a content-derived identifier (`<id>~<hash>`): the same change seen by
two pollers is still one version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from alertcast.clock import clock
from alertcast.delivery.retry import PermanentError, RetryPolicy, TransientError
from alertcast.i18n import N_
from alertcast.ingest.detect import parse_document
from alertcast.ingest.feeds import FeedEntry, parse_feed
from alertcast.models.alert import Rejection
from alertcast.models.incident import Incident, MsgType, Reference
from alertcast.models.problem import Problem

PollerKind = Literal["cap-index", "cap", "gtfs-rt", "datex2"]
VOLATILE_FIELDS = frozenset({"sent", "source"})
MAX_FINGERPRINTS = 50_000  # per source: bounded memory, yet months of a busy GTFS-RT feed


class PollerSource(BaseModel):
    """A feed alertcast fetches itself (the `pollers:` section of the sources file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
    url: str = Field(pattern=r"^https?://\S+$", max_length=2000)
    kind: PollerKind = Field(description="cap-index: an Atom/RSS index of CAP links; else one document")
    interval_s: float = Field(default=60.0, gt=0, description="seconds between polls")


class PollersConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pollers: list[PollerSource] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> PollersConfig:
        names = [poller.name for poller in self.pollers]
        if len(set(names)) != len(names):
            raise ValueError("two pollers share a name")
        return self


def load_pollers(path: Path | None = None, text: str = "") -> PollersConfig:
    """Pollers from the sources file and/or YAML/JSON text (an environment variable); text wins by name."""
    merged: dict[str, PollerSource] = {}
    documents: list[Any] = [yaml.safe_load(path.read_text(encoding="utf-8"))] if path is not None else []
    if text.strip():
        documents.append(yaml.safe_load(text))
    for document in documents:
        merged.update({p.name: p for p in PollersConfig.model_validate(document or {}).pollers})
    return PollersConfig(pollers=list(merged.values()))


class Validators(BaseModel):
    """What the server said identifies its last answer, sent back so it can say 304."""

    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    @classmethod
    def of(cls, headers: dict[str, str]) -> Validators:
        return cls(etag=headers.get("etag"), last_modified=headers.get("last-modified"))


class PollerState(BaseModel):
    """Everything a source's next poll needs to know about the previous ones."""

    validators: Validators = Field(default_factory=Validators)
    entries: dict[str, datetime | None] = Field(default_factory=dict, description="index entry id -> updated")
    fingerprints: dict[str, str] = Field(default_factory=dict, description="message key -> content hash")
    failures: int = Field(default=0, description="consecutive failed polls")


class FetchResponse(BaseModel):
    status: int
    headers: dict[str, str] = Field(default_factory=dict, description="names in lower case")
    body: bytes = b""


Fetch = Callable[[str, dict[str, str]], Awaitable[FetchResponse]]


class PollOutcome(BaseModel):
    state: PollerState
    incidents: list[Incident] = Field(default_factory=list, description="new or changed: to submit")
    rejections: list[Rejection] = Field(default_factory=list, description="documents refused: to reject")
    problems: list[Problem] = Field(default_factory=list, description="fetch failures: to report")
    warnings: list[Problem] = Field(default_factory=list)
    not_modified: bool = False


async def poll(source: PollerSource, state: PollerState, fetch: Fetch, policy: RetryPolicy) -> PollOutcome:
    """One poll of one source. Never raises for anything the network or the feed does."""
    outcome = PollOutcome(state=state.model_copy(deep=True))
    response = await _get(source.url, outcome.state.validators.request_headers(), fetch, policy, outcome)
    if response is None:
        outcome.state.failures += 1
        return outcome
    outcome.state.failures = 0
    if response.status == 304:
        outcome.not_modified = True
        return outcome
    if source.kind != "cap-index":
        _take(source, source.url, response, outcome)
        outcome.state.validators = Validators.of(response.headers)
        return outcome
    feed = parse_feed(response.body, base_url=source.url)
    outcome.warnings += feed.warnings
    if feed.problems:
        outcome.problems += [_about(source, p) for p in feed.problems]
        return outcome
    for entry in entries_to_fetch(feed.entries, outcome.state.entries):
        document = await _get(entry.link, {}, fetch, policy, outcome)
        if document is None:
            continue  # not marked as seen: the next poll tries it again
        _take(source, entry.link, document, outcome)
        outcome.state.entries[entry.id] = entry.updated
    listed = {entry.id for entry in feed.entries}
    outcome.state.entries = {k: v for k, v in outcome.state.entries.items() if k in listed}
    # Only now: an index whose documents could not all be fetched must be fetched again in full.
    if not outcome.problems:
        outcome.state.validators = Validators.of(response.headers)
    return outcome


def entries_to_fetch(entries: list[FeedEntry], seen: dict[str, datetime | None]) -> list[FeedEntry]:
    """New ids, and known ids whose `updated` moved (an entry without a time is always fetched)."""
    return [e for e in entries if e.id not in seen or e.updated is None or seen[e.id] != e.updated]


def fingerprint(incident: Incident) -> str:
    return hashlib.sha256(incident.model_dump_json(exclude=set(VOLATILE_FIELDS)).encode()).hexdigest()


def changes(incidents: list[Incident], fingerprints: dict[str, str]) -> list[Incident]:
    """The incidents to submit, updating `fingerprints`: new ones as they are, changed ones as Updates."""
    out = []
    for incident in incidents:
        digest = fingerprint(incident)
        known = fingerprints.get(incident.message_key)
        if known == digest:
            continue
        out.append(incident if known is None else as_update(incident, digest))
        fingerprints.pop(incident.message_key, None)
        fingerprints[incident.message_key] = digest  # re-inserted: the oldest are forgotten first
    while len(fingerprints) > MAX_FINGERPRINTS:
        del fingerprints[next(iter(fingerprints))]
    return out


def as_update(incident: Incident, digest: str) -> Incident:
    """A changed snapshot item as a new version of the incident it keeps the id of."""
    references = incident.references or [Reference(sender=incident.sender, identifier=incident.identifier)]
    msg_type = MsgType.UPDATE if incident.msg_type == MsgType.ALERT else incident.msg_type
    return incident.model_copy(
        update={
            "identifier": f"{incident.identifier[:187]}~{digest[:12]}",
            "references": references,
            "msg_type": msg_type,
        }
    )


def _take(source: PollerSource, url: str, response: FetchResponse, outcome: PollOutcome) -> None:
    result = parse_document(response.body, response.headers.get("content-type"), source=source.name)
    outcome.warnings += result.warnings
    if result.problems or not result.incidents:
        # A feed may hold good and bad items: the bad are rejected with reasons, the good go on.
        outcome.rejections.append(
            Rejection.of(
                response.body,
                source.name,
                clock.now(),
                [p.model_copy(update={"path": f"{url}#{p.path}"}) for p in result.problems]
                or [Problem.said(url, "empty", N_("the document holds no incident"))],
            )
        )
    outcome.incidents += changes(result.incidents, outcome.state.fingerprints)


async def _get(
    url: str, headers: dict[str, str], fetch: Fetch, policy: RetryPolicy, outcome: PollOutcome
) -> FetchResponse | None:
    """The answer (200 or 304), retried by the one policy; None with a Problem when it gave up."""

    async def attempt() -> FetchResponse:
        response = await fetch(url, headers)
        if response.status in (200, 304):
            return response
        if response.status == 429 or response.status >= 500:
            raise TransientError(f"HTTP {response.status}", _retry_after(response.headers))
        raise PermanentError(f"HTTP {response.status}")

    try:
        response, _ = await policy.run(attempt)
    except (TransientError, PermanentError) as error:
        outcome.problems.append(
            Problem.said(
                url,
                "fetch_failed",
                N_("could not fetch %(url)s: %(error)s"),
                N_("the poller tries again at its next interval; check the URL and the feed's server"),
                value=str(error)[:200],
                url=url,
                error=str(error),
            )
        )
        return None
    return response


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


def _about(source: PollerSource, problem: Problem) -> Problem:
    return problem.model_copy(update={"path": f"{source.url}#{problem.path}"})
