"""The KPI page: how fast alerts went out and how they did, over the last 24 hours, 7 or 30 days
(`?window=24h|7d|30d`), for anyone logged in to the console; `/console/api/kpi` gives the same
report as JSON.

The numbers are `alertcast.kpis.report`'s, from what this process's read model holds (the
accepted versions, approvals, audit and receipts) and the inbox's conversations; the plots are
`alertcast.kpis.charts`' inline SVG. Nothing here decides: it reads the models into the
report's inputs, then draws.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from alertcast.clock import clock
from alertcast.i18n import N_
from alertcast.kpis import charts
from alertcast.kpis.charts import Gettext
from alertcast.kpis.report import (
    DEFAULT_WINDOW,
    WINDOWS,
    Conversation,
    Delivery,
    KpiReport,
    Publication,
    Timing,
    WindowName,
    report,
)
from alertcast.models.alert import DeliveryStatus
from alertcast.models.decision import AuditAction
from alertcast.models.incident import Incident, Info
from alertcast.replies.kpi import Handled
from alertcast.web.console.guard import Area, Form, Guard, Who
from alertcast.web.console.inbox_model import CategoryOf, InboxModel
from alertcast.web.console.pages import SECURITY_HEADERS
from alertcast.web.console.readmodel import ConsoleReadModel

# Each code's words, in English: translated through the catalogs where they are shown.
WINDOW_LABELS: dict[WindowName, str] = {"24h": N_("24 hours"), "7d": N_("7 days"), "30d": N_("30 days")}
CATEGORY_LABELS = {
    "road_closure": N_("road closed"),
    "traffic": N_("traffic"),
    "transport_disruption": N_("transport disrupted"),
    "strike": N_("strike"),
    "school_transport": N_("school transport"),
    "weather": N_("weather"),
    "flood": N_("flood"),
    "heat": N_("heatwave"),
    "public_service": N_("public service"),
    "water": N_("water"),
    "other": N_("other"),
    "": N_("unknown"),
}
TOP = 12  # categories and areas plotted; the table under each plot lists every one


class Kpis(Area):
    def __init__(self, guard: Guard, inbox: InboxModel | None = None) -> None:
        super().__init__(guard)
        self.inbox = inbox

    def routes(self) -> list[BaseRoute]:
        g = self.guard
        return [g.get("/kpi", None, self.page), g.get("/api/kpi", None, self.json)]

    def report(self, request: Request) -> KpiReport:
        asked = request.query_params.get("window", DEFAULT_WINDOW)
        window = next((name for name in WINDOWS if name == asked), DEFAULT_WINDOW)
        model = self.guard.read_model
        now = clock.now()
        conversations = None
        if self.inbox is not None:
            conversations = inbox_conversations(self.inbox, lambda alert: category_of(model, alert))
        return report(publications(model), now, window, conversations)

    async def page(self, request: Request, who: Who, form: Form) -> Response:
        kpis = self.report(request)

        def gettext(message: str) -> str:
            return self.guard.gettext(message, who.language)

        return self.guard.page(
            "kpi.html",
            who,
            kpis=kpis,
            charts=plots(kpis, gettext),
            windows={name: gettext(label) for name, label in WINDOW_LABELS.items()},
            duration=lambda seconds: charts.duration(seconds, gettext),
        )

    async def json(self, request: Request, who: Who, form: Form) -> Response:
        return JSONResponse(self.report(request).model_dump(mode="json"), headers=SECURITY_HEADERS)


def plots(kpis: KpiReport, gettext: Gettext = charts.french) -> dict[str, Markup]:
    """The page's charts, their words (titles, delays, categories) in `gettext`'s language."""

    def duration(seconds: float) -> str:
        return charts.duration(seconds, gettext)

    def count(value: float) -> str:
        return f"{value:.0f}"

    def medians(timings: dict[str, Timing]) -> list[tuple[str, float]]:
        return [(name or "?", t.median_s) for name, t in timings.items() if t.median_s is not None]

    def p90s(timings: dict[str, Timing]) -> list[float | None]:
        return [t.p90_s for t in timings.values() if t.median_s is not None]

    by_channel = kpis.to_receipt_by_channel
    by_source = kpis.to_approval_by_source
    categories = [
        (gettext(CATEGORY_LABELS[name]) if name in CATEGORY_LABELS else name, float(n))
        for name, n in kpis.by_category.items()
    ]
    areas = [(name, float(n)) for name, n in kpis.by_area.items()]
    return {
        "to_approval": charts.strip(
            "kpi-approval",
            gettext("Delay from entry to approval, each alert"),
            kpis.to_approval.samples,
            kpis.to_approval.median_s,
            kpis.to_approval.p90_s,
            gettext=gettext,
        ),
        "to_approval_by_source": charts.bar_chart(
            "kpi-approval-source",
            gettext("Median delay from entry to approval, by source (line: p90)"),
            medians(by_source),
            duration,
            p90s(by_source),
            gettext=gettext,
        ),
        "to_receipt": charts.strip(
            "kpi-receipt",
            gettext("Delay from approval to the last delivery receipt, each alert"),
            kpis.to_receipt.samples,
            kpis.to_receipt.median_s,
            kpis.to_receipt.p90_s,
            gettext=gettext,
        ),
        "to_receipt_by_channel": charts.bar_chart(
            "kpi-receipt-channel",
            gettext("Median delay from approval to delivery receipt, by network (line: p90)"),
            medians(by_channel),
            duration,
            p90s(by_channel),
            gettext=gettext,
        ),
        "by_category": charts.bar_chart(
            "kpi-category", gettext("Alerts by category"), categories[:TOP], count, gettext=gettext
        ),
        "by_area": charts.bar_chart(
            "kpi-area", gettext("Alerts by area"), areas[:TOP], count, gettext=gettext
        ),
    }


def category_of(model: ConsoleReadModel, alert_id: str) -> str | None:
    """The category of the alert a reply answers, for the replies' routing (as the inbox does)."""
    view = model.drafts.get(alert_id)
    info = view.draft.incident.main_info if view is not None else None
    return info.category.value if info is not None else None


def inbox_conversations(inbox: InboxModel, category: CategoryOf) -> list[Conversation]:
    """Each conversation with a citizen's message so far, with its service and circuit at now."""
    found = []
    for view in inbox.views(category):
        if view.circuit is None or not view.thread.entries:
            continue
        handled = Handled(service=view.service, network=view.thread.network, state=view.circuit)
        found.append(Conversation(started_at=view.thread.entries[0].reply.at, handled=handled))
    return found


def publications(model: ConsoleReadModel) -> list[Publication]:
    """Every version the read model knows, with its decision and its deliveries' receipts."""
    submitted: dict[tuple[str, int], tuple[datetime, Incident]] = {}
    for alert_id, versions in model.incidents.items():
        for accepted in versions:
            submitted[(alert_id, accepted.version)] = (accepted.received_at, accepted.incident)
    for alert_id, approvals in model.approvals.items():
        for version, approval in approvals.items():
            submitted.setdefault((alert_id, version), (approval.draft.received_at, approval.draft.incident))
    for alert_id, view in model.drafts.items():
        draft = view.draft
        submitted.setdefault((alert_id, draft.version), (draft.received_at, draft.incident))
    approved_marks: dict[tuple[str, int], datetime] = {}
    for event in model.audit:
        if event.action is AuditAction.APPROVE and event.accepted and event.version is not None:
            key = (event.alert_id, event.version)
            approved_marks[key] = max(event.at, approved_marks.get(key, event.at))
    deliveries: dict[tuple[str, int], list[Delivery]] = defaultdict(list)
    for cell in model.cells.values():
        request, receipt = cell.request, cell.receipt
        if receipt is not None and receipt.status is DeliveryStatus.WARNING:
            continue
        alert_id = request.alert_id if request else receipt.alert_id if receipt else ""
        version = request.version if request else receipt.version if receipt else 0
        deliveries[(alert_id, version)].append(
            Delivery(
                channel=cell.channel,
                account=request.account if request else receipt.account if receipt else "default",
                status=receipt.status if receipt else None,
                at=receipt.at if receipt else None,
            )
        )
    found = []
    for (alert_id, version), (received_at, incident) in submitted.items():
        released_by = model.approvals.get(alert_id, {}).get(version)
        released = released_by.approved_at if released_by else None
        decided = min(approved_marks.get((alert_id, version), released), released) if released else None
        info = incident.main_info or _first_info(model, alert_id)
        found.append(
            Publication(
                alert_id=alert_id,
                version=version,
                source=incident.source,
                category=info.category.value if info else None,
                areas=[area.area_desc for area in info.areas] if info else [],
                submitted_at=received_at,
                decided_at=decided,
                released_at=released,
                deliveries=deliveries.get((alert_id, version), []),
            )
        )
    return found


def _first_info(model: ConsoleReadModel, alert_id: str) -> Info | None:
    """A Cancel has no info block: the alert's category and areas are its earlier versions'."""
    for accepted in reversed(model.incidents.get(alert_id, [])):
        if accepted.incident.main_info is not None:
            return accepted.incident.main_info
    return None
