"""A real SMPP 3.4 gateway for the sms channel's tests: smpp34's server, behind a bind gate.

smpp34's Python `Server` does the protocol (binds, submit_sm, deliver_sm, enquire_link,
windowing) but accepts every bind: it has no hook to check a password or refuse a bind. A real
operator's gateway refuses a wrong password, and the channel's tests need that, so the public
port is a small gate (asyncio, in the same thread): it reads the client's first PDU, answers a
bind with wrong credentials (or any bind, when told to refuse) with a bind_resp carrying the
command_status and closes, and otherwise pipes the connection through to smpp34's server on a
second port. Everything after the bind is smpp34's.

What it records: every bind attempt, and every submit_sm as received (addresses with TON/NPI,
esm_class, data_coding, registered_delivery, the raw short_message) with the time it arrived.
It answers with message ids, or with a command_status queued by the test (`answers`), or not at
all (`hold_submits`: a gateway gone silent after taking the PDU), and sends delivery receipts
back as deliver_sm on the session that submitted the message (`send_receipt`).

The gateway runs on its own event loop in a thread, so tests drive the channel on theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
import threading
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import smpp34

from alertcast.sms.encoding import Concatenation, decode_part, parse_udh
from alertcast.sms.smpp import TLV_MESSAGE_STATE, TLV_RECEIPTED_MESSAGE_ID

from . import free_port

T = TypeVar("T")

BINDS = {0x01: "receiver", 0x02: "transmitter", 0x09: "transceiver"}
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
STATES = {"DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8}


@dataclass(frozen=True)
class BindAttempt:
    system_id: str
    bind: str
    status: int  #: 0 accepted

    @property
    def accepted(self) -> bool:
        return self.status == 0


@dataclass(frozen=True)
class Submitted:
    """One submit_sm as the gateway received it."""

    at: float  #: time.monotonic() on arrival
    session_id: str
    source_addr: str
    source_addr_ton: int
    source_addr_npi: int
    destination_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    esm_class: int
    data_coding: int
    registered_delivery: int
    short_message: bytes
    message_id: str | None  #: None when not accepted (held or refused)

    @property
    def concatenation(self) -> Concatenation | None:
        return parse_udh(self.short_message, self.esm_class)[0]

    @property
    def text(self) -> str:
        """This part's own text, decoded as a handset does."""
        return decode_part(self)[1]


@dataclass
class SmppGateway:
    system_id: str = "alertcast"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(6)[:8])
    port: int = field(default_factory=free_port)
    binds: list[BindAttempt] = field(default_factory=list)
    submitted: list[Submitted] = field(default_factory=list)
    #: A command_status to answer every bind with (e.g. ESME_RBINDFAIL); None: check credentials.
    refuse_binds: int | None = None
    #: Take submit_sm and never answer them.
    hold_submits: bool = False
    #: command_status for the next submit_sm, in order (0 accepts); then every one is accepted.
    answers: deque[int] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._inner_port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smpp-gateway", daemon=True)
        self._esmes: dict[str, smpp34.Esme] = {}
        self._held: list[smpp34.SubmitSmEvent] = []
        self._connections: set[asyncio.StreamWriter] = set()
        self._lock = threading.Lock()
        self._count = 0

    # --- control, from the tests' thread -----------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._call(self._start())

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def reset(self) -> None:
        """Forget what was recorded and go back to answering normally."""
        with self._lock:
            self.binds.clear()
            self.submitted.clear()
        self.refuse_binds, self.hold_submits = None, False
        self.answers.clear()
        self._loop.call_soon_threadsafe(self._held.clear)  # undecided: smpp34 NAKs them

    def to(self, destination: str) -> list[Submitted]:
        """What was submitted to one number (E.164 digits, no +), in arrival order."""
        with self._lock:
            return [s for s in self.submitted if s.destination_addr == destination]

    def send_receipt(
        self, message_id: str, stat: str = "DELIVRD", *, err: str = "000", tlvs: bool = True
    ) -> None:
        """A delivery receipt for `message_id`, on the session that submitted it."""
        self._call(self._send_receipt(message_id, stat, err, tlvs))

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    # --- on the gateway's loop ---------------------------------------------------------------

    async def _start(self) -> None:
        self._server = smpp34.Server("127.0.0.1", self._inner_port, system_id="TESTSMSC")
        await self._server.start()
        self._events = asyncio.ensure_future(self._serve())
        self._gate = await asyncio.start_server(self._admit, "127.0.0.1", self.port)

    async def _stop(self) -> None:
        self._gate.close()
        for writer in list(self._connections):
            writer.close()
        self._events.cancel()
        self._held.clear()
        await self._server.stop()

    async def _serve(self) -> None:
        while True:
            event = await self._server.next()
            if isinstance(event, smpp34.Esme):
                self._esmes[event.session_id] = event
            elif isinstance(event, smpp34.Unbound):
                self._esmes.pop(event.session_id, None)
            else:
                self._submitted(event)

    def _submitted(self, event: smpp34.SubmitSmEvent) -> None:
        status = self.answers.popleft() if self.answers else 0
        message_id: str | None = None
        if not self.hold_submits and status == 0:
            self._count += 1
            message_id = f"{0x5A000000 + self._count:08X}"
        received = Submitted(
            at=time.monotonic(),
            session_id=event.session_id,
            source_addr=event.source_addr,
            source_addr_ton=event.source_addr_ton,
            source_addr_npi=event.source_addr_npi,
            destination_addr=event.destination_addr,
            dest_addr_ton=event.dest_addr_ton,
            dest_addr_npi=event.dest_addr_npi,
            esm_class=event.esm_class,
            data_coding=event.data_coding,
            registered_delivery=event.registered_delivery,
            short_message=event.short_message,
            message_id=message_id,
        )
        with self._lock:
            self.submitted.append(received)
        if self.hold_submits:
            self._held.append(event)  # never answered while the test runs
        elif message_id is not None:
            event.accept(message_id)
        else:
            event.reject(status)

    async def _send_receipt(self, message_id: str, stat: str, err: str, tlvs: bool) -> None:
        with self._lock:
            submitted = next(s for s in self.submitted if s.message_id == message_id)
        esme = self._esmes[submitted.session_id]
        date = time.strftime("%y%m%d%H%M")
        dlvrd = "001" if stat == "DELIVRD" else "000"
        text = (
            f"id:{message_id} sub:001 dlvrd:{dlvrd} submit date:{date} done date:{date} "
            f"stat:{stat} err:{err} text:{submitted.text[:20]}"
        )
        extra = []
        if tlvs:
            extra = [
                smpp34.Tlv(TLV_RECEIPTED_MESSAGE_ID, message_id.encode() + b"\0"),
                smpp34.Tlv(TLV_MESSAGE_STATE, bytes([STATES[stat]])),
            ]
        answer = await esme.deliver_sm(
            submitted.source_addr,
            text.encode("latin-1", "replace"),
            source_addr=submitted.destination_addr,
            source_addr_ton=1,
            source_addr_npi=1,
            esm_class=0x04,
            tlvs=extra,
        )
        if not answer.is_success:
            raise AssertionError(f"the channel refused the receipt: {answer!r}")

    async def _admit(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The bind gate: check the first PDU's credentials, then pipe to smpp34's server."""
        upstream: asyncio.StreamWriter | None = None
        self._connections.add(writer)
        try:
            header = await reader.readexactly(16)
            length, command, _, sequence = struct.unpack(">IIII", header)
            body = await reader.readexactly(length - 16)
            if command in BINDS:
                system_id, password = (part.decode("latin-1") for part in body.split(b"\0")[:2])
                status = self._bind_status(system_id, password)
                with self._lock:
                    self.binds.append(BindAttempt(system_id, BINDS[command], status))
                if status != 0:
                    writer.write(struct.pack(">IIII", 16, command | 0x80000000, status, sequence))
                    await writer.drain()
                    return
            upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", self._inner_port)
            self._connections.add(upstream)
            upstream.write(header + body)
            await asyncio.gather(_pipe(reader, upstream), _pipe(upstream_reader, writer))
        except (asyncio.IncompleteReadError, OSError):
            pass
        finally:
            for end in (writer, upstream):
                if end is not None:
                    end.close()
                    self._connections.discard(end)

    def _bind_status(self, system_id: str, password: str) -> int:
        if self.refuse_binds is not None:
            return self.refuse_binds
        if not secrets.compare_digest(system_id, self.system_id):
            return ESME_RINVSYSID
        if not secrets.compare_digest(password, self.password):
            return ESME_RINVPASWD
        return 0


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Bytes from `source` to `sink` until either end closes; then both directions end."""
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    except OSError:
        pass
    finally:
        sink.close()
