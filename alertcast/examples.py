"""Incidents dated relative to now: the one way the demo, the broker test tiers and the benches
make what a real worker sees.

A worker compares an alert's times with the real clock (the charter blocks an expired alert),
so an incident with fixed dates is refused once those dates pass: main went red on 4 December
2026 for that. The files of deploy/examples/ keep fixed dates, so they read like real messages
and pure tests can pin the clock to them; everything else goes through `at`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alertcast.clock import clock
from alertcast.models.incident import Incident
from alertcast.settings import ROOT

EXAMPLES = ROOT / "deploy" / "examples"
TIME_FIELDS = frozenset({"sent", "effective", "onset", "expires"})
LEAD = timedelta(minutes=5)
"""The last example was sent this long before now: recent, and never in the future."""


def shifted(node: Any, delta: timedelta) -> Any:
    """`node` (a CAP-shaped JSON document or part of one) with every time moved by `delta`."""
    if isinstance(node, dict):
        return {
            key: (
                (datetime.fromisoformat(value) + delta).isoformat()
                if key in TIME_FIELDS and isinstance(value, str)
                else shifted(value, delta)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [shifted(item, delta) for item in node]
    return node


def renamed(node: Any, suffix: str) -> Any:
    """Every identifier (and reference to one) with `suffix`: a broker keeps what earlier runs
    sent, and intake rightly drops a message it has already seen."""
    if isinstance(node, dict):
        return {
            key: f"{value}-{suffix}" if key == "identifier" else renamed(value, suffix)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [renamed(item, suffix) for item in node]
    return node


def at(now: datetime | None = None, folder: Path = EXAMPLES) -> dict[str, dict[str, Any]]:
    """The examples by file name, every time moved by one amount so that the last one was sent
    `LEAD` before `now` (the clock's now by default): an alert and its update keep their order
    and their gaps, and none has expired."""
    documents = {path.name: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}
    last = max(datetime.fromisoformat(document["sent"]) for document in documents.values())
    delta = (now or clock.now()) - LEAD - last
    return {name: shifted(document, delta) for name, document in documents.items()}


def document(name: str, now: datetime | None = None) -> dict[str, Any]:
    """One example (by file name) moved like `at` moves them all."""
    return at(now)[name]


def written(folder: Path, now: datetime | None = None) -> Path:
    """The examples moved to `now`, written as files into `folder` (for `alertcast submit`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, document in at(now).items():
        (folder / name).write_text(json.dumps(document, ensure_ascii=False, indent=2))
    return folder


def incidents(now: datetime | None = None, suffix: str | None = None) -> list[Incident]:
    """The examples as incidents of `now`, with `suffix` added to every identifier if given."""
    documents = list(at(now).values())
    if suffix is not None:
        documents = [renamed(document, suffix) for document in documents]
    return [Incident.model_validate({"source": "demo", **document}) for document in documents]


def traffic(
    identifier: str,
    sender: str,
    source: str,
    number: int,
    area: str = "62041",
    now: datetime | None = None,
) -> Incident:
    """A small traffic incident starting now and lasting two hours: the load the benches and
    the cluster tier send by the thousand."""
    start = now or clock.now()
    return Incident.model_validate(
        {
            "identifier": identifier,
            "sender": sender,
            "sent": start.isoformat(),
            "source": source,
            "info": [
                {
                    "category": "traffic",
                    "event": "Ralentissement",
                    "severity": "Minor",
                    "headline": f"Ralentissement n° {number} sur la rocade nord",
                    "description": "Circulation ralentie entre les sorties 3 et 5 après un accrochage.",
                    "instruction": "Prévoyez 10 minutes de plus ou empruntez la rocade sud.",
                    "onset": start.isoformat(),
                    "expires": (start + timedelta(hours=2)).isoformat(),
                    "areas": [
                        {"area_desc": "Rocade nord", "geocodes": [{"value_name": "INSEE", "value": area}]}
                    ],
                }
            ],
        }
    )
