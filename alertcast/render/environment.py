"""The sandboxed Jinja2 environment: communicators edit templates, incidents carry hostile text.

Sandboxed so a template cannot reach Python internals; autoescaped for HTML templates
(`*.html.j2`) so an incident's `<script>` shows as text; StrictUndefined so a typo in a
template fails loudly at render time instead of publishing an empty hole.

Two lines of defence against a bad template, both in `GuardedLoader`, which every template
(including a layout reached through `{% extends %}`) is read through:
- when a file is read, it must parse and must not name a private attribute
  (`''.__class__`, `cycler.__init__.__globals__`, `|attr("__class__")`): refused with its line;
- when rendering trips the sandbox anyway (a name built at run time), the renderer calls
  `refuse()` with the line from the traceback, and that source is never served again.
A refused file is replaced by its last good source, so the worker keeps running over a bad
edit; a file that never had a good version cannot render, and says why.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import (
    BaseLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateSyntaxError,
    nodes,
    select_autoescape,
)
from jinja2.environment import Environment
from jinja2.sandbox import (
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    SandboxedEnvironment,
)

from alertcast.clock import clock
from alertcast.i18n import N_
from alertcast.models.alert import alert_id_for
from alertcast.models.incident import Category, Incident
from alertcast.models.problem import Problem
from alertcast.render.parts import PartExtension
from alertcast.settings import get_settings

log = logging.getLogger(__name__)

_UNSAFE_NAMES = (
    UNSAFE_GENERATOR_ATTRIBUTES
    | UNSAFE_COROUTINE_ATTRIBUTES
    | UNSAFE_ASYNC_GENERATOR_ATTRIBUTES
    | {"mro", "func_globals", "func_code", "f_globals", "f_locals", "f_builtins", "tb_frame"}
)
_FR_HOUR = ("H 'h' mm", "H 'h'")
_EN_HOUR = ("h:mm a", "h a")


def _timezone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def _fr_date(local: datetime, short: bool) -> str:
    """ "mardi 1er décembre": French writes the first of the month as an ordinal."""
    day = "1er" if local.day == 1 else str(local.day)
    month = format_datetime(local, "MMMM", locale="fr_FR")
    return f"{day} {month}" if short else f"{format_datetime(local, 'EEEE', locale='fr_FR')} {day} {month}"


def when(
    value: datetime | None, language: str = "fr", since: datetime | None = None, short: bool = False
) -> str:
    """A date and hour as people write them: "mardi 3 décembre à 7 h 30", "à 8 h" on the hour.

    `since` (the start of the same event) drops the date when both fall on the same local
    day ("jusqu'à 14 h"); `short` leaves out the weekday ("3 décembre à 7 h 30", for SMS: no
    abbreviations, which read as typos and trip the spelling rule). The year is
    said only when it is not the current one (a 2016 onset must not read as this year's).
    """
    if value is None:
        return ""
    tz = _timezone()
    local = value.astimezone(tz)
    english = language[:2].lower() == "en"
    same_day = since is not None and since.astimezone(tz).date() == local.date()
    other_year = local.year != clock.now().astimezone(tz).year
    minute = datetime(local.year, local.month, local.day, local.hour, local.minute)
    return _written(minute, english, short, same_day, other_year)


@lru_cache(maxsize=4096)
def _written(local: datetime, english: bool, short: bool, hour_only: bool, with_year: bool) -> str:
    """`when` once the local wall time is known, to the minute (tz-naive: the patterns read its
    fields, never its offset). Every channel of an incident, and every incident of a storm,
    writes the same few times: babel took 0.33 s of 1.2 s of rendering for 350 incidents on
    five channels (8,750 format_datetime calls), so each phrase is written once."""
    with_minutes, on_the_hour = _EN_HOUR if english else _FR_HOUR
    locale = "en_GB" if english else "fr_FR"
    hour = format_datetime(local, on_the_hour if local.minute == 0 else with_minutes, locale=locale)
    if hour_only:
        return hour
    if english:
        date = format_datetime(local, "d MMMM" if short else "EEEE d MMMM", locale=locale)
    else:
        date = _fr_date(local, short)
    if with_year:
        date += f" {local.year}"
    return f"{date} at {hour}" if english else f"{date} à {hour}"


def hashtag(value: str) -> str:
    """ "Tempête Ciarán" -> "#TempêteCiarán": letters and digits only, words joined in CamelCase."""
    words = re.findall(r"\w+", value)
    return "#" + "".join(word[:1].upper() + word[1:] for word in words) if words else ""


#: A sentence ends at . ! or ? followed by a space and a capital, a digit or an opening quote,
#: unless the word before the full stop is an abbreviation ("St.", "Nat.", "U.S.", "M.").
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'»”)]?\s+(?=[\"'«“(]?\s?[A-ZÀ-ÖØ-Þ0-9])")
_ABBREVIATION = re.compile(
    r"(?:\b[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ]{0,2}|\b[A-Za-z]|(?:\b[A-Za-z]\.)+[A-Za-z]?"
    r"|\b(?:Prov|Blvd|Mlle|Mgr|Sept|Bros|Corp|Dept|Univ|approx|env|etc|cf|av|bd|ch|rte|boul))\.$"
)


def first_sentence(value: str) -> str:
    """The first whole sentence of `value`, spaces and line breaks collapsed. Never a cut inside
    a sentence: when in doubt (an abbreviation), the sentence runs on to the next end."""
    text = " ".join(str(value).split())
    for match in _SENTENCE_END.finditer(text):
        head = text[: match.start()].rstrip("\"'»”)")
        if not _ABBREVIATION.search(head):
            return text[: match.start()]
    return text


#: "et 12 autres" / "and 12 others": short, and true whether the list holds communes, counties,
#: stops or routes (the full list is on the alert page).
OTHERS = {"fr": ("autre", "autres", "et"), "en": ("other", "others", "and")}


def shortlist(items: list[str], language: str = "fr", width: int = 60) -> str:
    """ "Arras, Bapaume et 12 autres": the first areas that fit in about `width` characters
    (always the first one, whole), then how many others. Every area when they all fit."""
    items = [item.strip() for item in items if item.strip()]
    whole = ", ".join(items)
    if len(whole) <= width:
        return whole
    one, many, conjunction = OTHERS.get(language[:2].lower(), OTHERS["fr"])
    kept = items[:1]
    for item in items[1:]:
        rest = len(items) - len(kept) - 1
        if rest == 0 or len(", ".join([*kept, item])) + len(f" {conjunction} {rest} {many}") > width:
            break
        kept.append(item)
    rest = len(items) - len(kept)
    return f"{', '.join(kept)} {conjunction} {rest} {one if rest == 1 else many}"


def make_shortlink(base_url: str | None) -> Callable[[Incident], str]:
    """The `shortlink` filter: the alert's own page on the body's site (no outside shortener,
    which would track readers and break when the service goes). Empty without a base URL."""

    def shortlink(incident: Incident) -> str:
        base = get_settings().site_base_url if base_url is None else base_url
        return f"{base.rstrip('/')}/alerts/{alert_id_for(incident.key)}.html" if base else ""

    return shortlink


def make_for_category(freshness: Freshness) -> Callable[[str, Category | str], str]:
    """The `for_category` filter: "common/short.fr.j2" -> "common/road_closure/short.fr.j2" when
    that layout exists. Lets every channel's default template pick up a category's layout
    without one template file per (channel, category)."""

    def for_category(layout: str, category: Category | str) -> str:
        head, _, tail = layout.rpartition("/")
        specialised = f"{head}/{category}/{tail}" if head else f"{category}/{tail}"
        return specialised if freshness.is_file(specialised) else layout

    return for_category


def unsafe_access(ast: nodes.Template) -> tuple[int, str] | None:
    """The first place a template names a private or internal attribute, with its line."""
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        name: object = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        elif isinstance(node, nodes.Filter) and node.name == "attr" and node.args:
            argument = node.args[0]
            name = argument.value if isinstance(argument, nodes.Const) else None
        if isinstance(name, str) and (name.startswith("_") or name in _UNSAFE_NAMES):
            return node.lineno, f"{name!r} reaches Python internals, which templates may not use"
    return None


#: How long an answer from the disk stands: an edit shows within a second of being saved.
RECHECK = timedelta(seconds=1)


class Freshness:
    """What the template folder holds, asked of the disk at most once per `RECHECK` per question.

    Every render asked the disk whether each candidate file existed (40% of them do not),
    whether the category's layout existed, and (Jinja's auto-reload) whether the template and
    its layout had changed: ~1,000 stat calls a second on a busy worker, 10,500 calls and
    0.3 s (with the paths built for them) in a profile of 400 incidents on five channels. A
    communicator saving a template cannot tell a second's
    delay, so each answer stands for `RECHECK` of `alertcast.clock` (the one clock, which
    tests move; a clock going back asks again). A file read because it changed is up to date
    from that moment.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._answers: dict[tuple[str, str], tuple[datetime, bool]] = {}  # (question, name)
        self._read: dict[str, datetime] = {}  # name -> when it was last found up to date

    def exists(self, name: str) -> bool:
        return self._ask("exists", name, lambda: (self.folder / name).exists())

    def is_file(self, name: str) -> bool:
        return self._ask("is_file", name, lambda: (self.folder / name).is_file())

    def uptodate(self, name: str, check: Callable[[], bool]) -> Callable[[], bool]:
        """Jinja's `check` for a template just read from the disk, asked once per `RECHECK`."""
        self._read[name] = clock.now()

        def throttled() -> bool:
            now = clock.now()
            if _standing(self._read.get(name), now):
                return True
            if not check():
                return False  # Jinja reads the file again, which starts a new period
            self._read[name] = now
            return True

        return throttled

    def _ask(self, question: str, name: str, probe: Callable[[], bool]) -> bool:
        now = clock.now()
        known = self._answers.get((question, name))
        if known is not None and _standing(known[0], now):
            return known[1]
        answer = probe()
        self._answers[question, name] = (now, answer)
        return answer


def _standing(asked: datetime | None, now: datetime) -> bool:
    return asked is not None and asked <= now < asked + RECHECK


class GuardedLoader(FileSystemLoader):
    """Reads templates from the folder, serving a file's last good source while it is refused."""

    def __init__(self, folder: Path, freshness: Freshness) -> None:
        super().__init__(str(folder))
        self.folder = folder
        self.freshness = freshness
        self._good: dict[str, list[str]] = {}  # sources that passed, oldest first
        self._refused: dict[tuple[str, str], Problem] = {}  # (name, source) refused at run time
        self._served: dict[str, str] = {}
        self.problems: dict[str, Problem] = {}  # name -> why its current file is refused

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        uptodate = self.freshness.uptodate(template, uptodate)
        problem = self._refused.get((template, source)) or self._check(environment, template, source)
        if problem is None:
            history = self._good.setdefault(template, [])
            if source in history:
                history.remove(source)
            history.append(source)
            del history[:-5]
            self.problems.pop(template, None)
            self._served[template] = source
            return source, filename, uptodate
        if template not in self.problems:
            log.error("template %s refused: %s", template, problem.line())
        self.problems[template] = problem
        good = self._good.get(template)
        if not good:
            raise TemplateSyntaxError(problem.message, int(problem.value or 1), template, filename)
        self._served[template] = good[-1]
        return good[-1], filename, uptodate

    def served(self, template: str) -> str | None:
        """The source last handed to Jinja for `template`: what its cached Template was compiled
        from (a new source on disk is read, and served, before the Template is replaced)."""
        return self._served.get(template)

    def refuse(self, environment: Environment, template: str, line: int, reason: str) -> None:
        """The source last served for `template` failed at run time: never serve it again."""
        source = self._served.get(template)
        if source is None:
            return
        problem = _problem(template, line, "template_unsafe", reason)
        self._refused[(template, source)] = problem
        history = self._good.get(template, [])
        if source in history:
            history.remove(source)
        if environment.cache is not None:
            environment.cache.clear()

    def _check(self, environment: Environment, template: str, source: str) -> Problem | None:
        try:
            ast = environment.parse(source, template)
        except TemplateSyntaxError as error:
            return _problem(template, error.lineno, "template_syntax", error.message or "syntax error")
        found = unsafe_access(ast)
        return _problem(template, found[0], "template_unsafe", found[1]) if found else None


def _problem(template: str, line: int, rule: str, reason: str) -> Problem:
    return Problem.said(
        f"templates/{template}",
        rule,
        N_("line %(line)s: %(reason)s"),
        N_("fix the template; its previous version keeps serving meanwhile"),
        value=line,
        line=line,
        reason=reason,
    )


def make_environment(folder: Path, *, site_base_url: str | None = None) -> SandboxedEnvironment:
    """`site_base_url` None: read the setting at render time (ALERTCAST_SITE_BASE_URL)."""
    freshness = Freshness(folder)
    loader: BaseLoader = GuardedLoader(folder, freshness)
    env = SandboxedEnvironment(
        loader=loader,
        autoescape=select_autoescape(enabled_extensions=("html.j2", "xml.j2"), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=[PartExtension],
    )
    filters: dict[str, Any] = {
        "when": when,
        "hashtag": hashtag,
        "shortlink": make_shortlink(site_base_url),
        "for_category": make_for_category(freshness),
        "first_sentence": first_sentence,
        "shortlist": shortlist,
    }
    env.filters.update(filters)
    return env
