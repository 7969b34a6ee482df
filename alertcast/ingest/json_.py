"""alertcast's own JSON: the Incident model as JSON (one object, or a list of them)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from alertcast.ingest.result import ParseResult
from alertcast.models.incident import Incident
from alertcast.models.problem import Problem, problems_from_validation

FORMAT = "json"


def parse_json(data: bytes | str, source: str = "kafka") -> ParseResult:
    """Parse and validate; every problem of every incident is reported, with its path."""
    result = ParseResult(format=FORMAT)
    try:
        document: Any = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        result.problems.append(
            Problem(
                path="",
                value=_excerpt(data),
                rule="json_syntax",
                message=f"not valid JSON: {error}",
                hint="send one JSON object (or a list of them) encoded in UTF-8",
            )
        )
        return result
    items = document if isinstance(document, list) else [document]
    for index, item in enumerate(items):
        prefix = f"{index}." if isinstance(document, list) else ""
        if not isinstance(item, dict):
            result.problems.append(
                Problem(
                    path=prefix.rstrip("."),
                    value=_excerpt(json.dumps(item)),
                    rule="object_type",
                    message="an incident must be a JSON object",
                    hint="see topics/schemas/Incident.json",
                )
            )
            continue
        item = {"source": source, **item}
        try:
            result.incidents.append(Incident.model_validate(item))
        except ValidationError as error:
            for problem in problems_from_validation(error):
                result.problems.append(problem.model_copy(update={"path": prefix + problem.path}))
    if not items:
        result.problems.append(
            Problem(path="", value=[], rule="empty", message="no incident in the document", hint="")
        )
    return result


def _excerpt(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text[:200]
