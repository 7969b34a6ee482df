"""The approval policy: what a draft needs before it is published.

`ApprovalPolicy` is the interface the approval agent uses: given a draft, a `Requirement`
(auto, one approver or two, and its deadlines). `AutoApprove` is what runs with no policy
file (the walking skeleton publishes by itself); `RulePolicy` is the YAML file's rules,
first match wins. `PolicyFile` re-reads the file when its mtime changes, so a supervisor's
edit applies without a restart, and a broken edit keeps the last good policy (said in the log
and by `problems`), never an empty one.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from alertcast.i18n import N_
from alertcast.models.alert import Draft
from alertcast.models.decision import ApprovalMode, PolicyConfig, PolicyRule
from alertcast.models.incident import SEVERITY_RANK, Severity
from alertcast.models.problem import Problem, problems_from_validation

log = logging.getLogger(__name__)


class Requirement(BaseModel):
    """What one draft needs, fixed when the draft arrives (a later policy edit does not move
    the goalposts of a draft already waiting)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    mode: ApprovalMode
    escalate_after: timedelta | None = None
    expire_after: timedelta | None = None

    @property
    def approvals_needed(self) -> int:
        return {ApprovalMode.AUTO: 0, ApprovalMode.ONE: 1, ApprovalMode.TWO: 2}[self.mode]


class ApprovalPolicy(Protocol):
    name: str

    def requirement(self, draft: Draft) -> Requirement: ...


class AutoApprove:
    """Every draft publishes at once (reviewed afterwards); with no policy file this keeps the
    pipeline publishing by itself. Blocked drafts still wait for a person (see workflow)."""

    name = "auto"

    def requirement(self, draft: Draft) -> Requirement:
        return Requirement(rule="auto", mode=ApprovalMode.AUTO)


def severity_of(draft: Draft) -> Severity:
    """The highest severity of the incident's info blocks."""
    return max(
        (info.severity for info in draft.incident.info),
        key=SEVERITY_RANK.__getitem__,
        default=Severity.UNKNOWN,
    )


class RulePolicy:
    """The rules of a policy file; the first that matches the draft decides."""

    def __init__(self, config: PolicyConfig, name: str = "policy") -> None:
        self.config = config
        self.name = name

    def rule_for(self, draft: Draft) -> PolicyRule:
        main = draft.incident.main_info
        category = main.category if main is not None else None
        severity = severity_of(draft)
        for rule in self.config.rules:
            if rule.matches(category, severity, draft.incident.source):
                return rule
        return self.config.default

    def requirement(self, draft: Draft) -> Requirement:
        rule = self.rule_for(draft)
        return Requirement(
            rule=rule.name,
            mode=rule.approval,
            escalate_after=rule.escalate_after,
            expire_after=rule.expire_after,
        )


def parse_policy(text: str, where: str = "policy") -> PolicyConfig | list[Problem]:
    """The policy in `text` (YAML), or every problem with it."""
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        return [Problem.said(where, "yaml_syntax", "%(error)s", N_("fix the YAML"), error=str(error))]
    try:
        return PolicyConfig.model_validate(document)
    except ValidationError as error:
        return problems_from_validation(error)


class PolicyFile:
    """A policy file, re-read when its mtime (or size) changes; no file configured = AutoApprove."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self._stamp: tuple[int, int] | None = None
        self._policy: ApprovalPolicy = AutoApprove()

    def current(self) -> ApprovalPolicy:
        if self.path is None:
            return self._policy
        try:
            stat = os.stat(self.path)
        except OSError as error:
            self._fail([Problem.said(str(self.path), "policy_unreadable", "%(error)s", error=str(error))])
            return self._policy
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            parsed = parse_policy(self.path.read_text(encoding="utf-8"), str(self.path))
            if isinstance(parsed, PolicyConfig):
                self._policy, self.problems = RulePolicy(parsed, name=self.path.name), []
                log.info("approval policy loaded from %s (%d rules)", self.path, len(parsed.rules))
            else:
                self._fail(parsed)
        return self._policy

    def _fail(self, problems: list[Problem]) -> None:
        if problems != self.problems:
            for problem in problems:
                log.error(
                    "approval policy %s refused, keeping the previous one: %s", self.path, problem.line()
                )
        self.problems = problems
        if isinstance(self._policy, AutoApprove) and self.path is not None:
            # A configured file that never loaded must not mean "publish everything at once".
            self._policy = RulePolicy(PolicyConfig(), name="default (policy file refused)")
