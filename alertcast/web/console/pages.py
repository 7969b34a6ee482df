"""The console's HTML: sandboxed Jinja2 with autoescape, French labels, times in the local zone.

Incident texts are data, never templates: they reach a page only as escaped values, so
`<script>` or `{{ 7*7 }}` in a headline shows as those characters. Findings are turned into
(text, finding) segments here, so templates mark spans without building HTML from strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from starlette.responses import HTMLResponse

from alertcast.delivery.pause import EVERYTHING
from alertcast.models.finding import Finding
from alertcast.settings import ROOT

TEMPLATES = ROOT / "templates" / "console"
STATIC = TEMPLATES / "static"

STATUS_LABELS = {
    "pending": "en attente",
    "scheduled": "programmé",
    "held": "suspendu",
    "published": "publié",
    "rejected": "rejeté",
    "expired": "expiré",
    "superseded": "remplacé",
    "waiting": "en attente",
    "sent": "envoyé",
    "dead": "échec",
    "unknown": "incertain",
    "skipped": "non publié",
    "paused": "en pause",
    "dropped": "écarté",
    "warning": "avertissement",
}
SEVERITY_LABELS = {
    "Extreme": "extrême",
    "Severe": "grave",
    "Moderate": "modérée",
    "Minor": "mineure",
    "Unknown": "inconnue",
}
ACTION_LABELS = {
    "drafted": "brouillon reçu",
    "approve": "approbation",
    "reject": "rejet",
    "edit": "modification",
    "hold": "suspension",
    "release": "reprise",
    "reschedule": "nouvelle heure de publication",
    "unschedule": "publication déprogrammée",
    "published": "publication",
    "escalated": "escalade",
    "expired": "expiration",
    "superseded": "remplacé",
    "submitted": "saisie manuelle",
    "retry": "nouvel essai",
    "pause": "pause",
    "resume": "fin de pause",
    "drop": "ne pas publier",
    "login": "connexion",
    "login_failed": "connexion refusée",
    "login_throttled": "connexion ralentie",
    "logout": "déconnexion",
    "notified": "appel de permanence",
    "acknowledged": "prise en charge",
    "reply_answered": "réponse à un citoyen",
    "reply_assigned": "réponse confiée à un service",
    "reply_moderated": "verdict de modération",
}
MODE_LABELS = {"auto": "automatique", "one": "une approbation", "two": "deux approbations", "?": "?"}
# The inbox (citizens' replies): where the 72-hour circuit stands, the charter's verdict, filters.
DUE_LABELS = {
    "due": "à répondre",
    "soon": "à répondre, échéance proche",
    "overdue": "en retard",
    "answered": "répondu",
    "answered_late": "répondu hors délai",
}
VERDICT_LABELS = {"keep": "conforme", "flag": "à vérifier", "hide": "à masquer"}
INBOX_FILTER_LABELS = {
    "open": "à répondre",
    "overdue": "en retard",
    "answered": "répondues",
    "moderated": "modérées",
}
NETWORK_LABELS = {"email": "e-mail", "x": "X"}


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


def scope_label(scope: object) -> str:
    """A pause switch's scope in words: `*` is everything, `channel:account` one account."""
    text = str(scope)
    if text == EVERYTHING:
        return "tout"
    channel, _, account = text.partition(":")
    return f"{channel} / compte {account}" if account else channel


class Pages:
    def __init__(self, timezone: str = "Europe/Paris") -> None:
        self.zone = ZoneInfo(timezone)
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            local=self.local,
            status=lambda value: STATUS_LABELS.get(str(value), str(value)),
            severity=lambda value: SEVERITY_LABELS.get(str(value), str(value)),
            action=lambda value: ACTION_LABELS.get(str(value), str(value)),
            mode=lambda value: MODE_LABELS.get(str(value), str(value)),
            scope=scope_label,
            due=lambda value: DUE_LABELS.get(str(value), str(value)),
            verdict=lambda value: VERDICT_LABELS.get(str(value), str(value)),
            inbox_filter=lambda value: INBOX_FILTER_LABELS.get(str(value), str(value)),
            network=lambda value: NETWORK_LABELS.get(str(value), str(value).capitalize()),
        )
        self.env.globals.update(segments=segments, zone_name=str(self.zone))

    def local(self, value: datetime | None, with_date: bool = True) -> str:
        if value is None:
            return "—"
        shown = value.astimezone(self.zone)
        return shown.strftime("%d/%m/%Y %H:%M:%S" if with_date else "%H:%M:%S")

    def parse(self, text: str) -> datetime | None:
        """A date and time typed in a form, read in the console's zone; None when empty.
        Raises ValueError when unreadable (each form says so its own way)."""
        return datetime.fromisoformat(text).replace(tzinfo=self.zone) if text else None

    def render(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)

    def fragment(self, name: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.env.get_template(name).render(**context), headers=SECURITY_HEADERS)


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
