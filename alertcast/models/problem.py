"""The one error shape (DESIGN.md): every rejection, API answer, topic message and CLI line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ValidationError, field_validator


def safe_text(text: str) -> str:
    """The text with any lone surrogate written as its escape (\\ud800): always encodable as UTF-8.

    A JSON document may hold "\\ud800", which Python decodes into a str that UTF-8 cannot
    encode; a Problem quoting it must still serialise, for the API answer and for topics.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def safe_value(value: Any) -> Any:
    """`value` with every string in it (keys included) made safe by `safe_text`."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_value(key): safe_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [safe_value(item) for item in value]
    return value


class Problem(BaseModel):
    """One thing wrong with an input, precise enough for the sender to fix it."""

    path: str
    value: Any = None
    rule: str
    message: str
    hint: str = ""

    @field_validator("path", "rule", "message", "hint", mode="after")
    @classmethod
    def _safe_text(cls, text: str) -> str:
        return safe_text(text)

    @field_validator("value", mode="after")
    @classmethod
    def _safe_value(cls, value: Any) -> Any:
        return safe_value(value)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy (paths are often prefixed this way): updates are made safe, as validation would."""
        safe = {name: safe_value(value) for name, value in (update or {}).items()}
        return super().model_copy(update=safe, deep=deep)

    def line(self) -> str:
        """One human line, as the CLI prints it."""
        shown = repr(self.value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        text = f"{self.path or '(document)'}: {self.message} [{self.rule}] (value: {shown})"
        return f"{text}; hint: {self.hint}" if self.hint else text


_HINTS = {
    "missing": "add this field",
    "extra_forbidden": "remove this field or check its spelling",
    "enum": "use one of the allowed values",
    "literal_error": "use one of the allowed values",
    "datetime_from_date_parsing": "write an ISO 8601 date-time with offset, e.g. 2026-12-01T07:30:00+01:00",
    "datetime_parsing": "write an ISO 8601 date-time with offset, e.g. 2026-12-01T07:30:00+01:00",
    "timezone_aware": "add a UTC offset, e.g. +01:00 or Z",
}


def problems_from_validation(error: ValidationError) -> list[Problem]:
    """Turn pydantic's errors into Problems, keeping every one of them."""
    problems = []
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in item["loc"])
        rule = str(item["type"])
        message = str(item["msg"])
        value = item.get("input")
        if rule == "missing":
            value = None
        problems.append(
            Problem(path=path, value=_plain(value), rule=rule, message=message, hint=_HINTS.get(rule, ""))
        )
    return problems


def _plain(value: Any) -> Any:
    """Keep values JSON-serialisable and short in rejection messages."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value[:200] if isinstance(value, str) else value
    text = repr(value)
    return text[:200]
