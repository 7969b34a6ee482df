"""Pause switches: for everything, a channel, or one account; any paused switch covering an
account holds its deliveries (resuming an account does not override a paused channel).

A duty communicator pauses a network whose account was hijacked, or everything during a
dispute over a text. Deliveries that meet a pause wait in the ledger (state `paused`, counted
and shown) and go out when the switch is resumed, unless a person drops them.

The switches live on the compacted topic `config.pauses`, keyed by `scope`; every worker reads
the whole topic, so a switch reaches every worker whatever partitions it owns.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

EVERYTHING = "*"


class Pause(BaseModel):
    """One switch: the value of `config.pauses` (key: its scope)."""

    model_config = ConfigDict(extra="forbid")

    channel: str | None = Field(default=None, description="none: every channel")
    account: str | None = Field(default=None, description="none: every account of the channel")
    paused: bool
    by: str = Field(min_length=1, description="who switched it")
    at: datetime
    reason: str = ""

    @model_validator(mode="after")
    def _account_needs_channel(self) -> Pause:
        if self.account is not None and self.channel is None:
            raise ValueError("an account is paused within a channel: give the channel too")
        return self

    @property
    def scope(self) -> str:
        return scope_of(self.channel, self.account)


def scope_of(channel: str | None, account: str | None = None) -> str:
    if channel is None:
        return EVERYTHING
    return channel if account is None else f"{channel}:{account}"


class PauseBoard:
    """The latest switch per scope, as read from `config.pauses`."""

    def __init__(self) -> None:
        self.switches: dict[str, Pause] = {}

    def apply(self, pause: Pause) -> None:
        self.switches[pause.scope] = pause

    def holding(self, channel: str, account: str) -> Pause | None:
        """The narrowest paused switch covering this account, if any."""
        for scope in (scope_of(channel, account), scope_of(channel), EVERYTHING):
            switch = self.switches.get(scope)
            if switch is not None and switch.paused:
                return switch
        return None

    def active(self) -> list[Pause]:
        return sorted((p for p in self.switches.values() if p.paused), key=lambda p: p.scope)
