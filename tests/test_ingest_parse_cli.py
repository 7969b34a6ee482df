"""`alertcast parse` on what real feeds carry: exit 1 with a warning naming the field for an
unreadable optional value, 2 for what is refused, and every shared sample as its name says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from google.transit import gtfs_realtime_pb2 as gtfs

from alertcast.cli import main
from alertcast.i18n import terminal_language

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
FERRY = SAMPLES / "datex2" / "fi-fintraffic-v3.5-payload-ferry-interruption.xml"
FERRY_END = b"<com:overallEndTime>2025-11-27T07:50:00.000Z</com:overallEndTime>"
OPEN_END = 2**64 - 1


def open_ended_feed() -> bytes:
    message = gtfs.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = 1_767_225_600
    entity = message.entity.add(id="ligne-3-travaux")
    entity.alert.header_text.translation.add(text="Ligne 3 : travaux", language="fr")
    entity.alert.informed_entity.add(route_id="3")
    entity.alert.active_period.add(start=1_767_200_000, end=OPEN_END)
    return message.SerializeToString()


@pytest.fixture(autouse=True)
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the CLI's English lines, whatever the locale of who runs them."""
    monkeypatch.setenv("LC_ALL", "C")


def parse(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["parse", str(path)])
    out, err = capsys.readouterr()
    return status, out, err


def test_gtfs_rt_period_ending_at_2_64_minus_1_exits_1_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "open-ended.pb"
    path.write_bytes(open_ended_feed())
    status, out, err = parse(path, capsys)
    assert status == 1, err
    assert (
        f"{path}: warning: entity[0].alert.active_period[0].end: " in err
        and "[timestamp_range]" in err
        and str(OPEN_END) in err
    )
    assert "refused" not in err
    assert '"identifier": "ligne-3-travaux"' in out and '"expires"' not in out
    assert err.rstrip().endswith("gtfs-rt, 1 incident(s), 0 problem(s), 1 warning(s)")


def test_datex2_unreadable_optional_end_time_exits_1_with_a_warning_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = FERRY.read_bytes()
    assert FERRY_END in data
    path = tmp_path / "placeholder-end.xml"
    path.write_bytes(data.replace(FERRY_END, b"<com:overallEndTime>${endTime}</com:overallEndTime>"))
    status, out, err = parse(path, capsys)
    assert status == 1, err
    assert (
        f"{path}: warning: situation[0].situationRecord[0].validity.overallEndTime: " in err
        and "[datetime]" in err
        and "${endTime}" in err
    )
    assert '"identifier": "GUID50456943"' in out and '"expires"' not in out
    assert err.rstrip().endswith("datex2, 1 incident(s), 0 problem(s), 1 warning(s)")


def test_lone_surrogate_json_exits_2_with_the_field_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "surrogate.json"
    path.write_bytes(b'{"identifier": "\\ud800"}')
    status, out, err = parse(path, capsys)
    assert status == 2 and out == ""
    assert f"{path}: refused: identifier: " in err and "[unpaired_surrogate]" in err


def test_the_real_command_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "open-ended.pb"
    path.write_bytes(open_ended_feed())
    done = subprocess.run(
        [sys.executable, "-m", "alertcast", "parse", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "active_period[0].end" in done.stderr and "warning" in done.stderr


def run_parse(path: Path, **locale: str) -> subprocess.CompletedProcess[str]:
    """The real command, in the locale given (nothing else of the caller's chooses a language)."""
    chosen = ("ALERTCAST_LANGUAGE", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
    environment = {k: v for k, v in os.environ.items() if k not in chosen} | locale
    return subprocess.run(
        [sys.executable, "-m", "alertcast", "parse", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
    )


def test_the_command_speaks_the_locale_s_language_french_or_else_english(tmp_path: Path) -> None:
    path = tmp_path / "open-ended.pb"
    path.write_bytes(open_ended_feed())
    french = run_parse(path, LANG="fr_FR.UTF-8")
    assert french.returncode == 1, french.stderr
    assert f"{path} : avertissement : entity[0].alert.active_period[0].end : " in french.stderr
    assert "lu comme pas de fin (la période est sans fin) [timestamp_range] (valeur : " in french.stderr
    assert "; conseil : omettez `end` quand la période n'a pas de fin" in french.stderr
    assert french.stderr.rstrip().endswith("gtfs-rt, 1 incident(s), 0 problème(s), 1 avertissement(s)")
    english = run_parse(path, LANG="C")
    assert english.returncode == 1, english.stderr
    assert f"{path}: warning: entity[0].alert.active_period[0].end: " in english.stderr
    assert "read as no end (the period is open-ended) [timestamp_range] (value: " in english.stderr
    assert english.stderr.rstrip().endswith("gtfs-rt, 1 incident(s), 0 problem(s), 1 warning(s)")
    assert french.stdout == english.stdout != ""  # the JSON is the same in every language
    chosen = run_parse(path, LANG="fr_FR.UTF-8", ALERTCAST_LANGUAGE="en")
    assert chosen.stderr == english.stderr  # the setting wins over the locale


@pytest.mark.parametrize(
    ("chosen", "locale", "language"),
    [
        ("", {"LANG": "fr_FR.UTF-8"}, "fr"),
        ("", {"LANG": "C"}, "en"),
        ("", {"LANG": "C.UTF-8"}, "en"),
        ("", {}, "en"),
        ("", {"LC_ALL": "C", "LANG": "fr_FR.UTF-8"}, "en"),  # LC_ALL first, as POSIX says
        ("", {"LC_MESSAGES": "fr_CA.UTF-8", "LANG": "en_GB.UTF-8"}, "fr"),
        ("", {"LANG": "de_DE.UTF-8"}, "en"),  # no catalog in German: English
        ("", {"LANG": "fr_FR@euro"}, "fr"),
        ("fr", {"LANG": "C"}, "fr"),
        ("en", {"LANG": "fr_FR.UTF-8"}, "en"),
    ],
)
def test_the_cli_s_language_is_the_setting_else_the_posix_locale_s_else_english(
    chosen: str, locale: dict[str, str], language: str
) -> None:
    assert terminal_language(chosen, locale) == language


def sample_files() -> list[Path]:
    return sorted(p for d in ("cap", "datex2", "gtfs-rt") for p in (SAMPLES / d).iterdir())


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_sample_parses_as_its_name_says(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = parse(path, capsys)
    if path.name.startswith("invalid-"):
        assert status == 2 and "refused:" in err and out == ""
    elif path.name.startswith("lenient-"):
        assert status == 1 and "warning:" in err and "refused" not in err
    else:
        assert status in (0, 1) and "refused" not in err, err
        assert '"identifier"' in out
