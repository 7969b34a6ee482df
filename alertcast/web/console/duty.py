"""The duty desk in the console: answering a duty call from its link, and who is on duty now.

A call (Matrix, e-mail, SMS, webhook) carries `/console/duty/ack?token=…`, a signed link naming
the draft version, the person called and the stage (`alertcast.duty.tokens`). Opening it asks for
a login like any page, then shows the draft and a button: a GET records nothing, because mail
scanners and link previews open links; the POST (CSRF-checked) writes the `acknowledged` audit
event, which the worker's duty desk folds to stop calling the backup and the supervisor. The
person logged in is the one recorded, also when answering a colleague's call: the link proves
which call is answered, not who answers it.

The queue page shows who is on duty now per service (`board`), from the same rota file the
worker reads, and says when an edit of it was refused (the worker then keeps the previous one).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from alertcast.clock import clock
from alertcast.duty import tokens
from alertcast.duty.escalation import acknowledged_event
from alertcast.duty.rota import board
from alertcast.i18n import N_
from alertcast.models.decision import DraftStatus
from alertcast.models.problem import Problem
from alertcast.web.console.auth import Permission
from alertcast.web.console.guard import Area, Form, Guard, Who
from alertcast.web.console.pages import STATUS_LABELS
from alertcast.web.console.readmodel import DraftView
from alertcast.web.producer import Message

STAGE_LABELS = {"primary": N_("on duty"), "backup": N_("as backup"), "supervisor": N_("as supervisor")}
#: Why a link is refused, in the console's words, and the status it answers with.
REFUSALS = {
    "token_malformed": (400, N_("This link is not an alertcast duty call link, or it was cut.")),
    "token_signature": (403, N_("This link was changed, or signed with another key.")),
    "token_from_future": (400, N_("This link is dated in the future: check the servers' clocks.")),
    "token_expired": (410, N_("This call is over 24 hours old: open the draft from the queue.")),
}


def duty_context(guard: Guard) -> dict[str, Any]:
    """What the queue page shows of the duty: the rota's people now, or why there is none."""
    rota = guard.rota.current()
    return {
        "duty_on": guard.rota.path is not None,
        "duty_board": board(rota, clock.now()) if rota is not None else [],
        "duty_problems": guard.rota.problems,
    }


class Duty(Area):
    def routes(self) -> list[BaseRoute]:
        g = self.guard
        return [
            g.get("/duty/ack", Permission.READ, self.ack_page),
            g.post("/duty/ack", Permission.DECIDE, self.acknowledge),
        ]

    def _call(self, token: str, language: str) -> tuple[tokens.Acknowledgeable | None, int, str]:
        """The call a link answers, or the status and message of its refusal."""
        _ = self.guard.gettext
        key = self.guard.config.duty_key
        if key is None:
            return None, 404, _("Duty call links are not enabled (ALERTCAST_DUTY_SECRET).", language)
        verified = tokens.verify(token, key, clock.now())
        if isinstance(verified, Problem):
            status, message = REFUSALS.get(verified.rule, (400, ""))
            return None, status, _(message, language) if message else verified.message
        return verified, 200, ""

    def _blocked(self, call: tokens.Acknowledgeable, view: DraftView | None, language: str) -> str:
        """Why this call can no longer be acknowledged ("" when it can)."""
        _ = self.guard.gettext
        if view is None:
            return _("No draft is known for this alert.", language)
        if view.draft.version != call.version:
            return _(
                "Version %(version)s replaced the one of the call: open it from the queue.",
                language,
                version=view.draft.version,
            )
        if view.status is not DraftStatus.PENDING:
            status = self.guard.pages.label(STATUS_LABELS, view.status.value, language)
            return _("This draft no longer waits to be taken on: it is %(status)s.", language, status=status)
        if view.taken_by is not None:
            return _("Already taken on by %(person)s.", language, person=view.taken_by)
        return ""

    async def ack_page(self, request: Request, who: Who, form: Form) -> Response:
        return self._page(
            who, request.query_params.get("token", ""), done=request.query_params.get("done") == "1"
        )

    def _page(
        self, who: Who, token: str, error: str = "", status_code: int = 200, done: bool = False
    ) -> Response:
        call, status, message = self._call(token, who.language)
        if call is None:
            return self._refused(who, status, message)
        view = self.guard.read_model.drafts.get(call.alert_id)
        return self.guard.page(
            "duty_ack.html",
            who,
            status_code,
            call=call,
            token=token,
            view=view,
            stage=self.guard.pages.label(STAGE_LABELS, call.stage, who.language),
            blocked=self._blocked(call, view, who.language),
            done=done,
            error=error,
            can_decide=who.user.can(Permission.DECIDE),
        )

    async def acknowledge(self, request: Request, who: Who, form: Form) -> Response:
        token = form.get("token", "")
        call, status, message = self._call(token, who.language)
        if call is None:
            return self._refused(who, status, message)
        view = self.guard.read_model.drafts.get(call.alert_id)
        blocked = self._blocked(call, view, who.language)
        if blocked or view is None:
            return self._page(who, token, blocked, 404 if view is None else 409)
        event = acknowledged_event(
            actor=who.user.name,
            incident_key=view.draft.incident_key,
            alert_id=call.alert_id,
            version=call.version,
            person=call.person,
            stage=call.stage,
            now=clock.now(),
        )
        message_out = Message(
            topic=self.guard.topics.audit,
            key=view.draft.incident_key.encode(),
            value=event.model_dump_json().encode(),
        )
        if not await self.guard.send([message_out], f"acknowledgement of {call.alert_id} by {who.user.name}"):
            refused = self.guard.gettext(
                "Kafka did not take the acknowledgement: try again in a moment.", who.language
            )
            return self._page(who, token, refused, 503)
        view.taken_by = who.user.name  # this process shows it at once; the others when it comes back
        return self.guard.redirect(f"/duty/ack?token={token}&done=1")

    def _refused(self, who: Who, status: int, message: str) -> Response:
        title = self.guard.gettext("Duty call", who.language)
        return self.guard.page("error.html", who, status, title=title, message=message)
