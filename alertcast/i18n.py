"""The words people read, in their language: gettext catalogs managed with Babel.

Messages are written in English in the sources (`_()`, `{% trans %}`, `N_()` for a label in a
table) and translated through `alertcast/locale/<lang>/LC_MESSAGES/alertcast.po`; French is
the language shown when nobody asked for another. `make catalogs-extract` rebuilds the
template (`alertcast.pot`), `make catalogs-update` merges it into each language and
`make catalogs` compiles the `.mo` files this module reads (they are built, never committed:
a committed one goes stale the day someone edits a `.po`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment

from alertcast.errors import ConfigurationError

log = logging.getLogger(__name__)

DOMAIN = "alertcast"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}
"""Each language named in itself, for the link that switches to it."""


class CatalogMissing(ConfigurationError):
    """A language's compiled catalog is absent: the install did not build it."""


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined (a label table); it is translated
    where it is shown, in the reader's language."""
    return message


PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
"""A named value in a message (`%(name)s`, as gettext's python-format has it), or `%%`."""


def term(message_id: str, stored: str | None = None, /) -> dict[str, str]:
    """A word given as a message's value (`%(status)s`), said through the catalogs too: stored
    as `stored` (the code word, e.g. "held"), else as the English msgid itself."""
    return {"message": message_id if stored is None else stored, "message_id": message_id}


def said(message_id: str, /, **params: Any) -> dict[str, Any]:
    """A message given as another message's value (`%(reasons)s`), or an audit event's message
    (`AuditEvent(..., **said(N_("..."), name=value))`): its English and what says it again in a
    reader's language, as a Problem keeps them."""
    return {"message": fill(message_id, params), "message_id": message_id, "params": as_params(params)}


def plain(value: Any) -> str:
    """A value as the English wording writes it: a date-time in UTC to the second (ISO 8601),
    a message given as a value (a finding quoted by a reason) as it was stored, a list of
    messages one after the other."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Mapping) and "message" in value:
        return str(value["message"])
    if isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
        return "; ".join(plain(item) for item in value)
    return str(value)


def as_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Values as a message keeps them, the same before and after JSON: a date-time as its
    English text (ISO 8601, UTC), which `alertcast.explanations` shows in the reader's zone."""
    return {name: plain(value) if isinstance(value, datetime) else value for name, value in params.items()}


def fill(message: str, params: Mapping[str, Any], shown: Callable[[Any], str] = plain) -> str:
    """`message` with each `%(name)s` replaced by `shown(params[name])` and `%%` by `%`; a name
    `params` lacks stays as written (a translation naming a value the message lacks)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        return shown(params[name]) if name in params else match.group(0)

    return PLACEHOLDER.sub(value, message)


def language_of(tag: str | None) -> str:
    """The catalog language of a tag ('en-GB' -> 'en'), or "" when there is none for it."""
    primary = (tag or "").strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else ""


def negotiate(accept_language: str | None, chosen: str | None = None) -> str:
    """The language to answer in: the one the person chose, else the first of their browser's
    `Accept-Language` we have (by its q weight), else French."""
    if language_of(chosen):
        return language_of(chosen)
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if language_of(tag) and weight > 0:
            weighted.append((-weight, index, language_of(tag)))
    return min(weighted)[2] if weighted else DEFAULT_LANGUAGE


def mo_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"


@cache
def translations(language: str) -> Translations:
    """The compiled catalog of `language` (French for a language we have no catalog for)."""
    language = language_of(language) or DEFAULT_LANGUAGE
    compiled = mo_path(language)
    if not compiled.is_file():
        raise CatalogMissing(f"{compiled} is missing: run `make catalogs` (the install builds it)")
    if compiled.stat().st_mtime < compiled.with_suffix(".po").stat().st_mtime:
        log.warning("%s is older than its .po: run `make catalogs`", compiled)
    with compiled.open("rb") as file:
        return Translations(file, domain=DOMAIN)


def install(env: Environment, language: str, catalog: Any = None) -> None:
    """Gives a Jinja2 environment `{% trans %}`, `_()`, `gettext()` and `pgettext()` in
    `language` (new-style: autoescaped, values passed by name). `catalog` replaces the
    compiled one (tests record what a page looked up)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_translations(  # type: ignore[attr-defined]  # added by the extension
        catalog if catalog is not None else translations(language), newstyle=True
    )


def terminal_language(chosen: str = "", environ: Mapping[str, str] = os.environ) -> str:
    """The CLI's language: the one chosen (ALERTCAST_LANGUAGE), else the POSIX locale's (the
    first of LC_ALL, LC_MESSAGES, LANG that is set: fr_FR.UTF-8 is French, C is not), else
    English, the language of the CLI's sources."""
    if language_of(chosen):
        return language_of(chosen)
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if environ.get(name):
            return language_of(environ[name].split(".")[0].split("@")[0]) or "en"
    return "en"


def spoken(language: str) -> Translations | NullTranslations:
    """The catalog of `language` for the CLI, which must speak even where the catalogs were not
    compiled (a checkout before `make catalogs`): then the English of the sources."""
    try:
        return translations(language)
    except CatalogMissing:
        return NullTranslations()


def speaker(language: str) -> Callable[..., str]:
    """`_(message, **values)` in `language` (the Python side's words: a CLI line): the
    message's translation with its `%(name)s` filled."""
    catalog = spoken(language)

    def say(message: str, /, **values: Any) -> str:
        return fill(str(catalog.gettext(message)), values)

    return say


def compile_catalogs(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Compiles each `.po` whose `.mo` is missing or older (what `make catalogs` does with
    `pybabel compile`): fuzzy messages are left out, as pybabel does. Returns what it wrote."""
    written = []
    for po in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        if mo.is_file() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parts[-3], domain=DOMAIN)
        partial = mo.with_suffix(".mo.tmp")
        with partial.open("wb") as target:
            write_mo(target, catalog)
        partial.replace(mo)
        written.append(mo)
    return written
