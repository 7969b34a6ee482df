"""The one error shape (DESIGN.md): every rejection, API answer, topic message and CLI line.

`message` and `hint` are English, as every consumer of topics and of the API reads them.
A problem built with `Problem.said` also keeps their msgids (`message_id`, `hint_id`) and
the values they name (`params`), so the console and the CLI say it again in the reader's
language (`alertcast.explanations`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from alertcast.i18n import N_, as_params, fill


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
    message_id: str = Field(
        default="", description="the msgid `message` renders (empty: not from the catalogs)"
    )
    hint_id: str = Field(default="", description="the msgid `hint` renders")
    params: dict[str, Any] = Field(default_factory=dict, description="the values the msgids name")

    @classmethod
    def said(
        cls, path: str, rule: str, message: str, hint: str = "", /, *, value: Any = None, **params: Any
    ) -> Self:
        """A problem worded by msgids (written `N_("...")` where they are, each value `%(name)s`,
        given here by name): stored in English, translated where it is shown."""
        return cls(
            path=path,
            value=value,
            rule=rule,
            message=fill(message, params),
            hint=fill(hint, params),
            message_id=message,
            hint_id=hint,
            params=params,
        )

    @field_validator("path", "rule", "message", "hint", mode="after")
    @classmethod
    def _safe_text(cls, text: str) -> str:
        return safe_text(text)

    @field_validator("value", mode="after")
    @classmethod
    def _safe_value(cls, value: Any) -> Any:
        return safe_value(value)

    @field_validator("params", mode="after")
    @classmethod
    def _safe_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        return dict(safe_value(as_params(params)))

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy (paths are often prefixed this way): updates are made safe, as validation would."""
        safe = {name: safe_value(value) for name, value in (update or {}).items()}
        return super().model_copy(update=safe, deep=deep)

    def line(self, language: str | None = None) -> str:
        """One human line, as the CLI prints it: in English as stored, or in `language`."""
        from alertcast.explanations import line  # it reads the catalogs and the settings

        return line(self, language)


_HINTS = {
    "missing": N_("add this field"),
    "extra_forbidden": N_("remove this field or check its spelling"),
    "enum": N_("use one of the allowed values"),
    "literal_error": N_("use one of the allowed values"),
    "datetime_from_date_parsing": N_(
        "write an ISO 8601 date-time with offset, e.g. 2026-12-01T07:30:00+01:00"
    ),
    "datetime_parsing": N_("write an ISO 8601 date-time with offset, e.g. 2026-12-01T07:30:00+01:00"),
    "timezone_aware": N_("add a UTC offset, e.g. +01:00 or Z"),
}

#: pydantic's messages as msgids, by error type (its `ctx` gives the values): what a reader is
#: shown in their language; the stored message stays pydantic's. Others are shown as stored.
_MESSAGES = {
    "missing": N_("Field required"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
    "enum": N_("Input should be %(expected)s"),
    "literal_error": N_("Input should be %(expected)s"),
    "string_type": N_("Input should be a valid string"),
    "string_too_short": N_("String should have at least %(min_length)s character(s)"),
    "string_too_long": N_("String should have at most %(max_length)s character(s)"),
    "string_pattern_mismatch": N_("String should match pattern '%(pattern)s'"),
    "too_short": N_(
        "%(field_type)s should have at least %(min_length)s item(s) after validation, not %(actual_length)s"
    ),
    "too_long": N_(
        "%(field_type)s should have at most %(max_length)s item(s) after validation, not %(actual_length)s"
    ),
    "greater_than": N_("Input should be greater than %(gt)s"),
    "greater_than_equal": N_("Input should be greater than or equal to %(ge)s"),
    "less_than": N_("Input should be less than %(lt)s"),
    "less_than_equal": N_("Input should be less than or equal to %(le)s"),
    "int_type": N_("Input should be a valid integer"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an integer"),
    "int_from_float": N_("Input should be a valid integer, got a number with a fractional part"),
    "float_type": N_("Input should be a valid number"),
    "float_parsing": N_("Input should be a valid number, unable to parse string as a number"),
    "bool_type": N_("Input should be a valid boolean"),
    "bool_parsing": N_("Input should be a valid boolean, unable to interpret input"),
    "dict_type": N_("Input should be a valid dictionary"),
    "list_type": N_("Input should be a valid list"),
    "model_type": N_("Input should be a valid dictionary or instance of %(class_name)s"),
    "datetime_type": N_("Input should be a valid datetime"),
    "datetime_parsing": N_("Input should be a valid datetime, %(error)s"),
    "datetime_from_date_parsing": N_("Input should be a valid datetime or date, %(error)s"),
    "date_parsing": N_("Input should be a valid date in the format YYYY-MM-DD, %(error)s"),
    "timezone_aware": N_("Input should have timezone info"),
    "url_parsing": N_("Input should be a valid URL, %(error)s"),
    "url_scheme": N_("URL scheme should be %(expected_schemes)s"),
    "value_error": N_("Value error, %(error)s"),
}


def refusal(rule: str, message: str, hint: str = "", /, **params: Any) -> PydanticCustomError:
    """A validator's refusal worded like `Problem.said` (msgids, each value `%(name)s`): pydantic
    reports it as `rule` with the English words, and `problems_from_validation` keeps the
    msgids and the values."""
    return PydanticCustomError(
        rule, fill(message, params), {**params, "message_id": message, "hint_id": hint}
    )


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
        context = dict(item.get("ctx") or {})
        message_id = str(context.pop("message_id", "") or _MESSAGES.get(rule, ""))
        hint_id = str(context.pop("hint_id", "") or _HINTS.get(rule, ""))
        params = {
            name: _plain(str(given) if isinstance(given, Exception) else given)
            for name, given in context.items()
        }
        problems.append(
            Problem(
                path=path,
                value=_plain(value),
                rule=rule,
                message=message,
                hint=fill(hint_id, params),
                message_id=message_id,
                hint_id=hint_id,
                params=params if message_id or hint_id else {},
            )
        )
    return problems


def _plain(value: Any) -> Any:
    """Keep values JSON-serialisable and short in rejection messages."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value[:200] if isinstance(value, str) else value
    text = repr(value)
    return text[:200]
