"""A citizen's reply, the same for every network, so moderation, routing and the 72-hour
circuit never care where it was written."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alertcast.models.incident import UtcDateTime

Network = Literal["mastodon", "bluesky", "matrix", "telegram", "facebook", "x", "email"]
Speaker = Literal["citizen", "us"]


def reply_id(network: Network, native_id: str) -> str:
    """Native ids collide across networks (Telegram's are small integers), so ours carry the network."""
    return f"{network}:{native_id}"


class Reply(BaseModel):
    """One message a citizen wrote to us: under an alert, or a mention elsewhere."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=3, pattern=r"^[a-z]+:.+$", description="network:native id, see reply_id")
    network: Network
    author: str = Field(min_length=1, description="the handle, as the network shows it")
    text: str
    url: str | None = None
    at: UtcDateTime
    alert_id: str | None = Field(default=None, description="None: a mention not under one of our alerts")
    in_reply_to: str | None = Field(default=None, description="native id of the post or reply it answers")
    conversation: str = Field(min_length=1, description="the thread: native id of its root post")


class Turn(BaseModel):
    """One message of a conversation, reduced to what the circuit needs: who spoke and when.
    Kept apart from `Reply` so our own answers (which are not replies) fit too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    who: Speaker
    at: UtcDateTime
