"""What one publish costs the public site during a storm: 1,000 live alerts, one more published.

The website channel publishes, updates and ends alerts one at a time; each must reach the site
in well under a second even when a storm keeps a thousand alerts live, and what it writes is
what a CDN must purge. This builds a site of `--live` live alerts (and `--ended` ended ones,
some recent, most old: the archive) from incidents dated relative to now, publishes
`--repeats` more alerts one by one and times each publish; `--full` times the full build
(`build_site`) instead, as the site did before it was incremental. It also builds a
50-live-alert site and weighs its `cap.xml`, the CAP index aggregators poll. It prints
figures, it is not a test. Progress goes to stderr; the last line is
`live_alerts=<n> publish_ms=<median> files_written=<median> cap_index_bytes=<n>`, where
cap_index_bytes is the size of `cap.xml` with 50 live alerts (the line before says so):

    .venv/bin/python bench/site.py
    .venv/bin/python bench/site.py --full --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from alertcast.models.incident import (
    Area,
    Category,
    Certainty,
    Geocode,
    Incident,
    Info,
    MsgType,
    Reference,
    Severity,
    Urgency,
)
from alertcast.site.builder import build_site
from alertcast.site.incremental import SiteBuilder
from alertcast.site.model import PublishedAlert, PublishedVersion

BASE_URL = "https://alertes.example.fr/"
CAP_INDEX_LIVE = 50
COMMUNES = [
    ("Arras", "62041"),
    ("Lens", "62498"),
    ("Béthune", "62119"),
    ("Liévin", "62510"),
    ("Saint-Omer", "62765"),
    ("Boulogne-sur-Mer", "62160"),
    ("Calais", "62193"),
    ("Hénin-Beaumont", "62427"),
    ("Lille", "59350"),
    ("Roubaix", "59512"),
    ("Tourcoing", "59599"),
    ("Dunkerque", "59183"),
    ("Valenciennes", "59606"),
    ("Douai", "59178"),
    ("Cambrai", "59122"),
    ("Maubeuge", "59392"),
    ("Villeneuve-d'Ascq", "59009"),
    ("Armentières", "59017"),
    ("Wattrelos", "59650"),
    ("Marcq-en-Barœul", "59378"),
]
ROADS = 80  # "RD 901" ... "RD 980": areas named by description only, so pages by slug
KINDS = [
    (Category.ROAD_CLOSURE, "Fermeture de route", "La {road} est fermée à {town} après un accident"),
    (Category.SCHOOL_TRANSPORT, "Transport scolaire", "Les cars scolaires ne desservent pas {town}"),
    (Category.WEATHER, "Vent violent", "Vigilance orange vent violent sur {town} jusqu'à demain"),
    (Category.FLOOD, "Inondation", "Crue : la {road} est coupée autour de {town}"),
    (Category.STRIKE, "Grève", "Grève du réseau de bus de {town} : service réduit"),
]
SEVERITIES = [Severity.EXTREME, Severity.SEVERE, Severity.MODERATE, Severity.MINOR]


def _info(n: int, sent: datetime, expires: datetime, language: str = "fr") -> Info:
    category, event, headline = KINDS[n % len(KINDS)]
    town, code = COMMUNES[n % len(COMMUNES)]
    road = f"RD {901 + n % ROADS}"
    areas = [Area(area_desc=town, geocodes=[Geocode(value_name="INSEE", value=code)])]
    if n % 2 == 0:
        areas.append(Area(area_desc=road))
    return Info(
        language=language,
        category=category,
        event=event if language == "fr" else f"{event} (en)",
        urgency=Urgency.IMMEDIATE,
        severity=SEVERITIES[n % len(SEVERITIES)],
        certainty=Certainty.OBSERVED,
        sender_name="Préfecture du Nord-Pas-de-Calais",
        headline=headline.format(road=road, town=town) if language == "fr" else f"Alert {n}: {town}",
        description=(
            f"Depuis {sent:%H} h, la situation est suivie à {town}. Les services de l'État et du "
            "Département sont sur place.\n\nUn nouveau point de situation sera publié à 9 h."
        ),
        instruction="Évitez le secteur. Suivez les consignes des forces de l'ordre.",
        web="https://www.pas-de-calais.gouv.fr/alertes",
        contact="Préfecture : 03 21 21 20 00",
        expires=expires,
        areas=areas,
    )


def incident_alert(alert_id: str, n: int, sent: datetime, expires: datetime) -> PublishedAlert:
    """One alert, every third bilingual, every fourth updated three minutes after it was sent."""
    infos = [_info(n, sent, expires)] + ([_info(n, sent, expires, "en")] if n % 3 == 0 else [])
    first = Incident(identifier=f"pref-{alert_id}", sender="pref62", sent=sent, info=infos)
    alert = PublishedAlert(
        alert_id=alert_id, versions=[PublishedVersion(version=1, incident=first, published_at=sent)]
    )
    if n % 4 == 0:
        update = first.model_copy(
            update={
                "identifier": f"{first.identifier}-u",
                "sent": sent + timedelta(minutes=3),
                "msg_type": MsgType.UPDATE,
                "references": [Reference(sender="pref62", identifier=first.identifier, sent=sent)],
            }
        )
        alert = alert.with_version(2, update, update.sent)
    return alert


def live_alerts(count: int, now: datetime) -> list[PublishedAlert]:
    """Sent over the last ten hours, expiring between 6 and 30 hours from now."""
    return [
        incident_alert(
            f"live{n:05d}", n, now - timedelta(minutes=n % 600 + 5), now + timedelta(hours=6 + n % 24)
        )
        for n in range(count)
    ]


def ended_alerts(count: int, now: datetime) -> list[PublishedAlert]:
    """Cancelled two hours after they were sent; one in ten within the last day, the rest older."""
    alerts = []
    for n in range(count):
        sent = now - (timedelta(hours=3 + n) if n % 10 == 0 else timedelta(days=2 + n % 60, hours=n % 24))
        alert = incident_alert(f"old{n:05d}", n, sent, sent + timedelta(hours=12))
        last = alert.latest
        cancel = Incident(
            identifier=f"{last.identifier}-c",
            sender="pref62",
            sent=sent + timedelta(hours=2),
            msg_type=MsgType.CANCEL,
            references=[Reference(sender="pref62", identifier=last.identifier, sent=last.sent)],
        )
        alerts.append(alert.with_version(alert.versions[-1].version + 1, cancel, cancel.sent))
    return alerts


def new_alert(k: int, now: datetime) -> PublishedAlert:
    return incident_alert(f"new{k:03d}", 2 * k, now, now + timedelta(hours=8))


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def timed(publish: Callable[[], list[Path]]) -> tuple[float, int]:
    start = time.perf_counter()
    written = publish()
    return (time.perf_counter() - start) * 1000, len(written)


def measure_incremental(
    site: Path, alerts: list[PublishedAlert], now: datetime, repeats: int
) -> list[tuple[float, int]]:
    builder = SiteBuilder(site, base_url=BASE_URL)
    start = time.perf_counter()
    builder.load(alerts, now)
    log(f"loaded {len(alerts)} alerts (full build) in {time.perf_counter() - start:.2f} s")
    results = []
    for k in range(repeats):
        at = now + timedelta(seconds=k + 1)
        results.append(timed(partial(builder.publish, new_alert(k, at), at)))
        log(f"publish {k + 1}/{repeats}: {results[-1][0]:.1f} ms, {results[-1][1]} files")
    return results


def measure_full(
    site: Path, alerts: list[PublishedAlert], now: datetime, repeats: int
) -> list[tuple[float, int]]:
    start = time.perf_counter()
    build_site(alerts, site, now=now, base_url=BASE_URL)
    log(f"first full build of {len(alerts)} alerts in {time.perf_counter() - start:.2f} s")
    results = []
    for k in range(repeats):
        at = now + timedelta(seconds=k + 1)
        alerts = [*alerts, new_alert(k, at)]
        results.append(timed(partial(build_site, alerts, site, now=at, base_url=BASE_URL)))
        log(f"full build {k + 1}/{repeats}: {results[-1][0]:.1f} ms, {results[-1][1]} files")
    return results


def cap_index_bytes(now: datetime, ended: int) -> int:
    with tempfile.TemporaryDirectory(prefix="alertcast-site-") as folder:
        site = Path(folder)
        build_site(
            live_alerts(CAP_INDEX_LIVE, now) + ended_alerts(ended, now), site, now=now, base_url=BASE_URL
        )
        return (site / "cap.xml").stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--live", type=int, default=1000, help="live alerts on the site (default 1000)")
    parser.add_argument("--ended", type=int, default=200, help="ended alerts in the archive (default 200)")
    parser.add_argument("--repeats", type=int, default=9, help="publishes measured (default 9)")
    parser.add_argument("--full", action="store_true", help="time the full build instead of a publish")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    alerts = live_alerts(args.live, now) + ended_alerts(args.ended, now)
    with tempfile.TemporaryDirectory(prefix="alertcast-site-") as folder:
        measure = measure_full if args.full else measure_incremental
        results = measure(Path(folder), alerts, now, args.repeats)
    publish_ms = statistics.median(ms for ms, _ in results)
    files = round(statistics.median(n for _, n in results))
    cap_bytes = cap_index_bytes(now, args.ended)
    mode = "full build" if args.full else "incremental publish"
    print(f"mode={mode} ended_alerts={args.ended} repeats={args.repeats}; publish_ms, files_written: medians")
    print(
        f"cap_index_bytes is the size of cap.xml with {CAP_INDEX_LIVE} live alerts (and the same ended ones)"
    )
    line = f"live_alerts={args.live} publish_ms={publish_ms:.1f} files_written={files}"
    print(f"{line} cap_index_bytes={cap_bytes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
