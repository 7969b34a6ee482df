"""The 72-hour circuit's notices: the competent service's person on duty is told before a
citizen's conversation is missed, the supervisor once it is; all from the topics.

Every worker follows `replies.received` and `audit.events` whole, without a consumer group
(`alertcast.stream.follow`), and folds them into a `Circuit` (`alertcast.replies.circuit`): the
conversations, the people's acts on them, the alerts' categories, and the notices already sent,
which are `reply_circuit_warned` / `reply_circuit_missed` audit events. Only the leader sends,
every second on the injected clock, and only once it has read both topics to their end: a
worker that restarts, or becomes the leader, knows every notice already sent and sends none of
them again. A notice is sent, then its event is written and held by the brokers; a worker killed
in between sends it again once, with the same delivery key, as the duty desk's calls do
(`alertcast.stream.duty`, whose rota this shares).
"""

from __future__ import annotations

import asyncio
import logging

from alertcast.channels.account import error_text
from alertcast.channels.duty import DutyCaller
from alertcast.clock import clock
from alertcast.duty.rota import Rota
from alertcast.models.decision import AuditEvent
from alertcast.replies.circuit import Circuit, Notice, notice_event
from alertcast.replies.circuit_messages import circuit_call
from alertcast.replies.conversations import load_routing
from alertcast.replies.model import Reply
from alertcast.stream.app import app, send_durably, settings, topic
from alertcast.stream.duty import rota_file
from alertcast.stream.follow import follow

log = logging.getLogger(__name__)

TICK_S = 1.0

circuit = Circuit()
audit_loaded = asyncio.Event()
replies_loaded = asyncio.Event()
audit = topic("audit.events")
policy = settings.sla_policy()
routing = load_routing(settings.replies_routing_file)
_sends: set[asyncio.Task[None]] = set()
_caller: DutyCaller | None = None


def _apply_audit(key: bytes | None, value: bytes | None) -> None:
    if value is None:
        return
    try:
        event = AuditEvent.model_validate_json(value)
    except ValueError:
        return  # not ours to judge: the console's reader reports it
    circuit.apply(event)


def _apply_reply(key: bytes | None, value: bytes | None) -> None:
    if value is None:
        return
    try:
        reply = Reply.model_validate_json(value)
    except ValueError as error:
        log.warning("circuit: a reply does not read, skipped: %s", error_text(error))
        return
    circuit.add(reply)


async def follow_audit() -> None:
    await follow("audit.events", _apply_audit, audit_loaded)


async def follow_replies() -> None:
    await follow("replies.received", _apply_reply, replies_loaded)


async def notify_due() -> None:
    """On the leader, every second: start the notices owed now. Each is marked at once, so the
    next second does not start it again while it is still being sent."""
    if not (audit_loaded.is_set() and replies_loaded.is_set()):
        return
    rota = rota_file.current()
    for notice in circuit.due(rota, policy, routing, settings.timezone, clock.now()):
        circuit.mark(notice)
        if notice.person is None or rota is None:
            continue
        task = asyncio.create_task(_send(notice, rota))
        _sends.add(task)
        task.add_done_callback(_sends.discard)


async def _send(notice: Notice, rota: Rota) -> None:
    global _caller
    assert notice.person is not None
    person = rota.people.get(notice.person)
    if person is None:  # check_rota refuses such a rota: only a rota edited meanwhile
        return
    now = clock.now()
    try:
        call = circuit_call(notice, person, settings.console_url(), now, rota.zone)
        _caller = _caller or DutyCaller(settings)
        sent, failed = await _caller.call(call, person, rota.send_with)
        event = notice_event(notice, now, sent, failed)
        await send_durably((audit, notice.ref.encode(), event.model_dump_json().encode()))
    except Exception as error:  # a broken notice must not stop the others, nor the timer
        log.error("circuit: the %s notice about %s failed: %s", notice.stage, notice.ref, error_text(error))
        return
    circuit.apply(event)
    if sent:
        log.info("circuit: %s", event.message)
    else:
        log.error("circuit: %s", event.message)


def start() -> None:
    """Notices only with a rota: without one nobody is on duty to tell (the inbox still shows
    every conversation's deadline)."""
    if settings.rota_file is None:
        return
    app.task(follow_audit)
    app.task(follow_replies)
    app.timer(interval=TICK_S, on_leader=True)(notify_due)


start()
