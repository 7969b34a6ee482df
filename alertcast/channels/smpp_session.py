"""One SMPP bind to an operator's gateway, through smpp34, with the answers a person can act on.

Why not smpp34 alone: smpp34 1.5's `Client.connect()` reports a *refused* bind (wrong password,
unknown system_id) exactly as a gateway that never answered: `SmppError("bind timed out")`,
after the whole connect timeout; the refusal's command_status is only written to its Rust log,
which Python never sees. A wrong password must be a clear, permanent error, not five retries of
"timed out". So when smpp34's bind times out, `bind` asks once more with a minimal bind of its
own (`probe_bind`: one bind PDU, its response header, an unbind) to learn the command_status,
and says which it was. One extra bind per failure; the refused one stops the retries.

Sessions stay bound between messages (gateways count binds, and a bind costs a round trip per
alert otherwise); smpp34 keeps them alive with enquire_link. A reader task per session turns
inbound `deliver_sm` receipts into `DeliveryReceipt`s for the channel, and notices when the
gateway ends the session, so the next message binds again.

The password is read when binding (a rotated secret file is used at the next bind) and never
put into a message: smpp34's errors do not carry it, and `error_text` removes it anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import smpp34

from alertcast.channels.account import error_text
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.sms.smpp import BIND_REFUSALS, DeliveryReceipt, is_receipt, parse_receipt, status_text

log = logging.getLogger(__name__)

BIND_COMMANDS = {"transmitter": 0x00000002, "transceiver": 0x00000009}
UNBIND = 0x00000006
INTERFACE_VERSION = 0x34
#: How long an unbind may take at the end of a session before the socket is simply closed.
UNBIND_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class BindSettings:
    """What a bind needs; the channel's account gives it (the password is passed apart)."""

    where: str  #: "sms account X (host:port)", starts every message
    host: str
    port: int
    system_id: str
    system_type: str
    bind: Literal["transmitter", "transceiver"]
    tls: bool
    window: int
    timeout_s: float
    password_source: str  #: "environment variable X" / "file Y", never the password


@dataclass
class Session:
    """A bound session; `dead` once the gateway ended it or its state is uncertain."""

    client: smpp34.Client
    smsc: smpp34.Smsc
    reader: asyncio.Task[None] | None = None
    dead: bool = False

    async def usable(self) -> bool:
        return not self.dead and await self.client.is_alive()

    async def close(self) -> None:
        """Unbind (bounded: a gateway that stopped answering does not hold us), then stop."""
        self.dead = True
        if self.reader is not None:
            self.reader.cancel()
        with contextlib.suppress(TimeoutError, smpp34.SmppError):
            await asyncio.wait_for(self.smsc.unbind(), UNBIND_TIMEOUT_S)
        with contextlib.suppress(smpp34.SmppError):
            await self.client.stop()


async def bind(settings: BindSettings, password: str) -> Session:
    """A bound session, or the error that says why not: PermanentError for a refused bind
    (wrong credentials), TransientError for a gateway that cannot be reached or is busy."""
    client = smpp34.Client(
        settings.host,
        settings.port,
        settings.system_id,
        password,
        bind_type="TRX" if settings.bind == "transceiver" else "TX",
        system_type=settings.system_type,
        tls=settings.tls,
        window_size=settings.window,
        connect_timeout_ms=max(1, int(settings.timeout_s * 1000)),
    )
    try:
        smsc = await client.connect()
    except smpp34.SmppError as error:
        with contextlib.suppress(smpp34.SmppError):
            await client.stop()
        if "bind timed out" not in str(error):
            raise TransientError(
                f"{settings.where}: cannot reach the gateway: {error_text(error, password)}"
            ) from None
        raise await _why_no_bind(settings, password) from None
    return Session(client, smsc)


async def _why_no_bind(settings: BindSettings, password: str) -> PermanentError | TransientError:
    status = await probe_bind(settings, password)
    if status is None:
        return TransientError(
            f"{settings.where}: the gateway did not answer the bind within {settings.timeout_s:g} s"
        )
    if status == 0:
        return TransientError(
            f"{settings.where}: the bind timed out, then a second bind was accepted: a slow gateway"
        )
    refused = f"{settings.where}: the gateway refused the bind: {status_text(status)}"
    if status in BIND_REFUSALS:
        return PermanentError(
            f"{refused}; check system_id {settings.system_id!r} "
            f"and the password in {settings.password_source}"
        )
    return TransientError(refused)


def _c_string(value: str) -> bytes:
    return value.encode() + b"\0"  # UTF-8, as smpp34 sends a Rust String


async def probe_bind(settings: BindSettings, password: str) -> int | None:
    """The command_status a gateway answers to one bind (then unbound), or None without answer."""
    command = BIND_COMMANDS[settings.bind]
    body = (
        _c_string(settings.system_id)
        + _c_string(password)
        + _c_string(settings.system_type)
        + bytes([INTERFACE_VERSION, 0, 0])
        + _c_string("")
    )
    context = ssl.create_default_context() if settings.tls else None
    try:
        async with asyncio.timeout(settings.timeout_s):
            reader, writer = await asyncio.open_connection(settings.host, settings.port, ssl=context)
            try:
                writer.write(struct.pack(">IIII", 16 + len(body), command, 0, 1) + body)
                await writer.drain()
                _, _, status, _ = struct.unpack(">IIII", await reader.readexactly(16))
                if status == 0:
                    writer.write(struct.pack(">IIII", 16, UNBIND, 0, 2))
                    await writer.drain()
                return int(status)
            finally:
                writer.close()
                with contextlib.suppress(OSError, ssl.SSLError):
                    await writer.wait_closed()
    except (TimeoutError, OSError, ssl.SSLError, asyncio.IncompleteReadError):
        return None


async def read_receipts(account: str, session: Session, deliver: Callable[[DeliveryReceipt], None]) -> None:
    """Hand every delivery receipt of `session` to `deliver` until the session ends. smpp34
    acknowledges each deliver_sm itself; a citizen's SMS (not a receipt) is only logged."""
    try:
        while True:
            event = await session.smsc.next()
            if not isinstance(event, smpp34.DeliverSmEvent):  # Disconnected: the session ended
                return
            if not is_receipt(event.esm_class):
                log.info("sms account %s: an inbound SMS that is not a receipt was ignored", account)
                continue
            tlvs = {tlv.tag: tlv.value for tlv in event.tlvs}
            receipt = parse_receipt(event.short_message, tlvs, recipient=event.source_addr, account=account)
            if receipt is None:
                log.warning("sms account %s: a delivery receipt without message id or state", account)
                continue
            deliver(receipt)
    except asyncio.CancelledError:
        raise
    except Exception:  # a broken receipt must not end the session silently
        log.exception("sms account %s: reading delivery receipts failed", account)
    finally:
        session.dead = True
