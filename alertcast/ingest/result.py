"""What every parser returns: incidents, or the problems that refused them, and warnings."""

from __future__ import annotations

from pydantic import BaseModel, Field

from alertcast.models.incident import Incident
from alertcast.models.problem import Problem


class ParseResult(BaseModel):
    format: str
    incidents: list[Incident] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list, description="blocking: the input is refused")
    warnings: list[Problem] = Field(default_factory=list, description="accepted, but worth telling")

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.incidents)
