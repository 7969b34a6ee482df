"""The approval policy and the decision state machine, pure: no broker, a fake clock."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import EXAMPLES

from alertcast.approval.policy import AutoApprove, PolicyFile, Requirement, RulePolicy, parse_policy
from alertcast.approval.workflow import ApprovalState, Step, decide, receive_draft
from alertcast.models.alert import ChannelText, Draft, alert_id_for
from alertcast.models.decision import (
    ApprovalMode,
    AuditAction,
    Decision,
    DecisionAction,
    DraftStatus,
    PolicyConfig,
    Role,
)
from alertcast.models.finding import Finding
from alertcast.models.incident import Incident, Severity
from alertcast.render.compose import check_edit

T0 = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
INCIDENT = Incident.model_validate(json.loads((EXAMPLES / "01-road-closure-d934.json").read_text()))
GOOD_TEXT = (
    "Route D 934 fermée entre Arras et Cambrai le 3 décembre de 7 h à 18 h. "
    "Suivez la déviation par la D 939. Source : Département."
)
HOSTILE_TEXT = "Route D 934 fermée entre Arras et Cambrai. Scandaleux, la faute du département."

POLICY_YAML = """
rules:
  - name: meteo-prefecture-extreme
    sources: ["prefecture-*"]
    severities: [Extreme]
    approval: auto
  - name: grave
    severities: [Extreme, Severe]
    approval: two
    escalate_after: PT10M
    expire_after: PT1H
  - name: routes
    categories: [road_closure]
    approval: one
    escalate_after: 300
    expire_after: 3600
default:
  name: autre
  approval: one
escalation:
  webhooks: ["http://127.0.0.1:9/escalate"]
"""


def draft(
    *,
    severity: Severity = Severity.MODERATE,
    source: str = "dir-nord",
    blocked: bool = False,
    version: int = 1,
    texts: list[ChannelText] | None = None,
) -> Draft:
    info = INCIDENT.info[0].model_copy(update={"severity": severity})
    incident = INCIDENT.model_copy(update={"info": [info], "source": source})
    return Draft(
        alert_id=alert_id_for(incident.key),
        incident_key=incident.key,
        version=version,
        received_at=T0,
        incident=incident,
        texts=texts if texts is not None else [check_edit("webhook", GOOD_TEXT, "fr", incident)],
        findings=(
            [Finding(rule="facts.expired", level="block", start=0, end=0, excerpt="", message="expired")]
            if blocked
            else []
        ),
        blocked=blocked,
    )


def policy() -> RulePolicy:
    parsed = parse_policy(POLICY_YAML)
    assert isinstance(parsed, PolicyConfig), parsed
    return RulePolicy(parsed)


def decision(
    state: ApprovalState,
    action: DecisionAction,
    actor: str = "alice",
    roles: tuple[Role, ...] = (Role.COMMUNICATOR,),
    **fields: object,
) -> Decision:
    return Decision(
        incident_key=state.draft.incident_key,
        alert_id=state.draft.alert_id,
        version=state.draft.version,
        action=action,
        actor=actor,
        roles=list(roles),
        at=T0,
        **fields,  # type: ignore[arg-type]
    )


def recheck(channel: str, text: str, language: str, incident: Incident, limit: int | None) -> ChannelText:
    return check_edit(channel, text, language, incident, limit=limit)


def arrive(d: Draft, requirement: Requirement | None = None) -> Step:
    return receive_draft(None, d, requirement or policy().requirement(d), T0)


def test_rules_match_category_severity_and_source_first_match_wins() -> None:
    rules = policy()
    assert rules.requirement(draft()).rule == "routes"
    assert rules.requirement(draft(severity=Severity.SEVERE)).mode is ApprovalMode.TWO
    trusted = rules.requirement(draft(severity=Severity.EXTREME, source="prefecture-nord"))
    assert (trusted.rule, trusted.mode) == ("meteo-prefecture-extreme", ApprovalMode.AUTO)
    untrusted = rules.requirement(draft(severity=Severity.EXTREME, source="dir-nord"))
    assert (untrusted.rule, untrusted.mode) == ("grave", ApprovalMode.TWO)
    other = INCIDENT.info[0].model_copy(update={"category": "strike"})
    strike = draft().model_copy(update={"incident": INCIDENT.model_copy(update={"info": [other]})})
    assert rules.requirement(strike).rule == "autre"
    assert rules.requirement(draft()).escalate_after == timedelta(minutes=5)


def test_auto_is_only_for_trusted_sources_at_extreme_severity() -> None:
    problems = parse_policy("rules: [{name: tout, approval: auto}]")
    assert isinstance(problems, list)
    assert "needs trusted `sources` and `severities: [Extreme]`" in problems[0].message
    severe = parse_policy("rules: [{name: x, sources: [a], severities: [Extreme, Severe], approval: auto}]")
    assert isinstance(severe, list)
    typo = parse_policy("rules: [{name: x, approval: maybe}]")
    assert isinstance(typo, list) and typo[0].path == "rules.0.approval"


def test_no_policy_file_publishes_at_once() -> None:
    step = arrive(draft(), AutoApprove().requirement(draft()))
    assert step.approval is not None and step.approval.approved_by == ["policy:auto"]
    assert step.state is not None and step.state.status is DraftStatus.PUBLISHED
    assert [e.action for e in step.audit] == [AuditAction.DRAFTED, AuditAction.PUBLISHED]


def test_blocked_drafts_never_auto_publish() -> None:
    blocked = draft(severity=Severity.EXTREME, source="prefecture-nord", blocked=True)
    step = arrive(blocked)
    assert step.approval is None and step.state is not None
    assert step.state.status is DraftStatus.PENDING
    assert "the charter blocks the incident" in step.audit[0].message
    refused = decide(step.state, decision(step.state, DecisionAction.APPROVE), T0, recheck)
    assert refused.approval is None and not refused.audit[0].accepted
    all_blocked = draft(texts=[check_edit("webhook", HOSTILE_TEXT, "fr", INCIDENT)])
    step = arrive(all_blocked, AutoApprove().requirement(all_blocked))
    assert step.approval is None and "every text is blocked" in step.audit[0].message


def test_one_approver_publishes() -> None:
    state = arrive(draft()).state
    assert state is not None
    step = decide(state, decision(state, DecisionAction.APPROVE), T0 + timedelta(minutes=2), recheck)
    assert step.approval is not None and step.approval.approved_by == ["alice"]
    assert step.approval.policy == "routes"
    assert [e.action for e in step.audit] == [AuditAction.APPROVE, AuditAction.PUBLISHED]
    assert step.audit[1].details["waited_s"] == 120
    again = decide(step.state, decision(state, DecisionAction.APPROVE, "bob"), T0, recheck)
    assert again.approval is None and again.audit[0].message == "this draft is already published"


def test_two_approvers_must_be_distinct_and_one_a_supervisor() -> None:
    state = arrive(draft(severity=Severity.SEVERE)).state
    assert state is not None
    first = decide(state, decision(state, DecisionAction.APPROVE, "alice"), T0, recheck)
    assert first.approval is None and first.audit[0].accepted
    assert first.audit[0].message == "1 more approval(s) needed"
    same = decide(
        first.state, decision(state, DecisionAction.APPROVE, "alice", (Role.SUPERVISOR,)), T0, recheck
    )
    assert same.approval is None and not same.audit[0].accepted
    assert "second approval must come from another person" in same.audit[0].message
    peer = decide(same.state, decision(state, DecisionAction.APPROVE, "carol"), T0, recheck)
    assert peer.approval is None and "needs a supervisor" in peer.audit[0].message
    boss = decide(peer.state, decision(state, DecisionAction.APPROVE, "bob", (Role.SUPERVISOR,)), T0, recheck)
    assert boss.approval is not None and boss.approval.approved_by == ["alice", "bob"]


def test_an_operator_cannot_approve() -> None:
    state = arrive(draft()).state
    assert state is not None
    step = decide(state, decision(state, DecisionAction.APPROVE, "olivier", (Role.OPERATOR,)), T0, recheck)
    assert step.approval is None and "only a communicator or a supervisor" in step.audit[0].message


def test_blocked_edit_cannot_be_approved_until_fixed() -> None:
    state = arrive(draft()).state
    assert state is not None
    edit = decision(state, DecisionAction.EDIT, channel="webhook", language="fr", text=HOSTILE_TEXT)
    step = decide(state, edit, T0, recheck)
    event = step.audit[0]
    assert event.accepted and event.before is not None and event.after is not None
    assert event.before.text == GOOD_TEXT and event.after.blocked
    assert "neutrality.opinion" in event.after.reason
    refused = decide(step.state, decision(state, DecisionAction.APPROVE), T0, recheck)
    assert refused.approval is None and "edited webhook text (fr) is blocked" in refused.audit[0].message
    fix = decision(state, DecisionAction.EDIT, channel="webhook", language="fr", text=GOOD_TEXT)
    fixed = decide(refused.state, fix, T0, recheck)
    approved = decide(fixed.state, decision(state, DecisionAction.APPROVE), T0, recheck)
    assert approved.approval is not None
    assert approved.approval.draft.texts[0].text == GOOD_TEXT


def test_an_edit_withdraws_earlier_approvals() -> None:
    state = arrive(draft(severity=Severity.SEVERE)).state
    assert state is not None
    first = decide(state, decision(state, DecisionAction.APPROVE, "alice"), T0, recheck)
    edit = decision(state, DecisionAction.EDIT, "bob", channel="webhook", language="fr", text=GOOD_TEXT + " ")
    edited = decide(first.state, edit, T0, recheck)
    assert edited.state is not None and edited.state.approvals == []
    assert "withdrawn" in edited.audit[0].message


def test_reject_needs_a_reason_and_is_final() -> None:
    state = arrive(draft()).state
    assert state is not None
    silent = decide(state, decision(state, DecisionAction.REJECT), T0, recheck)
    assert not silent.audit[0].accepted and silent.audit[0].message == "a rejection needs a reason"
    step = decide(state, decision(state, DecisionAction.REJECT, reason="doublon"), T0, recheck)
    assert step.state is not None and step.state.status is DraftStatus.REJECTED
    late = decide(step.state, decision(state, DecisionAction.APPROVE, "bob"), T0, recheck)
    assert late.approval is None


def test_hold_blocks_approval_until_released() -> None:
    state = arrive(draft()).state
    assert state is not None
    held = decide(state, decision(state, DecisionAction.HOLD, reason="on vérifie"), T0, recheck)
    refused = decide(held.state, decision(state, DecisionAction.APPROVE, "bob"), T0, recheck)
    assert refused.approval is None and "on hold by alice" in refused.audit[0].message
    released = decide(refused.state, decision(state, DecisionAction.RELEASE), T0, recheck)
    assert decide(released.state, decision(state, DecisionAction.APPROVE, "bob"), T0, recheck).approval


def test_decision_on_an_old_version_is_refused() -> None:
    first = arrive(draft()).state
    assert first is not None
    second = receive_draft(first, draft(version=2), policy().requirement(draft()), T0)
    assert [e.action for e in second.audit] == [AuditAction.SUPERSEDED, AuditAction.DRAFTED]
    assert second.state is not None
    stale = decide(second.state, decision(first, DecisionAction.APPROVE), T0, recheck)
    assert stale.approval is None and "version 2 is the current one" in stale.audit[0].message
    replay = receive_draft(second.state, draft(version=1), policy().requirement(draft()), T0)
    assert replay.audit == [] and replay.state is second.state


def test_deadlines_escalate_once_then_expire() -> None:
    state = arrive(draft()).state  # routes: escalate after 5 min, expire after 1 h
    assert state is not None
    tick = decision(state, DecisionAction.TICK, "system:deadline")
    assert not state.due(T0 + timedelta(minutes=4))
    assert decide(state, tick, T0 + timedelta(minutes=4), recheck).audit == []
    assert state.due(T0 + timedelta(minutes=5))
    step = decide(state, tick, T0 + timedelta(minutes=5), recheck)
    assert step.escalate and step.audit[0].action is AuditAction.ESCALATED
    assert step.state is not None and not step.state.due(T0 + timedelta(minutes=30))
    assert decide(step.state, tick, T0 + timedelta(minutes=30), recheck).audit == []
    expired = decide(step.state, tick, T0 + timedelta(hours=1), recheck)
    assert expired.state is not None and expired.state.status is DraftStatus.EXPIRED
    assert expired.audit[0].action is AuditAction.EXPIRED and not expired.escalate
    assert decide(expired.state, decision(state, DecisionAction.APPROVE), T0, recheck).approval is None


def test_held_drafts_are_not_escalated_but_still_expire() -> None:
    state = arrive(draft()).state
    assert state is not None
    held = decide(state, decision(state, DecisionAction.HOLD), T0, recheck).state
    assert held is not None
    assert not held.due(T0 + timedelta(minutes=10))
    assert held.due(T0 + timedelta(hours=1))


def test_policy_file_reloads_when_it_changes_and_keeps_the_last_good(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_YAML)
    source = PolicyFile(path)
    assert source.current().requirement(draft()).rule == "routes"
    path.write_text(POLICY_YAML.replace("name: routes", "name: routes-v2"))
    os.utime(path, ns=(1, 10**18))  # a different mtime even within the filesystem's resolution
    assert source.current().requirement(draft()).rule == "routes-v2"
    path.write_text("rules: [{name: broken, approval: auto}]")
    os.utime(path, ns=(1, 2 * 10**18))
    assert source.current().requirement(draft()).rule == "routes-v2"
    assert source.problems and "auto" in source.problems[0].message


def test_a_policy_file_that_never_loaded_is_not_auto(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("rules: [")
    requirement = PolicyFile(path).current().requirement(draft())
    assert requirement.mode is ApprovalMode.ONE


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "deploy").glob("policy*.yaml")))
def test_shipped_policy_examples_load(path: Path) -> None:
    assert isinstance(parse_policy(path.read_text()), PolicyConfig)
