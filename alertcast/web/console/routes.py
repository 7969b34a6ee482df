"""The duty communicators' console: pages, forms and the few JSON/fragment endpoints they poll.

Every page goes through `guard`: no session → the login page (HTML) or 401 (JSON, fragments);
a role without the permission → 403; a form without this session's CSRF token → 403.
Decisions are produced to `alerts.decisions` keyed by incident key; the page then waits (a
few seconds at most) for the approval agent's audit event, so the person sees the outcome,
including a refusal and its reason. The web refuses what it already knows the agent would
refuse (same person twice, a blocked edit), without producing anything.

Pause switches are written like `alertcast deliveries pause|resume` writes them (the same
`alertcast.pausing.switch_records`: the switch on `config.pauses` and its audit event, in one
send); the page then waits for the switch to come back from the topic, so it shows at once.
A held, dead or unknown delivery a person drops is produced again with the drop in its headers
(as `alertcast deliveries resolve --drop` does), with an audit event saying who.

Logins are throttled per account and per client address (`throttle.py`): during a delay the
attempt answers 429 with the wait, unread. Logins, failures, throttled attempts and logouts
are audited (never the password; a typed name only when it is a user's). A logout revokes the
session in every web process through its audit event (see the read model).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from alertcast.approval.policy import parse_policy
from alertcast.approval.workflow import refusal_for_approval
from alertcast.clock import clock
from alertcast.delivery.ledger import Resolution
from alertcast.delivery.pause import Pause
from alertcast.models.alert import DeliveryRequest, alert_id_for
from alertcast.models.decision import (
    AuditAction,
    AuditEvent,
    Decision,
    DecisionAction,
    DraftStatus,
    PolicyConfig,
)
from alertcast.models.incident import Category, Certainty, Incident, Severity, Urgency
from alertcast.models.problem import Problem, problems_from_validation
from alertcast.pausing import new_switch, switch_records
from alertcast.resolve import resolution_headers
from alertcast.web.console.auth import Permission, User, Users
from alertcast.web.console.config import ConsoleConfig
from alertcast.web.console.pages import SECURITY_HEADERS, STATIC, Pages
from alertcast.web.console.readmodel import ConsoleReadModel, DraftView, Topics
from alertcast.web.console.sessions import (
    DEVICE_COOKIE,
    DEVICE_TTL_S,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Session,
    Signer,
)
from alertcast.web.console.throttle import LoginThrottle, wait_text
from alertcast.web.producer import Message, ProduceError, Producer

log = logging.getLogger(__name__)

PREFIX = "/console"
MAX_FORM_BYTES = 64 * 1024
SOURCE_HEADER = "alertcast-source"
DECISION_ACTIONS = {
    "approve": DecisionAction.APPROVE,
    "reject": DecisionAction.REJECT,
    "hold": DecisionAction.HOLD,
    "release": DecisionAction.RELEASE,
}
MAX_REASON = 500
MAX_ACCOUNT = 200
# What a redirect's ?notice= says on the deliveries page: (done, text); unknown codes say nothing.
NOTICES = {
    "retry": (True, "Nouvel essai demandé."),
    "paused": (True, "Pause enregistrée : les diffusions concernées attendent la reprise."),
    "resumed": (
        True,
        "Reprise enregistrée : les diffusions retenues partent, sauf si une autre pause les retient.",
    ),
    "sent": (True, "Demande envoyée : elle s'affichera dans un instant."),
    "dropped": (True, "Demande enregistrée : cette diffusion ne sera pas publiée."),
    "introuvable": (False, "Diffusion ou pause introuvable : elle a peut-être déjà été traitée."),
    "kafka": (False, "Kafka n'a pas pris la demande : réessayez dans un instant."),
}
DROPPABLE = ("paused", "dead", "unknown")


@dataclass(frozen=True)
class Who:
    user: User
    session: Session
    csrf: str


@dataclass(frozen=True)
class LoginAttempt:
    actor: str  # the typed name if it is a user's, else "?" (a mistyped password is never logged)
    client: str  # the client's address
    account: str  # throttle key: the account, or this browser's own for that account
    address: str  # throttle key: the address


Form = dict[str, str]
Handler = Callable[[Request, Who, Form], Awaitable[Response]]


class Console:
    def __init__(self, config: ConsoleConfig, producer: Producer, topic: Callable[[str], str]) -> None:
        self.config = config
        self.users = Users(config.users)
        self.signer = Signer(config.session_key, config.session_ttl_s)
        self.producer = producer
        self.topic = topic
        self.topics = Topics.with_prefix(topic)
        self.submitted_topic = topic("incidents.submitted")
        self.read_model = ConsoleReadModel(self.topics)
        self.origin = secrets.token_hex(8)  # this process, in its login events (see _login_elsewhere)
        self.throttle = LoginThrottle(now=lambda: clock.now().timestamp())
        self.read_model.on_login = self._login_elsewhere
        self.pages = Pages(config.timezone)
        self.zone = ZoneInfo(config.timezone)

    def on_message(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.read_model.on_message(topic, key, value)

    @property
    def routes(self) -> list[BaseRoute]:
        g = self.guard
        return [
            Route(PREFIX, self.home, methods=["GET"]),
            Route(f"{PREFIX}/", self.home, methods=["GET"]),
            Route(f"{PREFIX}/login", self.login_page, methods=["GET"]),
            Route(f"{PREFIX}/login", self.login, methods=["POST"]),
            Route(f"{PREFIX}/logout", g(None, self.logout, post=True), methods=["POST"]),
            Route(f"{PREFIX}/queue", g(Permission.READ, self.queue), methods=["GET"]),
            Route(f"{PREFIX}/queue.part", g(Permission.READ, self.queue_part), methods=["GET"]),
            Route(f"{PREFIX}/api/queue", g(Permission.READ, self.queue_json), methods=["GET"]),
            Route(f"{PREFIX}/drafts/{{alert_id}}", g(Permission.READ, self.draft), methods=["GET"]),
            Route(
                f"{PREFIX}/drafts/{{alert_id}}/decide",
                g(Permission.DECIDE, self.decide, post=True),
                methods=["POST"],
            ),
            Route(
                f"{PREFIX}/drafts/{{alert_id}}/edit",
                g(Permission.DECIDE, self.edit, post=True),
                methods=["POST"],
            ),
            Route(f"{PREFIX}/deliveries", g(Permission.READ, self.deliveries), methods=["GET"]),
            Route(f"{PREFIX}/deliveries.part", g(Permission.READ, self.deliveries_part), methods=["GET"]),
            Route(
                f"{PREFIX}/deliveries/retry", g(Permission.DECIDE, self.retry, post=True), methods=["POST"]
            ),
            Route(f"{PREFIX}/deliveries/drop", g(Permission.DECIDE, self.drop, post=True), methods=["POST"]),
            Route(f"{PREFIX}/pauses.part", g(Permission.READ, self.pauses_part), methods=["GET"]),
            Route(f"{PREFIX}/pauses", g(Permission.DECIDE, self.pause, post=True), methods=["POST"]),
            Route(f"{PREFIX}/pauses/resume", g(Permission.DECIDE, self.resume, post=True), methods=["POST"]),
            Route(f"{PREFIX}/incidents/{{alert_id}}", g(Permission.SUBMIT, self.timeline), methods=["GET"]),
            Route(f"{PREFIX}/audit", g(Permission.AUDIT, self.audit), methods=["GET"]),
            Route(f"{PREFIX}/new", g(Permission.SUBMIT, self.new_page), methods=["GET"]),
            Route(f"{PREFIX}/new", g(Permission.SUBMIT, self.new, post=True), methods=["POST"]),
            Route(f"{PREFIX}/mine", g(Permission.SUBMIT, self.mine), methods=["GET"]),
            Route(f"{PREFIX}/policy", g(Permission.POLICIES, self.policy), methods=["GET"]),
            Route(f"{PREFIX}/admin", g(Permission.ADMIN, self.admin), methods=["GET"]),
            Mount(f"{PREFIX}/static", StaticFiles(directory=str(STATIC)), name="console-static"),
        ]

    # --- authentication, roles, CSRF ---------------------------------------------------------

    def who(self, request: Request) -> Who | None:
        session = self.signer.read(request.cookies.get(SESSION_COOKIE))
        if session is None or self.read_model.is_revoked(self.signer.revocation(session.sid)):
            return None
        user = self.users.get(session.user)
        if user is None or self.signer.fingerprint(user.password_argon2) != session.fingerprint:
            return None
        return Who(user=user, session=session, csrf=self.signer.csrf(session.sid))

    def guard(
        self, permission: Permission | None, handler: Handler, *, post: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            who = self.who(request)
            if who is None:
                return self._unauthenticated(request)
            form: Form = {}
            if post:
                form = await _form(request)
                if not self.signer.csrf_ok(who.session.sid, form.get("csrf")):
                    return self._forbidden(request, who, "jeton CSRF absent ou invalide : rechargez la page")
            if permission is not None and not who.user.can(permission):
                return self._forbidden(request, who, "votre rôle ne permet pas cette action")
            return await handler(request, who, form)

        return endpoint

    def _unauthenticated(self, request: Request) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {
                    "error": "unauthenticated",
                    "problems": [
                        Problem(
                            path="session",
                            rule="unauthenticated",
                            message="no valid console session",
                            hint=f"log in at {PREFIX}/login",
                        ).model_dump()
                    ],
                },
                status_code=401,
                headers=SECURITY_HEADERS,
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)

    def _forbidden(self, request: Request, who: Who, message: str) -> Response:
        if _wants_json(request):
            problem = Problem(path=request.url.path, rule="forbidden", message=message)
            return JSONResponse({"error": "forbidden", "problems": [problem.model_dump()]}, status_code=403)
        return self._page("error.html", who, 403, title="Accès refusé", message=message)

    def _page(self, name: str, who: Who | None, status_code: int = 200, **context: Any) -> Response:
        return self.pages.render(
            name, status_code, who=who, Permission=Permission, revision=self.read_model.revision, **context
        )

    async def home(self, request: Request) -> Response:
        who = self.who(request)
        if who is None:
            return self._unauthenticated(request)
        if who.user.can(Permission.READ):
            return RedirectResponse(f"{PREFIX}/queue", status_code=303)
        if who.user.can(Permission.SUBMIT):
            return RedirectResponse(f"{PREFIX}/mine", status_code=303)
        if who.user.can(Permission.AUDIT):
            return RedirectResponse(f"{PREFIX}/audit", status_code=303)
        return RedirectResponse(f"{PREFIX}/admin", status_code=303)

    async def login_page(self, request: Request, error: str = "", status_code: int = 200) -> Response:
        pre = secrets.token_urlsafe(16)
        response = self._page(
            "login.html",
            None,
            status_code,
            csrf=self.signer.csrf("login:" + pre),
            next=_safe_next(request.query_params.get("next", "")),
            error=error,
        )
        self._cookie(response, LOGIN_COOKIE, pre, max_age=3600)
        return response

    async def login(self, request: Request) -> Response:
        form = await _form(request)
        pre = request.cookies.get(LOGIN_COOKIE)
        if not pre or not self.signer.csrf_ok("login:" + pre, form.get("csrf")):
            return self._page(
                "error.html", None, 403, title="Accès refusé", message="jeton CSRF absent ou invalide"
            )
        name = form.get("name", "").strip().lower()
        attempt = self._attempt(request, name)
        verdict = self.throttle.check(attempt.account, attempt.address)
        if not verdict.allowed:  # refused unread: the password is not even checked
            if verdict.audit:
                await self._audit_login(attempt, AuditAction.LOGIN_THROTTLED, wait_s=verdict.wait_s)
            message = f"Trop d'essais de connexion : réessayez dans {wait_text(verdict.wait_s)}."
            response = await self.login_page(request, message, 429)
            response.headers["Retry-After"] = str(verdict.retry_after)
            return response
        # counted before the (slow) check, so parallel guesses cannot slip through the same gap
        wait_s = self.throttle.failed(attempt.account, attempt.address)
        user = await self.users.verify(name, form.get("password", ""))
        if user is None:
            log.warning("console: failed login for %s from %s", attempt.actor, attempt.client)
            await self._audit_login(attempt, AuditAction.LOGIN_FAILED, wait_s=wait_s)
            message = "Identifiant ou mot de passe incorrect."
            if wait_s > 0:
                message += f" Prochain essai possible dans {wait_text(wait_s)}."
            return await self.login_page(request, message, 401)
        earlier = self.throttle.accounts.failures(attempt.account) - 1  # this attempt was counted
        self.throttle.succeeded(attempt.account, attempt.address)
        if earlier > 0:  # maybe a guess that worked: audited, and other processes forget the failures
            await self._audit_login(attempt, AuditAction.LOGIN, failures=earlier)
        cookie, _ = self.signer.issue(user.name, user.password_argon2)
        log.info("console: %s logged in from %s", user.name, attempt.client)
        response = RedirectResponse(_safe_next(form.get("next", "")) or f"{PREFIX}/", status_code=303)
        self._cookie(response, SESSION_COOKIE, cookie, max_age=self.signer.ttl_s)
        self._cookie(response, DEVICE_COOKIE, self.signer.issue_device(user.name), max_age=DEVICE_TTL_S)
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    def _attempt(self, request: Request, name: str) -> LoginAttempt:
        """The throttle keys of a login attempt: its account (or, from a browser that logged in
        as that account before, that browser alone) and its client address."""
        client = request.client.host if request.client else ""
        device = self.signer.read_device(request.cookies.get(DEVICE_COOKIE))
        account = (
            self.signer.key("device", f"{name}.{device.nonce}")
            if device is not None and device.user == name
            else self.signer.key("account", name)
        )
        return LoginAttempt(
            actor=name if self.users.known(name) else "?",
            client=client,
            account=account,
            address=self.signer.key("address", client),
        )

    async def _audit_login(
        self, attempt: LoginAttempt, action: AuditAction, wait_s: float = 0.0, failures: int = 0
    ) -> None:
        """The audit event of a login attempt; Kafka refusing it is logged, the answer goes on."""
        messages = {
            AuditAction.LOGIN: f"connexion après {failures} échec(s)",
            AuditAction.LOGIN_FAILED: "identifiant ou mot de passe incorrect",
            AuditAction.LOGIN_THROTTLED: "essais refusés sans vérification pendant le délai",
        }
        event = AuditEvent(
            at=clock.now(),
            actor=attempt.actor,
            action=action,
            accepted=action is AuditAction.LOGIN,
            message=messages.get(action, ""),
            details={
                "address": attempt.client,
                "wait_s": round(wait_s, 3),
                **({"failures": failures} if failures else {}),
                "throttle": {"account": attempt.account, "address": attempt.address},
                "origin": self.origin,
            },
        )
        await self._produce_audit(event, f"login:{attempt.account}")

    async def _produce_audit(self, event: AuditEvent, key: str) -> bool:
        try:
            await self.producer.send_all(
                [Message(topic=self.topics.audit, key=key.encode(), value=event.model_dump_json().encode())]
            )
        except ProduceError as failure:
            log.error("console: audit event %s (%s) not produced: %s", event.action, event.actor, failure)
            return False
        return True

    def _login_elsewhere(self, event: AuditEvent) -> None:
        """Another web process's login event, counted here too (ours were counted at once)."""
        keys = event.details.get("throttle")
        if event.details.get("origin") == self.origin or not isinstance(keys, dict):
            return
        account, address = keys.get("account"), keys.get("address")
        if not isinstance(account, str) or not isinstance(address, str):
            return
        if event.action is AuditAction.LOGIN_FAILED:
            self.throttle.failed(account, address, at=event.at.timestamp())
        elif event.action is AuditAction.LOGIN:
            self.throttle.succeeded(account, address, at=event.at.timestamp())

    async def logout(self, request: Request, who: Who, form: Form) -> Response:
        """Ends the session here at once, and in every web process when its event arrives there."""
        revocation = self.signer.revocation(who.session.sid)
        self.read_model.revoke(revocation, who.session.expires)
        event = AuditEvent(
            at=clock.now(),
            actor=who.user.name,
            action=AuditAction.LOGOUT,
            message="déconnexion : la session est révoquée",
            details={"session": revocation, "expires": who.session.expires, "origin": self.origin},
        )
        if not await self._produce_audit(event, f"logout:{who.user.name}"):
            log.error("console: other web processes accept %s's session until it expires", who.user.name)
        log.info("console: %s logged out", who.user.name)
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    def _cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=self.config.cookie_secure,
        )

    # --- queue and drafts --------------------------------------------------------------------

    async def queue(self, request: Request, who: Who, form: Form) -> Response:
        return self._page(
            "queue.html", who, queue=self.read_model.queue(), auto=self.read_model.recently_auto()
        )

    async def queue_part(self, request: Request, who: Who, form: Form) -> Response:
        return self.pages.fragment(
            "queue_part.html", queue=self.read_model.queue(), auto=self.read_model.recently_auto()
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
                for view in self.read_model.queue()
            ]
        )

    async def draft(
        self, request: Request, who: Who, form: Form, error: str = "", status_code: int = 200
    ) -> Response:
        view = self.read_model.drafts.get(request.path_params["alert_id"])
        if view is None:
            return self._page(
                "error.html", who, 404, title="Introuvable", message="aucun brouillon pour cette alerte"
            )
        outcome = self.read_model.outcomes.get(request.query_params.get("d", ""))
        waiting = request.query_params.get("d", "") in view.pending and outcome is None
        return self._page(
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
        view = self.read_model.drafts.get(request.path_params["alert_id"])
        action = DECISION_ACTIONS.get(form.get("action", ""))
        if view is None or action is None:
            return self._page(
                "error.html", who, 404, title="Introuvable", message="brouillon ou action inconnus"
            )
        decision = self._decision(view, who, form, action, reason=form.get("reason", "").strip()[:2000])
        return await self._send(request, who, form, view, decision)

    async def edit(self, request: Request, who: Who, form: Form) -> Response:
        view = self.read_model.drafts.get(request.path_params["alert_id"])
        if view is None:
            return self._page(
                "error.html", who, 404, title="Introuvable", message="aucun brouillon pour cette alerte"
            )
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
        version = form.get("version", "")
        return Decision(
            incident_key=view.draft.incident_key,
            alert_id=view.draft.alert_id,
            version=int(version) if version.isdigit() and int(version) > 0 else view.draft.version,
            action=action,
            actor=who.user.name,
            roles=who.user.roles,
            at=clock.now(),
            **fields,
        )

    def precheck(self, view: DraftView, decision: Decision) -> str | None:
        """What the web already knows the agent would refuse (it checks again itself)."""
        if decision.version != view.draft.version:
            return f"la version {view.draft.version} a remplacé celle que vous regardiez : relisez-la"
        if not view.status.open:
            return f"ce brouillon est déjà {view.status.value}"
        if decision.action is DecisionAction.APPROVE:
            if any(
                d.actor == decision.actor and d.action is DecisionAction.APPROVE
                for d in view.pending.values()
            ):
                return "votre approbation est déjà en cours de traitement"
            refusal = refusal_for_approval(view.state, decision)
            if refusal is not None:
                return refusal
        if decision.action is DecisionAction.REJECT and not decision.reason:
            return "indiquez le motif du rejet"
        if decision.action is DecisionAction.RELEASE and view.status is not DraftStatus.HELD:
            return "ce brouillon n'est pas suspendu"
        if decision.action is DecisionAction.EDIT and not any(
            t.channel == decision.channel and t.language == decision.language for t in view.draft.texts
        ):
            return "ce canal n'a pas de texte dans cette langue"
        return None

    async def _send(
        self, request: Request, who: Who, form: Form, view: DraftView, decision: Decision
    ) -> Response:
        refusal = self.precheck(view, decision)
        if refusal is not None:
            return await self.draft(request, who, form, error=refusal, status_code=409)
        message = Message(
            topic=self.topics.decisions,
            key=decision.incident_key.encode(),
            value=decision.model_dump_json().encode(),
        )
        try:
            await self.producer.send_all([message])
        except ProduceError as failure:
            log.error("console: decision %s not produced: %s", decision.decision_id, failure)
            return await self.draft(
                request,
                who,
                form,
                error="Kafka n'a pas pris la décision : réessayez dans un instant",
                status_code=503,
            )
        self.read_model.sent(decision)
        await self.read_model.outcome(decision.decision_id, self.config.decision_wait_s)
        return RedirectResponse(
            f"{PREFIX}/drafts/{view.draft.alert_id}?d={decision.decision_id}", status_code=303
        )

    # --- deliveries --------------------------------------------------------------------------

    async def deliveries(
        self,
        request: Request,
        who: Who,
        form: Form,
        error: str = "",
        values: Form | None = None,
        status_code: int = 200,
    ) -> Response:
        return self._page(
            "deliveries.html",
            who,
            status_code,
            grid=self.read_model.grid(),
            channels=self.read_model.channels(),
            notice=NOTICES.get(request.query_params.get("notice", "")),
            error=error,
            values=values or {},
            choices=self.pause_choices(),
            can_decide=who.user.can(Permission.DECIDE),
            **self._pauses_context(),
        )

    def _pauses_context(self) -> dict[str, Any]:
        return {"switches": self.read_model.pauses.active(), "held": sorted(self.read_model.held().items())}

    def pause_choices(self) -> list[str]:
        """The channels one may pause: the worker's (settings), then any the topics mention."""
        seen = [*self.config.channels, *sorted({c.channel for c in self.read_model.cells.values()})]
        seen += [p.channel for p in self.read_model.pauses.switches.values() if p.channel]
        return list(dict.fromkeys(channel for channel in seen if channel))

    async def pauses_part(self, request: Request, who: Who, form: Form) -> Response:
        return self.pages.fragment(
            "pauses_part.html", who=who, can_decide=who.user.can(Permission.DECIDE), **self._pauses_context()
        )

    async def deliveries_part(self, request: Request, who: Who, form: Form) -> Response:
        return self.pages.fragment(
            "deliveries_part.html",
            who=who,
            grid=self.read_model.grid(),
            channels=self.read_model.channels(),
            can_decide=who.user.can(Permission.DECIDE),
        )

    async def retry(self, request: Request, who: Who, form: Form) -> Response:
        """A failed delivery sent again: the same request (same idempotency key), with who asked."""
        cell = self.read_model.cells.get(form.get("delivery_key", ""))
        if cell is None or cell.request is None or cell.state not in ("dead", "unknown"):
            return RedirectResponse(f"{PREFIX}/deliveries?notice=introuvable", status_code=303)
        delivery = cell.request
        event = AuditEvent(
            at=clock.now(),
            actor=who.user.name,
            action=AuditAction.RETRY,
            incident_key=delivery.incident.key,
            alert_id=delivery.alert_id,
            version=delivery.version,
            channel=delivery.channel,
            message=f"nouvel essai sur {delivery.channel}/{delivery.account}",
            details={
                "delivery_key": delivery.delivery_key,
                "previous_error": cell.receipt.error if cell.receipt else None,
            },
        )
        sent = await self._decide_delivery(delivery, Resolution.POST_AGAIN, who, event)
        return RedirectResponse(f"{PREFIX}/deliveries?notice={'retry' if sent else 'kafka'}", status_code=303)

    async def drop(self, request: Request, who: Who, form: Form) -> Response:
        """A held, dead or unknown delivery that must not go out: its request again, with the drop
        and who decided it in its headers (the delivery agent settles it as dropped), audited."""
        cell = self.read_model.cells.get(form.get("delivery_key", ""))
        if cell is None or cell.request is None or cell.state not in DROPPABLE:
            return RedirectResponse(f"{PREFIX}/deliveries?notice=introuvable", status_code=303)
        delivery = cell.request
        event = AuditEvent(
            at=clock.now(),
            actor=who.user.name,
            action=AuditAction.DROP,
            incident_key=delivery.incident.key,
            alert_id=delivery.alert_id,
            version=delivery.version,
            channel=delivery.channel,
            message=f"ne pas publier sur {delivery.channel}/{delivery.account}",
            details={
                "delivery_key": delivery.delivery_key,
                "account": delivery.account,
                "previous_status": cell.state,
                "previous_error": cell.receipt.error if cell.receipt else None,
            },
        )
        if not await self._decide_delivery(delivery, Resolution.DROP, who, event):
            return RedirectResponse(f"{PREFIX}/deliveries?notice=kafka", status_code=303)
        log.warning("console: %s dropped delivery %s", who.user.name, delivery.delivery_key)
        return RedirectResponse(f"{PREFIX}/deliveries?notice=dropped", status_code=303)

    async def _decide_delivery(
        self, delivery: DeliveryRequest, resolution: Resolution, who: Who, event: AuditEvent
    ) -> bool:
        """A person's decision on a delivery: its request again with the decision in its headers
        (the delivery agent acts on it), and the audit event, sent together; False if Kafka refused."""
        key = delivery.incident.key.encode()
        messages = [
            Message(
                topic=self.topics.requests,
                key=delivery.partition_key,
                value=delivery.model_dump_json().encode(),
                headers=resolution_headers(resolution, who.user.name),
            ),
            Message(topic=self.topics.audit, key=key, value=event.model_dump_json().encode()),
        ]
        try:
            await self.producer.send_all(messages)
        except ProduceError:
            return False
        return True

    # --- pause switches ----------------------------------------------------------------------

    async def pause(self, request: Request, who: Who, form: Form) -> Response:
        """Pause everything (no channel), a channel, or one account of a channel."""
        channel = form.get("channel", "").strip()
        account = form.get("account", "").strip()
        reason = form.get("reason", "").strip()
        values = {"channel": channel, "account": account, "reason": reason}
        error = ""
        if channel and channel not in self.pause_choices():
            error = "canal inconnu : choisissez-le dans la liste"
        elif account and not channel:
            error = "un compte se met en pause dans son canal : choisissez le canal"
        elif len(account) > MAX_ACCOUNT:
            error = f"identifiant de compte trop long (plus de {MAX_ACCOUNT} caractères)"
        elif not reason:
            error = "indiquez le motif de la pause : il est gardé au journal"
        elif len(reason) > MAX_REASON:
            error = f"motif trop long (plus de {MAX_REASON} caractères)"
        if error:
            return await self.deliveries(request, who, form, error=error, values=values, status_code=422)
        switch = new_switch(True, channel or None, account or None, who.user.name, reason)
        return await self._switch(request, who, form, switch, values)

    async def resume(self, request: Request, who: Who, form: Form) -> Response:
        """Resume one active switch: a switch of the same scope, not paused, by this person."""
        current = self.read_model.pauses.switches.get(form.get("scope", ""))
        if current is None or not current.paused:
            return RedirectResponse(f"{PREFIX}/deliveries?notice=introuvable", status_code=303)
        switch = new_switch(False, current.channel, current.account, who.user.name)
        return await self._switch(request, who, form, switch, {})

    async def _switch(self, request: Request, who: Who, form: Form, switch: Pause, values: Form) -> Response:
        messages = [
            Message(topic=topic, key=key, value=value)
            for topic, key, value in switch_records(self.topic, switch)
        ]
        try:
            await self.producer.send_all(messages)
        except ProduceError as failure:
            log.error("console: switch %s not produced: %s", switch.scope, failure)
            return await self.deliveries(
                request,
                who,
                form,
                error="Kafka n'a pas pris la demande : réessayez dans un instant",
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
        seen = await self.read_model.until(
            lambda: self.read_model.switched(switch), self.config.decision_wait_s
        )
        notice = ("paused" if switch.paused else "resumed") if seen else "sent"
        return RedirectResponse(f"{PREFIX}/deliveries?notice={notice}#pauses", status_code=303)

    # --- incidents ---------------------------------------------------------------------------

    async def timeline(self, request: Request, who: Who, form: Form) -> Response:
        alert_id = request.path_params["alert_id"]
        versions = self.read_model.incidents.get(alert_id, [])
        own = any(v.incident.source == f"console:{who.user.name}" for v in versions)
        if not who.user.can(Permission.READ) and not own:
            return self._forbidden(request, who, "vous ne voyez que vos propres alertes")
        view = self.read_model.drafts.get(alert_id)
        if not versions and view is None:
            return self._page(
                "error.html", who, 404, title="Introuvable", message="aucune alerte avec cet identifiant"
            )
        return self._page(
            "timeline.html",
            who,
            alert_id=alert_id,
            versions=versions,
            view=view,
            events=self.read_model.events_for(alert_id),
            cells=[c for c in self.read_model.cells.values() if _cell_alert(c) == alert_id],
        )

    async def mine(self, request: Request, who: Who, form: Form) -> Response:
        return self._page(
            "mine.html",
            who,
            incidents=self.read_model.own_incidents(who.user.name),
            notice=request.query_params.get("notice", ""),
            alert_id_for=alert_id_for,
        )

    async def new_page(self, request: Request, who: Who, form: Form) -> Response:
        return self._new_form(who, {}, [], 200)

    def _new_form(self, who: Who, values: Form, problems: list[Problem], status_code: int) -> Response:
        return self._page(
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
        incident = self._incident_from(form, who.user)
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
        try:
            await self.producer.send_all(
                [
                    Message(
                        topic=self.submitted_topic,
                        key=incident.key.encode(),
                        value=incident.model_dump_json().encode(),
                        headers=[(SOURCE_HEADER, source.encode()), ("content-type", b"application/json")],
                    ),
                    Message(
                        topic=self.topics.audit,
                        key=incident.key.encode(),
                        value=event.model_dump_json().encode(),
                    ),
                ]
            )
        except ProduceError:
            problem = Problem(
                path="", rule="kafka_unavailable", message="Kafka n'a pas pris l'alerte : réessayez"
            )
            return self._new_form(who, form, [problem], 503)
        return RedirectResponse(f"{PREFIX}/mine?notice=submitted", status_code=303)

    def _incident_from(self, form: Form, user: User) -> Incident | list[Problem]:
        now = clock.now()
        problems: list[Problem] = []
        times: dict[str, datetime | None] = {}
        for name in ("onset", "expires"):
            raw = form.get(name, "").strip()
            try:
                times[name] = datetime.fromisoformat(raw).replace(tzinfo=self.zone) if raw else None
            except ValueError:
                problems.append(
                    Problem(path=name, value=raw, rule="datetime", message="date et heure illisibles")
                )
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

    # --- supervision and administration -------------------------------------------------------

    async def audit(self, request: Request, who: Who, form: Form) -> Response:
        query = request.query_params
        since, until = _date(query.get("since", ""), self.zone), _date(query.get("until", ""), self.zone)
        events = self.read_model.filtered_audit(
            actor=query.get("actor", "").strip(),
            action=query.get("action", ""),
            alert=query.get("alert", "").strip(),
            since=since,
            until=until,
            sessions=query.get("sessions", "") == "1",
        )
        return self._page(
            "audit.html",
            who,
            events=events[:500],
            total=len(events),
            query=dict(query),
            actions=list(AuditAction),
        )

    async def policy(self, request: Request, who: Who, form: Form) -> Response:
        path = self.config.policy_file
        text, parsed = "", None
        if path is not None and path.exists():
            text = path.read_text(encoding="utf-8")
            parsed = parse_policy(text, str(path))
        return self._page(
            "policy.html",
            who,
            path=path,
            config=parsed if isinstance(parsed, PolicyConfig) else None,
            problems=parsed if isinstance(parsed, list) else [],
        )

    async def admin(self, request: Request, who: Who, form: Form) -> Response:
        return self._page("admin.html", who, users=self.users.all(), sources=self.config.source_names)


async def _form(request: Request) -> Form:
    """An urlencoded form (the console sends nothing else), first value of each field."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return (
        request.url.path.startswith(f"{PREFIX}/api/")
        or request.url.path.endswith(".part")
        or ("application/json" in accept and "text/html" not in accept)
    )


def _safe_next(target: str) -> str:
    """Only a console path: never another site (no open redirect)."""
    if target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""


def _date(value: str, zone: ZoneInfo) -> datetime | None:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=zone) if value else None
    except ValueError:
        return None


def _cell_alert(cell: Any) -> str:
    if cell.request is not None:
        return str(cell.request.alert_id)
    return str(cell.receipt.alert_id) if cell.receipt is not None else ""


__all__ = ["Console"]
