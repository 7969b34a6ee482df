"""The deliveries grid: each approved alert's channels and accounts, and what a person may do
about a delivery that failed (post it again) or must not go out (drop it).

A person's decision on a delivery is not applied here: its request is produced again with the
decision in its headers (as `alertcast deliveries resolve` does), keyed by its account like
every request (so the worker that paces that account gets it), and the delivery agent acts on
it; an audit event says who, in the same send. The page also holds the pause panel (`pauses.py`).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from alertcast.clock import clock
from alertcast.delivery.ledger import Resolution
from alertcast.i18n import N_, said
from alertcast.models.alert import DeliveryRequest
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.resolve import resolution_headers
from alertcast.web.console.auth import Permission
from alertcast.web.console.guard import Area, Form, Guard, Who
from alertcast.web.console.pauses import Pauses
from alertcast.web.console.readmodel import Cell
from alertcast.web.producer import Message

log = logging.getLogger(__name__)

# What a redirect's ?notice= says on the deliveries page: (done, text); unknown codes say nothing.
NOTICES = {
    "retry": (True, N_("Retry requested.")),
    "paused": (True, N_("Pause recorded: the deliveries concerned wait for the resumption.")),
    "resumed": (
        True,
        N_("Resumption recorded: the held deliveries go out, unless another pause holds them."),
    ),
    "sent": (True, N_("Request sent: it will show in a moment.")),
    "dropped": (True, N_("Request recorded: this delivery will not be published.")),
    "introuvable": (False, N_("Delivery or pause not found: it may have been handled already.")),
    "kafka": (False, N_("Kafka did not take the request: try again in a moment.")),
}
RETRYABLE = ("dead", "unknown")
DROPPABLE = ("paused", "dead", "unknown")


class Deliveries(Area):
    def __init__(self, guard: Guard) -> None:
        super().__init__(guard)
        self.pauses = Pauses(guard, self.page)

    def routes(self) -> list[BaseRoute]:
        g = self.guard
        return [
            g.get("/deliveries", Permission.READ, self.page),
            g.get("/deliveries.part", Permission.READ, self.part),
            g.post("/deliveries/retry", Permission.DECIDE, self.retry),
            g.post("/deliveries/drop", Permission.DECIDE, self.drop),
        ]

    async def page(
        self,
        request: Request,
        who: Who,
        form: Form,
        error: str = "",
        values: Form | None = None,
        status_code: int = 200,
    ) -> Response:
        """The grid and the pause panel; after a refused pause form, its error and values."""
        read_model = self.guard.read_model
        notice = NOTICES.get(request.query_params.get("notice", ""))
        return self.guard.page(
            "deliveries.html",
            who,
            status_code,
            grid=read_model.grid(),
            channels=read_model.channels(),
            notice=(notice[0], self.guard.gettext(notice[1], who.language)) if notice else None,
            error=error,
            values=values or {},
            choices=self.pauses.choices(),
            can_decide=who.user.can(Permission.DECIDE),
            **self.pauses.context(),
        )

    async def part(self, request: Request, who: Who, form: Form) -> Response:
        read_model = self.guard.read_model
        return self.guard.fragment(
            "deliveries_part.html",
            who,
            who=who,
            grid=read_model.grid(),
            channels=read_model.channels(),
            can_decide=who.user.can(Permission.DECIDE),
        )

    async def retry(self, request: Request, who: Who, form: Form) -> Response:
        """A failed delivery sent again: the same request (same idempotency key), with who asked."""
        cell = self._cell(form, RETRYABLE)
        if cell is None or cell.request is None:
            return self.guard.redirect("/deliveries?notice=introuvable")
        event = _event(
            cell,
            cell.request,
            who,
            AuditAction.RETRY,
            N_("retry on %(channel)s/%(account)s"),
            account=cell.request.account,
        )
        sent = await self._decide_delivery(cell.request, Resolution.POST_AGAIN, who, event)
        return self.guard.redirect(f"/deliveries?notice={'retry' if sent else 'kafka'}")

    async def drop(self, request: Request, who: Who, form: Form) -> Response:
        """A held, dead or unknown delivery that must not go out: its request again, with the drop
        and who decided it in its headers (the delivery agent settles it as dropped), audited."""
        cell = self._cell(form, DROPPABLE)
        if cell is None or cell.request is None:
            return self.guard.redirect("/deliveries?notice=introuvable")
        delivery = cell.request
        event = _event(
            cell,
            delivery,
            who,
            AuditAction.DROP,
            N_("do not publish on %(channel)s/%(account)s"),
            account=delivery.account,
            previous_status=cell.state,
        )
        if not await self._decide_delivery(delivery, Resolution.DROP, who, event):
            return self.guard.redirect("/deliveries?notice=kafka")
        log.warning("console: %s dropped delivery %s", who.user.name, delivery.delivery_key)
        return self.guard.redirect("/deliveries?notice=dropped")

    def _cell(self, form: Form, states: tuple[str, ...]) -> Cell | None:
        """The form's delivery, if it is known and in one of `states` (else already dealt with)."""
        cell = self.guard.read_model.cells.get(form.get("delivery_key", ""))
        return cell if cell is not None and cell.state in states else None

    async def _decide_delivery(
        self, delivery: DeliveryRequest, resolution: Resolution, who: Who, event: AuditEvent
    ) -> bool:
        """A person's decision on a delivery: its request again with the decision in its headers
        (the delivery agent acts on it), and the audit event, sent together; False if Kafka refused."""
        key = delivery.incident.key.encode()
        topics = self.guard.topics
        messages = [
            Message(
                topic=topics.requests,
                key=delivery.partition_key,
                value=delivery.model_dump_json().encode(),
                headers=resolution_headers(resolution, who.user.name),
            ),
            Message(topic=topics.audit, key=key, value=event.model_dump_json().encode()),
        ]
        return await self.guard.send(messages)


def _event(
    cell: Cell, delivery: DeliveryRequest, who: Who, action: AuditAction, what: str, **details: object
) -> AuditEvent:
    """The audit event of a person's decision on a delivery: `what` (a msgid naming the
    `%(channel)s` and `%(account)s`) on its channel and account."""
    return AuditEvent(
        at=clock.now(),
        actor=who.user.name,
        action=action,
        incident_key=delivery.incident.key,
        alert_id=delivery.alert_id,
        version=delivery.version,
        channel=delivery.channel,
        **said(what, channel=delivery.channel, account=delivery.account),
        details={
            "delivery_key": delivery.delivery_key,
            **details,
            "previous_error": cell.receipt.error if cell.receipt else None,
        },
    )
