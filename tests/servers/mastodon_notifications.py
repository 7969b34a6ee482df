"""Mentions and notifications of the Mastodon contract server (mastodon_contract.py), kept apart
so each file stays readable: what makes a mention, the notification it gives, and one page of
GET /api/v1/notifications with its Link header, as Mastodon's documentation describes them.

Pure functions over the contract state's dicts; the contract server calls them with its lock held.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

MENTION = re.compile(r"(?<![\w@/])@(u\d+)\b")
#: What the contract keeps on a notification that the API does not show.
_PRIVATE = ("for", "status_id")


def mentioned(text: str, known: Iterable[str]) -> list[str]:
    """The ids of the server's accounts that `@u<id>` mentions, once each, in text order."""
    ids = set(known)
    return list(dict.fromkeys(m.group(1)[1:] for m in MENTION.finditer(text) if m.group(1)[1:] in ids))


def mention_notifications(
    status: dict[str, Any], accounts: list[str], private_mentions: str, new_id: Callable[[], str]
) -> list[dict[str, Any]]:
    """A `mention` notification for each mentioned account but the author. A direct status is
    filed as filtered (`for_private_mentions: filter`, Mastodon 4.3's default for accounts one
    did not write to first), or not created at all (`drop`)."""
    direct = status["visibility"] == "direct"
    if direct and private_mentions == "drop":
        return []
    made = []
    for account_id in accounts:
        if account_id == status["account"]["id"]:
            continue
        notification_id = new_id()
        made.append(
            {
                "id": notification_id,
                "type": "mention",
                "created_at": status["created_at"],
                "group_key": f"ungrouped-{notification_id}",
                "filtered": direct and private_mentions == "filter",
                "account": status["account"],
                "status_id": status["id"],
                "for": account_id,
            }
        )
    return made


def page_of(
    notifications: list[dict[str, Any]], account: str, query: QueryParams, base_url: str
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """(the page, newest first; its headers) for `account`. Each notification must already carry
    its `status` as shown (those of deleted statuses left out). Raises ValueError on bad numbers."""
    types, excluded = set(query.getlist("types[]")), set(query.getlist("exclude_types[]"))
    include_filtered = query.get("include_filtered", "false").lower() in ("true", "1")
    limit = max(1, min(int(query.get("limit", "40")), 80))
    bounds = {name: int(query[name]) for name in ("max_id", "since_id", "min_id") if name in query}
    mine = sorted(
        (
            n
            for n in notifications
            if n["for"] == account
            and (include_filtered or not n["filtered"])
            and (not types or n["type"] in types)
            and n["type"] not in excluded
            and int(n["id"]) < bounds.get("max_id", 1 << 63)
            and int(n["id"]) > bounds.get("since_id", -1)
        ),
        key=lambda n: int(n["id"]),
    )
    if "min_id" in bounds:  # the page immediately newer than min_id, shown newest first
        page = [n for n in mine if int(n["id"]) > bounds["min_id"]][:limit][::-1]
    else:
        page = mine[::-1][:limit]
    headers = {}
    if page:
        kept = [(k, v) for k, v in query.multi_items() if k not in ("max_id", "since_id", "min_id")]
        link = f"{base_url}/api/v1/notifications?"
        headers["Link"] = (
            f'<{link}{urlencode([*kept, ("max_id", page[-1]["id"])])}>; rel="next", '
            f'<{link}{urlencode([*kept, ("min_id", page[0]["id"])])}>; rel="prev"'
        )
    return [{k: v for k, v in n.items() if k not in _PRIVATE} for n in page], headers
