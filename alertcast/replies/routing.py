"""Which service answers a citizen: the "relais compétent".

The community manager answers what they can and hands the rest to the service that knows
(roads, water, schools' transport...). The body writes who that is in a small YAML file; the
first rule whose keyword the citizen wrote wins, because what they ask ("le bus scolaire")
says more than the alert they answer (a flood); then the rule of the alert's category; then
the default service, so a reply is never left with nobody.

    default: communication
    rules:
      - service: voirie
        categories: [road_closure, traffic]
        keywords: ["route barrée", déviation]

A bare list of rules is accepted too (default "communication").
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alertcast.charter.folding import fold, fold_with_map
from alertcast.errors import ConfigurationError
from alertcast.i18n import N_
from alertcast.models.incident import Category
from alertcast.models.problem import Problem, problems_from_validation
from alertcast.replies.matching import contains_any
from alertcast.replies.model import Reply

DEFAULT_SERVICE = "communication"


class RoutingError(ConfigurationError, ValueError):
    """The routing file is refused; `problems` name each rule index and field at fault."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("routing rules refused: " + "; ".join(problem.line() for problem in problems))


class RoutingRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field(min_length=1)
    categories: tuple[Category, ...] = ()
    keywords: tuple[str, ...] = ()

    @field_validator("keywords")
    @classmethod
    def _keywords_say_something(cls, keywords: tuple[str, ...]) -> tuple[str, ...]:
        """An empty keyword would match every reply and silently take them all."""
        for index, keyword in enumerate(keywords):
            if not fold(keyword).split():
                raise ValueError(f"keyword {index} is empty")
        return keywords


class RoutingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: str = Field(default=DEFAULT_SERVICE, min_length=1)
    rules: tuple[RoutingRule, ...] = ()


def _path(problem: Problem) -> Problem:
    """ "rules.2.categories.0" reads as "rule 2, field categories" for whoever edits the file."""
    parts = problem.path.split(".")
    if len(parts) >= 3 and parts[0] == "rules" and parts[1].isdigit():
        return problem.model_copy(update={"path": f"rule {parts[1]}, field {'.'.join(parts[2:])}"})
    if len(parts) == 2 and parts[0] == "rules" and parts[1].isdigit():
        return problem.model_copy(update={"path": f"rule {parts[1]}"})
    return problem


class RoutingRules:
    """The body's rules, validated once; `route` is pure."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config

    @classmethod
    def from_yaml(cls, text: str) -> RoutingRules:
        try:
            document: Any = yaml.safe_load(text)
        except yaml.YAMLError as error:
            problem = Problem.said(
                "(document)", "yaml_syntax", "%(error)s", N_("fix the YAML"), error=str(error)
            )
            raise RoutingError([problem]) from error
        if document is None:
            document = {}
        if isinstance(document, list):
            document = {"rules": document}
        try:
            return cls(RoutingConfig.model_validate(document))
        except ValidationError as error:
            raise RoutingError([_path(problem) for problem in problems_from_validation(error)]) from error

    def route(self, reply: Reply, alert_category: str | None) -> str:
        """The competent service for `reply`, under an alert of `alert_category` (None: a mention;
        a category this version does not know counts as none)."""
        folded = fold_with_map(reply.text)
        for rule in self.config.rules:
            if contains_any(folded, rule.keywords):
                return rule.service
        category = alert_category if alert_category in set(Category) else None
        if category is not None:
            for rule in self.config.rules:
                if category in rule.categories:
                    return rule.service
        return self.config.default
