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
from alertcast.clock import clock
from alertcast.duty.rota import Rota
from alertcast.models.decision import AuditEvent
from alertcast.replies.circuit import Circuit, Notice, notice_event
from alertcast.replies.circuit_messages import circuit_call
from alertcast.replies.conversations import load_routing
from alertcast.replies.model import Reply
from alertcast.stream.app import app, settings
from alertcast.stream.duty import call_and_record, rota_file
from alertcast.stream.follow import follow

log = logging.getLogger(__name__)

TICK_S = 1.0

circuit = Circuit()
audit_loaded = asyncio.Event()
replies_loaded = asyncio.Event()
policy = settings.sla_policy()
routing = load_routing(settings.replies_routing_file)
_sends: set[asyncio.Task[None]] = set()


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
    assert notice.person is not None
    person = rota.people.get(notice.person)
    if person is None:  # check_rota refuses such a rota: only a rota edited meanwhile
        return
    event = await call_and_record(
        rota,
        person,
        lambda now: circuit_call(notice, person, settings.console_url(), now, rota.zone),
        lambda now, sent, failed: notice_event(notice, now, sent, failed),
        key=notice.ref,
        what=f"circuit: the {notice.stage} notice about {notice.ref}",
    )
    if event is not None:
        circuit.apply(event)


def start() -> None:
    """Notices only with a rota: without one nobody is on duty to tell (the inbox still shows
    every conversation's deadline)."""
    if settings.rota_file is None:
        return
    app.task(follow_audit)
    app.task(follow_replies)
    app.timer(interval=TICK_S, on_leader=True)(notify_due)


start()
