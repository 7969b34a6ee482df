"""Where a post lives once a network took it: what the ledger keeps and the adapters return.

It is a model, not a channel's detail, so the pure delivery core (the ledger, the state
machine) can name it without importing any adapter.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PostResult(BaseModel):
    """Where the post now lives, so an update can edit it and a citizen can follow the link."""

    post_id: str | None = None
    url: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
