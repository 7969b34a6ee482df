"""The one error shape (DESIGN.md): every rejection, API answer, topic message and CLI line."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


class Problem(BaseModel):
    """One thing wrong with an input, precise enough for the sender to fix it."""

    path: str
    value: Any = None
    rule: str
    message: str
    hint: str = ""

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
