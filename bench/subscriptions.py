"""Subscription matching benchmark: the time to find who one alert reaches.

No broker: 500 synthetic communes on a grid around Arras (through CommuneRegistry, as points)
and 10,000 active subscriptions (mostly communes, some départements), then
`SubscriptionIndex.match` timed for alerts naming (a) three INSEE communes, (b) a polygon
over about twenty communes, (c) a circle, (d) the whole département (every subscription).
Times are wall-clock medians over the runs. It prints figures; it is not a test. Last line:
`subscriptions=<n> communes=<n> match_ms=<median of the worst case>` (issue 20: ≤ 20 ms).

    .venv/bin/python bench/subscriptions.py
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from alertcast.models.incident import Incident
from alertcast.subscriptions.communes import Commune, CommuneRegistry
from alertcast.subscriptions.matching import SubscriptionIndex, alert_areas
from alertcast.subscriptions.model import Subscription

ARRAS = (50.2910, 2.7775)  # lat, lon
STEP = 0.01  # degrees between grid communes: about 1.1 km north-south, 0.7 km east-west
COLUMNS = 25
SILENCE = timedelta(days=90)


def communes(count: int) -> list[Commune]:
    """A grid centred on Arras, coded 62001, 62002... (synthetic: real codes are not a grid)."""
    rows = -(-count // COLUMNS)
    return [
        Commune(
            code=f"62{index + 1:03d}",
            name=f"Commune {index + 1}",
            departement="62",
            lat=ARRAS[0] + (index // COLUMNS - rows / 2) * STEP,
            lon=ARRAS[1] + (index % COLUMNS - COLUMNS / 2) * STEP,
        )
        for index in range(count)
    ]


def subscriptions(count: int, codes: list[str], now: datetime, rng: random.Random) -> list[Subscription]:
    """Active feed subscriptions (the channel does not change matching): 90 % one to three
    communes, 10 % a département, 62 or a neighbour."""
    made = []
    for index in range(count):
        if index % 10 == 0:
            areas = [rng.choice(["62", "62", "59", "80"])]
        else:
            areas = rng.sample(codes, rng.randint(1, 3))
        made.append(
            Subscription(
                id=f"bench-subscription-{index:06d}",
                areas=areas,
                channel="feed",
                created_at=now - timedelta(days=30),
                confirmed_at=now - timedelta(days=30),
                last_seen_at=now - timedelta(days=rng.randint(0, 29)),
            )
        )
    return made


def alert(now: datetime, area: dict[str, Any]) -> Incident:
    return Incident.model_validate(
        {
            "identifier": "bench-1",
            "sender": "bench@alertcast",
            "sent": now,
            "info": [
                {
                    "category": "road_closure",
                    "event": "Route fermée",
                    "headline": "Route fermée",
                    "areas": [area],
                }
            ],
        }
    )


def cases(now: datetime, chosen: list[Commune]) -> dict[str, Incident]:
    lat, lon = ARRAS
    # 0.05° × 0.04° around Arras: 5 columns × 4 rows of the grid, 20 communes.
    south, north, west, east = lat - 0.018, lat + 0.022, lon - 0.022, lon + 0.028
    ring = [[south, west], [south, east], [north, east], [north, west], [south, west]]
    return {
        "insee_3_communes": alert(
            now,
            {
                "area_desc": "Trois communes",
                "geocodes": [{"value_name": "INSEE", "value": c.code} for c in chosen[:3]],
            },
        ),
        "polygon": alert(now, {"area_desc": "Centre", "polygons": [[{"lat": a, "lon": b} for a, b in ring]]}),
        "circle_2km": alert(
            now,
            {
                "area_desc": "Autour d'Arras",
                "circles": [{"center": {"lat": lat, "lon": lon}, "radius_km": 2}],
            },
        ),
        "departement_62": alert(
            now, {"area_desc": "Pas-de-Calais", "geocodes": [{"value_name": "INSEE", "value": "62"}]}
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communes", type=int, default=500)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=50, help="timed matches per case (at least 20)")
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    runs = max(args.runs, 20)
    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    print(f"building {args.communes} communes and {args.subscriptions} subscriptions...", file=sys.stderr)
    grid = communes(args.communes)
    registry = CommuneRegistry(grid)
    started = time.perf_counter()
    index = SubscriptionIndex(
        subscriptions(args.subscriptions, [c.code for c in grid], now, rng), registry, SILENCE
    )
    print(f"index built in {(time.perf_counter() - started) * 1000:.0f} ms", file=sys.stderr)
    worst = 0.0
    for name, incident in cases(now, rng.sample(grid, 3)).items():
        covered = alert_areas(incident, registry)
        reached = index.match(incident, now)
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            index.match(incident, now)
            timings.append((time.perf_counter() - started) * 1000)
        median = statistics.median(timings)
        worst = max(worst, median)
        print(
            f"case={name} communes={len(covered.communes)} departements={len(covered.departements)} "
            f"reached={len(reached)} "
            f"median_ms={median:.2f} max_ms={max(timings):.2f} runs={runs}"
        )
    print(f"subscriptions={len(index)} communes={len(registry)} match_ms={worst:.2f}")


if __name__ == "__main__":
    main()
