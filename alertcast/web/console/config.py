"""What the console needs, read from the one settings object.

The session key comes from the environment or a file, never the repository;
without one (development), each process makes its own and says so in the log: sessions then
end when the process stops, and two web processes do not share them.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from alertcast.replies.sla import SlaPolicy
from alertcast.settings import Settings
from alertcast.web.console.auth import User, load_users

log = logging.getLogger(__name__)


class ConsoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    users: list[User] = Field(default_factory=list)
    session_key: bytes
    session_ttl_s: int = 8 * 3600
    cookie_secure: bool = False
    policy_file: Path | None = None
    decision_wait_s: float = Field(default=5.0, ge=0)
    timezone: str = "Europe/Paris"
    source_names: list[str] = Field(default_factory=list, description="intake sources, for the keys page")
    channels: list[str] = Field(
        default_factory=list, description="the worker's channels (settings.channels), for the pause form"
    )
    routing_file: Path | None = Field(
        default=None, description="the replies' routing rules (YAML); none: the shipped default"
    )
    sla: SlaPolicy = Field(default_factory=SlaPolicy, description="the replies' 72-hour circuit")
    rota_file: Path | None = Field(default=None, description="the duty rota, for the queue page")
    duty_key: bytes | None = Field(default=None, description="HMAC key of the duty calls' links")

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsoleConfig:
        return cls(
            users=load_users(settings.users_file, settings.users),
            session_key=session_key(settings),
            session_ttl_s=settings.session_ttl_s,
            cookie_secure=settings.cookie_secure,
            policy_file=settings.policy_file,
            decision_wait_s=settings.decision_wait_s,
            timezone=settings.timezone,
            channels=list(settings.channels),
            routing_file=settings.replies_routing_file,
            sla=settings.sla_policy(),
            rota_file=settings.rota_file,
            duty_key=settings.duty_key(),
        )

    @classmethod
    def for_tests(cls, users: list[User], **changes: object) -> ConsoleConfig:
        return cls.model_validate({"users": users, "session_key": secrets.token_bytes(32), **changes})


def session_key(settings: Settings) -> bytes:
    if settings.session_key:
        return settings.session_key.get_secret_value().encode()
    if settings.session_key_file is not None:
        return settings.session_key_file.read_bytes().strip()
    log.warning(
        "no ALERTCAST_SESSION_KEY or ALERTCAST_SESSION_KEY_FILE: this process made its own session key; "
        "console sessions end when it stops and are not shared with other web processes"
    )
    return secrets.token_bytes(32)
