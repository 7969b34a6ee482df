"""The approval queue and a draft's page: what waits for a person, and their decisions on it.

Decisions are produced to `alerts.decisions` keyed by incident key; the page then waits (a
few seconds at most) for the approval agent's audit event, so the person sees the outcome,
including a refusal and its reason. The web refuses what it already knows the agent would
refuse (same person twice, a blocked edit), without producing anything: the agent stays the
judge, this only spares a round trip and a confusing "sent" for a decision bound to fail.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from alertcast.approval.workflow import refusal_for_approval
from alertcast.clock import clock
from alertcast.i18n import DEFAULT_LANGUAGE
from alertcast.models.decision import MAX_BEFORE_ONSET_MINUTES, Decision, DecisionAction, DraftStatus
from alertcast.web.console.auth import Permission
from alertcast.web.console.duty import duty_context
from alertcast.web.console.guard import Area, Form, Who
from alertcast.web.console.pages import STATUS_LABELS
from alertcast.web.console.readmodel import DraftView
from alertcast.web.producer import Message

DECISION_ACTIONS = {
    "approve": DecisionAction.APPROVE,
    "reject": DecisionAction.REJECT,
    "hold": DecisionAction.HOLD,
    "release": DecisionAction.RELEASE,
    "reschedule": DecisionAction.RESCHEDULE,
    "unschedule": DecisionAction.UNSCHEDULE,
}
#: Decisions that carry a time: a date typed in the console's zone, or minutes before onset.
TIMED = (DecisionAction.APPROVE, DecisionAction.RESCHEDULE)
NOT_WHILE_SCHEDULED = (DecisionAction.APPROVE, DecisionAction.HOLD, DecisionAction.EDIT)


class Drafts(Area):
    def routes(self) -> list[BaseRoute]:
        g = self.guard
        return [
            g.get("/queue", Permission.READ, self.queue),
            g.get("/queue.part", Permission.READ, self.queue_part),
            g.get("/api/queue", Permission.READ, self.queue_json),
            g.get("/drafts/{alert_id}", Permission.READ, self.draft),
            g.post("/drafts/{alert_id}/decide", Permission.DECIDE, self.decide),
            g.post("/drafts/{alert_id}/edit", Permission.DECIDE, self.edit),
        ]

    async def queue(self, request: Request, who: Who, form: Form) -> Response:
        read_model = self.guard.read_model
        return self.guard.page(
            "queue.html",
            who,
            queue=read_model.queue(),
            auto=read_model.recently_auto(),
            **duty_context(self.guard),
        )

    async def queue_part(self, request: Request, who: Who, form: Form) -> Response:
        read_model = self.guard.read_model
        return self.guard.fragment(
            "queue_part.html", who, queue=read_model.queue(), auto=read_model.recently_auto()
        )

    async def queue_json(self, request: Request, who: Who, form: Form) -> Response:
        return JSONResponse(
            [
                {
                    "alert_id": view.draft.alert_id,
                    "version": view.draft.version,
                    "headline": (
                        view.draft.incident.main_info.headline if view.draft.incident.main_info else ""
                    ),
                    "severity_rank": view.draft.incident.severity_rank,
                    "status": view.status.value,
                    "received_at": view.draft.received_at.isoformat(),
                }
                for view in self.guard.read_model.queue()
            ]
        )

    async def draft(
        self, request: Request, who: Who, form: Form, error: str = "", status_code: int = 200
    ) -> Response:
        """The draft, its texts per channel, and (after a decision, `?d=`) that decision's outcome."""
        read_model = self.guard.read_model
        view = read_model.drafts.get(request.path_params["alert_id"])
        if view is None:
            return self.guard.not_found(who, self.guard.gettext("no draft for this alert", who.language))
        outcome = read_model.outcomes.get(request.query_params.get("d", ""))
        waiting = request.query_params.get("d", "") in view.pending and outcome is None
        return self.guard.page(
            "draft.html",
            who,
            status_code,
            view=view,
            error=error,
            outcome=outcome,
            waiting=waiting,
            can_decide=who.user.can(Permission.DECIDE),
        )

    async def decide(self, request: Request, who: Who, form: Form) -> Response:
        view = self.guard.read_model.drafts.get(request.path_params["alert_id"])
        action = DECISION_ACTIONS.get(form.get("action", ""))
        if view is None or action is None:
            return self.guard.not_found(who, self.guard.gettext("unknown draft or action", who.language))
        try:
            when = self._when(form, who.language) if action in TIMED else {}
        except ValueError as error:
            return await self.draft(request, who, form, error=str(error), status_code=400)
        decision = self._decision(
            view, who, form, action, reason=form.get("reason", "").strip()[:2000], **when
        )
        return await self._send(request, who, form, view, decision)

    def _when(self, form: Form, language: str) -> dict[str, Any]:
        """The time of a scheduled approval, or none (publish at once): `publish_at`, a date and
        time typed in the console's zone, or `before_onset` minutes before the alert's onset."""
        _ = self.guard.gettext
        typed, minutes = form.get("publish_at", "").strip(), form.get("before_onset", "").strip()
        if typed and minutes:
            raise ValueError(_("give a publication time or a delay before the onset, not both", language))
        if minutes:
            if not (minutes.isascii() and minutes.isdigit()) or int(minutes) > MAX_BEFORE_ONSET_MINUTES:
                raise ValueError(
                    _(
                        "the delay before the onset is a number of minutes from 0 to %(most)s",
                        language,
                        most=MAX_BEFORE_ONSET_MINUTES,
                    )
                )
            return {"before_onset_minutes": int(minutes)}
        if not typed:
            return {}
        try:
            at = self.guard.pages.parse(typed)
        except ValueError:
            raise ValueError(
                _("“%(typed)s” is not a date and time (YYYY-MM-DD HH:MM)", language, typed=typed[:40])
            ) from None
        return {"publish_at": at.astimezone(UTC)} if at else {}

    async def edit(self, request: Request, who: Who, form: Form) -> Response:
        view = self.guard.read_model.drafts.get(request.path_params["alert_id"])
        if view is None:
            return self.guard.not_found(who, self.guard.gettext("no draft for this alert", who.language))
        decision = self._decision(
            view,
            who,
            form,
            DecisionAction.EDIT,
            channel=form.get("channel", ""),
            language=form.get("language", ""),
            text=form.get("text", "")[:10_000],
        )
        return await self._send(request, who, form, view, decision)

    def _decision(
        self, view: DraftView, who: Who, form: Form, action: DecisionAction, **fields: Any
    ) -> Decision:
        """The decision on the version the person was reading (`version` in the form)."""
        version = form.get("version", "")
        return Decision(
            incident_key=view.draft.incident_key,
            alert_id=view.draft.alert_id,
            version=int(version)
            if version.isascii() and version.isdigit() and int(version) > 0
            else view.draft.version,
            action=action,
            actor=who.user.name,
            roles=who.user.roles,
            at=clock.now(),
            **fields,
        )

    def precheck(self, view: DraftView, decision: Decision, language: str = DEFAULT_LANGUAGE) -> str | None:
        """What the web already knows the agent would refuse (it checks again itself), in `language`."""
        _ = self.guard.gettext
        if decision.version != view.draft.version:
            return _(
                "version %(version)s replaced the one you were reading: read it again",
                language,
                version=view.draft.version,
            )
        if not view.status.open:
            status = self.guard.pages.label(STATUS_LABELS, view.status.value, language)
            return _("this draft is already %(status)s", language, status=status)
        scheduled = view.status is DraftStatus.SCHEDULED
        if decision.action in (DecisionAction.RESCHEDULE, DecisionAction.UNSCHEDULE) and not scheduled:
            return _("this draft is not scheduled", language)
        if decision.action is DecisionAction.RESCHEDULE and not (
            decision.publish_at or decision.before_onset_minutes is not None
        ):
            return _("give the new publication time", language)
        if scheduled and decision.action in NOT_WHILE_SCHEDULED:
            return _("this draft is scheduled: unschedule it first", language)
        if decision.action is DecisionAction.APPROVE:
            if any(
                d.actor == decision.actor and d.action is DecisionAction.APPROVE
                for d in view.pending.values()
            ):
                return _("your approval is already being processed", language)
            refusal = refusal_for_approval(view.state, decision)
            if refusal is not None:
                return self.guard.pages.explain(refusal, "message", language)
        if decision.action is DecisionAction.REJECT and not decision.reason:
            return _("give the reason for the rejection", language)
        if decision.action is DecisionAction.RELEASE and view.status is not DraftStatus.HELD:
            return _("this draft is not on hold", language)
        if decision.action is DecisionAction.EDIT and not any(
            t.channel == decision.channel and t.language == decision.language for t in view.draft.texts
        ):
            return _("this channel has no text in this language", language)
        return None

    async def _send(
        self, request: Request, who: Who, form: Form, view: DraftView, decision: Decision
    ) -> Response:
        """The decision produced, then a short wait for its outcome, shown on the draft's page."""
        refusal = self.precheck(view, decision, who.language)
        if refusal is not None:
            return await self.draft(request, who, form, error=refusal, status_code=409)
        message = Message(
            topic=self.guard.topics.decisions,
            key=decision.incident_key.encode(),
            value=decision.model_dump_json().encode(),
        )
        if not await self.guard.send([message], f"decision {decision.decision_id}"):
            return await self.draft(
                request,
                who,
                form,
                error=self.guard.gettext(
                    "Kafka did not take the decision: try again in a moment", who.language
                ),
                status_code=503,
            )
        self.guard.read_model.sent(decision)
        await self.guard.read_model.outcome(decision.decision_id, self.guard.config.decision_wait_s)
        return self.guard.redirect(f"/drafts/{view.draft.alert_id}?d={decision.decision_id}")
