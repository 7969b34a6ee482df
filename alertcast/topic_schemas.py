"""JSON Schemas of every topic message, generated from the pydantic models into topics/schemas/,
so a producer written in another language can validate before sending. CI checks they are current.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from alertcast.delivery.pause import Pause
from alertcast.models import (
    AcceptedIncident,
    Approval,
    DeliveryRequest,
    Draft,
    Incident,
    Receipt,
    Rejection,
)
from alertcast.models.decision import AuditEvent, Decision
from alertcast.replies.actions import ReplyAction, ReplyActionOutcome
from alertcast.settings import ROOT
from alertcast.site.model import SiteVersion
from alertcast.subscriptions.model import Subscription

SCHEMAS_DIR = ROOT / "topics" / "schemas"
MODELS: tuple[type[BaseModel], ...] = (
    Incident,
    Rejection,
    AcceptedIncident,
    Draft,
    Approval,
    DeliveryRequest,
    Receipt,
    Decision,
    AuditEvent,
    Pause,
    SiteVersion,
    Subscription,
    ReplyAction,
    ReplyActionOutcome,
)


def render(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(mode="validation"), indent=2, ensure_ascii=False) + "\n"


def write(check: bool = False, folder: Path = SCHEMAS_DIR) -> list[Path]:
    """Write (or with check=True only list) the schema files that differ from the models."""
    stale = []
    for model in MODELS:
        path = folder / f"{model.__name__}.json"
        text = render(model)
        if not path.exists() or path.read_text() != text:
            stale.append(path)
            if not check:
                folder.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    return stale
