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
from alertcast.models.decision import DraftStatus
from alertcast.models.problem import Problem
from alertcast.web.console.auth import Permission
from alertcast.web.console.guard import Area, Form, Guard, Who
from alertcast.web.console.pages import STATUS_LABELS
from alertcast.web.console.readmodel import DraftView
from alertcast.web.producer import Message

STAGE_LABELS = {"primary": "de permanence", "backup": "en renfort", "supervisor": "en supervision"}
#: Why a link is refused, in the console's words, and the status it answers with.
REFUSALS = {
    "token_malformed": (400, "Ce lien n'est pas un lien d'appel d'alertcast, ou il a été coupé."),
    "token_signature": (403, "Ce lien a été modifié, ou signé avec une autre clé."),
    "token_from_future": (400, "Ce lien est daté du futur : vérifiez l'horloge des serveurs."),
    "token_expired": (410, "Cet appel date de plus de 24 heures : ouvrez le brouillon depuis la file."),
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

    def _call(self, token: str) -> tuple[tokens.Acknowledgeable | None, int, str]:
        """The call a link answers, or the status and message of its refusal."""
        key = self.guard.config.duty_key
        if key is None:
            return None, 404, "Les liens d'appel ne sont pas activés (ALERTCAST_DUTY_SECRET)."
        verified = tokens.verify(token, key, clock.now())
        if isinstance(verified, Problem):
            status, message = REFUSALS.get(verified.rule, (400, verified.message))
            return None, status, message
        return verified, 200, ""

    def _blocked(self, call: tokens.Acknowledgeable, view: DraftView | None) -> str:
        """Why this call can no longer be acknowledged ("" when it can)."""
        if view is None:
            return "Aucun brouillon n'est connu pour cette alerte."
        if view.draft.version != call.version:
            return f"La version {view.draft.version} a remplacé celle de l'appel : ouvrez-la depuis la file."
        if view.status is not DraftStatus.PENDING:
            return f"Ce brouillon n'attend plus de prise en charge : il est {_status(view.status)}."
        if view.taken_by is not None:
            return f"Déjà pris en charge par {view.taken_by}."
        return ""

    async def ack_page(self, request: Request, who: Who, form: Form) -> Response:
        return self._page(
            who, request.query_params.get("token", ""), done=request.query_params.get("done") == "1"
        )

    def _page(
        self, who: Who, token: str, error: str = "", status_code: int = 200, done: bool = False
    ) -> Response:
        call, status, message = self._call(token)
        if call is None:
            return self.guard.page("error.html", who, status, title="Appel de permanence", message=message)
        view = self.guard.read_model.drafts.get(call.alert_id)
        return self.guard.page(
            "duty_ack.html",
            who,
            status_code,
            call=call,
            token=token,
            view=view,
            stage=STAGE_LABELS.get(call.stage, call.stage),
            blocked=self._blocked(call, view),
            done=done,
            error=error,
            can_decide=who.user.can(Permission.DECIDE),
        )

    async def acknowledge(self, request: Request, who: Who, form: Form) -> Response:
        token = form.get("token", "")
        call, status, message = self._call(token)
        if call is None:
            return self.guard.page("error.html", who, status, title="Appel de permanence", message=message)
        view = self.guard.read_model.drafts.get(call.alert_id)
        blocked = self._blocked(call, view)
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
            return self._page(
                who, token, "Kafka n'a pas pris la prise en charge : réessayez dans un instant.", 503
            )
        view.taken_by = who.user.name  # this process shows it at once; the others when it comes back
        return self.guard.redirect(f"/duty/ack?token={token}&done=1")


def _status(status: DraftStatus) -> str:
    return STATUS_LABELS.get(status.value, status.value)
