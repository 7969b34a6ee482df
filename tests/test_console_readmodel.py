"""The console's read model takes the topics in whatever order they are read.

The worker sends a draft and the events the policy makes of it together, on two topics
(`alerts.drafted`, `audit.events`): the console's consumer may read the events first, and on
a start it may read the whole audit log before the drafts."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from test_console_security import drafted_event, make_draft

from alertcast.models.decision import ApprovalMode, AuditAction, AuditEvent, DraftStatus
from alertcast.web.console.readmodel import ConsoleReadModel, Topics


def read_model() -> ConsoleReadModel:
    return ConsoleReadModel(Topics.with_prefix(lambda name: f"t.{name}"))


def feed(model: ConsoleReadModel, topic: str, message: BaseModel) -> None:
    model.on_message(topic, None, message.model_dump_json().encode())


def test_the_policy_s_event_read_before_its_draft_is_applied_when_the_draft_comes() -> None:
    model, draft = read_model(), make_draft()
    feed(model, model.topics.audit, drafted_event(draft, mode="two"))
    assert model.drafts == {}
    feed(model, model.topics.drafted, draft)
    view = model.drafts[draft.alert_id]
    assert view.known_policy and view.state.requirement.mode is ApprovalMode.TWO
    assert view.state.requirement.rule == "grave" and [v.draft.alert_id for v in model.queue()] == [
        draft.alert_id
    ]


def test_a_draft_published_at_once_is_shown_published_whatever_came_first() -> None:
    draft = make_draft()
    published = AuditEvent(
        at=datetime.now(UTC),
        actor="policy",
        action=AuditAction.PUBLISHED,
        incident_key=draft.incident_key,
        alert_id=draft.alert_id,
        version=1,
        status=DraftStatus.PUBLISHED,
    )
    orders = [("audit", "audit", "drafted"), ("drafted", "audit", "audit"), ("audit", "drafted", "audit")]
    for order in orders:
        model = read_model()
        events = iter([drafted_event(draft, mode="auto"), published])
        for topic in order:
            feed(model, getattr(model.topics, topic), draft if topic == "drafted" else next(events))
        view = model.drafts[draft.alert_id]
        assert view.status is DraftStatus.PUBLISHED and view.known_policy, order
        assert model.queue() == [] and model.recently_auto() == [view], order


def test_the_events_of_a_later_version_wait_for_that_version() -> None:
    model, first = read_model(), make_draft()
    second = first.model_copy(update={"version": 2})
    later = drafted_event(second, mode="two").model_copy(update={"details": {"rule": "v2", "mode": "two"}})
    feed(model, model.topics.drafted, first)
    feed(model, model.topics.audit, later)
    assert not model.drafts[first.alert_id].known_policy  # not version 1's event
    feed(model, model.topics.drafted, second)
    view = model.drafts[first.alert_id]
    assert view.draft.version == 2 and view.known_policy and view.state.requirement.rule == "v2"


def test_session_events_about_no_alert_are_not_kept_for_a_draft() -> None:
    model = read_model()
    login = AuditEvent(at=datetime.now(UTC), actor="alice", action=AuditAction.LOGIN)
    feed(model, model.topics.audit, login)
    assert model._early == {} and model.audit == [login]
