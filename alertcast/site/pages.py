"""Rendering the HTML pages from templates communicators may edit.

The environment is sandboxed (an edited template cannot reach Python internals) and
autoescapes everything (incident texts are hostile: a `<script>` or a `{{ 7*7 }}` in a
headline is shown as typed, since data is never rendered as a template). `finalize` strips
characters UTF-8 and browsers choke on, whatever a template prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from alertcast.site.safe_text import xml_safe

DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "site"


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup):
        return Markup(xml_safe(str(value)))
    return xml_safe(value) if isinstance(value, str) else value


def page_environment(templates_dir: Path | None = None) -> SandboxedEnvironment:
    folder = templates_dir or DEFAULT_TEMPLATES
    return SandboxedEnvironment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2", "xml", "xml.j2"), default=True),
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_page(env: SandboxedEnvironment, name: str, context: Mapping[str, Any]) -> bytes:
    return env.get_template(name).render(**context).encode("utf-8")
