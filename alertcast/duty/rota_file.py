"""Reading the rota file: every problem in the one error shape, and the last good rota kept.

The structure is pydantic's to check (`alertcast.duty.rota`); what it cannot see is here: each
name on duty is under `people:`, each person is a console user (who acknowledges calls there), a
service that is not `*` says which drafts it takes. `RotaFile` re-reads the file when it changes
and keeps the last good rota when an edit is refused: a typo at 23:00 must not leave the night
without anyone on duty.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Collection
from pathlib import Path

import yaml
from pydantic import ValidationError

from alertcast.duty.rota import DEFAULT_SERVICE, NAME, Override, Rota, Shift
from alertcast.i18n import N_
from alertcast.models.problem import Problem, problems_from_validation

log = logging.getLogger(__name__)

_MATRIX_HINT = N_("a room id, !… (room settings, Advanced) shared with the bot, not #alias nor @user")
_TIME_HINTS = {
    "shifts": N_('a shift\'s times are "HH:MM" in the rota\'s zone, e.g. from: "08:00", to: "18:00"'),
    "overrides": N_("an override's times are dates or date-times in the rota's zone, e.g. 2026-12-24T18:00"),
}


def check_rota(rota: Rota, users: Collection[str] | None = None) -> list[Problem]:
    """What a valid structure can still get wrong: names. Each name on duty is under `people:`,
    and (when the console's users are known) each person is a console user, who acknowledges
    a call there."""
    problems: list[Problem] = []
    people = sorted(rota.people)

    def named(path: str, name: str | None) -> None:
        if name is not None and name not in rota.people:
            problems.append(
                Problem.said(
                    path,
                    "rota_unknown_person",
                    N_("%(quoted)s is not under people:"),
                    N_(
                        "add %(name)s under people: with how to call them, or fix the spelling "
                        "(people: %(people)s)"
                    ),
                    value=name,
                    quoted=repr(name),
                    name=name,
                    people=", ".join(people),
                )
            )

    named("supervisor", rota.supervisor)
    for service_name, service in rota.services.items():
        where = f"services.{service_name}"
        if service_name != DEFAULT_SERVICE and not (service.categories or service.sources):
            problems.append(
                Problem.said(
                    where,
                    "rota_service_catches_all",
                    N_("a service with neither categories nor sources takes every draft"),
                    N_("give it categories or sources, or name it %(default)s (the default)"),
                    value=service_name,
                    default=repr(DEFAULT_SERVICE),
                )
            )
        named(f"{where}.supervisor", service.supervisor)
        slots: list[tuple[str, Shift | Override]] = [
            *((f"shifts.{index}", shift) for index, shift in enumerate(service.shifts)),
            *((f"overrides.{index}", override) for index, override in enumerate(service.overrides)),
        ]
        for slot_path, slot in slots:
            named(f"{where}.{slot_path}.primary", slot.primary)
            named(f"{where}.{slot_path}.backup", slot.backup)
    for name in rota.people:
        if not re.match(NAME, name):
            problems.append(
                Problem.said(
                    f"people.{name}",
                    "rota_person_name",
                    N_("not a console user name"),
                    N_("people are named by their console login: lower-case letters, digits, - and _"),
                    value=name,
                )
            )
        elif users is not None and name not in users:
            problems.append(
                Problem.said(
                    f"people.{name}",
                    "rota_unknown_user",
                    N_("%(quoted)s is not a console user"),
                    N_(
                        "a person on duty acknowledges calls in the console: use their login "
                        "(%(users)s), or add the user"
                    )
                    if users
                    else N_(
                        "a person on duty acknowledges calls in the console: no users are configured, "
                        "add the user"
                    ),
                    value=name,
                    quoted=repr(name),
                    users=", ".join(sorted(users)),
                )
            )
    return problems


def parse_rota(
    text: str, where: str = "rota", timezone: str = "Europe/Paris", users: Collection[str] | None = None
) -> Rota | list[Problem]:
    """The rota in `text` (YAML), or every problem with it. `timezone`: the zone when the rota
    names none; `users`: the console's user names, checked when given."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return [Problem.said(where, "yaml_syntax", "%(error)s", N_("fix the YAML"), error=str(error))]
    if not isinstance(document, dict):
        return [
            Problem.said(
                where,
                "rota_not_a_mapping",
                N_("a rota is a mapping (supervisor, people, services)"),
                N_("see deploy/rota.example.yaml"),
                value=type(document).__name__,
            )
        ]
    document.setdefault("timezone", timezone)
    try:
        rota = Rota.model_validate(document)
    except ValidationError as error:
        return _problems(error)
    return check_rota(rota, users) or rota


def _problems(error: ValidationError) -> list[Problem]:
    """pydantic's errors in the one shape, with this module's hints (a webhook URL never shown)."""
    problems = problems_from_validation(error)
    for problem in problems:
        if ".webhook" in f".{problem.path}":
            problem.value = None
        if problem.path.endswith(".matrix"):
            problem.hint = problem.hint_id = _MATRIX_HINT
        if problem.path.endswith((".from", ".to")):
            problem.hint = problem.hint_id = _TIME_HINTS[
                "overrides" if ".overrides." in problem.path else "shifts"
            ]
    return problems


class RotaFile:
    """The rota file, re-read when it changes; a refused edit keeps the last good rota (said in
    the log and by `problems`). No file: None, nobody is called."""

    def __init__(
        self, path: Path | None, timezone: str = "Europe/Paris", users: Collection[str] | None = None
    ) -> None:
        self.path = path
        self.timezone = timezone
        self.users = users
        self.problems: list[Problem] = []
        self._stamp: tuple[int, int] | None = None
        self._rota: Rota | None = None

    def current(self) -> Rota | None:
        if self.path is None:
            return None
        try:
            stat = os.stat(self.path)
        except OSError as error:
            self._fail([Problem.said(str(self.path), "rota_unreadable", "%(error)s", error=str(error))])
            return self._rota
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            text = self.path.read_text(encoding="utf-8")
            parsed = parse_rota(text, str(self.path), self.timezone, self.users)
            if isinstance(parsed, Rota):
                self._rota, self.problems = parsed, []
                log.info("duty rota loaded from %s (%d services)", self.path, len(parsed.services))
            else:
                self._fail(parsed)
        return self._rota

    def _fail(self, problems: list[Problem]) -> None:
        if problems != self.problems:
            kept = "keeping the previous one" if self._rota is not None else "nobody is called"
            for problem in problems:
                log.error("duty rota %s refused, %s: %s", self.path, kept, problem.line())
        self.problems = problems
