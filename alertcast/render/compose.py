"""One text per channel and language, from `templates/<channel>/<category>.<lang>.j2`.

Fallbacks: the category's template, else the channel's `default`; the text's language, else
French. A template that stops compiling (a communicator's bad edit) is reported with its file
and line, and the last good version keeps serving, so the worker never stops over a typo.
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path

from jinja2 import Template, TemplateError, TemplateSyntaxError

from alertcast.models.alert import ChannelText
from alertcast.models.incident import Incident, Info, Status
from alertcast.models.problem import Problem
from alertcast.render.environment import make_environment
from alertcast.render.length import count

log = logging.getLogger(__name__)

TEMPLATE_LANGUAGES = ("fr", "en")
EXERCISE_LABELS = {"fr": "EXERCICE", "en": "EXERCISE"}


class TemplateProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class Templates:
    """The template folder, compiled lazily, keeping the last good version of each file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = make_environment(folder)
        self._last_good: dict[str, Template] = {}

    def candidates(self, channel: str, category: str, language: str) -> list[str]:
        languages = [language] if language == "fr" else [language, "fr"]
        return [f"{channel}/{name}.{lang}.j2" for lang in languages for name in (category, "default")]

    def select(self, channel: str, category: str, language: str) -> tuple[Template, str]:
        for name in self.candidates(channel, category, language):
            if (self.folder / name).exists():
                return self.get(name), name
        raise TemplateProblem(
            Problem(
                path=f"templates/{channel}",
                value=language,
                rule="template_missing",
                message=f"no template for channel {channel!r}, category {category!r}, language {language!r}",
                hint=f"add templates/{channel}/default.fr.j2",
            )
        )

    def get(self, name: str) -> Template:
        try:
            template = self.env.get_template(name)
        except TemplateSyntaxError as error:
            problem = Problem(
                path=f"templates/{error.name or name}",
                value=error.lineno,
                rule="template_syntax",
                message=f"line {error.lineno}: {error.message}",
                hint="fix the template; the previous version keeps serving meanwhile",
            )
            if name in self._last_good:
                log.error("template %s refused, keeping the previous version: %s", name, problem.line())
                return self._last_good[name]
            raise TemplateProblem(problem) from error
        self._last_good[name] = template
        return template


def where(info: Info) -> str:
    return ", ".join(area.area_desc for area in info.areas)


def languages_to_render(incident: Incident) -> list[Info]:
    """French and English blocks; if neither exists, the first block (with French labels)."""
    chosen = [info for lang in TEMPLATE_LANGUAGES if (info := incident.info_for(lang)) is not None]
    return chosen or incident.info[:1]


def compose(
    incident: Incident, channels: list[str], templates: Templates, *, link: str = ""
) -> tuple[list[ChannelText], list[Problem]]:
    """Render every (channel, language); problems name the template that could not render."""
    texts: list[ChannelText] = []
    problems: list[Problem] = []
    for info in languages_to_render(incident):
        language = info.language[:2].lower()
        render_language = language if language in TEMPLATE_LANGUAGES else "fr"
        exercise = incident.status in (Status.EXERCISE, Status.TEST)
        context = {
            "incident": incident,
            "info": info,
            "where": where(info),
            "link": link,
            "label": EXERCISE_LABELS[render_language] if exercise else "",
        }
        for channel in channels:
            try:
                template, _ = templates.select(channel, info.category.value, render_language)
                text = template.render(context).strip()
            except TemplateProblem as error:
                problems.append(error.problem)
                continue
            except TemplateError as error:  # includes the sandbox's SecurityError
                problems.append(
                    Problem(
                        path=f"templates/{channel}",
                        value=type(error).__name__,
                        rule="template_render",
                        message=str(error),
                        hint="templates may only use the documented variables and filters",
                    )
                )
                continue
            text = unicodedata.normalize("NFC", text)
            measured = count(channel, text)
            texts.append(
                ChannelText(
                    channel=channel,
                    language=info.language,
                    text=text,
                    length=measured.length,
                    limit=measured.limit,
                )
            )
            if not measured.fits:
                problems.append(
                    Problem(
                        path=f"{channel}.{language}",
                        value=measured.length,
                        rule="too_long",
                        message=f"{measured.length} {measured.unit} for a limit of {measured.limit}",
                        hint="shorten the description or instruction, or the channel's template",
                    )
                )
    return texts, problems
