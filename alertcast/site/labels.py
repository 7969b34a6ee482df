"""The public site's own words, French first, English available.

CAP values (Severe, Immediate...) are codes, not words a citizen reads, and severity must
be written out (never shown by colour alone). The labels live here rather than in the
templates so the feeds, the JSON index and the pages all say the same thing; communicators
change the wording of a page in its template.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from alertcast.models.incident import Certainty, MsgType, Severity, Status, Urgency

DEFAULT_LANGUAGE = "fr"

_FR: dict[str, str] = {
    "site_title": "Alertes",
    "skip": "Aller au contenu",
    "nav": "Navigation principale",
    "current": "Alertes en cours",
    "archive": "Archives",
    "subscribe": "Recevoir les alertes",
    "no_current": "Aucune alerte en cours.",
    "no_archive": "Aucune alerte terminée.",
    "archive_pages": "Pages des archives",
    "archive_newer": "Alertes plus récentes",
    "archive_older": "Alertes plus anciennes",
    "ended": "Fin d'alerte",
    "ended_cancel": "L'émetteur a mis fin à cette alerte",
    "ended_expire": "Cette alerte a expiré",
    "cancel_no_text": "L'émetteur a mis fin à cette alerte.",
    "severity": "Gravité",
    "urgency": "Urgence",
    "certainty": "Certitude",
    "event": "Événement",
    "area": "Zone",
    "areas": "Zones",
    "by_area": "Par commune ou zone",
    "updated": "Mise à jour",
    "published": "Publiée",
    "effective": "En vigueur",
    "onset": "Début",
    "expires": "Fin prévue",
    "instruction": "Consignes",
    "sender": "Émetteur",
    "web": "En savoir plus",
    "contact": "Contact",
    "history": "Historique",
    "version": "Version",
    "feeds": "Flux",
    "atom": "Flux Atom",
    "cap": "Flux CAP",
    "json": "Index JSON",
    "cap_document": "Message CAP",
    "page_updated": "Page mise à jour",
    "times_note": "Heures de {place}.",
    "area_current": "Alertes en cours dans cette zone",
    "area_ended": "Alertes terminées dans cette zone",
    "insee": "Code INSEE",
    "alert": "Alerte",
}

_EN: dict[str, str] = {
    "site_title": "Alerts",
    "skip": "Skip to content",
    "nav": "Main navigation",
    "current": "Current alerts",
    "archive": "Archive",
    "subscribe": "Get alerts",
    "no_current": "No current alert.",
    "no_archive": "No ended alert.",
    "archive_pages": "Archive pages",
    "archive_newer": "More recent alerts",
    "archive_older": "Older alerts",
    "ended": "End of alert",
    "ended_cancel": "The issuer ended this alert",
    "ended_expire": "This alert has expired",
    "cancel_no_text": "The issuer ended this alert.",
    "severity": "Severity",
    "urgency": "Urgency",
    "certainty": "Certainty",
    "event": "Event",
    "area": "Area",
    "areas": "Areas",
    "by_area": "By town or area",
    "updated": "Updated",
    "published": "Published",
    "effective": "In force",
    "onset": "Starts",
    "expires": "Expected end",
    "instruction": "What to do",
    "sender": "Issued by",
    "web": "More information",
    "contact": "Contact",
    "history": "History",
    "version": "Version",
    "feeds": "Feeds",
    "atom": "Atom feed",
    "cap": "CAP feed",
    "json": "JSON index",
    "cap_document": "CAP message",
    "page_updated": "Page updated",
    "times_note": "{place} time.",
    "area_current": "Current alerts in this area",
    "area_ended": "Ended alerts in this area",
    "insee": "INSEE code",
    "alert": "Alert",
}

_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        Severity.EXTREME: "extrême",
        Severity.SEVERE: "forte",
        Severity.MODERATE: "modérée",
        Severity.MINOR: "faible",
        Severity.UNKNOWN: "non précisée",
        Urgency.IMMEDIATE: "immédiate",
        Urgency.EXPECTED: "attendue",
        Urgency.FUTURE: "à venir",
        Urgency.PAST: "passée",
        Certainty.OBSERVED: "constaté",
        Certainty.LIKELY: "probable",
        Certainty.POSSIBLE: "possible",
        Certainty.UNLIKELY: "peu probable",
        MsgType.ALERT: "Alerte",
        MsgType.UPDATE: "Mise à jour",
        MsgType.CANCEL: "Fin d'alerte",
        MsgType.ACK: "Accusé de réception",
        MsgType.ERROR: "Erreur",
        Status.EXERCISE: "EXERCICE",
        Status.TEST: "TEST",
        Status.SYSTEM: "SYSTÈME",
        Status.DRAFT: "BROUILLON",
    },
    "en": {
        Severity.EXTREME: "extreme",
        Severity.SEVERE: "severe",
        Severity.MODERATE: "moderate",
        Severity.MINOR: "minor",
        Severity.UNKNOWN: "not stated",
        Urgency.IMMEDIATE: "immediate",
        Urgency.EXPECTED: "expected",
        Urgency.FUTURE: "future",
        Urgency.PAST: "past",
        Certainty.OBSERVED: "observed",
        Certainty.LIKELY: "likely",
        Certainty.POSSIBLE: "possible",
        Certainty.UNLIKELY: "unlikely",
        MsgType.ALERT: "Alert",
        MsgType.UPDATE: "Update",
        MsgType.CANCEL: "End of alert",
        MsgType.ACK: "Acknowledgement",
        MsgType.ERROR: "Error",
        Status.EXERCISE: "EXERCISE",
        Status.TEST: "TEST",
        Status.SYSTEM: "SYSTEM",
        Status.DRAFT: "DRAFT",
    },
}
# Urgency and certainty share the value "Unknown" with severity, and StrEnum members
# with equal values are equal keys: they all read "not stated".

_LABELS: dict[str, Mapping[str, str]] = {"fr": MappingProxyType(_FR), "en": MappingProxyType(_EN)}


def primary_language(tag: str) -> str:
    """'fr-CA' -> 'fr', 'en_GB' -> 'en'."""
    return tag.lower().replace("_", "-").split("-")[0]


def language_of(tag: str) -> str:
    """The language the site has words in for a BCP 47 tag, or "" when it has none."""
    primary = primary_language(tag)
    return primary if primary in _LABELS else ""


def has_labels(tag: str) -> bool:
    return language_of(tag) != ""


def labels(language: str = DEFAULT_LANGUAGE) -> Mapping[str, str]:
    """Interface labels in `language`, French when the site has no words for it."""
    return _LABELS[language_of(language) or DEFAULT_LANGUAGE]


def word(value: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A CAP code as a word in `language` (the code itself if there is none)."""
    return _WORDS[language_of(language) or DEFAULT_LANGUAGE].get(value, value)


def status_label(status: Status, language: str = DEFAULT_LANGUAGE) -> str | None:
    """The banner of a message that is not a real alert (EXERCICE...), None for Actual."""
    return None if status is Status.ACTUAL else word(status, language)
