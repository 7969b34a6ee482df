"""The public subscribe endpoints of `alertcast web`: how a citizen subscribes and unsubscribes.

    GET  /subscribe/communes?q=       communes by name or postcode (JSON list, or the page)
    POST /subscribe/push              a browser's PushSubscription and areas: active at once
    POST /subscribe/email             an address and areas: pending until the mailed link
    GET  /subscribe/confirm?token=    the mailed link: the subscription becomes active
    GET  /subscribe/unsubscribe?token=   a page with a button (mail scanners follow links)
    POST /subscribe/unsubscribe?token=   ends it; RFC 8058 one-click posts here from mail clients

No login and no cookie: a subscription is written to the compacted `subscriptions` topic keyed
by its id, and the links that confirm or end it carry its id signed (alertcast.subscriptions.
tokens). A push subscription is active at once, since the browser asked the citizen's
permission; an e-mail address waits for its owner to open the link (double opt-in). The
process keeps every subscription it reads from the topic, to confirm or end one by its id.

Everything refused answers 4xx in the one error shape (JSON), or the page with each error at
its field (a browser asking for HTML), whatever arrives: only Kafka or the mail server being
down answers 503, with Retry-After, and nothing half-done is lost (a pending subscription
whose mail failed expires in 48 hours).
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alertcast.clock import clock
from alertcast.i18n import N_
from alertcast.models.problem import Problem
from alertcast.site.subscribe import FormState
from alertcast.subscriptions.model import EndReason, Subscription, create
from alertcast.web.subscribe_http import (
    Refused,
    area_values,
    parse_fields,
    push_fields,
    read_body,
    refused,
    text_field,
    text_value,
    wants_html,
)
from alertcast.web.subscribe_pages import page_language
from alertcast.web.subscribe_steps import (
    MAILS_PER_ADDRESS_PER_HOUR,
    MAX_BODY_BYTES,
    MAX_UNSUBSCRIBE_BODY_BYTES,
    Steps,
    SubscribeConfig,
    word,
)

__all__ = ["Subscribe", "SubscribeConfig"]


class Subscribe(Steps):
    """The endpoints; their steps and state are `Steps`'."""

    @property
    def routes(self) -> list[Route]:
        return [
            Route("/subscribe/communes", self.communes, methods=["GET"]),
            Route("/subscribe/push", self.push, methods=["POST", "OPTIONS"]),
            Route("/subscribe/email", self.email, methods=["POST", "OPTIONS"]),
            Route("/subscribe/confirm", self.confirm, methods=["GET"]),
            Route("/subscribe/unsubscribe", self.unsubscribe, methods=["GET", "POST"]),
        ]

    def on_message(self, topic: str, key: bytes | None, value: bytes) -> None:
        if topic == self.topic:
            self.store.on_message(key, value)

    # -- the endpoints ---------------------------------------------------------------------

    async def communes(self, request: Request) -> Response:
        params = request.query_params
        language = page_language(params.get("lang"))
        try:
            self._admit(request, "search")
        except Refused as refusal:
            return self._refused(request, refusal, language)
        q = params.get("q", "")[:100]
        found = self.directory.search(q)
        if not wants_html(request):
            return self._cors(request, JSONResponse([place.as_json() for place in found]))
        codes = area_values([*params.getlist("areas"), *params.getlist("add")])
        chosen = codes if isinstance(codes, list) else []
        form = self._form(language, chosen, q=q, results=found if q.strip() else None)
        return self.pages.form(language, form)

    async def push(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self._preflight(request)
        language = "fr"
        try:
            self._admit(request, "write", same_site=True)
            fields = parse_fields(
                await read_body(request, MAX_BODY_BYTES), request.headers.get("content-type", "")
            )
            language = page_language(fields.first("lang", "language"))
            push, problems = push_fields(fields)
            areas = self._areas(fields, problems)
            made = create(areas=areas, channel="webpush", push=push, language=language, now=clock.now())
            subscription = self._valid(made, problems)
            # One browser, one subscription: the page subscribing again (other communes)
            # replaces what this endpoint had, so no alert is pushed to it twice.
            replaced = [
                ended
                for old in self.store.by_endpoint(subscription.push.endpoint if subscription.push else "")
                if isinstance(ended := old.ended(clock.now(), EndReason.UNSUBSCRIBED), Subscription)
            ]
            await self._produce([subscription, *replaced])
        except Refused as refusal:
            return self._refused(request, refusal, language)
        unsubscribe = self._link(request, subscription.id, "unsubscribe")
        body = {
            "id": subscription.id,
            "status": "active",
            "areas": subscription.areas,
            "unsubscribe_url": unsubscribe,
        }
        if wants_html(request):
            return self.pages.message(language, word(language, "push_done_title"), [], status=201)
        return self._cors(request, JSONResponse(body, status_code=201))

    async def email(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self._preflight(request)
        language, form = "fr", FormState()
        try:
            self._admit(request, "write", same_site=True)
            fields = parse_fields(
                await read_body(request, MAX_BODY_BYTES), request.headers.get("content-type", "")
            )
            language = page_language(fields.first("lang", "language"))
            problems: list[Problem] = []
            address = text_value(text_field(fields, "email", "email", "address", limit=320), problems)
            address = address if address and address.strip() else None  # an empty field: missing
            digest = text_value(text_field(fields, "digest", "digest", limit=20), problems) or "immediate"
            areas = self._areas(fields, problems)
            form = self._form(language, areas, email=address or "", digest=digest)
            if self.config.mailer is None:
                raise refused(
                    404,
                    "not_offered",
                    "email",
                    None,
                    "email_not_offered",
                    N_("this public body does not send alerts by e-mail"),
                    N_("subscribe this device to notifications instead"),
                )
            if address is None:
                problems.append(
                    Problem.said("email", "missing", N_("an e-mail address is needed"), N_("add email"))
                )
            made = create(
                areas=areas, channel="email", email=address, digest=digest, language=language, now=clock.now()
            )
            subscription = self._valid(made, problems)
            assert subscription.email is not None
            mailbox = hashlib.sha256(subscription.email.lower().encode()).hexdigest()
            self._rate(f"mail:{mailbox}", MAILS_PER_ADDRESS_PER_HOUR, 3600.0, "email")
            await self._produce([subscription])
            await self._mail(request, subscription)
        except Refused as refusal:
            return self._refused(request, refusal, language, form)
        if wants_html(request):
            text = word(language, "check_mail_text").format(email=subscription.email)
            return self.pages.message(language, word(language, "check_mail_title"), [text])
        body = {"id": subscription.id, "status": "pending", "message": "a confirmation link was mailed"}
        return self._cors(request, JSONResponse(body, status_code=202))

    async def confirm(self, request: Request) -> Response:
        language = "fr"
        try:
            subscription_id = self._verified(request, "confirm")
            current = self._known(subscription_id)
            language = current.language
            changed = current.confirmed(clock.now())
            already = isinstance(changed, Problem) and changed.rule == "already_confirmed"
            if isinstance(changed, Problem) and not already:
                status = 410 if changed.rule == "confirmation_expired" else 409
                raise Refused(status, changed.rule, [changed])
            if isinstance(changed, Subscription):
                await self._produce([changed])
        except Refused as refusal:
            return self._refused(request, refusal, language)
        areas = ", ".join(self.pages.place_names(current.areas, language))
        if wants_html(request):
            key = "already_confirmed_text" if already else "confirmed_text"
            texts = [word(language, key).format(areas=areas)]
            return self.pages.message(language, word(language, "confirmed_title"), texts)
        return JSONResponse({"id": current.id, "status": "active", "areas": current.areas})

    async def unsubscribe(self, request: Request) -> Response:
        language = "fr"
        try:
            # No origin check either: the signed link is the capability, whoever posts it.
            subscription_id = self._verified(request, "unsubscribe")
            current = self.store.get(subscription_id)
            language = current.language if current else page_language(request.query_params.get("lang"))
            if request.method == "GET":
                return self._unsubscribe_page(request, subscription_id, current, language)
            await read_body(request, MAX_UNSUBSCRIBE_BODY_BYTES)  # whatever it says: the link decides
            ended = current.ended(clock.now(), EndReason.UNSUBSCRIBED) if current else None
            if isinstance(ended, Subscription):
                await self._produce([ended])
            elif current is None:
                # Not (yet) read from the topic: erase the key, so it is gone whatever it held.
                await self._produce([], erase=[subscription_id])
        except Refused as refusal:
            return self._refused(request, refusal, language)
        already = current is not None and current.ended_at is not None
        if wants_html(request):
            text = word(language, "already_ended_text" if already else "unsubscribed_text")
            return self.pages.message(language, word(language, "unsubscribed_title"), [text])
        return JSONResponse({"id": subscription_id, "status": "ended"})

    def _unsubscribe_page(
        self, request: Request, subscription_id: str, current: Subscription | None, language: str
    ) -> Response:
        """A GET never ends anything (mail scanners open links): it asks for the button."""
        ended = current is not None and current.ended_at is not None
        if not wants_html(request):
            status = (
                "ended"
                if ended or current is None
                else "pending"
                if current.confirmed_at is None
                else "active"
            )
            return JSONResponse({"id": subscription_id, "status": status, "end": "POST to this URL"})
        if ended:
            text = word(language, "already_ended_text")
            return self.pages.message(language, word(language, "unsubscribed_title"), [text])
        if current is None:
            texts = [word(language, "unsubscribe_unknown_text")]
        else:
            areas = ", ".join(self.pages.place_names(current.areas, language))
            texts = [word(language, "unsubscribe_text").format(areas=areas)]
        token = request.query_params.get("token", "")
        action = {"url": f"unsubscribe?token={token}", "label": word(language, "unsubscribe_button")}
        return self.pages.message(language, word(language, "unsubscribe_title"), texts, action=action)
