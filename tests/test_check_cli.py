"""`alertcast check`: offline, every intake format, lengths and spans shown, exit 0/1/2/64."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alertcast.clock import clock
from alertcast.render.check import check_command
from alertcast.render.templates import Templates
from alertcast.settings import ROOT

DATA = Path(__file__).resolve().parent / "data"
SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
TEMPLATES = Templates(ROOT / "templates", site_base_url="https://alertes.example.fr")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def before_the_closure() -> Iterator[None]:
    clock.set(lambda: datetime(2026, 12, 3, 5, 0, tzinfo=UTC))
    try:
        yield
    finally:
        clock.set(None)


def run(
    *files: Path, channel: str | None = None, lang: str | None = None, out: io.StringIO | None = None
) -> tuple[int, str]:
    out = out or io.StringIO()
    status = check_command(list(files), channel, lang, out=out, templates=TEMPLATES)
    return status, out.getvalue()


def test_a_clean_file_exits_0_and_shows_every_channel_with_its_length() -> None:
    status, output = run(DATA / "check-clean.json")
    assert status == 0, output
    assert "-- x (fr): 201/280 weighted, dropped to fit: details" in output
    # Up to 3 SMS segments by default: the whole alert, advice included, nothing dropped.
    assert "-- sms (fr): 216/459 septets, 2 segments\n" in output
    assert "-- email (fr): " in output and "(no limit) characters" in output
    assert "   | Route D 934 fermée entre Arras et Cambrai" in output
    assert "warn" not in output and "block" not in output


def test_a_warning_only_file_exits_1_with_the_span_underlined() -> None:
    status, output = run(DATA / "check-warn.json", channel="x")
    assert status == 1, output
    assert "warn style.punctuation at " in output
    assert "   | Suivez la déviation par la D 939 !!\n   |                                  ^^\n" in output
    assert "BLOCKED" not in output


def test_a_blocking_file_exits_2_and_says_why() -> None:
    status, output = run(DATA / "check-blocking.json", channel="mastodon")
    assert status == 2, output
    lines = output.splitlines()
    finding = next(i for i, line in enumerate(lines) if line.startswith("   block personal_data.phone"))
    assert lines[finding + 1] == "   | Suivez la déviation par la D 939. Renseignements au 06 12 34 56 78."
    assert lines[finding + 2] == "   | " + " " * 52 + "^" * 14
    assert "   BLOCKED: blocking charter findings: personal_data.phone" in output


def test_on_a_terminal_spans_are_in_reverse_video() -> None:
    status, output = run(DATA / "check-blocking.json", channel="x", out=Tty())
    assert status == 2
    assert "\x1b[7m06 12 34 56 78\x1b[27m" in output
    assert "^^^" not in output


def test_any_intake_format_and_language_filter() -> None:
    status, output = run(
        SAMPLES / "cap" / "eccc-naads-wind-warning-update-fr-en.xml", channel="sms", lang="en"
    )
    assert "-- sms (en-CA): " in output and "-- sms (fr-CA)" not in output
    # The text fits 3 segments now; the sample's expiry (2019) is what still blocks.
    assert "-- sms (en-CA): 156/201 utf16, 3 segments\n" in output and "BLOCKED" not in output
    assert "block times.expired" in output
    assert status == 2
    status, output = run(SAMPLES / "gtfs-rt" / "bibus-brest-alerts.pb", channel="mastodon")
    assert output.count("-- mastodon (fr): ") == 12


def test_a_text_too_long_even_at_its_shortest_is_blocked_with_the_reason() -> None:
    status, output = run(DATA / "check-too-long.json", channel="x")
    assert status == 2, output
    assert "-- x (fr): 506/280 weighted, dropped to fit: hashtags, details\n" in output
    assert (
        "   BLOCKED: the mandatory parts alone take 506 weighted on x (459 with their shortest forms), "
        "over the limit of 280: shorten them by hand"
    ) in output


def test_refused_input_exits_2_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"identifier": "x", ')
    status, output = run(bad)
    assert status == 2 and "refused:" in output and "json_syntax" in output
    status, output = run(tmp_path / "missing.json")
    assert status == 2 and "cannot read" in output


@pytest.mark.parametrize(("channel", "lang"), [("myspace", None), (None, "français!"), (None, "f")])
def test_usage_errors_exit_64(channel: str | None, lang: str | None) -> None:
    assert run(DATA / "check-clean.json", channel=channel, lang=lang)[0] == 64
    assert check_command([], None, None) == 64


def test_sms_segments_are_shown_before_and_after_its_typography_is_made_gsm_7(tmp_path: Path) -> None:
    document = json.loads((DATA / "check-clean.json").read_text())
    document["info"][0]["instruction"] = "Suivez la déviation « D 939 » jusqu’à la sortie : prudence."
    path = tmp_path / "typography.json"
    path.write_text(json.dumps(document, ensure_ascii=False))
    _, output = run(path, channel="sms")
    line = next(line for line in output.splitlines() if line.startswith("-- sms (fr)"))
    assert "septets" in line and "before its typography was made GSM-7" in line, line
    after, before = (int(n) for n in re.findall(r"(\d+) (?:segments?|before)", line))
    assert before > after, line
