"""Times as citizens write them: "mardi 3 décembre à 7 h 30", in the site's time zone.

Stored times are UTC; a page says local time in words because people act on it ("the road
reopens at 18 h"). The year is only written when it is not the current one, which keeps the
index short and the archive unambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from babel.dates import format_datetime, get_timezone_location

from alertcast.site.labels import DEFAULT_LANGUAGE, language_of

_PATTERNS = {
    "fr": ("EEEE d MMMM 'à' H 'h' mm", "EEEE d MMMM y 'à' H 'h' mm", "fr_FR"),
    "en": ("EEEE d MMMM 'at' HH:mm", "EEEE d MMMM y 'at' HH:mm", "en_GB"),
}


@dataclass(frozen=True)
class ShownTime:
    """A time for a page: machine form for `<time datetime>`, words for people."""

    iso: str
    text: str


def spoken_time(value: datetime, *, now: datetime, tz: tzinfo, language: str = DEFAULT_LANGUAGE) -> str:
    this_year, other_year, locale = _PATTERNS[language_of(language) or DEFAULT_LANGUAGE]
    local = value.astimezone(tz)
    pattern = this_year if local.year == now.astimezone(tz).year else other_year
    return str(format_datetime(local, pattern, tzinfo=tz, locale=locale))


def shown_time(value: datetime, *, now: datetime, tz: tzinfo, language: str = DEFAULT_LANGUAGE) -> ShownTime:
    local = value.astimezone(tz).replace(microsecond=0)
    return ShownTime(iso=local.isoformat(), text=spoken_time(value, now=now, tz=tz, language=language))


_CLOCK_PATTERNS = {"fr": "dd/MM/y HH:mm:ss", "en": "d MMM y, HH:mm:ss"}


def clock_time(
    value: datetime, *, tz: tzinfo, language: str = DEFAULT_LANGUAGE, with_date: bool = True
) -> str:
    """A time to the second, for the console's lists and logs ("07/12/2026 06:30:00"): the
    people on duty compare times there, words would only slow them down."""
    lang = language_of(language) or DEFAULT_LANGUAGE
    pattern = _CLOCK_PATTERNS[lang] if with_date else "HH:mm:ss"
    return str(format_datetime(value.astimezone(tz), pattern, tzinfo=tz, locale=_PATTERNS[lang][2]))


def zone_place(tz: tzinfo, language: str = DEFAULT_LANGUAGE) -> str:
    """The place a time zone is named after, in `language` ("Paris", "La Réunion", "Nouméa"):
    a page says whose clock its times are on, and a body overseas is not on Paris time."""
    _, _, locale = _PATTERNS[language_of(language) or DEFAULT_LANGUAGE]
    return str(get_timezone_location(tz, locale=locale, return_city=True))
