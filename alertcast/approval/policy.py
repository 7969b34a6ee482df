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
    """Publishes every draft that has at least one text, reviewed afterwards."""

    name = "auto"

    def decide(self, draft: Draft, now: datetime) -> PolicyDecision:
        if not draft.texts:
            return PolicyDecision(
                verdict=Verdict.REJECT, policy=self.name, approvers=[], reason="no channel text rendered"
            )
        return PolicyDecision(verdict=Verdict.APPROVE, policy=self.name, approvers=["policy:auto"])
