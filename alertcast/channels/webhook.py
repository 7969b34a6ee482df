"""Generic webhook: the alert as JSON, POSTed to each configured receiver (one account each).

Accounts: `ALERTCAST_WEBHOOK_URLS` lists URLs, or `{name, url}` objects. A plain URL's account
id is `account_id(url)` (the first 12 hex digits of its SHA-256), a named one's its name: either
way it stays the same when the list is reordered, so routes, pause switches and the ledger keep
pointing at the same receiver. A name also survives a change of the URL (a rotated token).

The URL is a credential: receivers often take their token in the path or the query. It is never
shown whole: messages, logs (httpx's request log too, see `hide_url`) and receipts show the
account id and `shown_url` (scheme, host and port); a receipt carries no URL.

Signatures: each POST carries `X-Alertcast-Timestamp: <unix seconds>` and
`X-Alertcast-Signature: sha256=<hex>`, the HMAC-SHA256 with the secret as key of
`<timestamp>.<body>` (the raw body bytes). A receiver recomputes it, compares in constant time,
and refuses a timestamp more than `MAX_AGE_S` from its own clock (a replay). Signing is the
default: with accounts and no secret the channel refuses to start, unless unsigned requests are
asked for explicitly (`ALERTCAST_WEBHOOK_UNSIGNED=true`, logged once at start).
`Idempotency-Key` is the delivery key: the same post retried carries the same key, and a
receiver drops a key it has seen (a replay within `MAX_AGE_S` too).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from alertcast.channels.account import error_text, hide_url, redact, redact_http_logs, shown_url
from alertcast.channels.base import AccountHealth
from alertcast.clock import clock
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.errors import ConfigurationError
from alertcast.models.alert import DeliveryRequest
from alertcast.models.post import PostResult
from alertcast.models.problem import Problem

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Alertcast-Signature"
TIMESTAMP_HEADER = "X-Alertcast-Timestamp"
#: How far from its clock a receiver should accept a timestamp (README: 5 minutes).
MAX_AGE_S = 300
URLS_SETTING = "ALERTCAST_WEBHOOK_URLS"
SECRET_SETTING = "ALERTCAST_WEBHOOK_SECRET"
UNSIGNED_SETTING = "ALERTCAST_WEBHOOK_UNSIGNED"


class WebhookConfigError(ConfigurationError, ValueError):
    """The webhook channel cannot start as configured; `problem` is the one error shape."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.line())
        self.problem = problem


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def account_id(url: str) -> str:
    """A plain URL's account id: short, stable, and telling nothing of the token it holds."""
    return hashlib.sha256(url.strip().encode()).hexdigest()[:12]


class WebhookAccount(BaseModel):
    """One receiver. Errors never echo the input: the URL is a credential."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    channel: ClassVar[str] = "webhook"

    name: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="account id in deliveries"
    )
    url: SecretStr = Field(description="where to POST; may carry the receiver's token")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: SecretStr) -> SecretStr:
        value = url.get_secret_value().strip()
        try:
            parts = urlsplit(value)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            usable = False
        if not usable:
            raise ValueError("url must be an http(s) URL with a host")
        return SecretStr(value)

    @classmethod
    def of(cls, entry: str | Mapping[str, Any]) -> WebhookAccount:
        """From a plain URL (its id is `account_id(url)`) or a `{name, url}` object."""
        if isinstance(entry, str):
            return cls.model_validate({"name": account_id(entry), "url": entry})
        values = dict(entry)
        if "name" not in values and isinstance(values.get("url"), str):
            values["name"] = account_id(values["url"])
        return cls.model_validate(values)

    def where(self) -> str:
        return f"webhook account {self.name} ({self.shown()})"

    def shown(self) -> str:
        return shown_url(self.url.get_secret_value())


def accounts_from(entries: Sequence[str | Mapping[str, Any]]) -> list[WebhookAccount]:
    """The accounts of `ALERTCAST_WEBHOOK_URLS`; a bad entry is named by its position only."""
    accounts: list[WebhookAccount] = []
    for index, entry in enumerate(entries):
        try:
            accounts.append(WebhookAccount.of(entry))
        except ValidationError as error:
            first = error.errors(include_url=False, include_input=False)[0]
            field = ".".join(str(part) for part in first["loc"])
            raise WebhookConfigError(
                Problem(
                    path=f"{URLS_SETTING}[{index}]" + (f".{field}" if field else ""),
                    rule=str(first["type"]),
                    message=str(first["msg"]),
                    hint='give a URL, or {"name": "<letters, digits, . _ ->", "url": "https://..."}',
                )
            ) from None
    return accounts


def check_signing(accounts: Sequence[WebhookAccount], secret: str, unsigned: bool) -> None:
    """Signed unless unsigned is asked for explicitly; not both."""
    if accounts and not secret and not unsigned:
        raise WebhookConfigError(
            Problem(
                path=SECRET_SETTING,
                value="",
                rule="webhook_secret_missing",
                message=f"{len(accounts)} webhook account(s) configured and no secret to sign their requests",
                hint=f"set {SECRET_SETTING} (from a secret store), or {UNSIGNED_SETTING}=true if the "
                "receivers really check no signature",
            )
        )
    if secret and unsigned:
        raise WebhookConfigError(
            Problem(
                path=UNSIGNED_SETTING,
                value=True,
                rule="webhook_signing_ambiguous",
                message=f"{UNSIGNED_SETTING}=true while {SECRET_SETTING} is set",
                hint=f"keep one: the secret to sign, or {UNSIGNED_SETTING}=true without a secret",
            )
        )


def body_of(request: DeliveryRequest) -> bytes:
    payload = {
        "delivery_key": request.delivery_key,
        "alert_id": request.alert_id,
        "version": request.version,
        "msg_type": request.incident.msg_type.value,
        "status": request.incident.status.value,
        "text": request.text.text if request.text else None,
        "language": request.text.language if request.text else None,
        "incident": request.incident.model_dump(mode="json"),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class WebhookChannel:
    id = "webhook"

    def __init__(
        self,
        accounts: Sequence[WebhookAccount],
        client: httpx.AsyncClient,
        secret: SecretStr | str = "",
        unsigned: bool = False,
    ) -> None:
        self._secret = secret if isinstance(secret, SecretStr) else SecretStr(secret)
        check_signing(accounts, self._secret.get_secret_value(), unsigned)
        self._accounts = {account.name: account for account in accounts}
        if len(self._accounts) != len(accounts):
            raise WebhookConfigError(
                Problem(
                    path=URLS_SETTING,
                    rule="duplicate_account",
                    message="two webhook accounts have the same id (the same URL twice, or one name twice)",
                    hint="list each receiver once, and give distinct names",
                )
            )
        self.client = client
        for account in accounts:
            hide_url(account.url.get_secret_value())  # from now on its URL and token never reach a log whole
        redact_http_logs()
        if unsigned and accounts:
            log.warning(
                "webhook: %d account(s) receive UNSIGNED requests (%s=true): a receiver cannot tell "
                "them from forged ones",
                len(accounts),
                UNSIGNED_SETTING,
            )

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def account(self, name: str) -> WebhookAccount:
        try:
            return self._accounts[name]
        except KeyError:
            configured = ", ".join(self._accounts) or "none"
            raise PermanentError(f"no webhook account named {name!r}; configured: {configured}") from None

    async def publish(self, request: DeliveryRequest) -> PostResult:
        return await self.post(request.account, body_of(request), request.delivery_key)

    async def post(self, name: str, body: bytes, idempotency_key: str) -> PostResult:
        """POST a JSON `body` to account `name`, signed like every request of this channel: an
        alert's version (`publish`), or another event for a receiver (a duty call)."""
        account = self.account(name)
        timestamp = str(int(clock.now().timestamp()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            TIMESTAMP_HEADER: timestamp,
        }
        secret = self._secret.get_secret_value()
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
        try:
            response = await self.client.post(account.url.get_secret_value(), content=body, headers=headers)
        except httpx.TransportError as error:
            raise TransientError(f"{account.where()}: {error_text(error)}") from None
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After")
            raise TransientError(
                f"{account.where()} answered {response.status_code}",
                float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        if response.status_code >= 400:
            said = response.text[:2000]  # redacted whole, then cut: no half token escapes
            said = redact(said.replace(secret, "<redacted>") if secret else said)[:200]
            raise PermanentError(f"{account.where()} answered {response.status_code}: {said}")
        location = response.headers.get("Location")
        # No URL in the result: the receiver's is a credential, and it is no public post.
        return PostResult(post_id=redact(location) if location else None)

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """Receivers get every version as its own POST; `msg_type` says what it is."""
        return await self.publish(request)

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        return await self.publish(request)

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        """Nothing to look up: posting again is safe, the receiver drops a seen Idempotency-Key."""
        return None

    async def check(self, account: str) -> AccountHealth:
        try:
            found = self.account(account)
        except PermanentError as error:
            return AccountHealth(channel=self.id, account=account, ok=False, problem=str(error))
        try:
            response = await self.client.request("OPTIONS", found.url.get_secret_value())
        except httpx.TransportError as error:
            problem = f"{found.where()}: {error_text(error)}"
            return AccountHealth(channel=self.id, account=account, ok=False, problem=problem)
        # Any answer but a gateway error means someone listens (many receivers refuse OPTIONS).
        reachable = response.status_code not in (502, 503, 504)
        return AccountHealth(
            channel=self.id,
            account=account,
            ok=reachable,
            can_post=None,
            problem=None if reachable else f"{found.where()} answered {response.status_code}",
        )

    async def aclose(self) -> None:
        await self.client.aclose()
