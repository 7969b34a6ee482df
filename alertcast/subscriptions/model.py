"""A citizen's subscription, and the only ways it changes state.

A subscription is a value in a compacted topic keyed by its id: every change is a new whole
value, so the transitions below return new objects and never edit one in place. It holds no
more personal data than its channel needs (an e-mail address or a push endpoint; a feed holds
none). Invalid input and refused transitions come back as the project's one error shape
(`Problem`: path, value, rule, message, hint), never as an exception, so the public pages and
the shell can show or log them as they do every other rejection. Messages are English; the
`rule` ids are stable, for a page to translate (there are no gettext catalogs for problems yet).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from alertcast.i18n import N_, term
from alertcast.models.incident import UtcDateTime
from alertcast.models.problem import Problem, problems_from_validation, refusal
from alertcast.subscriptions.codes import is_commune, is_departement

Channel = Literal["webpush", "email", "feed"]
Status = Literal["pending", "active", "ended", "expired"]

# An e-mail never confirmed is someone else's address typed by mistake, or a bot: forget it soon.
PENDING_LIFETIME = timedelta(hours=48)
MAX_AREAS = 50
ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$")
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


class EndReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"  # the one-click link, or the page
    EXPIRED = "expired"  # silence longer than the setting, or an e-mail never confirmed
    ENDPOINT_GONE = "endpoint_gone"  # the push service answered 404/410
    BOUNCED = "bounced"  # the mail server refuses the address for good


def _area_code(value: str) -> str:
    code = value.strip().upper()
    if not (is_commune(code) or is_departement(code)):
        raise refusal(
            "area_code",
            N_(
                "'%(given)s' is neither an INSEE commune code (5 characters: 62041, 2A004, 97105) nor a "
                "département code (62, 2A, 971)"
            ),
            given=value[:40],
        )
    return code


def _email(value: str) -> str:
    address = value.strip()
    if len(address) > 254 or not _EMAIL.match(address):
        raise refusal("email_format", N_("not an e-mail address (name@domain.tld)"))
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"  # domains are case-insensitive; local parts may not be


def _base64url_bytes(size: int) -> AfterValidator:
    def check(value: str) -> str:
        if _BASE64URL.match(value):
            try:
                raw = base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) == size:
                return value
        raise refusal(
            "push_key", N_("not a base64url key of %(size)s bytes, as the browser gives it"), size=size
        )

    return AfterValidator(check)


def _https_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme != "https" or not host or parts.username or parts.password:
        raise refusal(
            "push_endpoint", N_("a push endpoint is an https:// URL with a host and no credentials")
        )
    return value


AreaCode = Annotated[str, AfterValidator(_area_code)]
Email = Annotated[str, AfterValidator(_email)]


class PushEndpoint(BaseModel):
    """What the browser's PushSubscription gives (RFC 8030 endpoint, RFC 8291 keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: Annotated[str, Field(max_length=2048), AfterValidator(_https_url)]
    p256dh: Annotated[str, _base64url_bytes(65)]  # an uncompressed P-256 point
    auth: Annotated[str, _base64url_bytes(16)]


class Subscription(BaseModel):
    """One citizen's choice of areas and one channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN, description="random, url-safe: the topic key and the feed's name")
    areas: list[AreaCode] = Field(
        min_length=1, max_length=MAX_AREAS, description="INSEE commune codes and/or département codes"
    )
    channel: Channel
    # Personal data: kept out of repr, so a logged subscription does not leak it.
    email: Email | None = Field(
        default=None, validate_default=True, repr=False, description="e-mail channel only"
    )
    push: PushEndpoint | None = Field(
        default=None, validate_default=True, repr=False, description="webpush only"
    )
    digest: Literal["immediate", "daily"] = Field(default="immediate", validate_default=True)
    language: Literal["fr", "en"] = "fr"
    created_at: UtcDateTime
    confirmed_at: UtcDateTime | None = None
    last_seen_at: UtcDateTime = Field(description="last sign the subscriber is still there")
    ended_at: UtcDateTime | None = None
    end_reason: EndReason | None = Field(default=None, validate_default=True)

    @field_validator("areas")
    @classmethod
    def _once_each(cls, areas: list[str]) -> list[str]:
        return list(dict.fromkeys(areas))

    @field_validator("email", "push")
    @classmethod
    def _fits_channel(cls, value: object, info: ValidationInfo) -> object:
        """Each channel holds exactly the contact it needs, and nothing more."""
        channel = info.data.get("channel")
        wanted = {"email": "email", "push": "webpush"}[str(info.field_name)]
        if channel is None:
            return value
        field = str(info.field_name)
        if channel == wanted and value is None:
            raise refusal(
                "channel_contact",
                N_("a %(channel)s subscription needs %(field)s"),
                channel=channel,
                field=field,
            )
        if channel != wanted and value is not None:
            raise refusal(
                "channel_contact",
                N_("a %(channel)s subscription must not hold %(field)s"),
                channel=channel,
                field=field,
            )
        return value

    @field_validator("digest")
    @classmethod
    def _digest_is_email(cls, digest: str, info: ValidationInfo) -> str:
        channel = info.data.get("channel")
        if digest != "immediate" and channel is not None and channel != "email":
            raise refusal("digest_email_only", N_("only e-mail has a daily digest"))
        return digest

    @field_validator("confirmed_at", "last_seen_at", "ended_at")
    @classmethod
    def _after_creation(cls, at: datetime | None, info: ValidationInfo) -> datetime | None:
        created = info.data.get("created_at")
        if at is not None and created is not None and at < created:
            raise refusal(
                "before_creation",
                N_("%(at)s is before the subscription was created (%(created)s)"),
                at=at.isoformat(),
                created=created.isoformat(),
            )
        return at

    @field_validator("end_reason")
    @classmethod
    def _reason_with_end(cls, reason: EndReason | None, info: ValidationInfo) -> EndReason | None:
        if "ended_at" in info.data and (reason is None) != (info.data["ended_at"] is None):
            raise refusal("end_reason", N_("ended_at and end_reason go together"))
        return reason

    def active_until(self, silence: timedelta) -> datetime | None:
        """When a confirmed, not ended subscription falls silent; None if it is not active at all."""
        if self.ended_at is not None or self.confirmed_at is None:
            return None
        return self.last_seen_at + silence

    def status(self, now: datetime, silence: timedelta) -> Status:
        if self.ended_at is not None:
            return "ended"
        if self.confirmed_at is None:
            return "pending" if now < self.created_at + PENDING_LIFETIME else "expired"
        return "active" if now < self.last_seen_at + silence else "expired"

    def confirmed(self, at: datetime) -> Subscription | Problem:
        """The double opt-in's second step (the link in the confirmation mail)."""
        if (naive := _naive(self, "confirmed_at", at)) is not None:
            return naive
        if self.ended_at is not None:
            return _refused(self, "confirmed_at", at, "subscription_ended", N_("this subscription has ended"))
        if self.confirmed_at is not None:
            return _refused(self, "confirmed_at", at, "already_confirmed", N_("already confirmed"))
        if at >= self.created_at + PENDING_LIFETIME:
            return _refused(
                self, "confirmed_at", at, "confirmation_expired", N_("the confirmation came after 48 hours")
            )
        return _changed(self, confirmed_at=at, last_seen_at=max(at, self.last_seen_at))

    def ended(self, at: datetime, reason: EndReason | str) -> Subscription | Problem:
        if (naive := _naive(self, "ended_at", at)) is not None:
            return naive
        if self.ended_at is not None:
            return _refused(self, "ended_at", at, "already_ended", N_("this subscription has already ended"))
        return _changed(self, ended_at=at, end_reason=reason)

    def seen(self, at: datetime) -> Subscription | Problem:
        """The subscriber is still there (a push accepted, the feed read, a link followed).
        An earlier sign arriving late changes nothing: the last sign wins."""
        if (naive := _naive(self, "last_seen_at", at)) is not None:
            return naive
        if self.ended_at is not None:
            return _refused(self, "last_seen_at", at, "subscription_ended", N_("this subscription has ended"))
        if self.confirmed_at is None:
            return _refused(self, "last_seen_at", at, "not_confirmed", N_("not confirmed yet"))
        return _changed(self, last_seen_at=max(at, self.last_seen_at))


HINTS = {
    "area_code": N_("pick communes by name on the subscribe page, or give a département number"),
    "email_format": N_("check the address for a typo"),
    "push_key": N_("send the browser's PushSubscription.toJSON() keys unchanged"),
    "push_endpoint": N_("send the browser's PushSubscription.endpoint unchanged"),
    "channel_contact": N_("e-mail needs email, webpush needs push, a feed needs neither"),
    "digest_email_only": N_("leave digest at immediate for this channel"),
    "before_creation": N_("use a time after created_at"),
    "end_reason": N_("give both, or neither"),
    "subscription_ended": N_("subscribe again"),
    "already_confirmed": N_("nothing to do: the subscription is active"),
    "confirmation_expired": N_("subscribe again: a new confirmation mail will be sent"),
    "already_ended": N_("nothing to do"),
    "not_confirmed": N_("confirm the subscription first"),
    "timezone_aware": N_("add a UTC offset, e.g. +01:00 or Z"),
}


def problems_of(error: ValidationError) -> list[Problem]:
    """pydantic's errors in the one error shape, with this module's hints."""
    return [
        p
        if p.hint
        else p.model_copy(update={"hint": HINTS.get(p.rule, ""), "hint_id": HINTS.get(p.rule, "")})
        for p in problems_from_validation(error)
    ]


def validate(data: object) -> Subscription | list[Problem]:
    """A subscription read from a page or a topic, or every reason it is refused."""
    try:
        return Subscription.model_validate(data)
    except ValidationError as error:
        return problems_of(error)


def new_id() -> str:
    """128 random bits: an id cannot be guessed, since a feed's URL is its id."""
    return secrets.token_urlsafe(16)


def create(
    *,
    areas: list[str],
    channel: Channel,
    now: datetime,
    email: str | None = None,
    push: dict[str, str] | PushEndpoint | None = None,
    digest: str = "immediate",
    language: str = "fr",
    subscription_id: str | None = None,
) -> Subscription | list[Problem]:
    """A new subscription. Only e-mail waits for a confirmation (double opt-in): a push
    subscription exists only once the citizen granted the browser's permission, and a feed
    holds no contact to confirm."""
    return validate(
        {
            "id": subscription_id or new_id(),
            "areas": areas,
            "channel": channel,
            "email": email,
            "push": push,
            "digest": digest,
            "language": language,
            "created_at": now,
            "confirmed_at": None if channel == "email" else now,
            "last_seen_at": now,
        }
    )


def expired(subscriptions: Iterable[Subscription], now: datetime, silence: timedelta) -> list[Subscription]:
    """The ended values to write for subscriptions that fell silent, for the shell's sweep."""
    ended = []
    for subscription in subscriptions:
        if subscription.status(now, silence) == "expired":
            changed = subscription.ended(now, EndReason.EXPIRED)
            if isinstance(changed, Subscription):
                ended.append(changed)
    return ended


def _changed(subscription: Subscription, **changes: object) -> Subscription | Problem:
    """A new value, validated whole (a naive time or a bad reason is refused, not stored)."""
    try:
        return Subscription.model_validate(subscription.model_dump() | changes)
    except ValidationError as error:
        return problems_of(error)[0]


def _naive(subscription: Subscription, path: str, at: datetime) -> Problem | None:
    """Comparing a naive time would raise; a transition answers with a Problem instead."""
    if at.tzinfo is not None and at.utcoffset() is not None:
        return None
    return _refused(subscription, path, at, "timezone_aware", N_("the time has no UTC offset"))


def _refused(subscription: Subscription, path: str, at: datetime, rule: str, message: str) -> Problem:
    """`message` is a msgid (why the transition is refused)."""
    return Problem.said(
        path,
        rule,
        N_("subscription %(subscription)s: %(reason)s"),
        HINTS[rule],
        value=at.isoformat(),
        subscription=subscription.id,
        reason=term(message),
    )


#: How a subscribers' channel finds a subscription by id when it sends (the stream shell's index).
Lookup = Callable[[str], "Subscription | None"]
#: How it ends one the network refuses for good (a push endpoint gone, an address bounced).
OnGone = Callable[["Subscription", EndReason], Awaitable[None]]
