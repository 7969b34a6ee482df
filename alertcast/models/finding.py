"""What the charter says about one span of a text (or one field of an incident).

A Finding is shown to the duty communicator next to the text, so it carries the exact span,
the words at fault, why they break the charter and what to write instead. Built with
`Finding.said`, it also keeps the msgids of its message and suggestion and their values, for
the console and the CLI to say them in the reader's language (`alertcast.explanations`).
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alertcast.i18n import as_params, fill
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
    message_id: str = Field(
        default="", description="the msgid `message` renders (empty: not from the catalogs)"
    )
    suggestion_id: str = Field(default="", description="the msgid `suggestion` renders")
    params: dict[str, Any] = Field(default_factory=dict, description="the values the msgids name")

    @classmethod
    def said(
        cls,
        rule: str,
        level: Level,
        message: str,
        suggestion: str = "",
        /,
        *,
        start: int = 0,
        end: int = 0,
        excerpt: str = "",
        path: str | None = None,
        written: tuple[str, str] | None = None,
        **params: Any,
    ) -> Self:
        """A finding worded by msgids (written `N_("...")` where they are, each value `%(name)s`
        given here by name; `%(excerpt)s` is the excerpt): stored in English, or as `written`
        (message, suggestion) when a lexicon words it in the text's own language."""
        if "%(excerpt)s" in message + suggestion:
            params = {"excerpt": excerpt, **params}
        message_text, suggestion_text = written or (fill(message, params), fill(suggestion, params))
        return cls(
            rule=rule,
            level=level,
            start=start,
            end=end,
            excerpt=excerpt,
            message=message_text,
            suggestion=suggestion_text,
            path=path,
            message_id=message,
            suggestion_id=suggestion,
            params=params,
        )

    @field_validator("params", mode="after")
    @classmethod
    def _json_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        return as_params(params)

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
            path=path,
            value=self.excerpt,
            rule=self.rule,
            message=self.message,
            hint=self.suggestion,
            message_id=self.message_id,
            hint_id=self.suggestion_id,
            params=self.params,
        )
