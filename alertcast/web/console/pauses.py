"""The pause switches: stop the deliveries of everything, a channel or one account, and resume.

Switches are written like `alertcast deliveries pause|resume` writes them (the same
`alertcast.pausing.switch_records`: the switch on `config.pauses` and its audit event, in one
send), so the worker cannot tell the console's from the command's; the page then waits for
the switch to come back from the topic, so it shows at once. The switches live on the
deliveries page (what they hold is there): a refused form shows that page again, with why.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from alertcast.delivery.pause import Pause
from alertcast.pausing import new_switch, switch_records
from alertcast.web.console.auth import Permission
from alertcast.web.console.guard import Area, Form, Guard, Who
from alertcast.web.producer import Message

log = logging.getLogger(__name__)

MAX_REASON = 500
MAX_ACCOUNT = 200


class DeliveriesPage(Protocol):
    """The deliveries page, shown again with a refused form's error and values."""

    async def __call__(
        self, request: Request, who: Who, form: Form, error: str, values: Form | None, status_code: int
    ) -> Response: ...


class Pauses(Area):
    def __init__(self, guard: Guard, page: DeliveriesPage) -> None:
        super().__init__(guard)
        self.page = page

    def routes(self) -> list[BaseRoute]:
        g = self.guard
        return [
            g.get("/pauses.part", Permission.READ, self.part),
            g.post("/pauses", Permission.DECIDE, self.pause),
            g.post("/pauses/resume", Permission.DECIDE, self.resume),
        ]

    def context(self) -> dict[str, Any]:
        """What the pause panel shows: the active switches and the deliveries held, per channel."""
        read_model = self.guard.read_model
        return {"switches": read_model.pauses.active(), "held": sorted(read_model.held().items())}

    def choices(self) -> list[str]:
        """The channels one may pause: the worker's (settings), then any the topics mention."""
        read_model = self.guard.read_model
        seen = [*self.guard.config.channels, *sorted({c.channel for c in read_model.cells.values()})]
        seen += [p.channel for p in read_model.pauses.switches.values() if p.channel]
        return list(dict.fromkeys(channel for channel in seen if channel))

    async def part(self, request: Request, who: Who, form: Form) -> Response:
        return self.guard.fragment(
            "pauses_part.html", who, who=who, can_decide=who.user.can(Permission.DECIDE), **self.context()
        )

    async def pause(self, request: Request, who: Who, form: Form) -> Response:
        """Pause everything (no channel), a channel, or one account of a channel."""
        channel = form.get("channel", "").strip()
        account = form.get("account", "").strip()
        reason = form.get("reason", "").strip()
        values = {"channel": channel, "account": account, "reason": reason}
        error = ""
        _, language = self.guard.gettext, who.language
        if channel and channel not in self.choices():
            error = _("unknown channel: choose it from the list", language)
        elif account and not channel:
            error = _("an account is paused within its channel: choose the channel", language)
        elif len(account) > MAX_ACCOUNT:
            error = _("account name too long (over %(most)s characters)", language, most=MAX_ACCOUNT)
        elif not reason:
            error = _("give the reason for the pause: it is kept in the log", language)
        elif len(reason) > MAX_REASON:
            error = _("reason too long (over %(most)s characters)", language, most=MAX_REASON)
        if error:
            return await self.page(request, who, form, error=error, values=values, status_code=422)
        switch = new_switch(True, channel or None, account or None, who.user.name, reason)
        return await self._switch(request, who, form, switch, values)

    async def resume(self, request: Request, who: Who, form: Form) -> Response:
        """Resume one active switch: a switch of the same scope, not paused, by this person."""
        current = self.guard.read_model.pauses.switches.get(form.get("scope", ""))
        if current is None or not current.paused:
            return self.guard.redirect("/deliveries?notice=introuvable")
        switch = new_switch(False, current.channel, current.account, who.user.name)
        return await self._switch(request, who, form, switch, {})

    async def _switch(self, request: Request, who: Who, form: Form, switch: Pause, values: Form) -> Response:
        messages = [
            Message(topic=topic, key=key, value=value)
            for topic, key, value in switch_records(self.guard.topic, switch)
        ]
        if not await self.guard.send(messages, f"switch {switch.scope}"):
            return await self.page(
                request,
                who,
                form,
                error=self.guard.gettext(
                    "Kafka did not take the request: try again in a moment", who.language
                ),
                values=values,
                status_code=503,
            )
        log.warning(
            "console: deliveries %s %s by %s %s",
            switch.scope,
            "paused" if switch.paused else "resumed",
            switch.by,
            switch.reason,
        )
        read_model = self.guard.read_model
        seen = await read_model.until(lambda: read_model.switched(switch), self.guard.config.decision_wait_s)
        notice = ("paused" if switch.paused else "resumed") if seen else "sent"
        return self.guard.redirect(f"/deliveries?notice={notice}#pauses")
