"""Incidents: an alert's whole timeline, and the form that writes an alert by hand.

An alert written in the console is submitted like any intake's incident, to
`incidents.submitted` from source `console:<user>`, so it meets the same rules, drafts and
approvals; its audit event goes in the same send. An operator sees only the alerts they wrote
(`/mine`, and their timelines); a reader sees every alert's.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from alertcast.clock import clock
from alertcast.i18n import N_
from alertcast.models.alert import alert_id_for
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.models.incident import Category, Certainty, Incident, Severity, Urgency
from alertcast.models.problem import Problem, problems_from_validation
from alertcast.web.console.auth import Permission
from alertcast.web.console.guard import Area, Form, Guard, Who
from alertcast.web.console.readmodel import Cell
from alertcast.web.producer import Message

SOURCE_HEADER = "alertcast-source"


class Incidents(Area):
    def __init__(self, guard: Guard) -> None:
        super().__init__(guard)
        self.submitted_topic = guard.topic("incidents.submitted")

    def routes(self) -> list[BaseRoute]:
        g = self.guard
        return [
            g.get("/incidents/{alert_id}", Permission.SUBMIT, self.timeline),
            g.get("/new", Permission.SUBMIT, self.new_page),
            g.post("/new", Permission.SUBMIT, self.new),
            g.get("/mine", Permission.SUBMIT, self.mine),
        ]

    async def timeline(self, request: Request, who: Who, form: Form) -> Response:
        """Every version, the draft, the audit events and the deliveries of one alert."""
        alert_id = request.path_params["alert_id"]
        read_model = self.guard.read_model
        versions = read_model.incidents.get(alert_id, [])
        own = any(v.incident.source == f"console:{who.user.name}" for v in versions)
        if not who.user.can(Permission.READ) and not own:
            return self.guard.forbidden(
                request, who, self.guard.gettext("you only see your own alerts", who.language)
            )
        view = read_model.drafts.get(alert_id)
        if not versions and view is None:
            return self.guard.not_found(
                who, self.guard.gettext("no alert with this identifier", who.language)
            )
        return self.guard.page(
            "timeline.html",
            who,
            alert_id=alert_id,
            versions=versions,
            view=view,
            events=read_model.events_for(alert_id),
            cells=[c for c in read_model.cells.values() if _cell_alert(c) == alert_id],
        )

    async def mine(self, request: Request, who: Who, form: Form) -> Response:
        return self.guard.page(
            "mine.html",
            who,
            incidents=self.guard.read_model.own_incidents(who.user.name),
            notice=request.query_params.get("notice", ""),
            alert_id_for=alert_id_for,
        )

    async def new_page(self, request: Request, who: Who, form: Form) -> Response:
        return self._new_form(who, {}, [], 200)

    def _new_form(self, who: Who, values: Form, problems: list[Problem], status_code: int) -> Response:
        return self.guard.page(
            "new.html",
            who,
            status_code,
            values=values,
            problems=problems,
            categories=[c.value for c in Category],
            severities=[s.value for s in Severity],
            urgencies=[u.value for u in Urgency],
            certainties=[c.value for c in Certainty],
        )

    async def new(self, request: Request, who: Who, form: Form) -> Response:
        """An alert written by hand: submitted like any incident, from source console:<user>."""
        incident = self._incident_from(form, who)
        if isinstance(incident, list):
            return self._new_form(who, form, incident, 422)
        source = f"console:{who.user.name}"
        event = AuditEvent(
            at=clock.now(),
            actor=who.user.name,
            action=AuditAction.SUBMITTED,
            incident_key=incident.key,
            alert_id=alert_id_for(incident.key),
            message=incident.info[0].headline,
        )
        sent = await self.guard.send(
            [
                Message(
                    topic=self.submitted_topic,
                    key=incident.key.encode(),
                    value=incident.model_dump_json().encode(),
                    headers=[(SOURCE_HEADER, source.encode()), ("content-type", b"application/json")],
                ),
                Message(
                    topic=self.guard.topics.audit,
                    key=incident.key.encode(),
                    value=event.model_dump_json().encode(),
                ),
            ]
        )
        if not sent:
            problem = Problem.said("", "kafka_unavailable", N_("Kafka did not take the alert: try again"))
            return self._new_form(who, form, [problem], 503)
        return self.guard.redirect("/mine?notice=submitted")

    def _incident_from(self, form: Form, who: Who) -> Incident | list[Problem]:
        """The form as an incident (times typed in the console's zone), or what is wrong with it."""
        user = who.user
        now = clock.now()
        problems: list[Problem] = []
        times: dict[str, datetime | None] = {}
        for name in ("onset", "expires"):
            raw = form.get(name, "").strip()
            try:
                times[name] = self.guard.pages.parse(raw)
            except ValueError:
                problems.append(Problem.said(name, "datetime", N_("unreadable date and time"), value=raw))
        if problems:
            return problems
        document = {
            "identifier": f"console-{user.name}-{now:%Y%m%d%H%M%S}-{secrets.token_hex(3)}",
            "sender": f"console@{user.name}",
            "sent": now,
            "source": f"console:{user.name}",
            "info": [
                {
                    "language": "fr",
                    "category": form.get("category", ""),
                    "event": form.get("event", "").strip(),
                    "urgency": form.get("urgency", "Unknown"),
                    "severity": form.get("severity", "Unknown"),
                    "certainty": form.get("certainty", "Unknown"),
                    "sender_name": form.get("sender_name", "").strip() or None,
                    "headline": form.get("headline", "").strip(),
                    "description": form.get("description", "").strip(),
                    "instruction": form.get("instruction", "").strip(),
                    "web": form.get("web", "").strip() or None,
                    "onset": times["onset"],
                    "expires": times["expires"],
                    "areas": [{"area_desc": form.get("area", "").strip()}]
                    if form.get("area", "").strip()
                    else [],
                }
            ],
        }
        try:
            return Incident.model_validate(document)
        except ValidationError as error:
            return problems_from_validation(error)


def _cell_alert(cell: Cell) -> str:
    if cell.request is not None:
        return str(cell.request.alert_id)
    return str(cell.receipt.alert_id) if cell.receipt is not None else ""
