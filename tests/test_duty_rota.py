"""The duty rota (issue 21, "On duty"): who is on duty when, per service, with a backup. Shifts
across midnight, the two DST weekends of Europe/Paris, overrides, the service of a draft, and a
refused rota saying where, what and how to fix it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alertcast.duty.rota import DEFAULT_SERVICE, Rota, board, service_for, who_is_on_duty
from alertcast.duty.rota_file import RotaFile, parse_rota
from alertcast.models.problem import Problem
from alertcast.settings import ROOT

ROTA = """
timezone: Europe/Paris
supervisor: claire
people:
  alice: {email: alice@example.fr}
  bruno: {sms: "06 12 34 56 78"}
  claire: {email: claire@example.fr, webhook: "https://oncall.example.fr/hook/s3cr3tT0ken"}
  david: {matrix: "!dm:matrix.example.fr", language: en}
services:
  routes:
    categories: [road_closure, traffic]
    shifts:
      - {days: mon-fri, from: "08:00", to: "18:00", primary: alice, backup: bruno}
      - {days: mon-fri, from: 18:00, to: "08:00", primary: bruno, backup: alice}
      - {days: [sat, sun], from: "08:00", to: "08:00", primary: david, backup: bruno}
    overrides:
      - {from: 2026-12-24T18:00, to: 2026-12-26, primary: david, backup: claire, note: Noël}
  transports:
    sources: [gtfs-*]
    supervisor: david
    shifts:
      - {days: "*", from: "06:00", to: "22:00", primary: bruno}
  "*":
    shifts:
      - {from: "00:00", to: "24:00", primary: alice, backup: bruno}
"""


def rota(text: str = ROTA, users: set[str] | None = None) -> Rota:
    parsed = parse_rota(text, users=users)
    assert isinstance(parsed, Rota), parsed
    return parsed


def problems(text: str, users: set[str] | None = None) -> list[Problem]:
    parsed = parse_rota(text, users=users)
    assert isinstance(parsed, list), "the rota was accepted"
    return parsed


def paris(text: str) -> datetime:
    """A wall-clock time in Paris, as an aware datetime (the offset of that date)."""
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Paris"))


def on(r: Rota, service: str, at: datetime) -> tuple[str | None, str | None]:
    found = who_is_on_duty(r, service, at)
    return found.primary, found.backup


def test_a_weekday_shift_and_the_night_shift_that_crosses_midnight() -> None:
    r = rota()
    monday = paris("2026-12-07T10:00")  # a Monday
    assert on(r, "routes", monday) == ("alice", "bruno")
    assert who_is_on_duty(r, "routes", monday).until == paris("2026-12-07T18:00")
    assert on(r, "routes", paris("2026-12-07T17:59:59")) == ("alice", "bruno")
    assert on(r, "routes", paris("2026-12-07T18:00")) == ("bruno", "alice")  # an end is exclusive
    assert on(r, "routes", paris("2026-12-08T03:00")) == ("bruno", "alice")  # Monday's night, on Tuesday
    assert who_is_on_duty(r, "routes", paris("2026-12-08T03:00")).until == paris("2026-12-08T08:00")
    # Friday's night shift runs into Saturday morning; then the 24-hour weekend shift
    assert on(r, "routes", paris("2026-12-12T07:30")) == ("bruno", "alice")
    assert on(r, "routes", paris("2026-12-12T08:00")) == ("david", "bruno")
    assert on(r, "routes", paris("2026-12-14T07:59")) == ("david", "bruno")  # Sunday's, on Monday
    # an unquoted 18:00 is YAML's base-60 number 1080: read as 18:00 all the same
    assert r.services["routes"].shifts[1].start.hour == 18


def test_the_spring_forward_weekend_in_paris() -> None:
    """29 March 2026: 02:00 becomes 03:00. Saturday 08:00 to Sunday 08:00 lasts 23 hours."""
    r = rota()
    start, end = paris("2026-03-28T08:00"), paris("2026-03-29T08:00")
    assert (end.astimezone(UTC) - start.astimezone(UTC)) == timedelta(hours=23)
    assert on(r, "routes", start) == ("david", "bruno")
    assert on(r, "routes", datetime(2026, 3, 29, 5, 59, tzinfo=UTC)) == ("david", "bruno")  # 07:59 CEST
    assert on(r, "routes", datetime(2026, 3, 29, 6, 0, tzinfo=UTC)) == ("david", "bruno")  # Sunday's own
    assert who_is_on_duty(r, "routes", datetime(2026, 3, 29, 6, 0, tzinfo=UTC)).until == paris(
        "2026-03-30T08:00"
    )
    # a shift starting in the hour that does not exist starts 2 h 30 after midnight: 03:30 CEST
    skipped = rota(
        ROTA.replace(
            'from: "00:00", to: "24:00", primary: alice', 'from: "02:30", to: "08:00", primary: alice'
        )
    )
    assert on(skipped, DEFAULT_SERVICE, datetime(2026, 3, 29, 1, 29, tzinfo=UTC)) == (
        None,
        None,
    )  # 03:29 CEST
    assert on(skipped, DEFAULT_SERVICE, datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) == ("alice", "bruno")
    assert on(skipped, DEFAULT_SERVICE, datetime(2026, 3, 29, 5, 59, tzinfo=UTC)) == (
        "alice",
        "bruno",
    )  # 07:59
    assert on(skipped, DEFAULT_SERVICE, datetime(2026, 3, 29, 6, 0, tzinfo=UTC)) == (None, None)


def test_the_fall_back_weekend_in_paris() -> None:
    """25 October 2026: 03:00 becomes 02:00 again. The Friday night shift is as usual; the
    weekend shift from Saturday 08:00 lasts 25 hours, and its end is at 08:00 winter time."""
    r = rota()
    assert on(r, "routes", datetime(2026, 10, 25, 6, 59, tzinfo=UTC)) == ("david", "bruno")  # 07:59 CET
    weekend = who_is_on_duty(r, "routes", datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    assert weekend.until is not None
    assert weekend.until.astimezone(UTC) == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)
    assert weekend.until.astimezone(UTC) - paris("2026-10-24T08:00").astimezone(UTC) == timedelta(hours=25)
    # both 02:30s of that night are covered by the weekend shift, whichever the offset
    for hour in (0, 1):  # 02:30 CEST, then 02:30 CET
        assert on(r, "routes", datetime(2026, 10, 25, hour, 30, tzinfo=UTC)) == ("david", "bruno")


def test_an_override_wins_over_the_shifts_until_its_end() -> None:
    r = rota()
    assert on(r, "routes", paris("2026-12-24T17:59")) == ("alice", "bruno")  # a Thursday
    christmas = who_is_on_duty(r, "routes", paris("2026-12-24T18:00"))
    assert (christmas.primary, christmas.backup, christmas.note) == ("david", "claire", "Noël")
    assert christmas.until == paris("2026-12-26T00:00")  # a date alone is its midnight
    assert on(r, "routes", paris("2026-12-26T00:00")) == ("bruno", "alice")  # Friday's night shift again
    assert on(r, "routes", paris("2026-12-26T08:00")) == ("david", "bruno")  # then the weekend's
    assert on(r, "transports", paris("2026-12-25T10:00")) == ("bruno", None)  # another service's rota


def test_a_draft_s_service_and_the_default_service() -> None:
    r = rota()
    assert service_for(r, "road_closure", "dir-nord") == "routes"
    assert service_for(r, "strike", "gtfs-ilevia") == "transports"
    assert service_for(r, "weather", "meteo") == DEFAULT_SERVICE
    # transports has nobody at night: the default service's people are on duty, with its supervisor
    night = who_is_on_duty(r, "transports", paris("2026-12-07T23:00"))
    assert (night.service, night.primary, night.supervisor) == (DEFAULT_SERVICE, "alice", "claire")
    assert who_is_on_duty(r, "transports", paris("2026-12-07T10:00")).supervisor == "david"
    everyone = board(r, paris("2026-12-07T10:00"))
    assert [(o.service, o.primary) for o in everyone] == [
        ("routes", "alice"),
        ("transports", "bruno"),
        ("*", "alice"),
    ]


def test_a_rota_without_a_shift_covering_now_leaves_the_supervisor() -> None:
    text = """
supervisor: claire
people: {alice: {email: a@example.fr}, claire: {email: c@example.fr}}
services:
  "*": {shifts: [{days: mon, from: "09:00", to: "10:00", primary: alice}]}
"""
    r = rota(text)
    nobody = who_is_on_duty(r, "routes", paris("2026-12-08T09:30"))
    assert (nobody.primary, nobody.backup, nobody.supervisor, nobody.until) == (None, None, "claire", None)


def test_people_and_their_channels() -> None:
    r = rota()
    assert r.people["bruno"].sms == "+33612345678"  # normalised to E.164
    assert r.people["claire"].channels() == ["email", "webhook"]
    assert r.people["david"].language == "en"


def test_a_name_that_is_no_console_user_is_refused_with_a_hint() -> None:
    (problem,) = problems(ROTA, users={"alice", "bruno", "claire"})
    assert (problem.path, problem.value, problem.rule) == ("people.david", "david", "rota_unknown_user")
    assert "console" in problem.message and "alice, bruno, claire" in problem.hint
    assert isinstance(parse_rota(ROTA, users={"alice", "bruno", "claire", "david"}), Rota)


def test_a_shift_naming_someone_not_under_people_is_refused_where_it_is() -> None:
    found = problems(ROTA.replace("primary: bruno, backup: alice}", "primary: bruon, backup: alice}"))
    assert [(p.path, p.value, p.rule) for p in found] == [
        ("services.routes.shifts.1.primary", "bruon", "rota_unknown_person")
    ]
    assert "add bruon under people:" in found[0].hint and "alice, bruno, claire, david" in found[0].hint


@pytest.mark.parametrize(
    ("change", "path", "rule"),
    [
        (
            ('days: mon-fri, from: "08:00"', 'days: mon-fry, from: "08:00"'),
            "services.routes.shifts.0.days",
            "rota_weekday",
        ),
        (
            ('from: "08:00", to: "18:00"', 'from: "8h", to: "18:00"'),
            "services.routes.shifts.0.from",
            "time_parsing",
        ),
        (("alice: {email: alice@example.fr}", "alice: {email: alice}"), "people.alice.email", "rota_email"),
        (('bruno: {sms: "06 12 34 56 78"}', 'bruno: {sms: "12"}'), "people.bruno.sms", "rota_phone"),
        (('bruno: {sms: "06 12 34 56 78"}', "bruno: {}"), "people.bruno", "rota_unreachable"),
        (
            ("alice: {email: alice@example.fr}", "alice: {email: a@example.fr, notify: [sms]}"),
            "people.alice",
            "rota_notify_missing",
        ),
        (("timezone: Europe/Paris", "timezone: Europe/Pariss"), "timezone", "rota_timezone"),
        (
            ("to: 2026-12-26, primary: david", "to: 2026-12-20, primary: david"),
            "services.routes.overrides.0",
            "rota_override_order",
        ),
        (
            ("categories: [road_closure, traffic]", "categories: [roads]"),
            "services.routes.categories.0",
            "enum",
        ),
        (("supervisor: claire", "supervisor: claire\nescalate: PT5M"), "escalate", "extra_forbidden"),
    ],
)
def test_validation_errors_say_the_field_the_value_and_how_to_fix_it(
    change: tuple[str, str], path: str, rule: str
) -> None:
    before, after = change
    assert before in ROTA
    found = problems(ROTA.replace(before, after, 1))
    assert [(p.path, p.rule) for p in found] == [(path, rule)], found
    assert found[0].hint, found[0]


def test_a_webhook_url_is_never_quoted_in_a_refusal() -> None:
    found = problems(
        ROTA.replace("https://oncall.example.fr/hook/s3cr3tT0ken", "ftp://example.fr/s3cr3tT0ken")
    )
    assert [(p.path, p.rule) for p in found] == [("people.claire.webhook", "rota_webhook")]
    assert "s3cr3tT0ken" not in repr(found)


def test_a_service_that_would_take_every_draft_and_broken_yaml_are_refused() -> None:
    (catch_all,) = problems(ROTA.replace("    sources: [gtfs-*]\n", ""))
    assert (catch_all.path, catch_all.rule) == ("services.transports", "rota_service_catches_all")
    (syntax,) = problems("people: [")
    assert syntax.rule == "yaml_syntax"
    (shape,) = problems("- alice")
    assert shape.rule == "rota_not_a_mapping"


def test_the_rota_file_keeps_the_last_good_rota_when_an_edit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rota.yaml"
    assert RotaFile(None).current() is None
    path.write_text(ROTA)
    file = RotaFile(path, "Europe/Paris")
    first = file.current()
    assert first is not None and file.problems == []
    path.write_text(ROTA.replace("supervisor: claire", "supervisor: clara", 1) + "\n")
    assert file.current() is first  # refused: the last good one stands
    assert [p.rule for p in file.problems] == ["rota_unknown_person"]
    path.write_text(ROTA.replace("primary: alice, backup: bruno}", "primary: claire, backup: bruno}", 1))
    fixed = file.current()
    assert fixed is not None and fixed is not first and file.problems == []
    assert on(fixed, "routes", paris("2026-12-07T10:00")) == ("claire", "bruno")


def test_the_shipped_example_is_a_valid_rota() -> None:
    example = ROOT / "deploy" / "rota.example.yaml"
    assert isinstance(parse_rota(example.read_text(), str(example)), Rota)
