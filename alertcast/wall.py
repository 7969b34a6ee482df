"""The demo's wall: one column per network, each post as that network stored it, with how long
after its approval it arrived.

Pure: the posts come from the networks' servers (read back, never from our own ledger), the
approvals and receipts from the topics; this module joins them and renders one HTML page. Post
texts are untrusted (they carry what a source wrote), so the page goes through a sandboxed,
autoescaping Jinja environment, like every other page of the project.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict

from alertcast.settings import ROOT

TEMPLATES = ROOT / "templates" / "wall"
REFRESH_S = 2
"""The page reloads itself this often: the posts arrive while the newcomer watches."""


class StoredPost(BaseModel):
    """One post as its network's server holds it."""

    model_config = ConfigDict(frozen=True)

    post_id: str
    text: str
    posted_at: datetime | None = None
    edited: bool = False
    reply_to: str | None = None  # the post this one answers, in the same thread


class Arrival(BaseModel):
    """One delivery that made or changed a post: from a receipt, timed from its approval."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    version: int
    seconds_after_approval: float | None  # None while the approval is not read yet


class WallPost(BaseModel):
    post: StoredPost
    arrivals: list[Arrival]


class Column(BaseModel):
    network: str
    posts: list[WallPost]


def approvals_by_version(approvals: Iterable[Mapping[str, object]]) -> dict[tuple[str, int], datetime]:
    """(alert id, version) -> approved_at, from `alerts.approved` messages (JSON-decoded)."""
    found: dict[tuple[str, int], datetime] = {}
    for approval in approvals:
        draft = approval.get("draft")
        approved_at = approval.get("approved_at")
        if isinstance(draft, Mapping) and isinstance(approved_at, str):
            key = (str(draft.get("alert_id")), int(str(draft.get("version"))))
            found[key] = datetime.fromisoformat(approved_at)
    return found


def columns(
    posts: Mapping[str, list[StoredPost]],
    receipts: Iterable[Mapping[str, object]],
    approved: Mapping[tuple[str, int], datetime],
) -> list[Column]:
    """One column per network of `posts` (in its order); each post with the sent receipts that
    name it (an edit is a second receipt on the same post)."""
    arrivals: dict[tuple[str, str], list[Arrival]] = {}
    for receipt in receipts:
        if receipt.get("status") != "sent" or not receipt.get("post_id"):
            continue
        alert_id, version = str(receipt.get("alert_id")), int(str(receipt.get("version")))
        at = datetime.fromisoformat(str(receipt.get("at")))
        approval = approved.get((alert_id, version))
        seconds = (at - approval).total_seconds() if approval is not None else None
        key = (str(receipt.get("channel")), str(receipt.get("post_id")))
        arrivals.setdefault(key, []).append(
            Arrival(alert_id=alert_id, version=version, seconds_after_approval=seconds)
        )
    return [
        Column(
            network=network,
            posts=[
                WallPost(post=post, arrivals=arrivals.get((network, post.post_id), [])) for post in stored
            ],
        )
        for network, stored in posts.items()
    ]


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["seconds"] = lambda value: "…" if value is None else f"{value:.1f} s"
    return env


_ENV = _environment()


def render(wall: list[Column], left_out: Iterable[str] = (), refresh_s: int = REFRESH_S) -> str:
    """The wall page; `left_out` names the networks the demo could not start (and why)."""
    return _ENV.get_template("wall.html").render(columns=wall, left_out=list(left_out), refresh_s=refresh_s)
