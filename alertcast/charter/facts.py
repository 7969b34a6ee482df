"""Mandatory facts: what, where, when, what to do, who says so.

A citizen reading one post on one network must be able to act on it alone. Without what,
where or when the alert is useless or misleading: block. Advice and source make it better and
trustworthy but some alerts are purely informative: warn.
Checked on the Incident (each language's info block), not on a rendered text, because a
template decides how facts are worded; a Cancel needs none of them.
"""

from __future__ import annotations

from alertcast.i18n import N_
from alertcast.models.finding import Finding, Level
from alertcast.models.incident import Incident, Info, MsgType

_MESSAGES: dict[str, tuple[Level, str, str, str]] = {
    # rule: level, field, message, suggestion
    "facts.what": (
        "block",
        "event",
        N_("the alert does not say what happens (event and headline empty)"),
        N_("fill in the event and the headline"),
    ),
    "facts.where": (
        "block",
        "areas",
        N_("the alert does not say where (no area with a description)"),
        N_("add at least one area with a description, e.g. 'D 934 entre Arras et Cambrai'"),
    ),
    "facts.when": (
        "block",
        "onset",
        N_("the alert does not say when (no onset nor effective time)"),
        N_("give the onset (or effective) time"),
    ),
    "facts.advice": (
        "warn",
        "instruction",
        N_("the alert gives no advice (instruction empty)"),
        N_("say what citizens should do, e.g. 'Empruntez la déviation par la D 939'"),
    ),
    "facts.source": (
        "warn",
        "sender_name",
        N_("the alert does not say who issues it"),
        N_("fill in sender_name, e.g. 'Préfecture du Pas-de-Calais'"),
    ),
}


def _finding(rule: str, path: str) -> Finding:
    level, _, message, suggestion = _MESSAGES[rule]
    return Finding.said(rule, level, message, suggestion, path=path)


def _missing(info: Info, incident: Incident) -> list[str]:
    missing = []
    if not info.event.strip() and not info.headline.strip():
        missing.append("facts.what")
    if not any(area.area_desc.strip() for area in info.areas):
        missing.append("facts.where")
    if info.onset is None and info.effective is None:
        missing.append("facts.when")
    if not info.instruction.strip():
        missing.append("facts.advice")
    if not (info.sender_name or "").strip() and not incident.sender.strip():
        missing.append("facts.source")
    return missing


def check(incident: Incident) -> list[Finding]:
    if incident.msg_type in (MsgType.CANCEL, MsgType.ACK, MsgType.ERROR):
        return []
    findings = []
    for index, info in enumerate(incident.info):
        for rule in _missing(info, incident):
            findings.append(_finding(rule, f"info[{index}].{_MESSAGES[rule][1]}"))
    return findings
