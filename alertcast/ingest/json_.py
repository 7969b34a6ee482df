"""alertcast's own JSON: the Incident model as JSON (one object, or a list of them).

`lone_surrogates` is shared with the GTFS-Realtime JSON reader: JSON may escape half of a
UTF-16 pair ("\\ud800") that Python decodes into a str no UTF-8 encoder accepts, so every JSON
intake refuses such strings by their path before anything else looks at them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from alertcast.i18n import N_, term
from alertcast.ingest.result import ParseResult
from alertcast.models.incident import Incident
from alertcast.models.problem import Problem, problems_from_validation, safe_text

FORMAT = "json"
UNPAIRED_SURROGATE = "unpaired_surrogate"
MAX_SURROGATE_PROBLEMS = 20  # a document full of them is named by its first few, then counted
_SURROGATE_HINT = N_(
    "encode the text as UTF-8; in JSON, a character beyond U+FFFF is escaped as a pair "
    "(e.g. \\ud83d\\ude80), never as one half alone"
)
#: How a surrogate reaches a decoded document: escaped ("\ud83d"), or written raw, which
#: `json.loads` decodes from UTF-8 bytes with "surrogatepass" (ED A0..BF ..).
_SURROGATE_SOURCE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
#: What holds a lone surrogate, as the refusal names it.
_HOLDERS = {"string": N_("string"), "name": N_("name")}


def parse_json(data: bytes | str, source: str = "kafka") -> ParseResult:
    """Parse and validate; every problem of every incident is reported, with its path."""
    result = ParseResult(format=FORMAT)
    try:
        document: Any = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        result.problems.append(
            Problem.said(
                "",
                "json_syntax",
                N_("not valid JSON: %(reason)s"),
                N_("send one JSON object (or a list of them) encoded in UTF-8"),
                value=_excerpt(data),
                reason=reason,
            )
        )
        return result
    items = document if isinstance(document, list) else [document]
    walk = may_hold_surrogates(data)
    for index, item in enumerate(items):
        prefix = f"{index}." if isinstance(document, list) else ""
        surrogates = lone_surrogates(item, prefix.rstrip(".")) if walk else []
        if surrogates:
            result.problems += surrogates  # refused before validation: nothing may quote them raw
            continue
        if not isinstance(item, dict):
            result.problems.append(
                Problem.said(
                    prefix.rstrip("."),
                    "object_type",
                    N_("an incident must be a JSON object"),
                    N_("see topics/schemas/Incident.json"),
                    value=_excerpt(json.dumps(item)),
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
        result.problems.append(Problem.said("", "empty", N_("no incident in the document"), value=[]))
    return result


def may_hold_surrogates(data: bytes | str) -> bool:
    """Whether decoding `data` may give a surrogate at all: one search of the raw text spares
    nearly every document the walk of its every string and key (0.1 ms an incident)."""
    if isinstance(data, str):
        raw = data.encode("utf-8", "surrogatepass")
    elif json.detect_encoding(data) in ("utf-8", "utf-8-sig"):
        raw = data
    else:
        return True  # UTF-16 or UTF-32: their surrogates are not written as above
    return _SURROGATE_SOURCE.search(raw) is not None


def dotted(path: str, step: str | int) -> str:
    """alertcast JSON paths, as pydantic names them: info.0.headline."""
    return f"{path}.{step}" if path else str(step)


def lone_surrogates(
    value: Any, path: str = "", join: Callable[[str, str | int], str] = dotted
) -> list[Problem]:
    """One Problem per string (or key) of a decoded JSON value holding an unpaired surrogate.

    Walked with a stack, not recursion: `json.loads` accepts nesting deeper than Python's own
    recursion limit allows a recursive walk.
    """
    problems: list[Problem] = []
    found = 0
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if _has_surrogate(item):
                found += 1
                if found <= MAX_SURROGATE_PROBLEMS:
                    problems.append(_surrogate_problem(where, item))
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                step = safe_text(key)
                if _has_surrogate(key):
                    found += 1
                    if found <= MAX_SURROGATE_PROBLEMS:
                        problems.append(_surrogate_problem(join(where, step), key, "name"))
                stack.append((join(where, step), child))
        elif isinstance(item, list):
            stack += [(join(where, index), child) for index, child in reversed(list(enumerate(item)))]
    if found > MAX_SURROGATE_PROBLEMS:
        problems.append(
            Problem.said(
                path,
                UNPAIRED_SURROGATE,
                N_("%(count)s strings hold unpaired surrogates; the first %(listed)s are listed"),
                _SURROGATE_HINT,
                value=found,
                count=found,
                listed=MAX_SURROGATE_PROBLEMS,
            )
        )
    return problems


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _surrogate_problem(path: str, text: str, what: str = "string") -> Problem:
    return Problem.said(
        path,
        UNPAIRED_SURROGATE,
        N_(
            "this %(holder)s holds an unpaired UTF-16 surrogate (U+D800 to U+DFFF, escaped alone "
            "or sent as its bytes): it is no character and cannot be stored as UTF-8"
        ),
        _SURROGATE_HINT,
        value=safe_text(text[:200]),
        holder=term(_HOLDERS[what], what),
    )


def _excerpt(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return safe_text(text[:200])
