"""Reply actions from the console (hide, unhide, answer), done on the network once.

The console sends a `ReplyAction` to `replies.actions` (keyed by conversation). Here each one
goes through its own ledger table, the same `LedgerEntry` as deliveries, keyed by the action's
id: in flight (durably) before the network is called, settled after. A worker killed between
the network's answer and the ledger finds "in flight": a hiding is simply made again (it is a
state, not a post); an answer is looked up on the network, and where the network cannot say,
it is "unknown" for a person, never posted blind. The outcome goes to `replies.outcomes` and
`audit.events` before the ledger is settled, so a replay repeats an outcome (readers keep one
per action id) and never loses one.

Every decision is alertcast.replies.actions'; this module reads, calls and writes.
"""

from __future__ import annotations

import logging
from typing import Any

from alertcast.channels.base import LookupUnsupported
from alertcast.clock import clock
from alertcast.delivery.ledger import LedgerEntry
from alertcast.delivery.retry import OutcomeUnknown, PermanentError, TransientError
from alertcast.i18n import N_, said, term
from alertcast.models.decision import AuditAction, AuditEvent
from alertcast.models.post import PostResult
from alertcast.replies import actions
from alertcast.replies.actions import KIND_WORDS, STATE_WORDS, Call, Finish, LookUp, ReplyAction
from alertcast.stream.app import app, for_each_event, send_durably, table, topic
from alertcast.stream.deliver import channels, retry

log = logging.getLogger(__name__)

requests = topic("replies.actions")
outcomes = topic("replies.outcomes")
audit = topic("audit.events")
# Per action id: a LedgerEntry as JSON (what was done on the network, or is being done).
action_ledger = table("reply_action_ledger")


@app.agent(requests)
async def act(stream: Any) -> None:
    await for_each_event(stream, act_event)


async def act_event(event: Any) -> None:
    try:
        action = ReplyAction.model_validate_json(event.value)
    except ValueError as error:
        log.error("reply action unreadable, skipped: %s", error)
        return
    finish = await run(action)
    await report(action, finish)


async def run(action: ReplyAction) -> Finish:
    """The request through the steps of alertcast.replies.actions."""
    channel = channels.get(action.network)
    supported = channel is not None and actions.supports(channel, action.kind)
    step = actions.arrive(action, entry_of(action.action_id), supported, clock.now())
    if isinstance(step, LookUp):
        step = await look_up(channel, action, step)
    if isinstance(step, Finish):
        return step
    return await call(channel, action, step)


async def look_up(channel: Any, action: ReplyAction, step: LookUp) -> Finish | Call:
    try:
        found = await channel.find_answer(action)
    except LookupUnsupported:
        return actions.looked_up(action, step.entry, None, supported=False, now=clock.now())
    except (TransientError, PermanentError) as error:
        # The network did not answer the question: unsure, so a person decides.
        log.error("reply action %s: lookup failed: %s", action.action_id, error)
        return actions.looked_up(action, step.entry, None, supported=False, now=clock.now())
    if found is not None:
        log.info("reply action %s was done before a restart: not again", action.action_id)
    return actions.looked_up(action, step.entry, found, supported=True, now=clock.now())


async def call(channel: Any, action: ReplyAction, step: Call) -> Finish:
    """In flight (durably) first, then the network through the retry policy."""
    await (await action_ledger.put(action.action_id, step.entry.model_dump_json()))

    tried = False

    async def attempt() -> PostResult:
        """After a failed try (a 5xx may come after the network stored the post), an answer is
        looked up before it is tried again; a hiding is simply made again."""
        nonlocal tried
        if action.kind != "answer":
            hidden: PostResult = await channel.hide_reply(action)
            return hidden
        if tried:
            found: PostResult | None = await channel.find_answer(action)
            if found is not None:
                return found
        tried = True
        answered: PostResult = await channel.answer(action)
        return answered

    try:
        result, tries = await retry.run(attempt)
    except (OutcomeUnknown, TransientError, PermanentError) as failure:
        log.error("reply action %s (%s on %s): %s", action.action_id, action.kind, action.network, failure)
        return actions.failed(step.entry, failure, retry.attempts, clock.now(), action.kind)
    return actions.called(step.entry, result, tries, clock.now())


async def report(action: ReplyAction, finish: Finish) -> None:
    """The receipt and the audit line held by the brokers, then the ledger settled."""
    now = clock.now()
    outcome = actions.outcome(action, finish, now)
    # The network's error in its own words; else the outcome, said in the reader's language.
    words = (
        {"message": outcome.error}
        if outcome.error
        else said(
            N_("%(kind)s: %(state)s"),
            kind=term(KIND_WORDS[action.kind], action.kind),
            state=term(STATE_WORDS[outcome.state], outcome.state),
        )
    )
    event = AuditEvent(
        at=now,
        actor="alertcast",
        action=AuditAction.REPLY_ACTED,
        alert_id=action.alert_id or "",
        channel=action.network,
        accepted=outcome.state == "done",
        details={"ref": action.ref, **outcome.model_dump(mode="json")},
        **words,
    )
    key = action.key
    await send_durably(
        (outcomes, key, outcome.model_dump_json().encode()),
        (audit, (action.alert_id or f"mention:{action.network}").encode(), event.model_dump_json().encode()),
    )
    if finish.write and finish.entry is not None:
        await action_ledger.put(action.action_id, finish.entry.model_dump_json())
    log.info("reply action %s: %s %s on %s", action.action_id, action.kind, outcome.state, action.network)


def entry_of(action_id: str) -> LedgerEntry | None:
    value = action_ledger.get(action_id)
    return LedgerEntry.model_validate_json(value) if value else None
