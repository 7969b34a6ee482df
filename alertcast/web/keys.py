"""API keys of the intake sources: one key per source, stored only as a hash.

Keys are 256 random bits, so a plain SHA-256 of them cannot be brute-forced and a leaked
configuration reveals nothing usable. argon2 is for low-entropy passwords (the console's
users); on an API key it would only add ~50 ms of CPU to every request, a gift to anyone
flooding the intake. Lookups compare every stored hash in constant time, so the answer's
timing says nothing about which (or whether a) hash came close.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alertcast.errors import ConfigurationError
from alertcast.i18n import N_
from alertcast.models.problem import Problem, problems_from_validation

KEY_PREFIX = "ack_"
DEFAULT_RATE_PER_MINUTE = 60


class SourceKey(BaseModel):
    """One intake source allowed to push through the HTTP API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
    key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the API key")
    revoked: bool = False
    rate_per_minute: int = Field(default=DEFAULT_RATE_PER_MINUTE, ge=1)
    max_body_bytes: int | None = Field(default=None, ge=1, description="default: the web's own limit")
    admin: bool = Field(default=False, description="may read every incident's state, not only its own")


class SourcesConfig(BaseModel):
    """The `sources:` section of the sources file (its `pollers:` section is the worker's)."""

    model_config = ConfigDict(extra="ignore")

    sources: list[SourceKey] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> SourcesConfig:
        names = [source.name for source in self.sources]
        hashes = [source.key_sha256 for source in self.sources]
        if len(set(names)) != len(names) or len(set(hashes)) != len(hashes):
            raise ValueError("two sources share a name or a key hash")
        return self


class ConfigError(ConfigurationError, ValueError):
    """The sources configuration cannot be used; `problems` say where and why."""

    def __init__(self, where: str, problems: list[Problem]) -> None:
        super().__init__(f"{where}: " + "; ".join(problem.line() for problem in problems))
        self.problems = problems


class NewKey(BaseModel):
    """What `alertcast keys new NAME` prints: the key once (for the source) and its config entry."""

    name: str
    key: str
    key_sha256: str

    def yaml_entry(self) -> str:
        return yaml.safe_dump({"sources": [{"name": self.name, "key_sha256": self.key_sha256}]})


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key(name: str) -> NewKey:
    """A fresh 256-bit key; only its hash belongs in the configuration."""
    SourceKey(name=name, key_sha256="0" * 64)  # refuse a name the configuration would refuse
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewKey(name=name, key=key, key_sha256=hash_key(key))


def load_sources(path: Path | None = None, text: str = "") -> SourcesConfig:
    """Sources from a YAML file and/or YAML/JSON text (an environment variable); text wins by name."""
    merged: dict[str, SourceKey] = {}
    for where, document in _documents(path, text):
        try:
            config = SourcesConfig.model_validate(document)
        except ValidationError as error:
            raise ConfigError(where, problems_from_validation(error)) from None
        merged.update({source.name: source for source in config.sources})
    try:
        return SourcesConfig(sources=list(merged.values()))
    except ValidationError as error:
        raise ConfigError("sources", problems_from_validation(error)) from None


def _documents(path: Path | None, text: str) -> list[tuple[str, Any]]:
    documents: list[tuple[str, Any]] = []
    sources = [(str(path), path.read_text(encoding="utf-8"))] if path is not None else []
    if text.strip():
        sources.append(("environment", text))
    for where, content in sources:
        try:
            document = yaml.safe_load(content) or {}
        except yaml.YAMLError as error:
            raise ConfigError(
                where, [Problem.said("", "yaml_syntax", "%(error)s", N_("fix the YAML"), error=str(error))]
            ) from None
        documents.append((where, document))
    return documents


class AuthFailure(BaseModel):
    """Why a request was not authenticated, said to the caller (never which key came close)."""

    reason: str
    problem: Problem


class KeyRing:
    """Authenticates presented keys against the configured hashes."""

    def __init__(self, config: SourcesConfig) -> None:
        self._sources = list(config.sources)

    def authenticate(self, presented: str | None) -> SourceKey | AuthFailure:
        if not presented:
            return _failure(
                "missing_key",
                N_("no API key in the request"),
                N_("send 'Authorization: Bearer <key>' (or 'X-API-Key: <key>')"),
            )
        digest = hash_key(presented).encode()
        found: SourceKey | None = None
        for source in self._sources:  # no early exit: the time taken does not depend on the match
            if hmac.compare_digest(digest, source.key_sha256.encode()):
                found = source
        if found is None:
            return _failure(
                "invalid_key", N_("this API key is not known"), N_("check the key, or ask for a new one")
            )
        if found.revoked:
            return _failure(
                "revoked_key", N_("this API key was revoked"), N_("ask the alertcast operators for a new key")
            )
        return found


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer <key>`, else from `X-API-Key`."""
    authorization = headers.get("authorization", "")
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return headers.get("x-api-key", "").strip() or None


def _failure(rule: str, message: str, hint: str) -> AuthFailure:
    """`message` and `hint` are msgids."""
    return AuthFailure(reason=rule, problem=Problem.said("Authorization", rule, message, hint))
