"""The inbox: every citizen's reply and mention, for the communicator on duty (issue 19).

One list, newest conversation first, grouped by the alert it answers (mentions under no alert
apart), filtered by what is left to do (to answer, overdue, answered, moderated), by competent
service and by network; a page per conversation with each reply, the charter's verdict and its
reasons, and the 72-hour deadline in the console's zone.

What a person does here is recorded, never sent to a network: each act is an audit event
(`reply_answered`, `reply_assigned`, `reply_moderated`) that the inbox reads back, so every web
process shows it, and the audit log keeps who did it. "Answered" means the person answered
elsewhere (on the network, by phone): it stops the circuit, it posts nothing. A verdict changed
here is the console's; nothing is hidden, redacted or deleted on the network (no code does that
yet, so no button claims to). Writing an answer from the console comes with the delivery ledger.
"""

from __future__ import annotations

import logging
from typing import Any, get_args

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from alertcast.clock import clock
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.replies.model import Network
from alertcast.replies.moderation import Action, ModerationDecision, Reason
from alertcast.web.console.auth import Permission
from alertcast.web.console.guard import Area, Form, Guard, Who
from alertcast.web.console.inbox_model import STATE_FILTERS, InboxModel, Thread, by_alert, load_routing
from alertcast.web.producer import Message

log = logging.getLogger(__name__)

MAX_NOTE = 500
VERDICTS: tuple[Action, ...] = ("keep", "flag", "hide")
NETWORKS: tuple[str, ...] = get_args(Network)
# What a redirect's ?notice= says on a conversation's page: (done, text); unknown codes say nothing.
NOTICES = {
    "answered": (True, "Conversation marquée comme répondue : le délai de 72 heures s'arrête."),
    "assigned": (True, "Conversation confiée au service choisi."),
    "moderated": (True, "Verdict enregistré dans la console (rien n'a changé sur le réseau)."),
    "kafka": (False, "Kafka n'a pas pris la demande : réessayez dans un instant."),
}


class Inbox(Area):
    def __init__(self, guard: Guard) -> None:
        super().__init__(guard)
        config = guard.config
        self.model = InboxModel(
            guard.topics.replies,
            guard.topics.audit,
            load_routing(config.routing_file),
            config.sla,
            config.timezone,
        )

    def routes(self) -> list[BaseRoute]:
        g = self.guard
        return [
            g.get("/inbox", Permission.READ, self.inbox),
            g.get("/inbox/{ref}", Permission.READ, self.conversation),
            g.post("/inbox/{ref}/answered", Permission.DECIDE, self.mark_answered),
            g.post("/inbox/{ref}/assign", Permission.DECIDE, self.assign),
            g.post("/inbox/{ref}/moderate", Permission.DECIDE, self.moderate),
        ]

    def on_message(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.model.on_message(topic, key, value)

    # --- pages ----------------------------------------------------------------------------

    async def inbox(self, request: Request, who: Who, form: Form) -> Response:
        query = request.query_params
        state = query.get("state", "")
        service = query.get("service", "")
        network = query.get("network", "")
        views = self.model.views(
            self._category,
            state=state if state in STATE_FILTERS else "",
            service=service,
            network=network if network in NETWORKS else "",
        )
        return self.guard.page(
            "inbox.html",
            who,
            groups=by_alert(views),
            total=len(views),
            query={"state": state, "service": service, "network": network},
            states=STATE_FILTERS,
            services=self.model.services(),
            networks=NETWORKS,
            **self._alerts(),
        )

    async def conversation(
        self, request: Request, who: Who, form: Form, error: str = "", status_code: int = 200
    ) -> Response:
        thread = self.model.threads.get(request.path_params["ref"])
        if thread is None:
            return self.guard.not_found(who, "aucune conversation de ce nom")
        return self.guard.page(
            "inbox_conversation.html",
            who,
            status_code,
            view=self.model.view(thread, self._category),
            notice=NOTICES.get(request.query_params.get("notice", "")),
            error=error,
            services=self.model.services(),
            verdicts=VERDICTS,
            can_decide=who.user.can(Permission.DECIDE),
            **self._alerts(),
        )

    # --- acts (audit events only) ---------------------------------------------------------

    async def mark_answered(self, request: Request, who: Who, form: Form) -> Response:
        """The conversation was answered outside alertcast: its circuit stops until a citizen
        writes again."""
        thread = self.model.threads.get(request.path_params["ref"])
        if thread is None:
            return self.guard.not_found(who, "aucune conversation de ce nom")
        note = form.get("note", "").strip()
        if len(note) > MAX_NOTE:
            return await self._refuse(request, who, form, f"note trop longue (plus de {MAX_NOTE} caractères)")
        event = self._event(thread, who, AuditAction.REPLY_ANSWERED, note or "répondu hors de la console")
        return await self._record(thread, event, "answered")

    async def assign(self, request: Request, who: Who, form: Form) -> Response:
        """The conversation handed to another competent service (one the routing file names)."""
        thread = self.model.threads.get(request.path_params["ref"])
        if thread is None:
            return self.guard.not_found(who, "aucune conversation de ce nom")
        service = form.get("service", "")
        if service not in self.model.services():
            return await self._refuse(request, who, form, "service inconnu : choisissez-le dans la liste")
        previous = self.model.view(thread, self._category).service
        event = self._event(
            thread,
            who,
            AuditAction.REPLY_ASSIGNED,
            f"confiée à {service}",
            service=service,
            previous=previous,
        )
        return await self._record(thread, event, "assigned")

    async def moderate(self, request: Request, who: Who, form: Form) -> Response:
        """A person's verdict on one reply, replacing the one in force (the charter's stays on
        record inside it, as `overrides`)."""
        thread = self.model.threads.get(request.path_params["ref"])
        if thread is None:
            return self.guard.not_found(who, "aucune conversation de ce nom")
        reply_id = form.get("reply", "")
        action = form.get("action", "")
        current = self.model.decision(reply_id)
        note = form.get("note", "").strip()
        if current is None or all(entry.reply.id != reply_id for entry in thread.entries):
            return await self._refuse(request, who, form, "réponse inconnue dans cette conversation")
        if action not in VERDICTS:
            return await self._refuse(request, who, form, "verdict inconnu : choisissez-le dans la liste")
        if len(note) > MAX_NOTE:
            return await self._refuse(request, who, form, f"note trop longue (plus de {MAX_NOTE} caractères)")
        verdict: Action = "keep" if action == "keep" else "flag" if action == "flag" else "hide"
        decision = current.reversed_by(who.user.name, clock.now(), verdict)
        event = self._event(
            thread,
            who,
            AuditAction.REPLY_MODERATED,
            note or f"verdict {verdict} (console seulement)",
            reply_id=reply_id,
            decision=without_excerpts(decision).model_dump(mode="json"),
        )
        return await self._record(thread, event, "moderated")

    # --- helpers --------------------------------------------------------------------------

    def _category(self, alert_id: str) -> str | None:
        view = self.guard.read_model.drafts.get(alert_id)
        info = view.draft.incident.main_info if view is not None else None
        return info.category.value if info is not None else None

    def _alerts(self) -> dict[str, Any]:
        """What the pages say of the alerts: their headline when the draft is known."""
        headlines = {
            alert_id: view.draft.incident.main_info.headline
            for alert_id, view in self.guard.read_model.drafts.items()
            if view.draft.incident.main_info is not None
        }
        return {"headlines": headlines}

    def _event(
        self, thread: Thread, who: Who, action: AuditAction, message: str, **details: Any
    ) -> AuditEvent:
        alert_id = thread.alert_id or ""
        draft = self.guard.read_model.drafts.get(alert_id)
        return AuditEvent(
            at=clock.now(),
            actor=who.user.name,
            action=action,
            incident_key=draft.draft.incident_key if draft is not None else "",
            alert_id=alert_id,
            channel=thread.network,
            message=message,
            details={
                "ref": thread.ref,
                "network": thread.network,
                "conversation": thread.conversation,
                **details,
            },
        )

    async def _record(self, thread: Thread, event: AuditEvent, notice: str) -> Response:
        """The act's audit event, keyed like the replies (the incident when known, else the alert
        or "mention:<network>"), applied here at once when Kafka took it."""
        key = event.incident_key or thread.alert_id or f"mention:{thread.network}"
        message = Message(
            topic=self.guard.topics.audit, key=key.encode(), value=event.model_dump_json().encode()
        )
        if not await self.guard.send([message], f"inbox {event.action.value} {thread.ref}"):
            return self.guard.redirect(f"/inbox/{thread.ref}?notice=kafka")
        self.model.apply(event)
        log.info("console: %s %s conversation %s", event.actor, event.action.value, thread.ref)
        return self.guard.redirect(f"/inbox/{thread.ref}?notice={notice}")

    async def _refuse(self, request: Request, who: Who, form: Form, error: str) -> Response:
        return await self.conversation(request, who, form, error=error, status_code=422)


def without_excerpts(decision: ModerationDecision) -> ModerationDecision:
    """The decision as the audit log keeps it (forever): each reason's rule and span, not the
    words, because what the charter hides is often someone's phone number or address."""
    reasons = [
        Reason(rule=reason.rule, start=reason.start, end=reason.end, excerpt="", message="")
        for reason in decision.reasons
    ]
    overrides = without_excerpts(decision.overrides) if decision.overrides is not None else None
    return decision.model_copy(update={"reasons": reasons, "overrides": overrides})
