"""Duty calls sent through the channel adapters, on the channels each person chose.

No new network code: a call to a person is a post by the Matrix, e-mail or SMS adapter on an
account made for the call from a configured one (the rota's `send_with`: its homeserver and
token, its SMTP login, its SMPP bind), with the person's room, address or number in place of the
account's own; a webhook call is the webhook adapter's signed POST (`WebhookChannel.post`) to
the person's on-call tool. Exercise calls are allowed on these accounts (the duty desk trains
too): they leave labelled EXERCICE, like any exercise.

Each channel is tried with a short retry (a call is worth something now, not in an hour), all
channels at once; the result says which took the call and why the others did not, for the
audit event. Nothing here decides whom to call: that is `alertcast.duty.escalation`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic import SecretStr

from alertcast.channels.account import error_text
from alertcast.delivery.retry import PermanentError, RetryPolicy
from alertcast.duty.messages import Call
from alertcast.duty.rota import Person, SendWith
from alertcast.http import make_client
from alertcast.models.post import PostResult
from alertcast.settings import Settings

log = logging.getLogger(__name__)

CALL_RETRY = RetryPolicy(attempts=3, base_s=0.5, cap_s=5.0)
SETTINGS = {
    "matrix": "ALERTCAST_MATRIX_ACCOUNTS",
    "email": "ALERTCAST_EMAIL_ACCOUNTS",
    "sms": "ALERTCAST_SMS_ACCOUNTS",
}


class DutyCaller:
    """Sends calls with the credentials of the configured accounts."""

    def __init__(
        self, settings: Settings, client: httpx.AsyncClient | None = None, retry: RetryPolicy = CALL_RETRY
    ) -> None:
        self.settings = settings
        self.client = client or make_client(settings.http_timeout_s)
        self.retry = retry

    async def call(self, call: Call, person: Person, send_with: SendWith) -> tuple[list[str], dict[str, str]]:
        """(the channels that took the call, {channel: why not} for the others)."""
        channels: list[str] = list(person.channels())
        outcomes = await asyncio.gather(*(self._one(name, call, person, send_with) for name in channels))
        sent = [channel for channel, why in zip(channels, outcomes, strict=True) if why is None]
        failed = {channel: why for channel, why in zip(channels, outcomes, strict=True) if why is not None}
        return sent, failed

    async def _one(self, channel: str, call: Call, person: Person, send_with: SendWith) -> str | None:
        senders: dict[str, Callable[[Call, Person, SendWith], Awaitable[PostResult]]] = {
            "matrix": self._matrix,
            "email": self._email,
            "sms": self._sms,
            "webhook": self._webhook,
        }
        try:
            _, attempts = await self.retry.run(lambda: senders[channel](call, person, send_with))
        except Exception as error:  # whatever went wrong, the other channels and the audit go on
            why = error_text(error)
            log.warning("duty call to %s by %s failed: %s", call.person, channel, why)
            return why
        log.debug("duty call to %s sent by %s (%d attempt(s))", call.person, channel, attempts)
        return None

    def _base(self, channel: str, chosen: str | None) -> dict[str, Any]:
        """The configured account whose credentials send this channel's calls."""
        entries: list[dict[str, Any]] = getattr(self.settings, f"{channel}_accounts")
        names = [str(entry.get("name")) for entry in entries]
        if chosen is None and len(entries) == 1:
            return dict(entries[0])
        if chosen is None:
            raise PermanentError(
                f"no {channel} account chosen to send duty calls: name one in the rota's "
                f"send_with.{channel} ({SETTINGS[channel]}: {', '.join(names) or 'none configured'})"
            )
        for entry in entries:
            if entry.get("name") == chosen:
                return dict(entry)
        raise PermanentError(
            f"the rota's send_with.{channel} names {chosen!r}, not in {SETTINGS[channel]} "
            f"(configured: {', '.join(names) or 'none'})"
        )

    async def _matrix(self, call: Call, person: Person, send_with: SendWith) -> PostResult:
        from alertcast.channels.matrix import MatrixAccount, MatrixChannel

        base = self._base("matrix", send_with.matrix)
        account = MatrixAccount.model_validate(
            base | {"name": call.account, "room_id": person.matrix, "exercise": True, "delete_on_end": False}
        )
        return await MatrixChannel([account], self.client).publish(call.request("matrix"))

    async def _email(self, call: Call, person: Person, send_with: SendWith) -> PostResult:
        from alertcast.channels.email import EmailAccount, EmailChannel

        base = self._base("email", send_with.email)
        account = EmailAccount.model_validate(
            base | {"name": call.account, "to": [person.email], "exercise": True}
        )
        return await EmailChannel([account]).publish(call.request("email"))

    async def _sms(self, call: Call, person: Person, send_with: SendWith) -> PostResult:
        from alertcast.channels.sms import SmsAccount, SmsChannel

        base = self._base("sms", send_with.sms)
        account = SmsAccount.model_validate(
            base | {"name": call.account, "to": [person.sms], "exercise": True}
        )
        channel = SmsChannel([account])
        try:
            return await channel.publish(call.request("sms"))
        finally:
            await channel.aclose()

    async def _webhook(self, call: Call, person: Person, send_with: SendWith) -> PostResult:
        from alertcast.channels.webhook import WebhookAccount, WebhookChannel

        assert person.webhook is not None
        account = WebhookAccount(name="duty", url=SecretStr(person.webhook.get_secret_value()))
        channel = WebhookChannel(
            [account], self.client, self.settings.webhook_secret, unsigned=self.settings.webhook_unsigned
        )
        return await channel.post("duty", call.webhook_body(), call.delivery_key("webhook"))

    async def aclose(self) -> None:
        await self.client.aclose()
