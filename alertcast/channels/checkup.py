"""`alertcast channels check`: every configured account verified without posting.

A revoked token is found on a quiet Tuesday, not at 23:30 during a storm.
"""

from __future__ import annotations

import asyncio

from alertcast.channels.base import AccountHealth, Channel


async def check_all(channels: dict[str, Channel]) -> list[AccountHealth]:
    """All accounts at once; a check that raises is reported as a failing account."""

    async def one(name: str, channel: Channel, account: str) -> AccountHealth:
        try:
            return await channel.check(account)
        except Exception as error:  # a broken adapter must not hide the other accounts
            return AccountHealth(channel=name, account=account, ok=False, problem=f"check failed: {error}")

    return list(
        await asyncio.gather(
            *(
                one(name, channel, account)
                for name, channel in channels.items()
                for account in channel.accounts()
            )
        )
    )


def table(results: list[AccountHealth]) -> str:
    """A plain table for a terminal or a log."""
    header = ("channel", "account", "state", "can post", "limit", "url", "rate left", "problem")
    rows = [
        (
            r.channel,
            r.account,
            "ok" if r.ok else "FAILING",
            {True: "yes", False: "no", None: "?"}[r.can_post],
            "" if r.limit is None else str(r.limit),
            "" if r.url_weight is None else str(r.url_weight),
            "" if r.rate_remaining is None else str(r.rate_remaining),
            r.problem or "",
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )
