"""The website channel hands versions to the site's one writer, which builds the site, sends the
receipt once the page is on disk, and moves an expired alert to the archive on its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import EXAMPLES

from alertcast.channels.website import WebsiteChannel
from alertcast.delivery.retry import PermanentError
from alertcast.models import DeliveryRequest, DeliveryStatus, Incident, alert_id_for
from alertcast.site.model import PublishedAlert, SiteVersion
from alertcast.site.writer import SiteWriter, folded


def road_closure() -> Incident:
    return Incident.model_validate(json.loads((EXAMPLES / "01-road-closure-d934.json").read_text()))


def request_for(incident: Incident, version: int = 1) -> DeliveryRequest:
    return DeliveryRequest(
        alert_id=alert_id_for(incident.key),
        version=version,
        channel="website",
        incident=incident,
        approved_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


async def test_the_channel_hands_the_version_over_and_builds_nothing(tmp_path: Path) -> None:
    handed: list[SiteVersion] = []

    async def hand_off(version: SiteVersion) -> None:
        handed.append(version)

    at = datetime(2030, 1, 1, 12, tzinfo=UTC)
    channel = WebsiteChannel(tmp_path, lambda: at, "https://alertes.example.fr/")
    request = request_for(road_closure())
    with pytest.raises(PermanentError, match="no site writer"):
        await channel.publish(request)
    channel.hand_off = hand_off
    post = await channel.publish(request)
    assert post.url == f"https://alertes.example.fr/alerts/{request.alert_id}.html"
    assert [(v.request, v.published_at) for v in handed] == [(request, at)]
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 (the writer builds, not the deliverer)
    assert await channel.find_existing(request) is None  # handing over again is harmless


def test_a_repeated_hand_off_changes_nothing() -> None:
    incident = road_closure()
    first = SiteVersion(request=request_for(incident), published_at=datetime(2030, 1, 1, tzinfo=UTC))
    again = first.model_copy(update={"published_at": datetime(2030, 1, 1, 0, 5, tzinfo=UTC)})
    alert = folded(None, first)
    assert folded(alert, again) == alert
    second = SiteVersion(request=request_for(incident, 2), published_at=datetime(2030, 1, 2, tzinfo=UTC))
    assert [v.version for v in folded(alert, second).versions] == [1, 2]


def test_the_writer_builds_the_page_then_says_sent_with_its_url(tmp_path: Path) -> None:
    incident = road_closure()
    clock = [datetime(2030, 1, 1, 12, tzinfo=UTC)]
    writer = SiteWriter(tmp_path, lambda: clock[0], "https://alertes.example.fr")
    writer.load([])
    handed = SiteVersion(request=request_for(incident), published_at=clock[0] - timedelta(milliseconds=40))
    alert = folded(None, handed)
    changed = writer.publish(alert)
    page = tmp_path / "alerts" / f"{alert.alert_id}.html"
    assert page in changed and page.exists()
    stored = PublishedAlert.model_validate_json((tmp_path / "data" / f"{alert.alert_id}.json").read_bytes())
    assert stored == alert
    receipt = writer.receipt(handed)
    assert (receipt.status, receipt.delivery_key, receipt.url) == (
        DeliveryStatus.SENT,
        handed.request.delivery_key,
        f"https://alertes.example.fr/alerts/{alert.alert_id}.html",
    )
    assert receipt.latency_ms == pytest.approx(40)


def test_an_expired_alert_moves_to_the_archive_at_the_next_check(tmp_path: Path) -> None:
    incident = road_closure()
    expires = incident.info[0].expires
    assert expires is not None
    clock = [expires - timedelta(hours=1)]
    writer = SiteWriter(tmp_path, lambda: clock[0])
    assert writer.refresh() == []  # not loaded: nothing to refresh
    writer.load([])
    alert = folded(None, SiteVersion(request=request_for(incident), published_at=clock[0]))
    writer.publish(alert)
    assert alert.alert_id in (tmp_path / "index.html").read_text()
    assert writer.refresh() == []  # nothing expired yet: nothing written
    clock[0] = expires + timedelta(seconds=1)
    assert writer.refresh()
    assert alert.alert_id not in (tmp_path / "index.html").read_text()
    assert alert.alert_id in (tmp_path / "archive.html").read_text()
    assert writer.refresh() == []  # once is enough


def test_a_writer_given_the_site_builds_it_from_the_recovered_alerts(tmp_path: Path) -> None:
    incident = road_closure()
    at = (incident.info[0].expires or datetime(2030, 1, 1, tzinfo=UTC)) - timedelta(hours=1)
    alert = folded(None, SiteVersion(request=request_for(incident), published_at=at))
    first = SiteWriter(tmp_path / "one", lambda: at)
    first.load([])
    first.publish(alert)
    taken_over = SiteWriter(tmp_path / "two", lambda: at)
    taken_over.load([alert])
    for path in sorted((tmp_path / "one").rglob("*")):
        if path.is_file():
            assert path.read_bytes() == (tmp_path / "two" / path.relative_to(tmp_path / "one")).read_bytes()


def test_an_ended_alert_leaves_the_feeds_after_the_configured_time_and_stays_in_the_archive(
    tmp_path: Path,
) -> None:
    incident = road_closure()
    expires = incident.info[0].expires
    assert expires is not None
    clock = [expires - timedelta(hours=1)]
    writer = SiteWriter(tmp_path, lambda: clock[0], ended_kept=timedelta(hours=1))
    writer.load([])
    alert = folded(None, SiteVersion(request=request_for(incident), published_at=clock[0]))
    writer.publish(alert)
    clock[0] = expires + timedelta(minutes=1)
    writer.refresh()
    assert alert.alert_id in (tmp_path / "alerts.json").read_text()  # ended, still listed a while
    clock[0] = expires + timedelta(hours=1, minutes=1)
    assert writer.refresh()
    assert alert.alert_id not in (tmp_path / "alerts.json").read_text()
    assert alert.alert_id not in (tmp_path / "feed.atom").read_text()
    assert alert.alert_id in (tmp_path / "archive.html").read_text()


def test_a_writer_taking_over_removes_what_a_killed_writer_left_half_written(tmp_path: Path) -> None:
    incident = road_closure()
    at = (incident.info[0].expires or datetime(2030, 1, 1, tzinfo=UTC)) - timedelta(hours=1)
    alert = folded(None, SiteVersion(request=request_for(incident), published_at=at))
    first = SiteWriter(tmp_path, lambda: at)
    first.load([])
    first.publish(alert)
    left = [
        tmp_path / ".index.html.x1.alertcast-tmp",
        tmp_path / "alerts" / f".{alert.alert_id}.html.x2.alertcast-tmp",
    ]
    for path in left:
        path.write_bytes(b"half written")
    changed = SiteWriter(tmp_path, lambda: at).load([alert])
    assert all(path in changed and not path.exists() for path in left)
    assert not list(tmp_path.rglob("*.alertcast-tmp"))


def test_the_site_speaks_the_body_s_time_zone_not_always_paris(tmp_path: Path) -> None:
    """A body in La Réunion (UTC+4) shows its own clock, and says whose it is."""
    incident = road_closure()
    at = datetime(2030, 1, 1, 6, 0, tzinfo=UTC)
    alert = folded(None, SiteVersion(request=request_for(incident), published_at=at))
    paris, reunion = tmp_path / "paris", tmp_path / "reunion"
    SiteWriter(paris, lambda: at).load([alert])
    SiteWriter(reunion, lambda: at, tz="Indian/Reunion").load([alert])
    assert "Heures de Paris." in (paris / "index.html").read_text()
    index = (reunion / "index.html").read_text()
    assert "Heures de La Réunion." in index and "Paris" not in index
    assert 'datetime="2030-01-01T10:00:00+04:00"' in index  # "page updated" in Réunion time


def test_an_unknown_time_zone_is_refused_with_the_setting_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from alertcast.settings import Settings

    monkeypatch.setenv("ALERTCAST_TIMEZONE", "Europe/Pariss")
    with pytest.raises(ValidationError, match="unknown time zone 'Europe/Pariss'") as refused:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert refused.value.errors()[0]["loc"] == ("timezone",)
