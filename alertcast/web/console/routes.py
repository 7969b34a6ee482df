"""The duty communicators' console, assembled: one module per area around the shared guard.

`guard.py` checks the session, the role and the CSRF token in front of every page and holds
what the areas share; each area owns its pages and forms:

- `login.py`: the landing page, logging in (throttled, audited) and out;
- `drafts.py`: the approval queue, a draft's page, decisions and edits;
- `deliveries.py`: the deliveries grid, retrying and dropping a delivery;
- `pauses.py`: the pause switches, on the deliveries page;
- `incidents.py`: an alert's timeline, one's own alerts, the new-alert form;
- `duty.py`: answering a duty call from its link, who is on duty now (on the queue page);
- `inbox.py`: citizens' replies, their competent service, the 72-hour circuit, moderation;
- `kpi.py`: the KPIs (how fast alerts went out, how they did), for anyone logged in;
- `audit.py`: the audit log;
- `admin.py`: the policy in force, users and sources.

`Console` is what the web app builds, feeds the topics to and mounts; the attributes below are
the ones it (and the tests) reach through it.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from alertcast.web.console.admin import Admin
from alertcast.web.console.audit import Audit
from alertcast.web.console.config import ConsoleConfig
from alertcast.web.console.deliveries import Deliveries
from alertcast.web.console.drafts import Drafts
from alertcast.web.console.duty import Duty
from alertcast.web.console.guard import PREFIX, Guard
from alertcast.web.console.inbox import Inbox
from alertcast.web.console.incidents import Incidents
from alertcast.web.console.kpi import Kpis
from alertcast.web.console.login import Login
from alertcast.web.console.pages import STATIC
from alertcast.web.producer import Producer


class Console:
    def __init__(self, config: ConsoleConfig, producer: Producer, topic: Callable[[str], str]) -> None:
        self.guard = Guard(config, producer, topic)
        self.login = Login(self.guard)
        self.drafts = Drafts(self.guard)
        self.deliveries = Deliveries(self.guard)
        self.pauses = self.deliveries.pauses
        self.incidents = Incidents(self.guard)
        self.duty = Duty(self.guard)
        self.inbox = Inbox(self.guard)
        self.kpis = Kpis(self.guard, self.inbox.model)
        self.audit = Audit(self.guard)
        self.admin = Admin(self.guard)
        self.config = config
        self.users = self.guard.users
        self.signer = self.guard.signer
        self.topics = self.guard.topics
        self.read_model = self.guard.read_model
        self.throttle = self.login.throttle

    def on_message(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.read_model.on_message(topic, key, value)
        self.inbox.on_message(topic, key, value)

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            *self.login.routes(),
            *self.drafts.routes(),
            *self.deliveries.routes(),
            *self.pauses.routes(),
            *self.incidents.routes(),
            *self.duty.routes(),
            *self.inbox.routes(),
            *self.kpis.routes(),
            *self.audit.routes(),
            *self.admin.routes(),
            Mount(f"{PREFIX}/static", StaticFiles(directory=str(STATIC)), name="console-static"),
        ]


__all__ = ["Console"]
