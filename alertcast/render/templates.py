"""The template folder: which template a channel, category and language use, and rendering it.

A template that fails to compile or trips the sandbox is refused with its file and line, and
its last good version keeps serving (environment.GuardedLoader), so the worker never stops
over a bad edit.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

from jinja2 import Template, TemplateError, TemplateNotFound, TemplateSyntaxError

from alertcast.errors import ConfigurationError
from alertcast.i18n import N_
from alertcast.models.problem import Problem
from alertcast.render.environment import GuardedLoader, make_environment

log = logging.getLogger(__name__)

#: A refused template falls back at most this many times in one render (one per file level).
_MAX_REFUSALS = 5


def _not_found(name: str, error: TemplateNotFound) -> Problem:
    """`name`, or a file it extends or includes, is not in the folder."""
    return Problem.said(
        f"templates/{name}",
        "template_missing",
        N_("template %(template)s not found"),
        N_("check the name in {%% extends %%}"),
        value=error.name,
        template=repr(error.name),
    )


class TemplateProblem(ConfigurationError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class Templates:
    """The template folder, read through the guarded loader (last good version of each file)."""

    def __init__(self, folder: Path, *, site_base_url: str | None = None) -> None:
        self.folder = folder
        self.env = make_environment(folder, site_base_url=site_base_url)
        assert isinstance(self.env.loader, GuardedLoader)
        self.loader = self.env.loader

    def candidates(self, channel: str, category: str, language: str) -> list[str]:
        languages = [language] if language == "fr" else [language, "fr"]
        return [f"{channel}/{name}.{lang}.j2" for lang in languages for name in (category, "default")]

    def select(self, channel: str, category: str, language: str) -> tuple[Template, str]:
        for name in self.candidates(channel, category, language):
            if self.loader.freshness.exists(name):
                return self.get(name), name
        raise TemplateProblem(
            Problem.said(
                f"templates/{channel}",
                "template_missing",
                N_("no template for channel %(channel)s, category %(category)s, language %(language)s"),
                N_("add templates/%(folder)s/default.fr.j2"),
                value=language,
                channel=repr(channel),
                category=repr(category),
                language=repr(language),
                folder=channel,
            )
        )

    def get(self, name: str) -> Template:
        try:
            return self.env.get_template(name)
        except TemplateNotFound as error:
            raise TemplateProblem(_not_found(name, error)) from error
        except TemplateSyntaxError as error:
            raise TemplateProblem(self._refusal(error.name or name)) from None

    def render(
        self,
        channel: str,
        category: str,
        language: str,
        context: dict[str, Any],
        shared: dict[str, str] | None = None,
    ) -> str:
        """Render the chosen template; a run-time refusal falls back to the previous version.

        `shared`: the texts already rendered with this same `context`, by template source.
        Channels whose templates are the same file (website, webhook, e-mail... all extend the
        long layout; mastodon, bluesky and x the short one) render it once: a template sees
        only its context, and the candidates are never `.html.j2`, so no name-dependent
        autoescape either (only a template printing `{{ self }}` would show its own name).
        Rendering once per channel was 1.2 s of 2.5 s of rendering, fitting and splitting for
        350 incidents on five channels, three distinct templates among them.
        """
        for _ in range(_MAX_REFUSALS):
            template, name = self.select(channel, category, language)
            source = self.loader.served(name)
            if shared is not None and source in shared:
                return shared[source]
            try:
                text = template.render(context)
            except TemplateNotFound as error:
                raise TemplateProblem(_not_found(name, error)) from error
            except TemplateSyntaxError as error:  # a layout refused with no good version
                raise TemplateProblem(self._refusal(error.name or name)) from None
            except TemplateError as error:  # includes the sandbox's SecurityError
                culprit, line = self._locate(error, name)
                reason = f"{type(error).__name__}: {error}"
                log.error("template %s line %d refused at render: %s", culprit, line, reason)
                self.loader.refuse(self.env, culprit, line, reason)
                continue
            if shared is not None and source is not None:
                shared[source] = text
            return text
        raise TemplateProblem(self._refusal(name))

    def problems(self) -> list[Problem]:
        """Every template currently refused (its previous version serving, if it had one)."""
        return list(self.loader.problems.values())

    def _refusal(self, name: str) -> Problem:
        return self.loader.problems.get(name) or Problem.said(
            f"templates/{name}", "template_syntax", N_("the template cannot be read")
        )

    def _locate(self, error: Exception, default: str) -> tuple[str, int]:
        """The template file and line where rendering failed (Jinja rewrites its tracebacks)."""
        root = self.folder.resolve()
        for frame in reversed(traceback.extract_tb(error.__traceback__)):
            path = Path(frame.filename).resolve()
            if path.is_relative_to(root):
                return path.relative_to(root).as_posix(), frame.lineno or 0
        return default, 0
