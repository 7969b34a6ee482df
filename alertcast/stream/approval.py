"""Approval agent: applies the policy to each draft; approved drafts go on to fan-out."""

from __future__ import annotations

import logging
from typing import Any

from alertcast.approval.policy import ApprovalPolicy, AutoApprove, Verdict
from alertcast.clock import clock
from alertcast.models.alert import Approval, Draft
from alertcast.stream.app import app, approved, drafted

log = logging.getLogger(__name__)

policy: ApprovalPolicy = AutoApprove()


@app.agent(drafted)
async def approve(stream: Any) -> None:
    async for raw in stream:
        draft = Draft.model_validate_json(raw)
        decision = policy.decide(draft, clock.now())
        if decision.verdict is not Verdict.APPROVE:
            log.warning("alert %s v%d not approved: %s", draft.alert_id, draft.version, decision.reason)
            continue
        approval = Approval(
            draft=draft, approved_by=decision.approvers, approved_at=clock.now(), policy=decision.policy
        )
        await approved.send(key=draft.incident_key.encode(), value=approval.model_dump_json().encode())
