"""The guard against a suite that dies with the calendar (main went red on 4 December 2026).

What a real worker sees is built relative to now by `alertcast.examples`; these tests move the
clock years ahead and check that nothing built that way has expired, and that no test of a
broker tier (a real worker on the real clock) carries an absolute time or the fixed-date
example files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alertcast import examples
from alertcast.charter import times
from alertcast.clock import clock
from alertcast.models.incident import Incident

TESTS = Path(__file__).parent
BROKER_TIERS = re.compile(r"pytest\.mark\.(kafka|servers|browser|faults|cluster)\b")
SUPPORT = ("faults_support.py", "cluster_support.py", "browser_support.py", "kafka_io.py")
ABSOLUTE_TIME = re.compile(r"\b(19|20)\d\d-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d")
LONGEST_SUITE = timedelta(hours=1)
DATES = [
    datetime(2026, 12, 6, 19, 0, tzinfo=UTC),
    datetime(2027, 12, 6, 19, 0, tzinfo=UTC),  # a year from now
    datetime(2028, 2, 29, 23, 30, tzinfo=UTC),  # a leap day, late
    datetime(2031, 3, 30, 0, 45, tzinfo=UTC),  # the night Paris moves to summer time
    datetime(2037, 12, 31, 23, 59, tzinfo=UTC),
]


@pytest.fixture
def pinned() -> Iterator[None]:
    yield
    clock.set(None)


def blocking(incident: Incident) -> list[str]:
    return [f"{f.rule} {f.path} {f.message}" for f in times.check(incident) if f.level == "block"]


@pytest.mark.parametrize("now", DATES, ids=[d.date().isoformat() for d in DATES])
def test_every_example_moved_to_now_is_current_for_the_length_of_a_suite(pinned: None, now: datetime) -> None:
    moved = examples.incidents(now)
    assert len(moved) == len(list(examples.EXAMPLES.glob("*.json"))) >= 4
    for later in (now, now + LONGEST_SUITE):
        clock.set(lambda at=later: at)
        for incident in moved:
            assert incident.sent <= now, incident.identifier
            assert blocking(incident) == [], incident.identifier


def test_the_files_themselves_have_expired_today_so_the_guard_can_fail(pinned: None) -> None:
    """The fixed dates are past (they passed on 4 December 2026): read raw, the charter blocks
    them, which is what a broker test reading them would meet."""
    clock.set(lambda: DATES[1])
    files = sorted(examples.EXAMPLES.glob("*.json"))
    raw = [Incident.model_validate_json(path.read_text()) for path in files]
    assert all(blocking(incident) for incident in raw if incident.info)


def test_moving_keeps_the_order_and_the_gaps_between_versions() -> None:
    files = examples.at(datetime(2026, 12, 3, 8, 15, tzinfo=UTC))  # 09:15 Paris, 5 min after the last
    now = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    moved = examples.at(now)
    delta = now - datetime(2026, 12, 3, 8, 15, tzinfo=UTC)
    for name, document in files.items():
        assert datetime.fromisoformat(moved[name]["sent"]) - datetime.fromisoformat(document["sent"]) == delta
        for before, after in zip(document["info"], moved[name]["info"], strict=True):
            for field in ("onset", "expires"):
                if field in before:
                    gap = datetime.fromisoformat(after[field]) - datetime.fromisoformat(before[field])
                    assert gap == delta
    update = moved["04-road-closure-d934-update.json"]
    assert datetime.fromisoformat(update["sent"]) == now - examples.LEAD
    assert update["references"][0]["sent"] == moved["01-road-closure-d934.json"]["sent"]


def test_written_examples_and_a_run_suffix_make_new_identifiers(tmp_path: Path) -> None:
    folder = examples.written(tmp_path / "x", datetime(2031, 1, 1, tzinfo=UTC))
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        p.name for p in examples.EXAMPLES.glob("*.json")
    )
    renamed = examples.incidents(datetime(2031, 1, 1, tzinfo=UTC), suffix="run1")
    assert all(incident.identifier.endswith("-run1") for incident in renamed)
    update = next(incident for incident in renamed if incident.references)
    assert update.references[0].identifier.endswith("-run1")


@pytest.mark.parametrize("now", DATES, ids=[d.date().isoformat() for d in DATES])
def test_the_load_of_benches_and_the_cluster_tier_is_current(pinned: None, now: datetime) -> None:
    incident = examples.traffic("bench-1-1", "bench@alertcast.invalid", "bench", 1, now=now)
    clock.set(lambda: now + LONGEST_SUITE)
    assert blocking(incident) == []


def broker_tier_modules() -> list[Path]:
    return sorted(
        path
        for path in TESTS.glob("*.py")
        if path.name in SUPPORT or BROKER_TIERS.search(path.read_text(encoding="utf-8"))
    )


def test_no_broker_tier_test_carries_an_absolute_time_or_the_fixed_date_examples() -> None:
    modules = broker_tier_modules()
    assert {"test_pipeline_kafka.py", "faults_support.py", "test_cluster.py"} <= {m.name for m in modules}
    offenders = []
    for module in modules:
        for number, line in enumerate(module.read_text(encoding="utf-8").splitlines(), 1):
            if ABSOLUTE_TIME.search(line) or re.search(r"\bEXAMPLES\b", line):
                offenders.append(f"{module.name}:{number}: {line.strip()}")
    assert offenders == [], (
        "build what a worker sees with alertcast.examples (relative to now):\n" + "\n".join(offenders)
    )
