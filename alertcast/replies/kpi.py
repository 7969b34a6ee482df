"""What the weekly report counts about answers: per service and per network, how fast the first
answer came (median, wall-clock: what the citizen lived, nights included), how many deadlines
were hit and missed, and how many still wait."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from statistics import median
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alertcast.replies.model import Network
from alertcast.replies.sla import ConversationState


class Handled(BaseModel):
    """One conversation as the report sees it: who had to answer, where, and how it stands."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str
    network: Network
    state: ConversationState


class Kpi(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    conversations: int = Field(ge=0)
    answered: int = Field(ge=0)
    median_first_answer: timedelta | None = None
    hit: int = Field(ge=0)
    missed: int = Field(ge=0)
    active: int = Field(ge=0)


def _kpi(items: list[Handled]) -> Kpi:
    times = [item.state.first_answer_after for item in items if item.state.first_answer_after is not None]
    return Kpi(
        conversations=len(items),
        answered=len(times),
        median_first_answer=timedelta(seconds=median(t.total_seconds() for t in times)) if times else None,
        hit=sum(item.state.state == "hit" for item in items),
        missed=sum(item.state.state == "missed" for item in items),
        active=sum(item.state.state == "active" for item in items),
    )


def kpis(handled: Iterable[Handled], by: Literal["service", "network"]) -> dict[str, Kpi]:
    """The KPIs of each service (or network), sorted by name for a stable report."""
    groups: dict[str, list[Handled]] = defaultdict(list)
    for item in handled:
        groups[item.service if by == "service" else item.network].append(item)
    return {name: _kpi(groups[name]) for name in sorted(groups)}
