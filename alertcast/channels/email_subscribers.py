"""E-mail to the citizens who subscribed to an alert's area: one message per subscriber.

The `email` channel writes to distribution lists the body configured; this one writes to each
confirmed e-mail subscription the fan-out matched (alertcast.subscriptions.matching), its id as
the account (`email_subscribers:<subscription id>` in the ledger), as Web Push does. So every
message goes through the ledger, the retry policy and the receipts, and a worker killed mid-way
mails the rest, not the whole list again.

It sends through the body's own submission account (`ALERTCAST_SUBSCRIBE_EMAIL_ACCOUNT`, the one
that sends the confirmation mails) with the e-mail channel's session and threading: an Update
or a Cancel is a reply in the alert's thread. Each message carries the subscriber's own
unsubscribe link, in its last lines and as RFC 2369/8058 headers (one click in the mail client).

Crash safety is the e-mail channel's: SMTP cannot say whether a message was accepted before a
crash, so `find_existing` raises `LookupUnsupported` and only the subscribers in flight at that
moment wait for a person; the rest go out. A server refusing the address for good (5xx on the
recipient) ends the subscription (`bounced`) and the delivery is dead with that reason.
"""

from __future__ import annotations

from collections.abc import Callable

from alertcast.channels.account import language_of
from alertcast.channels.base import AccountHealth, LookupUnsupported
from alertcast.channels.email import (
    SUBJECT_STATES,
    EmailAccount,
    EmailChannel,
    RecipientsRefused,
    build_message,
    message_id,
    send_to_one,
    subscribe_account,
    topic_of,
)
from alertcast.delivery.retry import PermanentError
from alertcast.errors import ConfigurationError
from alertcast.models.alert import DeliveryRequest
from alertcast.models.post import PostResult
from alertcast.settings import Settings
from alertcast.subscriptions.model import EndReason, Lookup, OnGone, Subscription
from alertcast.subscriptions.tokens import link

#: The unsubscribe link of one subscription (signed: alertcast.subscriptions.tokens).
UnsubscribeLink = Callable[[str], str]

FOOTER = {
    "fr": "Vous recevez ce message car vous êtes abonné(e) aux alertes de votre commune.\n"
    "Se désabonner : {link}",
    "en": "You receive this message because you subscribed to your area's alerts.\nUnsubscribe: {link}",
}


class SubscriberEmailChannel:
    id = "email_subscribers"

    def __init__(self, account: EmailAccount, unsubscribe_link: UnsubscribeLink) -> None:
        self.sender = account.model_copy(update={"html": True})
        self.unsubscribe_link = unsubscribe_link
        self.lookup: Lookup | None = None  # set by the stream shell (alertcast.stream.subscriptions)
        self.on_gone: OnGone | None = None

    def accounts(self) -> list[str]:
        """None to route to: the fan-out adds the matched subscriptions."""
        return []

    async def publish(self, request: DeliveryRequest) -> PostResult:
        return await self._send(request, None, "")

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        return await self._send(request, previous, SUBJECT_STATES["update"][language_of(request)])

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        return await self._send(request, previous, SUBJECT_STATES["end"][language_of(request)])

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        same = message_id(request.delivery_key, self.sender.domain)
        raise LookupUnsupported(
            "SMTP cannot say whether a message was accepted before a crash; "
            f"a message sent again would carry the same Message-ID {same}"
        )

    async def check(self, account: str) -> AccountHealth:
        return await EmailChannel([self.sender]).check(self.sender.name)

    async def aclose(self) -> None:
        """Nothing held open: each delivery is one SMTP session."""

    def _subscriber(self, request: DeliveryRequest) -> Subscription:
        subscription = self.lookup(request.account) if self.lookup is not None else None
        if subscription is None or subscription.email is None:
            raise PermanentError(
                f"subscription {request.account} ended or erased since the alert was matched"
            )
        return subscription

    async def _send(self, request: DeliveryRequest, previous: PostResult | None, state: str) -> PostResult:
        subscription = self._subscriber(request)
        address = subscription.email
        assert address is not None  # _subscriber refuses a subscription without one
        link = self.unsubscribe_link(subscription.id)
        account = self.sender.model_copy(update={"to": [address]})
        topic = topic_of(request, previous)
        footer = FOOTER[language_of(request)].format(link=link)
        message = build_message(account, request, state + topic, previous, footer)
        message["List-Unsubscribe"] = f"<{link}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
        try:
            await send_to_one(self.sender, self.sender.password(), message, address)
        except RecipientsRefused:
            await self._bounced(subscription)
            raise
        # The address is personal data: the receipt names the subscription, never the address.
        return PostResult(
            post_id=str(message["Message-ID"]),
            url=None,
            details={"subject": str(message["Subject"]), "topic": topic},
        )

    async def _bounced(self, subscription: Subscription) -> None:
        if self.on_gone is not None:
            await self.on_gone(subscription, EndReason.BOUNCED)


def from_settings(settings: Settings) -> SubscriberEmailChannel:
    """Needs the account that writes to subscribers and the key of their unsubscribe links."""
    account = subscribe_account(settings)
    secret = settings.subscription_key()
    if account is None or secret is None:
        raise ConfigurationError(
            "the email_subscribers channel needs ALERTCAST_SUBSCRIBE_EMAIL_ACCOUNT (the account that "
            "writes to subscribers) and ALERTCAST_SUBSCRIPTION_SECRET (their unsubscribe links)"
        )
    base = settings.subscribe_base_url or settings.site_base_url
    if not base:
        raise ConfigurationError(
            "the email_subscribers channel needs ALERTCAST_SUBSCRIBE_BASE_URL or ALERTCAST_SITE_BASE_URL: "
            "every message links to the page that ends the subscription"
        )
    return SubscriberEmailChannel(
        account, lambda subscription_id: link(base, subscription_id, "unsubscribe", secret)
    )
