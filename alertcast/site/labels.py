"""The public site's own words, French first, English available, from the gettext catalogs.

CAP values (Severe, Immediate...) are codes, not words a citizen reads, and severity must
be written out (never shown by colour alone). The labels live here rather than in the
templates so the feeds, the JSON index and the pages all say the same thing; communicators
change the wording of a page in its template.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from alertcast.i18n import DEFAULT_LANGUAGE as DEFAULT_LANGUAGE  # the site's modules import it from here
from alertcast.i18n import N_, translations
from alertcast.i18n import language_of as catalog_language
from alertcast.models.incident import Certainty, MsgType, Severity, Status, Urgency

# The interface's words in English; each language's through the catalogs (alertcast/i18n.py).
_LABELS: dict[str, str] = {
    "site_title": N_("Alerts"),
    "skip": N_("Skip to content"),
    "nav": N_("Main navigation"),
    "current": N_("Current alerts"),
    "archive": N_("Archive"),
    "subscribe": N_("Get alerts"),
    "no_current": N_("No current alert."),
    "no_archive": N_("No ended alert."),
    "archive_pages": N_("Archive pages"),
    "archive_newer": N_("More recent alerts"),
    "archive_older": N_("Older alerts"),
    "ended": N_("End of alert"),
    "ended_cancel": N_("The issuer ended this alert"),
    "ended_expire": N_("This alert has expired"),
    "cancel_no_text": N_("The issuer ended this alert."),
    "severity": N_("Severity"),
    "urgency": N_("Urgency"),
    "certainty": N_("Certainty"),
    "event": N_("Event"),
    "area": N_("Area"),
    "areas": N_("Areas"),
    "by_area": N_("By town or area"),
    "updated": N_("Updated"),
    "published": N_("Published"),
    "effective": N_("In force"),
    "onset": N_("Starts"),
    "expires": N_("Expected end"),
    "instruction": N_("What to do"),
    "sender": N_("Issued by"),
    "web": N_("More information"),
    "contact": N_("Contact"),
    "history": N_("History"),
    "version": N_("Version"),
    "feeds": N_("Feeds"),
    "atom": N_("Atom feed"),
    "cap": N_("CAP feed"),
    "json": N_("JSON index"),
    "cap_document": N_("CAP message"),
    "page_updated": N_("Page updated"),
    "times_note": N_("{place} time."),
    "area_current": N_("Current alerts in this area"),
    "area_ended": N_("Ended alerts in this area"),
    "insee": N_("INSEE code"),
    "alert": N_("Alert"),
}

_WORDS: dict[str, str] = {
    Severity.EXTREME: N_("extreme"),
    Severity.SEVERE: N_("severe"),
    Severity.MODERATE: N_("moderate"),
    Severity.MINOR: N_("minor"),
    Severity.UNKNOWN: N_("not stated"),
    Urgency.IMMEDIATE: N_("immediate"),
    Urgency.EXPECTED: N_("expected"),
    Urgency.FUTURE: N_("future"),
    Urgency.PAST: N_("past"),
    Certainty.OBSERVED: N_("observed"),
    Certainty.LIKELY: N_("likely"),
    Certainty.POSSIBLE: N_("possible"),
    Certainty.UNLIKELY: N_("unlikely"),
    MsgType.ALERT: N_("Alert"),
    MsgType.UPDATE: N_("Update"),
    MsgType.CANCEL: N_("End of alert"),
    MsgType.ACK: N_("Acknowledgement"),
    MsgType.ERROR: N_("Error"),
    Status.EXERCISE: N_("EXERCISE"),
    Status.TEST: N_("TEST"),
    Status.SYSTEM: N_("SYSTEM"),
    Status.DRAFT: N_("DRAFT"),
}
# Urgency and certainty share the value "Unknown" with severity, and StrEnum members
# with equal values are equal keys: they all read "not stated".


def primary_language(tag: str) -> str:
    """'fr-CA' -> 'fr', 'en_GB' -> 'en'."""
    return tag.lower().replace("_", "-").split("-")[0]


def language_of(tag: str) -> str:
    """The language the site has words in for a BCP 47 tag, or "" when it has none."""
    return catalog_language(tag)


def has_labels(tag: str) -> bool:
    return language_of(tag) != ""


def labels(language: str = DEFAULT_LANGUAGE) -> Mapping[str, str]:
    """Interface labels in `language`, French when the site has no words for it."""
    return _labels_in(language_of(language) or DEFAULT_LANGUAGE)


@cache
def _labels_in(language: str) -> Mapping[str, str]:
    catalog = translations(language)
    return MappingProxyType({key: str(catalog.gettext(message)) for key, message in _LABELS.items()})


def word(value: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A CAP code as a word in `language` (the code itself if there is none)."""
    message = _WORDS.get(value)
    return (
        value
        if message is None
        else str(translations(language_of(language) or DEFAULT_LANGUAGE).gettext(message))
    )


def status_label(status: Status, language: str = DEFAULT_LANGUAGE) -> str | None:
    """The banner of a message that is not a real alert (EXERCICE...), None for Actual."""
    return None if status is Status.ACTUAL else word(status, language)
