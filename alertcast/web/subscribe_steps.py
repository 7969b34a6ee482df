"""The steps every public subscribe endpoint shares: admit (origin, rate), validate, write to
Kafka, mail, sign links, and answer a refusal as JSON or as the page (alertcast.web.subscribe).

A refusal travels as `Refused` from the step that decided it to the endpoint, which answers it
with `_refused`: 4xx in the one error shape, or the page with each error at its field.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from alertcast.clock import clock
from alertcast.errors import DeliveryError
from alertcast.i18n import N_
from alertcast.models.problem import Problem
from alertcast.settings import Settings
from alertcast.site.subscribe import FormState, SubscribePage, words
from alertcast.subscriptions.directory import CommuneDirectory, Place
from alertcast.subscriptions.model import Subscription
from alertcast.subscriptions.tokens import Verified, link, verify
from alertcast.web.errors import error_response
from alertcast.web.producer import Message, ProduceError, Producer
from alertcast.web.ratelimit import RateLimiter
from alertcast.web.subscribe_http import (
    Fields,
    Refused,
    area_values,
    client_key,
    cors_origin,
    foreign_origin,
    origin_of,
    refused,
    unavailable,
    unique,
    wants_html,
)
from alertcast.web.subscribe_mail import AddressRefused, Mailer, SmtpMailer, confirmation
from alertcast.web.subscribe_pages import Pages
from alertcast.web.subscribe_store import SubscriptionStore

log = logging.getLogger(__name__)

TOPIC = "subscriptions"
MAX_BODY_BYTES = 16 * 1024  # a PushSubscription is under 1 KB; 50 areas, a few hundred bytes
MAX_UNSUBSCRIBE_BODY_BYTES = 4 * 1024  # RFC 8058's body is "List-Unsubscribe=One-Click"
SEARCHES_PER_WRITE = 10  # typing a name asks a few times: searches get ten times the write rate
MAILS_PER_ADDRESS_PER_HOUR = 3  # however many clients ask: no one's mailbox is flooded from here


@dataclass
class SubscribeConfig:
    """What the subscribe endpoints need; `from_settings` reads it, tests build it."""

    secret: bytes = field(repr=False)
    page: SubscribePage = field(default_factory=SubscribePage)
    links_url: str = ""  # where links in mails point (…/subscribe/…); "": the request's own host
    site_url: str = ""  # the public site, for the pages' links back
    allowed_origins: frozenset[str] = frozenset()  # other hosts of ours that may post here
    rate_per_minute: int = 10
    templates_dir: Path | None = None
    tz: str = "Europe/Paris"
    mailer: Mailer | None = None  # None: e-mail is not offered
    directory: CommuneDirectory | None = None  # None: Etalab's official list, loaded once

    @classmethod
    def from_settings(cls, settings: Settings) -> SubscribeConfig | None:
        """None (endpoints off) without a subscription secret; a secret too short, a missing
        communes list or a mail account not found is refused at start."""
        secret = settings.subscription_key()
        if secret is None:
            return None
        page = SubscribePage.from_settings(settings) or SubscribePage()
        urls = (settings.subscribe_base_url, settings.site_base_url)
        return cls(
            secret=secret,
            page=page,
            links_url=(settings.subscribe_base_url or settings.site_base_url).rstrip("/"),
            site_url=settings.site_base_url,
            allowed_origins=frozenset(o for o in map(origin_of, urls) if o),
            rate_per_minute=settings.subscribe_rate_per_minute,
            templates_dir=None,  # the site templates the site writer draws with
            tz=settings.timezone,
            mailer=SmtpMailer.from_settings(settings),
            directory=CommuneDirectory.official(),
        )


class Steps:
    """The endpoints' shared state (config, producer, read model, rates) and steps."""

    def __init__(
        self,
        config: SubscribeConfig,
        producer: Producer,
        topic: Callable[[str], str],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.producer = producer
        self.topic = topic(TOPIC)
        self.store = SubscriptionStore()
        self.limiter = RateLimiter(monotonic, max_keys=50_000)
        self.directory = config.directory or CommuneDirectory.official()
        self.pages = Pages(
            config.page,
            self.directory,
            site_url=config.site_url,
            templates_dir=config.templates_dir,
            tz=config.tz,
        )

    def _admit(self, request: Request, kind: str, same_site: bool = False) -> None:
        """Within the client's rate, and (for writes a page makes) from one of our sites."""
        if same_site and (origin := foreign_origin(request, self.config.allowed_origins)) is not None:
            raise refused(
                403,
                "cross_origin",
                "Origin",
                origin,
                "cross_origin",
                N_("subscriptions are made from the body's own subscribe page"),
                N_("use the subscribe page of the public site"),
            )
        rate = self.config.rate_per_minute * (SEARCHES_PER_WRITE if kind == "search" else 1)
        self._rate(f"{kind}:{client_key(request)}", rate, 60.0, "client")

    def _rate(self, bucket: str, rate: int, per_s: float, path: str) -> None:
        wait = self.limiter.check(bucket, rate, per_s)
        if wait:
            refusal = refused(
                429,
                "rate_limited",
                path,
                None,
                "rate_limited",
                N_("more than %(rate)s such requests in %(seconds)s s"),
                N_("retry after %(wait)s s"),
                rate=rate,
                seconds=f"{per_s:g}",
                wait=wait,
            )
            refusal.retry_after = wait
            raise refusal

    def _areas(self, fields: Fields, problems: list[Problem]) -> list[str]:
        codes = area_values(fields.all("areas"))
        if isinstance(codes, Problem):
            problems.append(codes)
            return []
        if len(codes) > 200:  # the model allows 50; do not check a thousand codes one by one
            return codes
        for index, code in enumerate(codes):
            if (problem := self.directory.check_area(code, f"areas.{index}")) is not None:
                problems.append(problem)
        return codes

    def _valid(self, made: Subscription | list[Problem], problems: list[Problem]) -> Subscription:
        """The new subscription, or `Refused` 422 with every problem (ours and the model's)."""
        found = list(problems) + ([] if isinstance(made, Subscription) else made)
        if found or not isinstance(made, Subscription):
            raise Refused(422, "invalid", unique(found))
        return made

    def _verified(self, request: Request, action: str) -> str:
        """The subscription a signed link names. Links are not rated per client: mail
        providers' servers (one-click unsubscribes) and link scanners open them from a few
        addresses for thousands of subscribers. A bad link counts against its client's rate (no
        one tries keys from here for long), a good one against its own subscription's."""
        token = request.query_params.get("token", "")
        verified = verify(token, self.config.secret, clock.now())
        if not isinstance(verified, Verified) or verified.action != action:
            self._rate(f"write:{client_key(request)}", self.config.rate_per_minute, 60.0, "client")
        else:
            self._rate(f"link:{verified.subscription_id}", self.config.rate_per_minute, 60.0, "token")
        if isinstance(verified, Problem):
            status = {"token_expired": 410, "token_signature": 403}.get(verified.rule, 400)
            raise Refused(status, verified.rule, [verified])
        if not isinstance(verified, Verified) or verified.action != action:
            raise refused(
                400,
                "token_action",
                "token",
                None,
                "token_action",
                N_("this link does not %(action)s"),
                N_("use the other link of the message"),
                action=action,
            )
        return verified.subscription_id

    def _known(self, subscription_id: str) -> Subscription:
        current = self.store.get(subscription_id)
        if current is None:
            raise refused(
                404,
                "unknown_subscription",
                "token",
                None,
                "unknown_subscription",
                N_("no such subscription: it expired, was erased, or is not read yet"),
                N_("subscribe again; if you just did, retry in a minute"),
            )
        return current

    async def _produce(self, values: list[Subscription], erase: list[str] | None = None) -> None:
        """Kafka holds the values (acks=all) before the citizen is told anything."""
        messages = [
            Message(
                self.topic,
                s.id.encode(),
                s.model_dump_json().encode(),
                [("content-type", b"application/json")],
            )
            for s in values
        ] + [Message(self.topic, subscription_id.encode(), None) for subscription_id in erase or []]
        try:
            await self.producer.send_all(messages)
        except ProduceError as failure:
            log.error("could not write %d subscription(s): %s", len(messages), failure)
            raise unavailable() from None
        for subscription in values:
            self.store.put(subscription)
        for subscription_id in erase or []:
            self.store.erase(subscription_id)

    async def _mail(self, request: Request, subscription: Subscription) -> None:
        mailer, to = self.config.mailer, subscription.email
        assert mailer is not None and to is not None
        message = confirmation(
            sender=mailer.sender,
            to=to,
            language=subscription.language,
            areas=self.pages.place_names(subscription.areas, subscription.language),
            confirm_url=self._link(request, subscription.id, "confirm"),
            unsubscribe_url=self._link(request, subscription.id, "unsubscribe"),
        )
        try:
            await mailer.send(message, to)
        except AddressRefused:
            raise refused(
                422,
                "invalid",
                "email",
                None,
                "mail_refused",
                N_("the mail server refuses this address"),
                N_("check the address for a typo"),
            ) from None
        except DeliveryError as error:  # the server is down, or our account is wrong: not the citizen's
            log.error("could not send a confirmation mail for subscription %s: %s", subscription.id, error)
            raise unavailable() from None

    def _link(self, request: Request, subscription_id: str, action: Any) -> str:
        base = self.config.links_url or str(request.base_url)
        return link(base, subscription_id, action, self.config.secret, clock.now())

    def _form(self, language: str, codes: list[str], **values: Any) -> FormState:
        chosen = [self.directory.get(code) or _area_place(code, language) for code in codes]
        results = values.pop("results", None)
        if results is not None:
            results = [place for place in results if place.code not in codes]
        return FormState(chosen=chosen, chosen_codes=codes, results=results, **values)

    def _refused(
        self, request: Request, refusal: Refused, language: str, form: FormState | None = None
    ) -> Response:
        headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else {}
        if wants_html(request):
            if form is not None and refusal.status in (422, 429):
                form.errors = self.pages.errors(refusal.problems, language)
                page = self.pages.form(language, form, refusal.status)
            else:
                page = self.pages.failure(language, refusal.problems, refusal.status)
            page.headers.update(headers)
            return page
        return self._cors(request, error_response(refusal.status, refusal.error, refusal.problems, headers))

    def _cors(self, request: Request, response: Response) -> Response:
        origin = cors_origin(request, self.config.allowed_origins)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    def _preflight(self, request: Request) -> Response:
        """CORS for our own site on another host (its page posts JSON here)."""
        if cors_origin(request, self.config.allowed_origins) is None:
            problem = Problem.said(
                "Origin",
                "cross_origin",
                N_("not one of this body's sites"),
                N_("use the subscribe page of the public site"),
                value=(request.headers.get("origin") or "")[:100],
            )
            return error_response(403, "cross_origin", [problem])
        response = Response(status_code=204)
        response.headers.update(
            {
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600",
            }
        )
        return self._cors(request, response)


def word(language: str, key: str) -> str:
    return words(language)[key]


def _area_place(code: str, language: str) -> Place:
    """A chosen area that is not a commune (a département, or a code the page refused)."""
    name = words(language)["departement"].format(code=code) if len(code) <= 3 else code
    return Place(code=code, name=name, departement=code[:3], postcodes=())
