"""What every channel adapter offers the delivery agent."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field

from alertcast.models.alert import DeliveryRequest


class PostResult(BaseModel):
    """Where the post now lives, so an update can edit it and a citizen can follow the link."""

    post_id: str | None = None
    url: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Channel(Protocol):
    id: str

    def accounts(self) -> list[str]:
        """The configured accounts of this channel (one delivery each)."""
        ...

    async def publish(self, request: DeliveryRequest) -> PostResult:
        """Publish (or, for an Update/Cancel, follow up) one alert version on one account.

        Raises `TransientError` when a retry may help, `PermanentError` when it cannot.
        """
        ...

    async def aclose(self) -> None: ...
