"""The console's HTML: sandboxed Jinja2 with autoescape, words from the catalogs (French unless
the person chose English), times in the local zone.

Incident texts are data, never templates: they reach a page only as escaped values, so
`<script>` or `{{ 7*7 }}` in a headline shows as those characters. Findings are turned into
(text, finding) segments here, so templates mark spans without building HTML from strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.support import NullTranslations as Catalog
from jinja2 import FileSystemLoader, StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment
from starlette.responses import HTMLResponse

from alertcast.delivery.pause import EVERYTHING
from alertcast.explanations import explain
from alertcast.i18n import DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES, N_, install, language_of, translations
from alertcast.models.decision import AuditEvent
from alertcast.models.finding import Finding
from alertcast.replies.actions import REFUSALS
from alertcast.settings import ROOT
from alertcast.site.dates import clock_time, zone_place
from alertcast.site.labels import word

TEMPLATES = ROOT / "templates" / "console"
STATIC = TEMPLATES / "static"

# Each code's words, in English: translated through the catalogs where they are shown.
STATUS_LABELS = {
    "pending": N_("pending"),
    "scheduled": N_("scheduled"),
    "held": N_("on hold"),
    "published": N_("published"),
    "rejected": N_("rejected"),
    "expired": N_("expired"),
    "superseded": N_("superseded"),
    "waiting": N_("waiting"),
    "sent": N_("sent"),
    "dead": N_("failed"),
    "unknown": N_("uncertain"),
    "skipped": N_("not published"),
    "paused": N_("paused"),
    "dropped": N_("dropped"),
    "warning": N_("warning"),
}
ACTION_LABELS = {
    "drafted": N_("draft received"),
    "approve": N_("approval"),
    "reject": N_("rejection"),
    "edit": N_("edit"),
    "hold": N_("hold"),
    "release": N_("release"),
    "reschedule": N_("new publication time"),
    "unschedule": N_("publication unscheduled"),
    "published": N_("publication"),
    "escalated": N_("escalation"),
    "expired": N_("expiry"),
    "superseded": N_("superseded"),
    "submitted": N_("manual entry"),
    "retry": N_("retry"),
    "pause": N_("pause"),
    "resume": N_("end of pause"),
    "drop": N_("do not publish"),
    "login": N_("login"),
    "login_failed": N_("login refused"),
    "login_throttled": N_("login slowed down"),
    "logout": N_("logout"),
    "notified": N_("duty call"),
    "acknowledged": N_("taken on"),
    "reply_answered": N_("answer to a citizen"),
    "reply_assigned": N_("reply assigned to a service"),
    "reply_moderated": N_("moderation verdict"),
    "reply_action_requested": N_("action on a reply requested"),
    "reply_acted": N_("action on a reply done"),
    "reply_circuit_warned": N_("reply due soon: person on duty told"),
    "reply_circuit_missed": N_("reply deadline missed: supervisor told"),
    "subscriber_erased": N_("subscriber erased on request"),
}
MODE_LABELS = {
    "auto": N_("automatic"),
    "one": N_("one approval"),
    "two": N_("two approvals"),
    "?": "?",
}
# The inbox (citizens' replies): where the 72-hour circuit stands, the charter's verdict, filters.
DUE_LABELS = {
    "due": N_("to answer"),
    "soon": N_("to answer, deadline close"),
    "overdue": N_("overdue"),
    "answered": N_("answered"),
    "answered_late": N_("answered late"),
}
VERDICT_LABELS = {"keep": N_("compliant"), "flag": N_("to check"), "hide": N_("to hide")}
INBOX_FILTER_LABELS = {
    "open": N_("to answer"),
    "overdue": N_("overdue"),
    "answered": N_("answered replies"),
    "moderated": N_("moderated"),
}
NETWORK_LABELS = {"email": N_("e-mail"), "x": N_("X")}
# What a text's length counts (alertcast/render/length.py).
UNIT_LABELS = {
    "characters": N_("characters"),
    "weighted": N_("weighted characters"),
    "graphemes": N_("graphemes"),
    "utf16": N_("UTF-16 units"),
    "septets": N_("GSM septets"),
    "bytes": N_("bytes"),
}


# What the console wrote in French in an audit event's message before events kept their msgids
# (`AuditEvent.message_id`): the same msgids its events are worded by now, their values found
# again in the event's action and details, so those stored events read in each reader's language too.
FORMER_WORDS = {
    "login": N_("login after %(failures)s failure(s)"),
    "login_failed": N_("wrong user name or password"),
    "login_throttled": N_("attempts refused unchecked during the delay"),
    "logout": N_("logout: the session is revoked"),
    "retry": N_("retry on %(channel)s/%(account)s"),
    "drop": N_("do not publish on %(channel)s/%(account)s"),
}


def event_said(
    event: AuditEvent, catalog: Catalog, language: str = DEFAULT_LANGUAGE, zone: ZoneInfo | None = None
) -> str:
    """An audit event's message in the catalog's language (`explain`): a refusal says its
    problem (`details.problem`, its msgids kept), any other event its own msgid and values; a
    person's words (a reason), or an event stored before its msgid was kept, as written."""
    problem = event.details.get("problem")
    if isinstance(problem, dict) and problem.get("message_id"):
        said = [
            explain(problem, field, language, catalog=catalog, zone=zone) for field in ("message", "hint")
        ]
        return str(catalog.gettext("; ")).join(part for part in said if part)
    return explain(_worded(event), "message", language, catalog=catalog, zone=zone)


def _worded(event: AuditEvent) -> AuditEvent | dict[str, Any]:
    """The event, or what the console wrote in it before its msgid was kept (`FORMER_WORDS`)."""
    words = FORMER_WORDS.get(event.action.value)
    if event.message_id or words is None:
        return event
    values = {"failures": event.details.get("failures"), "channel": event.channel, **event.details}
    needed = re.findall(r"%\((\w+)\)s", words)
    if any(values.get(name) in (None, "") for name in needed):
        return event
    params = {name: values[name] for name in needed}
    return {"message": event.message, "message_id": words, "params": params}


@dataclass(frozen=True)
class Segment:
    text: str
    finding: Finding | None = None


def segments(text: str, findings: list[Finding]) -> list[Segment]:
    """The text cut at its findings' spans (overlaps: the first span wins, nothing is lost)."""
    spans = sorted((f for f in findings if f.end > f.start and f.end <= len(text)), key=lambda f: f.start)
    out: list[Segment] = []
    at = 0
    for finding in spans:
        if finding.start < at:
            continue
        if finding.start > at:
            out.append(Segment(text[at : finding.start]))
        out.append(Segment(text[finding.start : finding.end], finding))
        at = finding.end
    if at < len(text):
        out.append(Segment(text[at:]))
    return out


def scope_label(scope: object, catalog: Catalog) -> str:
    """A pause switch's scope in words: `*` is everything, `channel:account` one account."""
    text = str(scope)
    if text == EVERYTHING:
        return str(catalog.gettext("everything"))
    channel, _, account = text.partition(":")
    return (
        str(catalog.gettext("%(channel)s / account %(account)s") % {"channel": channel, "account": account})
        if account
        else channel
    )


def _labeller(
    labels: dict[str, str], catalog: Catalog, otherwise: Callable[[str], str] = str
) -> Callable[[object], str]:
    """A filter: a code's words from `labels` in the catalog's language (unknown codes as they are)."""

    def label(value: object) -> str:
        code = str(value)
        return str(catalog.gettext(labels[code])) if code in labels else otherwise(code)

    return label


class Pages:
    """One sandboxed environment per language, each with that language's catalog and filters."""

    def __init__(self, timezone: str = "Europe/Paris", catalogs: Mapping[str, Catalog] | None = None) -> None:
        self.zone = ZoneInfo(timezone)
        given = catalogs or {}
        self.catalogs = {lang: given[lang] if lang in given else translations(lang) for lang in LANGUAGES}
        self.envs = {lang: self._environment(lang) for lang in LANGUAGES}

    def _environment(self, language: str) -> SandboxedEnvironment:
        catalog = self.catalogs[language]
        env = SandboxedEnvironment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        install(env, language, catalog)
        env.filters.update(
            local=lambda value, with_date=True: self.local(value, with_date, language),
            status=_labeller(STATUS_LABELS, catalog),
            severity=lambda value: word(str(value), language),
            word=lambda value: word(str(value), language),  # a CAP code, as the public site words it
            action=_labeller(ACTION_LABELS, catalog),
            mode=_labeller(MODE_LABELS, catalog),
            scope=lambda value: scope_label(value, catalog),
            due=_labeller(DUE_LABELS, catalog),
            verdict=_labeller(VERDICT_LABELS, catalog),
            inbox_filter=_labeller(INBOX_FILTER_LABELS, catalog),
            network=_labeller(NETWORK_LABELS, catalog, str.capitalize),
            unit=_labeller(UNIT_LABELS, catalog),
            said=lambda event: event_said(event, catalog, language, self.zone),
            refusal=lambda text: str(catalog.gettext(text)) if text in REFUSALS else text,
            # A problem's, a finding's or a reason's words (message, hint, suggestion).
            explain=lambda item, field="message": explain(
                item, field, language, catalog=catalog, zone=self.zone
            ),
        )
        env.globals.update(
            segments=segments,
            zone_name=zone_place(self.zone, language),
            language=language,
            other_languages=[(other, LANGUAGE_NAMES[other]) for other in LANGUAGES if other != language],
        )
        return env

    def gettext(self, message: str, language: str, **values: object) -> str:
        """`message` in `language`, its `%(name)s` filled with `values` (Python-side words: a
        refusal, a notice)."""
        text = str(self.catalogs[language_of(language) or DEFAULT_LANGUAGE].gettext(message))
        return text % values if values else text

    def explain(self, item: Any, field: str = "message", language: str = DEFAULT_LANGUAGE) -> str:
        """A problem's, a finding's or a reason's `field` in `language` (alertcast.explanations)."""
        lang = language_of(language) or DEFAULT_LANGUAGE
        return explain(item, field, lang, catalog=self.catalogs[lang], zone=self.zone)

    def label(self, labels: dict[str, str], code: str, language: str) -> str:
        """A code's words from one of the tables above, in `language` (the code if unknown)."""
        return _labeller(labels, self.catalogs[language_of(language) or DEFAULT_LANGUAGE])(code)

    def local(self, value: datetime | None, with_date: bool = True, language: str = DEFAULT_LANGUAGE) -> str:
        return (
            "—" if value is None else clock_time(value, tz=self.zone, language=language, with_date=with_date)
        )

    def parse(self, text: str) -> datetime | None:
        """A date and time typed in a form, read in the console's zone; None when empty.
        Raises ValueError when unreadable (each form says so its own way)."""
        return datetime.fromisoformat(text).replace(tzinfo=self.zone) if text else None

    def render(
        self, name: str, status_code: int = 200, language: str = DEFAULT_LANGUAGE, **context: Any
    ) -> HTMLResponse:
        html = self._template(name, language).render(**context)
        return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)

    def fragment(self, name: str, language: str = DEFAULT_LANGUAGE, **context: Any) -> HTMLResponse:
        return HTMLResponse(self._template(name, language).render(**context), headers=SECURITY_HEADERS)

    def _template(self, name: str, language: str) -> Template:
        return self.envs[language_of(language) or DEFAULT_LANGUAGE].get_template(name)


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
