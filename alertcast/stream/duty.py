"""Duty calls: the person on duty is called the moment a draft waits for approval, the backup
and then the supervisor when nobody has taken it by the deadlines; all from the audit log.

Every worker follows `audit.events` whole, without a consumer group (`alertcast.stream.follow`),
and folds it into a `Desk` (`alertcast.duty.escalation`): the drafts waiting, and the calls
already made, which are `notified` audit events. Only the leader calls, every second, and only
once it has read the log to its end: a worker that restarts, or becomes the leader, knows every
call already made and makes none of them again. A call is sent, then its event is written and
held by the brokers; a worker killed in between calls again once, with the same delivery key
(Matrix transaction id, Message-ID, Idempotency-Key), which those networks show once.

Acknowledgements are `acknowledged` audit events written by the console (`/console/duty/ack`),
and decisions (approve, reject, hold) are the approval agent's: folded like the rest, they end
the calls. The rota is a file re-read when it changes (`alertcast.duty.rota_file`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from alertcast.channels.account import error_text
from alertcast.channels.duty import DutyCaller
from alertcast.clock import clock
from alertcast.duty.escalation import Desk, Intent, notified_event
from alertcast.duty.messages import Call, build_call
from alertcast.duty.rota import Person, Rota
from alertcast.duty.rota_file import RotaFile
from alertcast.models.decision import AuditEvent
from alertcast.stream.app import app, send_durably, settings, topic
from alertcast.stream.follow import follow

log = logging.getLogger(__name__)

TICK_S = 1.0

desk = Desk()
loaded = asyncio.Event()
audit = topic("audit.events")
_calls: set[asyncio.Task[None]] = set()
_caller: DutyCaller | None = None


def _users() -> set[str] | None:
    """The console's user names, to check the rota against; None when none are configured."""
    if settings.users_file is None and not settings.users.strip():
        return None
    from alertcast.web.console.auth import load_users

    try:
        return {user.name for user in load_users(settings.users_file, settings.users)}
    except Exception as error:  # the web process reports a broken users file; the rota still loads
        log.error("duty: console users not read (%s): the rota's names are not checked", error_text(error))
        return None


rota_file = RotaFile(settings.rota_file, settings.timezone, _users() if settings.rota_file else None)
duty_key = settings.duty_key() if settings.rota_file else None


def _apply(key: bytes | None, value: bytes | None) -> None:
    if value is None:
        return
    try:
        event = AuditEvent.model_validate_json(value)
    except ValueError:
        return  # not ours to judge: the console's reader reports it
    desk.apply(event)


async def follow_audit() -> None:
    await follow("audit.events", _apply, loaded)


async def call_due() -> None:
    """On the leader, every second: start the calls owed now. Each is marked at once, so the
    next second does not start it again while it is still being sent."""
    if not loaded.is_set():
        return
    rota = rota_file.current()
    for intent in desk.due(rota, clock.now()):
        desk.mark(intent)
        if intent.person is None or rota is None:
            continue  # nobody left in line for this stage
        task = asyncio.create_task(_call(intent, rota))
        _calls.add(task)
        task.add_done_callback(_calls.discard)


async def _call(intent: Intent, rota: Rota) -> None:
    assert intent.person is not None
    person = rota.people.get(intent.person)
    if person is None:  # check_rota refuses such a rota: only a rota edited meanwhile
        return
    event = await call_and_record(
        rota,
        person,
        lambda now: build_call(intent, person, settings.console_url(), duty_key, now, rota.zone),
        lambda now, sent, failed: notified_event(intent, now, sent, failed),
        key=intent.incident_key,
        what=f"duty: the {intent.stage} call about {intent.alert_id}",
    )
    if event is not None:
        desk.apply(event)


async def call_and_record(
    rota: Rota,
    person: Person,
    build: Callable[[datetime], Call],
    record: Callable[[datetime, list[str], dict[str, str]], AuditEvent],
    *,
    key: str,
    what: str,
) -> AuditEvent | None:
    """Call a person through the channels the rota names, then write the audit event saying
    who was reached (held by the brokers); None when it failed, logged: a broken call must
    not stop the others, nor the timer. The duty desk's calls and the replies' circuit both."""
    global _caller
    now = clock.now()
    try:
        call = build(now)
        _caller = _caller or DutyCaller(settings)
        sent, failed = await _caller.call(call, person, rota.send_with)
        event = record(now, sent, failed)
        await send_durably((audit, key.encode(), event.model_dump_json().encode()))
    except Exception as error:
        log.error("%s failed: %s", what, error_text(error))
        return None
    (log.info if sent else log.error)("%s: %s", what, event.message)
    return event


def start() -> None:
    """Calls only with a rota; without a duty key the calls link to the draft, not to an
    acknowledgement (said once at start)."""
    if settings.rota_file is None:
        return
    if duty_key is None:
        log.warning(
            "duty: no ALERTCAST_DUTY_SECRET(_FILE): calls link to the draft only, and cannot be "
            "acknowledged from their link"
        )
    app.task(follow_audit)
    app.timer(interval=TICK_S, on_leader=True)(call_due)


start()
