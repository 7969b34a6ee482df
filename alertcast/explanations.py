"""Rule explanations and problems in the reader's language.

A `Problem` (message, hint), a charter `Finding` (message, suggestion) or a moderation `Reason`
(message) is stored in English, the words every consumer of topics and of the API reads. Built
from msgids (`Problem.said`, `Finding.said`), it also keeps them (`<field>_id`) and the values
they name (`params`): `explain` says it again through the catalogs of the page's (or the
terminal's) language, date-times in the body's zone as the console writes them. Without a
msgid (a message stored before they were kept, a body's own lexicon words, a parser's error)
the stored text is shown as it is. A message that is only its values (`"%(error)s"`: a
parser's words) keeps them untranslated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from alertcast.i18n import DEFAULT_LANGUAGE, PLACEHOLDER, fill, language_of, spoken, translations
from alertcast.settings import get_settings
from alertcast.site.dates import clock_time

#: A date-time as `params` carry it once through JSON: ISO 8601 with its offset.
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)")


class Catalog(Protocol):
    def gettext(self, message: str) -> str: ...


def explain(
    item: Any,
    field: str = "message",
    language: str = DEFAULT_LANGUAGE,
    *,
    catalog: Catalog | None = None,
    zone: tzinfo | None = None,
) -> str:
    """`item`'s `field` (message, hint, suggestion) in `language`: its msgid translated by
    `catalog` (the language's), its values filled in, date-times in `zone` (the settings').
    `item` may also be the mapping a message was dumped to (a finding quoted in `params`)."""
    stored = str(_get(item, field) or "")
    message_id = str(_get(item, f"{field}_id") or "")
    if not message_id:
        return stored
    language = language_of(language) or DEFAULT_LANGUAGE
    catalog = catalog if catalog is not None else translations(language)
    zone = zone if zone is not None else _zone()

    def shown(value: Any) -> str:
        when = _datetime(value)
        if when is not None:
            return clock_time(when, tz=zone, language=language)
        if isinstance(value, Mapping) and "message" in value:
            return explain(value, "message", language, catalog=catalog, zone=zone)
        if isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
            return str(catalog.gettext("; ")).join(shown(item) for item in value)
        return str(value)

    # A message that is only its values (a parser's error, LanguageTool's words) has no words
    # of ours to translate: it is not looked up.
    words = catalog.gettext(message_id) if PLACEHOLDER.sub("", message_id).strip() else message_id
    return fill(str(words), _get(item, "params") or {}, shown)


def line(problem: Any, language: str | None = None) -> str:
    """A problem in one line, as the CLI prints it: in English as stored (`language` None),
    else in `language`."""
    catalog = spoken(language) if language else None
    _ = catalog.gettext if catalog is not None else str

    def said(field: str) -> str:
        return explain(problem, field, language, catalog=catalog) if language else str(_get(problem, field))

    shown = repr(problem.value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    text = fill(
        _("%(path)s: %(message)s [%(rule)s] (value: %(value)s)"),
        {
            "path": problem.path or _("(document)"),
            "message": said("message"),
            "rule": problem.rule,
            "value": shown,
        },
    )
    return (
        fill(_("%(problem)s; hint: %(hint)s"), {"problem": text, "hint": said("hint")})
        if problem.hint
        else text
    )


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def _datetime(value: Any) -> datetime | None:
    """A date-time value: given as one, or read back from JSON (ISO 8601 with an offset)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, str) and _ISO.fullmatch(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)
