"""The audit log, for supervisors: every decision, publication, delivery action and login,
filtered by who, what, which alert and when (dates typed in the console's zone).

Session events (logins, failures, logouts) are many and rarely wanted, so they show only when
asked for (`sessions=1`); at most 500 events are listed, with the total, so a wide filter
still answers quickly.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from alertcast.models.decision import AuditAction
from alertcast.web.console.auth import Permission
from alertcast.web.console.guard import Area, Form, Who

SHOWN = 500


class Audit(Area):
    def routes(self) -> list[BaseRoute]:
        return [self.guard.get("/audit", Permission.AUDIT, self.audit)]

    async def audit(self, request: Request, who: Who, form: Form) -> Response:
        query = request.query_params
        events = self.guard.read_model.filtered_audit(
            actor=query.get("actor", "").strip(),
            action=query.get("action", ""),
            alert=query.get("alert", "").strip(),
            since=self._date(query.get("since", "")),
            until=self._date(query.get("until", "")),
            sessions=query.get("sessions", "") == "1",
        )
        return self.guard.page(
            "audit.html",
            who,
            events=events[:SHOWN],
            total=len(events),
            query=dict(query),
            actions=list(AuditAction),
        )

    def _date(self, value: str) -> datetime | None:
        """A filter's date, or no bound at all when it is unreadable."""
        try:
            return self.guard.pages.parse(value)
        except ValueError:
            return None
