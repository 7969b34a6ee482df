"""How heavy the public site is during a busy crisis: 50 alerts, some updated, some ended.

The index must stay under 50 KB before images for people on a weak mobile signal; this
prints the weights so a template change that bloats the pages shows up. It prints figures,
it is not a test (the test suite asserts the index limit).

    .venv/bin/python bench/site_weight.py
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
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
from alertcast.site.model import PublishedAlert, PublishedVersion

NOW = datetime(2026, 12, 3, 6, 30, tzinfo=UTC)
COMMUNES = [
    ("Arras", "62041"),
    ("Lens", "62498"),
    ("Béthune", "62119"),
    ("Liévin", "62510"),
    ("Saint-Omer", "62765"),
    ("Boulogne-sur-Mer", "62160"),
    ("Calais", "62193"),
    ("Hénin-Beaumont", "62427"),
]
KINDS = [
    (Category.ROAD_CLOSURE, "Fermeture de route", "La RD 939 est fermée entre {a} et {b} après un accident"),
    (Category.SCHOOL_TRANSPORT, "Transport scolaire", "Les cars scolaires ne circulent pas ce matin à {a}"),
    (Category.WEATHER, "Vent violent", "Vigilance orange vent violent sur {a} et {b} jusqu'à demain matin"),
    (Category.FLOOD, "Inondation", "Crue de la Lys : routes coupées autour de {a}"),
    (Category.STRIKE, "Grève", "Grève des agents du réseau de bus de {a} : service réduit"),
]
SEVERITIES = [Severity.EXTREME, Severity.SEVERE, Severity.MODERATE, Severity.MINOR]


def _info(n: int, language: str = "fr") -> Info:
    category, event, headline = KINDS[n % len(KINDS)]
    (a, code_a), (b, code_b) = COMMUNES[n % len(COMMUNES)], COMMUNES[(n + 3) % len(COMMUNES)]
    return Info(
        language=language,
        category=category,
        event=event if language == "fr" else f"{event} (en)",
        urgency=Urgency.IMMEDIATE,
        severity=SEVERITIES[n % len(SEVERITIES)],
        certainty=Certainty.OBSERVED,
        sender_name="Préfecture du Pas-de-Calais",
        headline=headline.format(a=a, b=b) if language == "fr" else f"Alert {n}: {a} and {b}",
        description=(
            f"Depuis 5 h 40, la circulation est interrompue entre {a} et {b}. Les services "
            "de l'État et du Département sont sur place. Une déviation est mise en place par "
            "les routes départementales voisines.\n\nPoint de situation à 9 h."
        ),
        instruction="Évitez le secteur. Suivez les consignes des forces de l'ordre.",
        web="https://www.pas-de-calais.gouv.fr/alertes",
        contact="Préfecture : 03 21 21 20 00",
        expires=NOW + timedelta(hours=12),
        areas=[
            Area(area_desc=a, geocodes=[Geocode(value_name="INSEE", value=code_a)]),
            Area(area_desc=b, geocodes=[Geocode(value_name="INSEE", value=code_b)]),
        ],
    )


def sample_alerts(count: int = 50) -> list[PublishedAlert]:
    """`count` current alerts (every third also in English, every fourth updated) and 10 ended."""
    alerts = []
    for n in range(count + 10):
        sent = NOW - timedelta(minutes=5 * n + 10)
        infos = [_info(n)] + ([_info(n, "en")] if n % 3 == 0 else [])
        first = Incident(identifier=f"pref62-{n}", sender="pref62", sent=sent, info=infos)
        alert = PublishedAlert(
            alert_id=f"a{n:04d}", versions=[PublishedVersion(version=1, incident=first, published_at=sent)]
        )
        ref = [Reference(sender="pref62", identifier=first.identifier, sent=sent)]
        if n % 4 == 0:
            update = first.model_copy(
                update={
                    "identifier": f"{first.identifier}-u",
                    "sent": sent + timedelta(minutes=3),
                    "msg_type": MsgType.UPDATE,
                    "references": ref,
                }
            )
            alert = alert.with_version(2, update, update.sent)
        if n >= count:
            cancel = Incident(
                identifier=f"{first.identifier}-c",
                sender="pref62",
                sent=NOW - timedelta(minutes=1),
                msg_type=MsgType.CANCEL,
                references=ref,
            )
            alert = alert.with_version(3, cancel, cancel.sent)
        alerts.append(alert)
    return alerts


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder)
        written = build_site(sample_alerts(50), site, now=NOW, base_url="https://alertes.example.fr/")
        print(f"files written: {len(written)}")
        for name in (
            "index.html",
            "archive.html",
            "alerts/a0000.html",
            "areas/62041.html",
            "feed.atom",
            "cap.xml",
            "alerts.json",
            "cap/a0000-v2.xml",
            "assets/site.css",
            "assets/refresh.js",
        ):
            print(f"{name:22} {(site / name).stat().st_size:>8} bytes")


if __name__ == "__main__":
    main()
