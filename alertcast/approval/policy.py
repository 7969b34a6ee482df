"""The approval policy interface. For now every draft is approved at once ("auto"); the console
issue replaces `AutoApprove` with the YAML policy (one or two approvers, deadlines) behind the
same interface, so the approval agent does not change.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel

from alertcast.models.alert import Draft


class Verdict(StrEnum):
    APPROVE = "approve"
    WAIT = "wait"
    REJECT = "reject"


class PolicyDecision(BaseModel):
    verdict: Verdict
    policy: str
    approvers: list[str]
    reason: str = ""


class ApprovalPolicy(Protocol):
    def decide(self, draft: Draft, now: datetime) -> PolicyDecision: ...


class AutoApprove:
    """Publishes every draft that has a publishable text, reviewed afterwards; a draft the
    charter blocks waits for a person (channels whose own text is blocked are skipped at fan-out)."""

    name = "auto"

    def decide(self, draft: Draft, now: datetime) -> PolicyDecision:
        if not draft.texts:
            return PolicyDecision(
                verdict=Verdict.REJECT, policy=self.name, approvers=[], reason="no channel text rendered"
            )
        if draft.blocked or all(text.blocked for text in draft.texts):
            reasons = "; ".join(sorted({text.reason for text in draft.texts if text.reason})) or "charter"
            return PolicyDecision(
                verdict=Verdict.WAIT,
                policy=self.name,
                approvers=[],
                reason=f"blocked, a person must fix it: {reasons}",
            )
        return PolicyDecision(verdict=Verdict.APPROVE, policy=self.name, approvers=["policy:auto"])
