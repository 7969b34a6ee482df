"""Compose benchmark: the CPU one worker spends rendering and checking one incident's texts.

No broker: the examples (times moved to now) through `alertcast.render.compose.compose` with
the channels given, as the ingest agent calls it. Every pass is new incidents (new
identifiers, so new alert ids and page links), as in a storm: the first pass parses every
sentence (spaCy) and loads what is loaded once; later passes meet the same wordings with other
numbers and links, whose parses are cached. It prints figures; it is not a test. Last line:
`channels=<list> incidents=<n> first_pass_cpu_ms=<x> storm_cpu_ms=<median of later passes>`.

    .venv/bin/python bench/compose.py --channels webhook
    .venv/bin/python bench/compose.py --channels website,webhook,sms,mastodon,bluesky
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime

from alertcast import examples
from alertcast.charter import nlp
from alertcast.models import Incident
from alertcast.render.compose import compose
from alertcast.render.templates import Templates
from alertcast.settings import get_settings


def cpu_ms_per_incident(incidents: list[Incident], channels: list[str], templates: Templates) -> float:
    started = time.process_time()
    for incident in incidents:
        compose(incident, channels, templates)
    return (time.process_time() - started) * 1000 / len(incidents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", default="webhook", help="comma-separated channel ids")
    parser.add_argument("--copies", type=int, default=100, help="copies of the examples (4 each)")
    parser.add_argument("--passes", type=int, default=3, help="passes measured after the first")
    args = parser.parse_args()
    channels = args.channels.split(",")
    settings = get_settings()
    print("loading the language models...", file=sys.stderr)
    nlp.load_all()
    templates = Templates(settings.templates_dir, site_base_url="https://alertes.example.fr")
    now = datetime.now(UTC)

    def fresh(run: int) -> list[Incident]:
        return [i for n in range(args.copies) for i in examples.incidents(now, f"bench{run}x{n}")]

    first = cpu_ms_per_incident(fresh(0), channels, templates)
    later = [cpu_ms_per_incident(fresh(run), channels, templates) for run in range(1, args.passes + 1)]
    print(f"later passes: {', '.join(f'{c:.2f}' for c in later)} ms", file=sys.stderr)
    print(
        f"channels={','.join(channels)} incidents={4 * args.copies} "
        f"first_pass_cpu_ms={first:.2f} storm_cpu_ms={statistics.median(later):.2f}"
    )


if __name__ == "__main__":
    main()
