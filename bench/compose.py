"""Compose benchmark: the CPU one worker spends rendering and checking one incident's texts.

No broker: the examples (times moved to now, identifiers made unique) through
`alertcast.render.compose.compose` with the channels given, as the compose agent calls it.
The first pass parses every sentence (spaCy); later passes find the parses cached, as a
storm of one wording does. It prints figures; it is not a test. Last line:
`channels=<list> incidents=<n> first_pass_cpu_ms=<x> cached_cpu_ms=<x>`.

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
from alertcast.render.compose import Templates, compose
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
    parser.add_argument("--passes", type=int, default=3, help="cached passes measured after the first")
    args = parser.parse_args()
    channels = args.channels.split(",")
    settings = get_settings()
    print("loading the language models...", file=sys.stderr)
    nlp.load_all()
    templates = Templates(settings.templates_dir, site_base_url="https://alertes.example.fr")
    now = datetime.now(UTC)
    incidents = [i for n in range(args.copies) for i in examples.incidents(now, f"bench{n}")]
    first = cpu_ms_per_incident(incidents, channels, templates)
    cached = [cpu_ms_per_incident(incidents, channels, templates) for _ in range(args.passes)]
    print(f"cached passes: {', '.join(f'{c:.2f}' for c in cached)} ms", file=sys.stderr)
    print(
        f"channels={','.join(channels)} incidents={len(incidents)} "
        f"first_pass_cpu_ms={first:.2f} cached_cpu_ms={statistics.median(cached):.2f}"
    )


if __name__ == "__main__":
    main()
