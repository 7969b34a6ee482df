"""SMS through an operator's SMPP 3.4 gateway: each alert is an SMS to every configured number.

One account = one bind to one gateway (host, port, system_id, password from an environment
variable or a secret file) sending from one source address to a list of numbers, normalised to
E.164 with `phonenumbers` (region FR unless told). The SMPP client is smpp34 (its asyncio
client over a Rust core); binding, and why it is not smpp34 alone, is in `smpp_session`.

- publish: `submit_sm` of every segment to every number (`alertcast.sms.encoding`: GSM-7 when
  the text allows it, else UCS-2; a long text in concatenated segments that never cut a
  character), with registered_delivery=1 when receipts are asked for. The result lists each
  segment's message id (`details["message_ids"]`, `details["parts"]`), which the gateway's
  delivery receipts name later.
- update and end: a new SMS (an SMS cannot be edited); `text_of` labels the end FIN D'ALERTE.
- A number the gateway refuses (invalid destination) does not keep the alert from the other
  numbers: it is listed in `details["refused"]`; when every number is refused, PermanentError.

Throughput: gateways allow so many submit_sm per second per bind and answer more with
ESME_RTHROTTLED. Every segment waits its token from a token bucket of capacity 1 refilled at
`throughput_per_s` (`alertcast.token_bucket`): segments leave evenly spaced, never in a burst.

Crash safety: a submit_sm without an answer may or may not have been taken, and SMPP cannot
tell afterwards (query_sm needs the message id the lost answer carried). So a timeout after
sending, or a connection lost while waiting, is `OutcomeUnknown`, and `find_existing` raises
`LookupUnsupported`: the delivery becomes `unknown` and a person decides, as with Telegram.
Within one process, a retry after a transient refusal resumes at the segment that failed
(`Steps`), with the same concatenation reference (derived from the delivery key).

Errors: a refused bind (ESME_RBINDFAIL, RINVPASWD, RINVSYSID) is PermanentError saying where
the password comes from, never the password; ESME_RTHROTTLED and RMSGQFUL are TransientError
after a pause; other refusals of a segment are PermanentError naming the command_status.
Numbers in messages and receipts are masked (`+33•••••5678`).

Delivery receipts: with `bind: transceiver` (the default) the gateway sends them on the same
bind as `deliver_sm`; `receipts()` yields them as `DeliveryReceipt` (DELIVRD → delivered;
UNDELIV, REJECTD, EXPIRED → failed), and `delivery_receipts()` as the delivery's own receipt
again, with its numbers counted (alertcast.sms.handsets; the worker writes them to
deliveries.receipts). With `bind: transmitter`, receipts go to whatever receiver
bind the operator routes them to, not here.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import smpp34
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from alertcast.channels.account import Accounts, Secret, Steps, text_of
from alertcast.channels.base import AccountHealth, LookupUnsupported
from alertcast.channels.smpp_session import BindSettings, Session, bind, read_receipts
from alertcast.delivery.retry import OutcomeUnknown, PermanentError, TransientError
from alertcast.models.alert import DeliveryRequest, Receipt
from alertcast.models.post import PostResult
from alertcast.render.length import DEFAULT_LIMITS
from alertcast.sms.encoding import GSM7_CODES, Segment, split
from alertcast.sms.handsets import Sent
from alertcast.sms.smpp import (
    BUSY_STATUSES,
    ESME_RSYSERR,
    SESSION_STATUSES,
    SUBMIT_TRANSIENT,
    DeliveryReceipt,
    e164,
    masked,
    status_of,
    status_text,
)
from alertcast.token_bucket import TokenBucket

log = logging.getLogger(__name__)

#: Refusals that concern one number, not the message: the other numbers still get it.
DESTINATION_REFUSALS = frozenset({0x0B, 0x50, 0x51})
TON_INTERNATIONAL, TON_NETWORK, TON_ALPHANUMERIC = 1, 3, 5
NPI_UNKNOWN, NPI_E164 = 0, 1
#: How long a busy gateway (throttled, queue full) is left alone before the retry.
BUSY_PAUSE_S = 1.0


class SmsAccount(BaseModel):
    """One bind to an operator's SMPP gateway and the numbers it sends to."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: ClassVar[str] = "sms"

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="account id in deliveries")
    host: str = Field(min_length=1, description="the operator's SMPP gateway")
    port: int = Field(default=2775, ge=1, le=65535)
    tls: bool = Field(default=False, description="SMPP over TLS (the certificate is verified)")
    system_id: str = Field(min_length=1, max_length=15, description="the bind's login")
    password_env: str | None = Field(default=None, description="environment variable holding the password")
    password_file: Path | None = Field(default=None, description="file holding the password (a secret mount)")
    system_type: str = Field(default="", max_length=12)
    source: str = Field(min_length=1, description="sender: alphanumeric id (≤ 11), short code or +number")
    source_ton: int | None = Field(default=None, ge=0, le=6, description="default: from the source's form")
    source_npi: int | None = Field(default=None, ge=0, le=18)
    region: str = Field(default="FR", pattern=r"^[A-Z]{2}$", description="region of national numbers")
    to: list[str] = Field(min_length=1, description="numbers to send to, normalised to E.164")
    throughput_per_s: float = Field(
        default=10.0, gt=0, description="submit_sm per second the operator allows"
    )
    bind: Literal["transmitter", "transceiver"] = Field(
        default="transceiver", description="transceiver: delivery receipts come back on the same bind"
    )
    receipts: bool = Field(default=True, description="ask for delivery receipts (registered_delivery=1)")
    max_segments: int = Field(default=DEFAULT_LIMITS["sms"] or 3, ge=1, le=255)
    window: int = Field(default=10, ge=1, le=100, description="submit_sm awaiting an answer at once")
    bind_timeout_s: float = Field(default=10.0, gt=0)
    #: smpp34's own response timer is 30 s and answers a silence with a bare ESME_RSYSERR:
    #: ours must fire first, so a silence is known as one.
    submit_timeout_s: float = Field(default=10.0, gt=0, le=25)
    exercise: bool = Field(default=False, description="may receive Exercise/Test messages")

    @field_validator("to")
    @classmethod
    def _e164(cls, numbers: list[str], info: ValidationInfo) -> list[str]:
        region = info.data.get("region", "FR")
        normalised: list[str] = []
        for index, number in enumerate(numbers):
            try:
                normalised.append(e164(number, region))
            except ValueError as error:
                raise ValueError(f"to[{index}]: {error}") from None
        return list(dict.fromkeys(normalised))

    @field_validator("source")
    @classmethod
    def _source(cls, source: str) -> str:
        compact = source.replace(" ", "")
        if compact.startswith("+") or compact.isdigit():
            if not compact.lstrip("+").isdigit():
                raise ValueError("a sender number is +digits (international) or digits (a short code)")
            return compact
        if len(source) > 11 or not all(char in GSM7_CODES for char in source):
            raise ValueError("an alphanumeric sender id has at most 11 GSM-7 characters")
        return source

    @model_validator(mode="after")
    def _one_password_source(self) -> SmsAccount:
        self._password().check()
        return self

    def _password(self) -> Secret:
        return Secret("password", self.password_env, self.password_file, keep_spaces=True)

    def where(self) -> str:
        return f"sms account {self.name} ({self.system_id} at {self.host}:{self.port})"

    def password(self) -> str:
        """Read now, so a rotated secret is used at the next bind."""
        return self._password().read(self.where())

    def source_address(self) -> tuple[str, int, int]:
        """(address, TON, NPI): +number international/E.164, digits up to 8 a short code
        (network-specific: operators differ, set source_ton/source_npi as they say),
        otherwise alphanumeric."""
        if self.source.startswith("+") or (self.source.isdigit() and len(self.source) > 8):
            address, ton, npi = self.source.lstrip("+"), TON_INTERNATIONAL, NPI_E164
        elif self.source.isdigit():
            address, ton, npi = self.source, TON_NETWORK, NPI_UNKNOWN
        else:
            address, ton, npi = self.source, TON_ALPHANUMERIC, NPI_UNKNOWN
        ton = self.source_ton if self.source_ton is not None else ton
        return address, ton, self.source_npi if self.source_npi is not None else npi

    def bind_settings(self) -> BindSettings:
        return BindSettings(
            where=self.where(),
            host=self.host,
            port=self.port,
            system_id=self.system_id,
            system_type=self.system_type,
            bind=self.bind,
            tls=self.tls,
            window=self.window,
            timeout_s=self.bind_timeout_s,
            password_source=self._password().source(),
        )


def reference_for(delivery_key: str) -> int:
    """The concatenation reference of a delivery's SMS: the same on a retry, spread over 0-255."""
    return hashlib.sha256(delivery_key.encode()).digest()[0]


class SmsChannel:
    id = "sms"

    def __init__(
        self,
        accounts: Sequence[SmsAccount],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        receipt_capacity: int = 10_000,
    ) -> None:
        self._accounts = Accounts("sms", accounts)
        self._clock, self._sleep = clock, sleep
        self._steps = Steps()
        self._sessions: dict[str, Session] = {}
        self._binding: dict[str, asyncio.Lock] = {}
        self._pacing: dict[str, asyncio.Lock] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._receipts: asyncio.Queue[DeliveryReceipt] = asyncio.Queue(receipt_capacity)
        self._tracked: OrderedDict[str, Sent] = OrderedDict()  # by message id, oldest first
        self._tracked_capacity = receipt_capacity

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def account(self, name: str) -> SmsAccount:
        return self._accounts.named(name)

    # --- the lifecycle -------------------------------------------------------------------------

    async def publish(self, request: DeliveryRequest) -> PostResult:
        return await self._send(self._accounts.for_request(request, "sent"), request)

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """A new SMS with the updated text: an SMS cannot be edited."""
        return await self._send(self._accounts.for_request(request, "sent"), request)

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """A new SMS saying the alert is over (labelled FIN D'ALERTE by `text_of`)."""
        return await self._send(self._accounts.for_request(request, "sent"), request)

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        raise LookupUnsupported(
            f"sms account {request.account}: an SMPP gateway cannot be asked about a submit_sm whose "
            "answer was lost (query_sm needs the message id that answer carried); a person checks "
            "with the operator, or a recipient, and settles the delivery"
        )

    async def check(self, account: str) -> AccountHealth:
        """The gateway reachable and the credentials accepted: a bind, then an unbind (or the
        open session, when there is one: gateways may allow one bind per account); never sends."""
        health = AccountHealth(channel=self.id, account=account, ok=False)
        try:
            config = self.account(account)
            health = health.model_copy(update={"limit": config.max_segments})
            session = self._sessions.get(config.name)
            if session is None or not await session.usable():
                fresh = await bind(config.bind_settings(), config.password())
                await fresh.close()
        except (TransientError, PermanentError) as error:
            return health.model_copy(update={"problem": str(error)})
        return health.model_copy(update={"ok": True, "can_post": True})

    async def receipts(self) -> AsyncIterator[DeliveryReceipt]:
        """Every delivery receipt the gateways send back, as they come (one consumer)."""
        while True:
            yield await self._receipts.get()

    async def delivery_receipts(self, now: Callable[[], datetime]) -> AsyncIterator[Receipt]:
        """The deliveries' receipts again, each time the gateway's receipts change what a number
        got (alertcast.sms.handsets). Only deliveries this process submitted are known: receipts
        for others (before a restart, or another worker's) are logged and left."""
        async for receipt in self.receipts():
            sent = self._tracked.get(receipt.message_id)
            if sent is None:
                log.info(
                    "sms account %s: a receipt (%s) for message %s, not submitted by this process",
                    receipt.account,
                    receipt.stat,
                    receipt.message_id,
                )
                continue
            if sent.record(receipt):
                yield sent.receipt(now())
            if sent.complete():
                for message_id in sent.message_ids:
                    self._tracked.pop(message_id, None)

    def _track(self, request: DeliveryRequest, result: PostResult) -> PostResult:
        """Remember what was submitted, for its receipts; the oldest is forgotten past capacity."""
        sent = Sent(request, result)
        for message_id in sent.message_ids:
            self._tracked[message_id] = sent
        while len(self._tracked) > self._tracked_capacity:
            self._tracked.popitem(last=False)
        return result

    async def aclose(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    # --- sending -------------------------------------------------------------------------------

    def segments(self, account: SmsAccount, request: DeliveryRequest) -> list[Segment]:
        """The request's text as segments, refused when it needs more than the account allows."""
        text = text_of(request)
        segments = split(text, reference_for(request.delivery_key))
        if len(segments) > account.max_segments:
            raise PermanentError(
                f"{account.where()}: the text needs {len(segments)} SMS segments "
                f"({segments[0].encoding.value.upper()}); this account allows {account.max_segments}"
            )
        return segments

    async def _send(self, account: SmsAccount, request: DeliveryRequest) -> PostResult:
        """Every segment to every number, in order; a retry skips what this process already sent."""
        key = request.delivery_key
        segments = self.segments(account, request)
        parts: list[dict[str, Any]] = []
        refused: list[dict[str, str]] = []
        for number in account.to:
            for segment in segments:
                step = f"{number}#{segment.seq}"
                done = self._steps.get(key, step)
                if done is None:
                    try:
                        message_id = await self._submit(account, number, segment, len(parts))
                    except _DestinationRefused as refusal:
                        refused.append({"to": masked(number), "reason": str(refusal)})
                        break
                    done = self._steps.put(key, step, PostResult(post_id=message_id))
                parts.append({"to": masked(number), "segment": segment.seq, "message_id": done.post_id})
        if not parts:
            raise PermanentError(
                f"{account.where()}: the gateway refused every number: "
                + "; ".join(f"{r['to']}: {r['reason']}" for r in refused)
            )
        message_ids = [str(part["message_id"]) for part in parts]
        details: dict[str, Any] = {
            "message_ids": message_ids,
            "parts": parts,
            "encoding": segments[0].encoding.value,
            "segments": len(segments),
            "reference": reference_for(key),
            "recipients": len(account.to) - len(refused),
        }
        if refused:
            details["refused"] = refused
        return self._track(request, PostResult(post_id=message_ids[0], details=details))

    async def _session(self, account: SmsAccount) -> Session:
        """The account's bound session, bound now if it has none or lost it."""
        async with self._binding.setdefault(account.name, asyncio.Lock()):
            session = self._sessions.get(account.name)
            if session is not None and await session.usable():
                return session
            if session is not None:
                await session.close()
            session = await bind(account.bind_settings(), account.password())
            session.reader = asyncio.create_task(
                read_receipts(account.name, session, self._receipt), name=f"sms receipts {account.name}"
            )
            self._sessions[account.name] = session
            return session

    def _receipt(self, receipt: DeliveryReceipt) -> None:
        try:
            self._receipts.put_nowait(receipt)
        except asyncio.QueueFull:
            log.warning("sms: %d delivery receipts waiting, one dropped", self._receipts.qsize())

    async def pace(self, account: SmsAccount) -> float:
        """Wait for the account's next submit_sm slot; returns how long it waited."""
        now = self._clock()
        bucket = self._buckets.setdefault(account.name, TokenBucket(1.0, account.throughput_per_s, 1.0, now))
        waited = 0.0
        async with self._pacing.setdefault(account.name, asyncio.Lock()):
            while (wait := bucket.take(self._clock())) > 0:
                await self._sleep(wait)
                waited += wait
        return waited

    async def _submit(self, account: SmsAccount, number: str, segment: Segment, sent: int) -> str:
        """One segment to one number; its message id, or the error that says what to do."""
        session = await self._session(account)
        await self.pace(account)
        source, ton, npi = account.source_address()
        what = f"{account.where()}: segment {segment.seq}/{segment.total} to {masked(number)}"
        already = f"{sent} segment(s) of this delivery were accepted before"
        try:
            answer = await asyncio.wait_for(
                session.smsc.submit_sm(
                    number.lstrip("+"),
                    segment.short_message,
                    source_addr=source,
                    source_addr_ton=ton,
                    source_addr_npi=npi,
                    dest_addr_ton=TON_INTERNATIONAL,
                    dest_addr_npi=NPI_E164,
                    esm_class=segment.esm_class,
                    data_coding=segment.data_coding,
                    registered_delivery=1 if account.receipts else 0,
                ),
                account.submit_timeout_s,
            )
        except TimeoutError:
            session.dead = True  # its window holds a request that may still be answered: bind afresh
            raise OutcomeUnknown(
                f"{what}: no answer to submit_sm within {account.submit_timeout_s:g} s ({already}); the SMS "
                "may have been sent and SMPP cannot be asked afterwards: check with the operator, then "
                "settle the delivery"
            ) from None
        except smpp34.SmppError as error:
            status = status_of(str(error))
            if not await session.client.is_alive():
                session.dead = True
                raise OutcomeUnknown(
                    f"{what}: the connection to the gateway was lost while waiting for its answer "
                    f"({already}); the SMS may have been sent: check with the operator, "
                    "then settle the delivery"
                ) from None
            raise _refusal(what, status if status is not None else ESME_RSYSERR, session) from None
        if not answer.is_success:
            raise _refusal(what, answer.command_status, session)
        return answer.message_id or ""


class _DestinationRefused(PermanentError):
    """The gateway refused a number (not the message): the other numbers still get it."""


def _refusal(what: str, status: int, session: Session) -> Exception:
    reason = f"{what}: the gateway answered {status_text(status)}"
    if status in DESTINATION_REFUSALS:
        return _DestinationRefused(status_text(status))
    if status in SESSION_STATUSES:
        session.dead = True
        return TransientError(f"{reason}; binding again")
    if status in BUSY_STATUSES:
        return TransientError(reason, BUSY_PAUSE_S)
    if status in SUBMIT_TRANSIENT:
        return TransientError(reason)
    return PermanentError(reason)
