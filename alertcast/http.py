"""The one HTTP client factory: every network call goes through a client made here."""

from __future__ import annotations

import httpx

from alertcast import __version__

USER_AGENT = f"alertcast/{__version__} (+https://example.invalid/alertcast)"


def make_client(timeout_s: float = 10.0, **kwargs: object) -> httpx.AsyncClient:
    """Timeouts are always set: a network that hangs must not hold a delivery forever."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        **kwargs,  # type: ignore[arg-type]
    )
