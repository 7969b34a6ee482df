"""The inbox: every citizen's reply and mention, for the communicator on duty (issue 19).

One list, newest conversation first, grouped by the alert it answers (mentions under no alert
apart), filtered by what is left to do (to answer, overdue, answered, moderated), by competent
service and by network; a page per conversation with each reply, the charter's verdict and its
reasons, and the 72-hour deadline in the console's zone.

Each act is an audit event (`reply_answered`, `reply_assigned`, `reply_moderated`) that the
inbox reads back, so every web process shows it, and the audit log keeps who did it. "Answered"
means the person answered elsewhere (on the network, by phone): it stops the circuit, it posts
nothing. A verdict changed here is the console's alone.

Acting on the network is a separate, explicit click: "Masquer sur le réseau" on a reply the
verdict hides, where the network lets us (alertcast.replies.actions says where; Matrix's
"Caviarder" asks for a confirmation first, a redaction being final), and the answer form, which
posts a reply in the thread under the citizen's. Each produces a `ReplyAction` on
`replies.actions` (the worker does it once, through its ledger) and a `reply_action_requested`
audit event; the worker's outcome comes back on `audit.events`, so the page shows each action
as asked, done, or impossible with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, get_args

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from alertcast.charter import check_text
from alertcast.clock import clock
from alertcast.i18n import N_, said, term
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.replies.actions import (
    CANNOT,
    KIND_WORDS,
    MAX_ANSWER,
    STATE_WORDS,
    Kind,
    ReplyAction,
    allowed,
    refusal,
)
from alertcast.replies.model import Network
from alertcast.replies.moderation import Action, ModerationDecision, Reason
from alertcast.web.console.auth import Permission
from alertcast.web.console.guard import Area, Form, Guard, Who
from alertcast.web.console.inbox_model import (
    MODERATION_LANGUAGE,
    STATE_FILTERS,
    InboxModel,
    Thread,
    by_alert,
    load_routing,
)
from alertcast.web.console.pages import VERDICT_LABELS
from alertcast.web.producer import Message

log = logging.getLogger(__name__)

MAX_NOTE = 500
VERDICTS: tuple[Action, ...] = ("keep", "flag", "hide")
NETWORKS: tuple[str, ...] = get_args(Network)
# What a redirect's ?notice= says on a conversation's page: (done, text); unknown codes say nothing.
# Words in English, translated where they are shown (the reader's language).
NOTICES = {
    "answered": (True, N_("Conversation marked as answered: the 72-hour deadline stops.")),
    "assigned": (True, N_("Conversation assigned to the chosen service.")),
    "moderated": (True, N_("Verdict recorded in the console (nothing changed on the network).")),
    "kafka": (False, N_("Kafka did not take the request: try again in a moment.")),
    "hide": (True, N_("Hiding requested: it will be done on the network in a moment.")),
    "unhide": (True, N_("Showing again requested: it will be done on the network in a moment.")),
    "answer": (True, N_("Answer requested: it will be published under the citizen's message, once.")),
}
ACT_KINDS: dict[str, Kind] = {"hide": "hide", "unhide": "unhide"}
NO_CONVERSATION = N_("no conversation of that name")
UNKNOWN_REPLY = N_("unknown reply in this conversation")
NOTE_TOO_LONG = N_("note too long (over %(most)s characters)")


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
            g.post("/inbox/{ref}/act", Permission.DECIDE, self.act),
            g.post("/inbox/{ref}/answer", Permission.DECIDE, self.answer),
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
        self,
        request: Request,
        who: Who,
        form: Form,
        error: str = "",
        status_code: int = 200,
        confirm: str = "",
    ) -> Response:
        thread = self.model.threads.get(request.path_params["ref"])
        if thread is None:
            return self.guard.not_found(who, self.guard.gettext(NO_CONVERSATION, who.language))
        notice = NOTICES.get(request.query_params.get("notice", ""))

        def words(table: dict[str, str]) -> dict[str, str]:
            return {code: self.guard.gettext(said, who.language) for code, said in table.items()}

        return self.guard.page(
            "inbox_conversation.html",
            who,
            status_code,
            view=self.model.view(thread, self._category),
            notice=(notice[0], self.guard.gettext(notice[1], who.language)) if notice else None,
            error=error,
            services=self.model.services(),
            verdicts=VERDICTS,
            can_decide=who.user.can(Permission.DECIDE),
            allowed=allowed,
            cannot=CANNOT,
            state_words=words(STATE_WORDS),
            kind_words=words(KIND_WORDS),
            confirm=confirm,
            answer_text=form.get("text", "") if error else "",
            max_answer=MAX_ANSWER,
            **self._alerts(),
        )

    # --- acts on the network (a request to the worker, and its audit event) ---------------

    async def act(self, request: Request, who: Who, form: Form) -> Response:
        """Hide or show again one reply on its network; a Matrix redaction is confirmed first."""
        _ = self._words(who)
        thread = self.model.threads.get(request.path_params["ref"])
        if thread is None:
            return self.guard.not_found(who, _(NO_CONVERSATION))
        reply_id = form.get("reply", "")
        entry = next((e for e in thread.entries if e.reply.id == reply_id), None)
        kind = ACT_KINDS.get(form.get("kind", ""))
        if entry is None:
            return await self._refuse(request, who, form, _(UNKNOWN_REPLY))
        if kind is None:
            return await self._refuse(request, who, form, _("unknown action: hide or show again"))
        confirmed = thread.network == "matrix" and kind == "hide" and form.get("confirm") == "oui"
        action = self._action(
            thread, entry.reply.id, who, kind, confirmed_by=who.user.name if confirmed else None
        )
        if thread.network == "matrix" and kind == "hide" and not confirmed:
            return await self.conversation(request, who, {}, confirm=reply_id)
        if (why := refusal(action)) is not None:
            return await self._refuse(request, who, form, _(why))
        return await self._request(thread, action, who, kind)

    async def answer(self, request: Request, who: Who, form: Form) -> Response:
        """An answer posted in the thread under one of the citizen's replies (the latest by
        default), once, by the worker; checked by the charter like any text we publish (a
        blocking finding, such as someone's phone number, refuses it here)."""
        _ = self._words(who)
        thread = self.model.threads.get(request.path_params["ref"])
        if thread is None:
            return self.guard.not_found(who, _(NO_CONVERSATION))
        reply_id = form.get("reply", "") or thread.entries[-1].reply.id
        text = form.get("text", "").strip()
        if all(e.reply.id != reply_id for e in thread.entries):
            return await self._refuse(request, who, form, _(UNKNOWN_REPLY))
        if not text:
            return await self._refuse(request, who, form, _("write the answer before sending it"))
        if len(text) > MAX_ANSWER:
            return await self._refuse(
                request, who, form, _("answer too long (over %(most)s characters)", most=MAX_ANSWER)
            )
        action = self._action(thread, reply_id, who, "answer", text=text)
        if (why := refusal(action)) is not None:
            return await self._refuse(request, who, form, _(why))
        blocking = [finding for finding in check_text(text, MODERATION_LANGUAGE) if finding.blocking]
        if blocking:
            why = _("; ").join(
                _(
                    "“%(excerpt)s”: %(reason)s",
                    excerpt=finding.excerpt,
                    reason=self.guard.pages.explain(finding, "message", who.language),
                )
                for finding in blocking
            )
            return await self._refuse(
                request, who, form, _("the charter blocks this answer: %(why)s", why=why)
            )
        return await self._request(thread, action, who, "answer")

    def _action(
        self,
        thread: Thread,
        reply_id: str,
        who: Who,
        kind: Kind,
        text: str | None = None,
        confirmed_by: str | None = None,
    ) -> ReplyAction:
        reply = next(e.reply for e in thread.entries if e.reply.id == reply_id)
        return ReplyAction(
            kind=kind,
            network=thread.network,
            target=reply.id.split(":", 1)[1],
            reply_id=reply.id,
            author=reply.author,
            conversation=thread.conversation,
            ref=thread.ref,
            alert_id=thread.alert_id,
            text=text,
            confirmed_by=confirmed_by,
            by=who.user.name,
            at=clock.now(),
        )

    async def _request(self, thread: Thread, action: ReplyAction, who: Who, notice: str) -> Response:
        """The request for the worker and its audit event, produced together."""
        event = self._event(
            thread,
            who,
            AuditAction.REPLY_ACTION_REQUESTED,
            said(
                N_("%(kind)s requested on %(network)s"),
                kind=term(KIND_WORDS[action.kind], action.kind),
                network=thread.network,
            ),
            reply_id=action.reply_id,
            request=action.model_dump(mode="json"),
        )
        key = event.incident_key or thread.alert_id or f"mention:{thread.network}"
        messages = [
            Message(
                topic=self.guard.topic("replies.actions"),
                key=action.key,
                value=action.model_dump_json().encode(),
            ),
            Message(topic=self.guard.topics.audit, key=key.encode(), value=event.model_dump_json().encode()),
        ]
        if not await self.guard.send(messages, f"inbox {action.kind} {thread.ref}"):
            return self.guard.redirect(f"/inbox/{thread.ref}?notice=kafka")
        self.model.apply(event)
        log.info(
            "console: %s asked %s on %s for conversation %s",
            who.user.name,
            action.kind,
            thread.network,
            thread.ref,
        )
        return self.guard.redirect(f"/inbox/{thread.ref}?notice={notice}")

    # --- acts (audit events only) ---------------------------------------------------------

    async def mark_answered(self, request: Request, who: Who, form: Form) -> Response:
        """The conversation was answered outside alertcast: its circuit stops until a citizen
        writes again."""
        _ = self._words(who)
        thread = self.model.threads.get(request.path_params["ref"])
        if thread is None:
            return self.guard.not_found(who, _(NO_CONVERSATION))
        note = form.get("note", "").strip()
        if len(note) > MAX_NOTE:
            return await self._refuse(request, who, form, _(NOTE_TOO_LONG, most=MAX_NOTE))
        words = {"message": note} if note else said(N_("answered outside the console"))
        event = self._event(thread, who, AuditAction.REPLY_ANSWERED, words)
        return await self._record(thread, event, "answered")

    async def assign(self, request: Request, who: Who, form: Form) -> Response:
        """The conversation handed to another competent service (one the routing file names)."""
        _ = self._words(who)
        thread = self.model.threads.get(request.path_params["ref"])
        if thread is None:
            return self.guard.not_found(who, _(NO_CONVERSATION))
        service = form.get("service", "")
        if service not in self.model.services():
            return await self._refuse(request, who, form, _("unknown service: choose it from the list"))
        previous = self.model.view(thread, self._category).service
        event = self._event(
            thread,
            who,
            AuditAction.REPLY_ASSIGNED,
            said(N_("assigned to %(service)s"), service=service),
            service=service,
            previous=previous,
        )
        return await self._record(thread, event, "assigned")

    async def moderate(self, request: Request, who: Who, form: Form) -> Response:
        """A person's verdict on one reply, replacing the one in force (the charter's stays on
        record inside it, as `overrides`)."""
        _ = self._words(who)
        thread = self.model.threads.get(request.path_params["ref"])
        if thread is None:
            return self.guard.not_found(who, _(NO_CONVERSATION))
        reply_id = form.get("reply", "")
        action = form.get("action", "")
        current = self.model.decision(reply_id)
        note = form.get("note", "").strip()
        if current is None or all(entry.reply.id != reply_id for entry in thread.entries):
            return await self._refuse(request, who, form, _(UNKNOWN_REPLY))
        if action not in VERDICTS:
            return await self._refuse(request, who, form, _("unknown verdict: choose it from the list"))
        if len(note) > MAX_NOTE:
            return await self._refuse(request, who, form, _(NOTE_TOO_LONG, most=MAX_NOTE))
        verdict: Action = "keep" if action == "keep" else "flag" if action == "flag" else "hide"
        decision = current.reversed_by(who.user.name, clock.now(), verdict)
        event = self._event(
            thread,
            who,
            AuditAction.REPLY_MODERATED,
            {"message": note}
            if note
            else said(
                N_("verdict: %(verdict)s (in the console only)"),
                verdict=term(VERDICT_LABELS[verdict], verdict),
            ),
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
        self, thread: Thread, who: Who, action: AuditAction, words: Mapping[str, Any], **details: Any
    ) -> AuditEvent:
        """An act's event: `words` are a person's (`{"message": note}`) or a msgid's (`said(...)`)."""
        alert_id = thread.alert_id or ""
        draft = self.guard.read_model.drafts.get(alert_id)
        return AuditEvent(
            at=clock.now(),
            actor=who.user.name,
            action=action,
            incident_key=draft.draft.incident_key if draft is not None else "",
            alert_id=alert_id,
            channel=thread.network,
            **words,
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

    def _words(self, who: Who) -> Callable[..., str]:
        """The Python side's words (a refusal) in the person's language, as `_(message, **values)`."""
        return partial(self.guard.gettext, language=who.language)

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
