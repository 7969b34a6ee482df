"""One exception tree (alertcast/errors.py): every exception class the package defines is an
AlertcastError in one of its families, and keeps the built-in base callers may catch."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import alertcast
from alertcast.errors import AlertcastError, ConfigurationError, DeliveryError, ServiceError

PACKAGE = Path(alertcast.__file__).parent
NOT_ERRORS = {"StopAsked"}  # a BaseException that stops the demo on a signal, like KeyboardInterrupt
ERROR_SUFFIXES = ("Error", "Exception", "Unknown", "Unsupported", "Unavailable")


def exception_classes() -> list[tuple[str, str]]:
    """(module, class) of every class whose bases name an Error, Exception or such."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name not in NOT_ERRORS:
                bases = [ast.unparse(base) for base in node.bases]
                if any(
                    b.endswith(("Error", "Exception", "Unknown", "Unsupported", "Unavailable")) for b in bases
                ):
                    found.append((module, node.name))
    return found


def test_the_scan_finds_the_known_families() -> None:
    names = {name for _, name in exception_classes()}
    assert {"KafkaError", "PermanentError", "LexiconError", "WebhookConfigError", "TokenError"} <= names


@pytest.mark.parametrize(("module", "name"), exception_classes())
def test_every_exception_is_an_alertcast_error_of_one_family(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, AlertcastError), f"{module}.{name} is outside alertcast.errors"
    families = [f for f in (ConfigurationError, DeliveryError, ServiceError) if issubclass(cls, f)]
    assert len(families) <= 1, families


def test_callers_that_caught_the_builtin_bases_still_do() -> None:
    from alertcast.channels.webhook import WebhookConfigError
    from alertcast.kafka import KafkaError
    from alertcast.resolve import NotFound

    assert issubclass(WebhookConfigError, ValueError) and issubclass(WebhookConfigError, ConfigurationError)
    assert issubclass(KafkaError, RuntimeError) and issubclass(KafkaError, ServiceError)
    assert issubclass(NotFound, LookupError)
