"""The one HTTP client factory: every network call goes through a client made here."""

from __future__ import annotations

from typing import Any

import httpx

from alertcast import __version__

USER_AGENT = f"alertcast/{__version__} (+https://example.invalid/alertcast)"


def _options(timeout_s: float, connect_s: float) -> dict[str, Any]:
    return {
        "timeout": httpx.Timeout(timeout_s, connect=min(timeout_s, connect_s)),
        "headers": {"User-Agent": USER_AGENT},
        "follow_redirects": False,
    }


def make_client(timeout_s: float = 10.0, connect_s: float = 5.0, **kwargs: Any) -> httpx.AsyncClient:
    """Timeouts are always set: a network that hangs must not hold a delivery forever."""
    return httpx.AsyncClient(**_options(timeout_s, connect_s), **kwargs)


def make_sync_client(timeout_s: float = 10.0, connect_s: float = 5.0) -> httpx.Client:
    """The same client for code that runs in a thread of its own (the charter's LanguageTool
    check, inside compose)."""
    return httpx.Client(**_options(timeout_s, connect_s))
