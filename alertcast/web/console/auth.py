"""Console users: who they are (argon2 password hashes), what their roles let them do.

Users come from a YAML file and/or an environment variable (the variable's entries replace the
file's by name), like the intake's sources. Passwords are only ever stored as argon2id hashes
(`alertcast users hash` prints one); verifying takes tens of milliseconds on purpose, so it
runs in a thread, and an unknown name costs the same as a wrong password (no user probing).
A user set `disabled: true` (or removed, or given a new password) cannot log in, and their
open sessions are refused on their next request by every web process that loaded the change:
each request looks the user up again and compares the cookie's password fingerprint.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool

from alertcast.i18n import N_
from alertcast.models.decision import Role
from alertcast.models.problem import Problem, problems_from_validation
from alertcast.web.keys import ConfigError

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anyone has")


class Permission(StrEnum):
    SUBMIT = "submit"  # write an alert by hand, see one's own incidents
    READ = "read"  # the queue, drafts, deliveries, every incident's timeline
    DECIDE = "decide"  # edit, approve, reject, hold; retry a delivery
    AUDIT = "audit"
    POLICIES = "policies"
    ADMIN = "admin"  # users and keys


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset({Permission.SUBMIT}),
    Role.COMMUNICATOR: frozenset({Permission.SUBMIT, Permission.READ, Permission.DECIDE}),
    Role.SUPERVISOR: frozenset(
        {Permission.SUBMIT, Permission.READ, Permission.DECIDE, Permission.AUDIT, Permission.POLICIES}
    ),
    Role.ADMIN: frozenset({Permission.ADMIN, Permission.AUDIT, Permission.POLICIES}),
}


class User(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    password_argon2: str = Field(pattern=r"^\$argon2(id|i|d)\$", description="from `alertcast users hash`")
    roles: list[Role] = Field(min_length=1)
    display_name: str = ""
    disabled: bool = Field(
        default=False, description="true: cannot log in, and open sessions are refused on their next request"
    )

    def can(self, permission: Permission) -> bool:
        return any(permission in ROLE_PERMISSIONS[role] for role in self.roles)

    @property
    def shown(self) -> str:
        return self.display_name or self.name


class UsersConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    users: list[User] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> UsersConfig:
        names = [user.name for user in self.users]
        if len(set(names)) != len(names):
            raise ValueError("two users share a name")
        return self


def hash_password(password: str) -> str:
    """What goes into the users file: an argon2id hash with argon2-cffi's default parameters."""
    return _hasher.hash(password)


def load_users(path: Path | None = None, text: str = "") -> list[User]:
    """Users from a YAML file and/or YAML/JSON text; the text's entries replace the file's by name."""
    merged: dict[str, User] = {}
    sources = [(str(path), path.read_text(encoding="utf-8"))] if path is not None else []
    if text.strip():
        sources.append(("environment", text))
    for where, content in sources:
        try:
            document: Any = yaml.safe_load(content) or {}
        except yaml.YAMLError as error:
            raise ConfigError(
                where, [Problem.said("", "yaml_syntax", "%(error)s", N_("fix the YAML"), error=str(error))]
            ) from None
        try:
            config = UsersConfig.model_validate(document)
        except ValidationError as error:
            raise ConfigError(where, problems_from_validation(error)) from None
        merged.update({user.name: user for user in config.users})
    return list(merged.values())


class Users:
    def __init__(self, users: list[User]) -> None:
        self._by_name = {user.name: user for user in users}

    def get(self, name: str) -> User | None:
        user = self._by_name.get(name)
        return user if user is not None and not user.disabled else None

    def known(self, name: str) -> bool:
        """Whether `name` (as typed at the login) is a user's, even a disabled one: only such a
        name is written to the audit log (a password typed in the name field never is)."""
        return name.strip().lower() in self._by_name

    def all(self) -> list[User]:
        return sorted(self._by_name.values(), key=lambda user: user.name)

    async def verify(self, name: str, password: str) -> User | None:
        user = self.get(name.strip().lower())
        stored = user.password_argon2 if user is not None else _DUMMY_HASH
        ok = await run_in_threadpool(_verify, stored, password)
        return user if ok and user is not None else None


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
