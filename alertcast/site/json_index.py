"""`alerts.json`: the index apps and the page's refresh script read.

A pydantic model, because it is a boundary: mobile apps and other bodies' sites parse it,
and its JSON Schema (`AlertsIndex.model_json_schema()`) is the contract. `digest` changes
exactly when the set of current alerts or one of their versions changes, so a poller
compares one string instead of the whole list.

The site builder writes it from kept entries (`alerts_json`), one per alert, spliced into the
model's own serialization: the same bytes as `alerts_index(...).model_dump_json()`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from alertcast.models.incident import Category, Severity, Status
from alertcast.site.atom_feed import site_url
from alertcast.site.views import AlertView, cap_path


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AreaEntry(_Out):
    name: str
    slug: str
    insee: str | None
    url: str


class AlertEntry(_Out):
    id: str
    status: Status
    version: int
    headline: str
    language: str
    category: Category | None
    event: str | None
    severity: Severity
    severity_label: str
    area: str
    areas: list[AreaEntry]
    sent: datetime
    updated: datetime
    effective: datetime | None
    onset: datetime | None
    expires: datetime | None
    ended: bool
    ended_at: datetime | None
    end_reason: Literal["cancel", "expire"] | None
    url: str
    cap_url: str


class AlertsIndex(_Out):
    generated_at: datetime
    language: str
    digest: str
    current: list[AlertEntry]
    ended: list[AlertEntry]


def current_digest(current: Sequence[AlertView]) -> str:
    """Fingerprint of what the index page shows (ids and versions of current alerts)."""
    text = "\n".join(sorted(f"{v.alert_id}:{v.latest_version}" for v in current))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _entry(view: AlertView, base_url: str) -> AlertEntry:
    info = view.info
    return AlertEntry(
        id=view.alert_id,
        status=view.source.latest.status,
        version=view.latest_version,
        headline=view.headline,
        language=view.headline_lang,
        category=info.category if info else None,
        event=info.event if info else None,
        severity=view.severity,
        severity_label=view.severity_word,
        area=view.area_text,
        areas=[
            AreaEntry(name=a.name, slug=a.slug, insee=a.insee, url=site_url(base_url, a.path))
            for a in view.areas
        ],
        sent=view.source.versions[0].incident.sent,
        updated=view.updated_at,
        effective=info.effective if info else None,
        onset=info.onset if info else None,
        expires=info.expires if info else None,
        ended=view.ended,
        ended_at=view.ended_at,
        end_reason=view.end_reason,
        url=site_url(base_url, view.path),
        cap_url=site_url(base_url, cap_path(view.alert_id, view.latest_version)),
    )


def alerts_index(
    current: Sequence[AlertView],
    ended: Sequence[AlertView],
    *,
    now: datetime,
    language: str,
    base_url: str = "",
) -> AlertsIndex:
    return AlertsIndex(
        generated_at=now,
        language=language,
        digest=current_digest(current),
        current=[_entry(v, base_url) for v in current],
        ended=[_entry(v, base_url) for v in ended],
    )


def entry_json(view: AlertView, base_url: str = "") -> bytes:
    return _entry(view, base_url).model_dump_json().encode()


_EMPTY_LISTS = b'"current":[],"ended":[]}'


def alerts_json(
    current: Sequence[AlertView],
    ended: Sequence[AlertView],
    *,
    now: datetime,
    language: str,
    base_url: str = "",
    digest: str | None = None,
    entry: Callable[[AlertView], bytes] | None = None,
) -> bytes:
    """`alerts_index(...).model_dump_json()`, with each alert's entry from `entry` (an alert's
    kept `entry_json`), drawn afresh when not given; `digest` when the caller has it already."""
    draw = entry or (lambda view: entry_json(view, base_url))
    head = AlertsIndex(
        generated_at=now, language=language, digest=digest or current_digest(current), current=[], ended=[]
    ).model_dump_json()
    data = head.encode()
    if not data.endswith(_EMPTY_LISTS):
        raise ValueError("AlertsIndex must end with its current and ended lists")
    listed = b'"current":[' + b",".join(map(draw, current)) + b'],"ended":[' + b",".join(map(draw, ended))
    return data[: -len(_EMPTY_LISTS)] + listed + b"]}"
