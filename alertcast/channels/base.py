"""What every channel adapter offers the delivery agent.

The lifecycle of one alert on one account: `publish` (first version), then `update` (edit
where the network allows it, else a reply in the thread) and `end` (an end-of-alert message in
the thread, and deletion where configured), each given the post the previous step left.

Crash safety: a worker may die after the network accepted a post and before the ledger
recorded it. Before posting again, the delivery agent asks `find_existing`, which looks for the
post by its marker (the delivery key) where the network offers a lookup; where it does not,
the adapter raises `LookupUnsupported` and the delivery waits for a person's decision instead
of posting blind.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

from alertcast.errors import DeliveryError
from alertcast.models.alert import DeliveryRequest
from alertcast.models.post import PostResult


class AccountHealth(BaseModel):
    """What `alertcast channels check` prints for one account; found before the crisis."""

    channel: str
    account: str
    ok: bool
    can_post: bool | None = None
    limit: int | None = Field(default=None, description="text limit the network reports")
    url_weight: int | None = Field(default=None, description="what one URL counts, if reported")
    rate_remaining: int | None = None
    problem: str | None = None


class LookupUnsupported(DeliveryError):
    """The network cannot tell whether a post exists (e.g. Telegram channels)."""


class Channel(Protocol):
    id: str

    def accounts(self) -> list[str]:
        """The configured accounts of this channel (one delivery each)."""
        ...

    async def publish(self, request: DeliveryRequest) -> PostResult:
        """Post the first version. Raises `TransientError` when a retry may help,
        `PermanentError` when it cannot (both from alertcast.delivery.retry)."""
        ...

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """Edit `previous` where the network allows it, else reply to it in its thread."""
        ...

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """Say the alert is over, in the thread of `previous` (and delete it if configured)."""
        ...

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        """The post this request already made (by its marker), None if none, or raise
        `LookupUnsupported`."""
        ...

    async def check(self, account: str) -> AccountHealth:
        """Credentials valid, right to post, limits, rate-limit headroom; never posts."""
        ...

    async def aclose(self) -> None: ...


# PostResult lives in alertcast.models.post (the pure core names it); it stays importable here.
__all__ = ["AccountHealth", "Channel", "LookupUnsupported", "PostResult"]
