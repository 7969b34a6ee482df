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
from jinja2.runtime import Context, Macro
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from alertcast.site.safe_text import xml_safe
from alertcast.site.views import AlertView

DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "site"
ASSETS = ("site.css", "refresh.js")
CARD_MACROS = frozenset({"card"})
"""Macros drawn once per alert view: `card(a, level)` of `_cards.html.j2`."""
_JINJA_CALL_KWARGS = frozenset({"_loop_vars", "_block_vars"})  # jinja's own, for pass_context callables


class _Finalized(Markup):
    """Markup `_finalize` has cleaned already: a kept card is cleaned once, not at each page."""


def _finalize(value: Any) -> Any:
    if isinstance(value, _Finalized):
        return value
    if isinstance(value, Markup):
        return Markup(xml_safe(str(value)))
    return xml_safe(value) if isinstance(value, str) else value


class PageEnvironment(SandboxedEnvironment):
    """The sandbox, keeping each alert's card once drawn.

    Every list (the index, area and archive pages) repeats the same card per alert; in a storm
    the index holds a thousand, and drawing them all again through the sandbox took most of a
    publish. A card is a function of its alert view, its arguments and the page's `root` and
    `page`, so it is kept under those until the view object changes: the site builder makes a
    new view whenever the alert is published again, ends, or the year turns. A template that
    made a card depend on anything else (the page's `generated` time) would see it stale.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._cards: dict[tuple[Any, ...], tuple[AlertView, Any]] = {}

    def forget_cards(self) -> None:
        self._cards.clear()

    def call(
        __self, __context: Context, __obj: Any, *args: Any, **kwargs: Any
    ) -> Any:  # jinja's own signature
        if not (
            isinstance(__obj, Macro) and __obj.name in CARD_MACROS and args and isinstance(args[0], AlertView)
        ):
            return super().call(__context, __obj, *args, **kwargs)
        view = args[0]
        key = (
            __obj.name,
            view.alert_id,
            args[1:],
            ()
            if kwargs.keys() <= _JINJA_CALL_KWARGS
            else tuple(sorted((k, v) for k, v in kwargs.items() if k not in _JINJA_CALL_KWARGS)),
            __context.get("root"),
            __context.get("page"),
        )
        try:
            kept = __self._cards.get(key)
        except TypeError:  # an unhashable argument: draw it every time
            return super().call(__context, __obj, *args, **kwargs)
        if kept is not None and kept[0] is view:
            return kept[1]
        drawn = super().call(__context, __obj, *args, **kwargs)
        if isinstance(drawn, Markup):
            drawn = _Finalized(_finalize(drawn))
        __self._cards[key] = (view, drawn)
        return drawn


def page_environment(templates_dir: Path | None = None) -> PageEnvironment:
    folder = templates_dir or DEFAULT_TEMPLATES
    return PageEnvironment(
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


def assets(templates_dir: Path | None = None) -> dict[str, bytes]:
    """The stylesheet and script, from the templates folder when it has its own."""
    files = {}
    for name in ASSETS:
        source = (templates_dir or DEFAULT_TEMPLATES) / "assets" / name
        if not source.is_file():
            source = DEFAULT_TEMPLATES / "assets" / name
        files[f"assets/{name}"] = source.read_bytes()
    return files
