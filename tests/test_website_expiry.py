"""An alert that expires leaves the index for the archive on its own, with nothing else published."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import EXAMPLES

from alertcast.channels.website import WebsiteChannel
from alertcast.models import DeliveryRequest, Incident, alert_id_for


async def test_an_expired_alert_moves_to_the_archive_at_the_next_check(tmp_path: Path) -> None:
    incident = Incident.model_validate(json.loads((EXAMPLES / "01-road-closure-d934.json").read_text()))
    expires = incident.info[0].expires
    assert expires is not None
    clock = [expires - timedelta(hours=1)]
    site = WebsiteChannel(tmp_path, lambda: clock[0])
    alert_id = alert_id_for(incident.key)
    request = DeliveryRequest(
        alert_id=alert_id, version=1, channel="website", incident=incident, approved_at=datetime.now(UTC)
    )
    await site.publish(request)
    assert alert_id in (tmp_path / "index.html").read_text()
    assert not await site.refresh_expired()  # nothing expired yet: no rebuild
    clock[0] = expires + timedelta(seconds=1)
    assert await site.refresh_expired()
    assert alert_id not in (tmp_path / "index.html").read_text()
    assert alert_id in (tmp_path / "archive.html").read_text()
    assert not await site.refresh_expired()  # once is enough
