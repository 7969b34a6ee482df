"""The one exception tree: every error alertcast raises on purpose is an `AlertcastError`.

Three families, by who can act on it:
- `ConfigurationError`: what an operator or a public body supplies is wrong (settings, a
  lexicon, keys, webhook URLs, templates, the communes file, pinned library versions);
- `DeliveryError`: what a network answered, or could not (the retry policy decides on these);
- `ServiceError`: a program alertcast runs or talks to locally failed (Kafka, LanguageTool,
  Maven, the producer).
Input refused at the boundaries is not an exception but a value (`models.problem.Problem`).

Each class keeps the built-in base it had (ValueError, RuntimeError, LookupError), so code
that caught those before still does; `tests/test_errors.py` checks every exception class of
the package is in the tree.
"""

from __future__ import annotations


class AlertcastError(Exception):
    """Raised on purpose by alertcast; anything else is a bug."""


class ConfigurationError(AlertcastError):
    """Something an operator or a body supplied is wrong: the message says what and where."""


class DeliveryError(AlertcastError):
    """A network's answer (or its silence) while delivering."""


class ServiceError(AlertcastError):
    """A local program alertcast runs or talks to failed."""
