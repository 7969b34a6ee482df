"""What pages, feeds and the JSON index show of a published alert, decided once.

Templates are edited by communicators and rendered in a sandbox, so they get plain, already
decided values (words, local times, safe links, paragraphs) rather than the models: the
choices that matter to citizens (which version and language to show, when an alert ended,
which order) live here, in tested Python, and every output agrees on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Literal
from urllib.parse import urlsplit

from alertcast.models.incident import SEVERITY_RANK, Incident, Info, MsgType, Severity
from alertcast.site.areas import AreaRef, area_refs
from alertcast.site.dates import ShownTime, shown_time
from alertcast.site.labels import has_labels, labels, language_of, primary_language, status_label, word
from alertcast.site.model import PublishedAlert, PublishedVersion

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
EndReason = Literal["cancel", "expire"]


@dataclass(frozen=True)
class BlockView:
    """One language of one version (a CAP info block), worded in its own language."""

    lang: str
    t: Mapping[str, str]
    labels_lang: str | None  # set when the site has no words in the block's language
    headline: str
    event: str
    severity: str
    severity_key: str
    urgency: str
    certainty: str
    sender_name: str | None
    description: list[str]
    instruction: list[str]
    web_href: str | None
    web_text: str | None
    contact: str | None
    effective: ShownTime | None
    onset: ShownTime | None
    expires: ShownTime | None
    areas: list[AreaRef]


@dataclass(frozen=True)
class VersionView:
    number: int
    kind: str
    sent: ShownTime
    status: str | None
    blocks: list[BlockView]
    cap_path: str


@dataclass(frozen=True)
class AlertView:
    """One alert as the site shows it, in the interface language."""

    alert_id: str
    path: str
    headline: str
    headline_lang: str
    heading_lang: str | None  # the headline's `lang` attribute, when not the page's language
    severity_rank: int
    severity: Severity
    severity_word: str
    status: str | None
    areas: list[AreaRef]
    all_areas: list[AreaRef]  # also the areas earlier versions named, which an update dropped
    first_sent: ShownTime
    updated: ShownTime
    updated_at: datetime
    expires: ShownTime | None
    ended: bool
    end_reason: EndReason | None
    ended_at: datetime | None
    ended_time: ShownTime | None
    end_text: str | None
    versions: list[VersionView]
    source: PublishedAlert = field(repr=False)
    info: Info | None = field(repr=False)

    @property
    def area_text(self) -> str:
        return ", ".join(area.name for area in self.areas)

    def concerns_now(self, area: AreaRef) -> bool:
        """Still current for this area: not ended, and not an area an update dropped."""
        return not self.ended and any(a.slug == area.slug for a in self.areas)

    @property
    def severity_key(self) -> str:
        return self.severity.value.lower()

    @property
    def latest_version(self) -> int:
        return self.source.versions[-1].version


def alert_path(alert_id: str) -> str:
    return f"alerts/{alert_id}.html"


def cap_path(alert_id: str, version: int) -> str:
    return f"cap/{alert_id}-v{version}.xml"


def paragraphs(text: str) -> list[str]:
    return [part.strip() for part in _PARAGRAPH_BREAK.split(text) if part.strip()]


def safe_href(url: str | None) -> str | None:
    """Only web links become links: a `javascript:` URL in a source's `web` stays text."""
    if not url:
        return None
    candidate = url.strip()
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    return candidate if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _unique_areas(refs: Iterable[AreaRef]) -> list[AreaRef]:
    """Each place once, named as it was first named."""
    found: dict[str, AreaRef] = {}
    for ref in refs:
        found.setdefault(ref.slug, ref)
    return list(found.values())


def _shown_info(incident: Incident, language: str) -> Info | None:
    return incident.info_for(language) or incident.main_info


def _areas_of(incident: Incident, language: str) -> list[AreaRef]:
    """The areas of the block the site shows: a bilingual source names each area twice
    ("Rondeau Park", "Parc Rondeau"), which would make two pages for one place."""
    info = _shown_info(incident, language)
    blocks = [info] if info and info.areas else incident.info
    return _unique_areas(ref for block in blocks for area in block.areas for ref in area_refs(area))


def _block(info: Info, *, now: datetime, tz: tzinfo, language: str) -> BlockView:
    own = has_labels(info.language)
    words_lang = info.language if own else language

    def when(value: datetime | None) -> ShownTime | None:
        return None if value is None else shown_time(value, now=now, tz=tz, language=words_lang)

    return BlockView(
        lang=info.language,
        t=labels(words_lang),
        labels_lang=None if own else language_of(language) or language,
        headline=info.headline,
        event=info.event,
        severity=word(info.severity, words_lang),
        severity_key=info.severity.value.lower(),
        urgency=word(info.urgency, words_lang),
        certainty=word(info.certainty, words_lang),
        sender_name=info.sender_name,
        description=paragraphs(info.description),
        instruction=paragraphs(info.instruction),
        web_href=safe_href(info.web),
        web_text=info.web,
        contact=info.contact,
        effective=when(info.effective),
        onset=when(info.onset),
        expires=when(info.expires),
        areas=_unique_areas(ref for area in info.areas for ref in area_refs(area)),
    )


def _version(
    alert_id: str, version: PublishedVersion, *, now: datetime, tz: tzinfo, language: str
) -> VersionView:
    incident = version.incident
    return VersionView(
        number=version.version,
        kind=word(incident.msg_type, language),
        sent=shown_time(incident.sent, now=now, tz=tz, language=language),
        status=status_label(incident.status, language),
        blocks=[_block(info, now=now, tz=tz, language=language) for info in incident.info],
        cap_path=cap_path(alert_id, version.version),
    )


def display_incident(alert: PublishedAlert) -> Incident:
    """The latest version that has text: a Cancel often carries none, the alert it ends does."""
    for version in reversed(alert.versions):
        if version.incident.info:
            return version.incident
    return alert.latest


def end_of(alert: PublishedAlert) -> tuple[EndReason, datetime | None] | None:
    """How and when the alert ends or ended, whatever the time now (None: nothing ends it).

    Separate from `now` so the site builder can tell when an alert's state will change (its
    expiry passes, its end leaves the feeds) without drawing it again."""
    if alert.ended_at is not None:
        reason = alert.end_reason or "cancel"
        if reason == "cancel" and alert.latest.msg_type is MsgType.CANCEL:
            # The time the issuer ended it, as its Cancel says (and the version list shows),
            # rather than when our channel happened to publish that Cancel.
            return reason, alert.latest.sent
        return reason, alert.ended_at
    expiries = [info.expires for info in alert.latest.info if info.expires is not None]
    return (alert.end_reason or "expire", max(expiries)) if expiries else None


def _ended(alert: PublishedAlert, now: datetime) -> tuple[bool, EndReason | None, datetime | None]:
    end = end_of(alert) if alert.is_ended(now) else None
    return (False, None, None) if end is None else (True, *end)


def alert_view(alert: PublishedAlert, *, now: datetime, tz: tzinfo, language: str) -> AlertView:
    """`now` only decides whether the alert has ended and whether a time says its year: a
    view drawn earlier with the same answers to both is the same view (the site builder
    relies on it to keep views until one of them changes)."""
    if not alert.versions:
        raise ValueError(f"alert {alert.alert_id} has no published version")
    t = labels(language)
    shown = display_incident(alert)
    info = _shown_info(shown, language)
    severity = info.severity if info else Severity.UNKNOWN
    ended, reason, ended_at = _ended(alert, now)
    expiries = [i.expires for i in shown.info if i.expires is not None]
    return AlertView(
        alert_id=alert.alert_id,
        path=alert_path(alert.alert_id),
        headline=info.headline if info else f"{t['alert']} {shown.identifier}",
        headline_lang=info.language if info else language,
        heading_lang=info.language
        if info and primary_language(info.language) != primary_language(language)
        else None,
        severity_rank=SEVERITY_RANK[severity],
        severity=severity,
        severity_word=word(severity, language),
        status=status_label(alert.latest.status, language),
        areas=_areas_of(shown, language),
        all_areas=_unique_areas(
            [
                *_areas_of(shown, language),
                *(a for v in alert.versions for a in _areas_of(v.incident, language)),
            ]
        ),
        first_sent=shown_time(alert.versions[0].incident.sent, now=now, tz=tz, language=language),
        updated=shown_time(alert.latest.sent, now=now, tz=tz, language=language),
        updated_at=alert.latest.sent,
        expires=shown_time(max(expiries), now=now, tz=tz, language=language) if expiries else None,
        ended=ended,
        end_reason=reason,
        ended_at=ended_at,
        ended_time=shown_time(ended_at, now=now, tz=tz, language=language) if ended_at else None,
        end_text=(t["ended_expire"] if reason == "expire" else t["ended_cancel"]) if ended else None,
        versions=[
            _version(alert.alert_id, v, now=now, tz=tz, language=language) for v in reversed(alert.versions)
        ],
        source=alert,
        info=info,
    )


def current_order(views: Sequence[AlertView]) -> list[AlertView]:
    """Most severe first, then the most recently updated."""
    return sorted(views, key=lambda v: (-v.severity_rank, -v.updated_at.timestamp(), v.alert_id))


def archive_order(views: Sequence[AlertView]) -> list[AlertView]:
    """Most recently ended first."""
    return sorted(views, key=lambda v: (-(v.ended_at or v.updated_at).timestamp(), v.alert_id))
