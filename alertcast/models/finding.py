"""What the charter says about one span of a text (or one field of an incident).

A Finding is shown to the duty communicator next to the text, so it carries the exact span,
the words at fault, why they break the charter and what to write instead.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alertcast.models.problem import Problem

Level = Literal["block", "warn"]


class Finding(BaseModel):
    """One charter finding.

    `start`/`end` are offsets in Python characters (code points) of the text as given, so
    `text[start:end] == excerpt`. Findings about an incident's fields (facts, times) have no
    span in a text: start = end = 0 and `path` names the field instead.
    """

    model_config = ConfigDict(frozen=True)

    rule: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$", description='family.rule, e.g. "neutrality.opinion"')
    level: Level
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    excerpt: str
    message: str
    suggestion: str = ""
    path: str | None = Field(default=None, description="the incident field, for facts and times")

    @property
    def family(self) -> str:
        """The concept the rule belongs to (neutrality, style, facts...), used in reports."""
        return self.rule.split(".", 1)[0]

    @property
    def blocking(self) -> bool:
        return self.level == "block"

    def to_problem(self) -> Problem:
        """The one error shape (DESIGN.md), for the CLI and the API."""
        path = self.path if self.path is not None else f"text[{self.start}:{self.end}]"
        return Problem(
            path=path, value=self.excerpt, rule=self.rule, message=self.message, hint=self.suggestion
        )
