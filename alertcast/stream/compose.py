"""Compose agent: an accepted incident version in, one text per channel out, as a draft."""

from __future__ import annotations

import logging
from typing import Any

from alertcast.models.alert import AcceptedIncident, Draft, alert_id_for
from alertcast.render.compose import Templates, compose
from alertcast.stream.app import accepted, app, drafted, settings

log = logging.getLogger(__name__)

templates = Templates(settings.templates_dir)


@app.agent(accepted)
async def compose_drafts(stream: Any) -> None:
    async for raw in stream:
        message = AcceptedIncident.model_validate_json(raw)
        alert_id = alert_id_for(message.incident_key)
        link = (
            f"{settings.site_base_url.rstrip('/')}/alerts/{alert_id}.html" if settings.site_base_url else ""
        )
        texts, problems = compose(message.incident, settings.channels, templates, link=link)
        for problem in problems:
            log.error("alert %s: %s", alert_id, problem.line())
        draft = Draft(
            alert_id=alert_id,
            incident_key=message.incident_key,
            version=message.version,
            received_at=message.received_at,
            incident=message.incident,
            texts=texts,
        )
        await drafted.send(key=message.incident_key.encode(), value=draft.model_dump_json().encode())
