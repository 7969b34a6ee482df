"""The sandboxed Jinja2 environment: communicators edit templates, incidents carry hostile text.

Sandboxed so a template cannot reach Python internals; autoescaped for HTML templates
(`*.html.j2`) so an incident's `<script>` shows as text; StrictUndefined so a typo in a
template fails loudly at render time instead of publishing an empty hole.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from alertcast.settings import get_settings

_PATTERNS = {
    "fr": ("EEEE d MMMM 'à' H 'h' mm", "EEEE d MMMM 'à' H 'h'", "fr_FR"),
    "en": ("EEEE d MMMM 'at' h:mm a", "EEEE d MMMM 'at' h a", "en_GB"),
}


def when(value: datetime | None, language: str = "fr") -> str:
    """A date and hour as people write them: "mardi 3 décembre à 7 h 30", "à 8 h" on the hour."""
    if value is None:
        return ""
    with_minutes, on_the_hour, locale = _PATTERNS.get(language[:2].lower(), _PATTERNS["fr"])
    tz = ZoneInfo(get_settings().timezone)
    local_minute = int(format_datetime(value, "m", tzinfo=tz, locale="en"))
    pattern = on_the_hour if local_minute == 0 else with_minutes
    return format_datetime(value, pattern, tzinfo=tz, locale=locale)


def hashtag(value: str) -> str:
    """ "Tempête Ciarán" -> "#TempêteCiarán": letters and digits only, words joined in CamelCase."""
    words = re.findall(r"\w+", value)
    return "#" + "".join(word[:1].upper() + word[1:] for word in words) if words else ""


def make_environment(folder: Path) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(enabled_extensions=("html.j2", "xml.j2"), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["when"] = when
    env.filters["hashtag"] = hashtag
    return env
