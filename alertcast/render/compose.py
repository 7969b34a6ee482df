"""One text per channel and language, fitted to the network and checked against the charter.

Templates (`render.templates`): `templates/<channel>/<category>.<lang>.j2`, else the
channel's `default`; the text's language, else French (a Spanish or Swedish block renders with
the French labels around its own words, and the charter warns that it has no lexicon for that
language).

Every text goes through the same three steps, whether a template wrote it or a communicator
edited it (`check_edit`): split into parts and fitted to the channel (optional parts dropped,
long parts switched to their shorter forms, never a cut), counted as the network counts, then
checked with `check_text`. A text that cannot fit, or has a blocking finding, is kept but
marked blocked with the reason, for a human to fix: nothing is dropped silently.

For the shorter forms templates get `where_items` (the areas one by one, for the `shortlist`
filter: "Arras, Bapaume et 12 autres"), the `first_sentence` filter (a long instruction
becomes its first sentence and a pointer to the alert page, only when there is a link) and
`info.event` (the short "what" when even the headline's first sentence is too long).
"""

from __future__ import annotations

import contextlib
import logging
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alertcast.charter import grammar
from alertcast.charter.engine import blocking, check_incident, check_text
from alertcast.charter.lexicon import LexiconError
from alertcast.clock import clock
from alertcast.i18n import N_, said
from alertcast.models.alert import ChannelText
from alertcast.models.finding import Finding
from alertcast.models.incident import Incident, Info, MsgType, Status
from alertcast.models.problem import Problem
from alertcast.render.fitting import FitResult, TextPart, fit
from alertcast.render.parts import MARKERS, separator, split_parts
from alertcast.render.templates import TemplateProblem, Templates

log = logging.getLogger(__name__)

TEMPLATE_LANGUAGES = ("fr", "en")
EXERCISE_LABELS = {"fr": "EXERCICE", "en": "EXERCISE"}
END_LABELS = {"fr": "FIN D'ALERTE", "en": "END OF ALERT"}
UPDATE_LABELS = {"fr": "Mise à jour", "en": "Update"}


def where(info: Info) -> str:
    return ", ".join(area.area_desc for area in info.areas)


def where_items(info: Info) -> list[str]:
    """The areas one by one, for the short form of a long list (the `shortlist` filter).

    Feeds often pack a list into one area: NWS counties and GTFS-RT stops and routes joined by
    commas, USGS places by semicolons. So an area with semicolons is split on them (its commas
    then stay: "Usulután, Usulután, El Salvador" is one place), and a lone area of three or
    more comma-separated items is split on its commas. The full list is always the first form
    of the "where" part; the short form only appears when the text would not fit otherwise.
    """
    items: list[str] = []
    for area in info.areas:
        if ";" in area.area_desc:
            items += [item.strip() for item in area.area_desc.split(";")]
        else:
            items.append(area.area_desc.strip())
    if len(items) == 1 and len(commas := [item.strip() for item in items[0].split(",")]) >= 3:
        items = commas
    return [item for item in items if item]


def source(info: Info, incident: Incident) -> str:
    """Who says so. A sender that is an e-mail address shows its domain only: the address is a
    machine identifier, and publishing it would trip the personal-data rule."""
    if info.sender_name:
        return info.sender_name
    sender = incident.sender
    return sender.rsplit("@", 1)[1] if "@" in sender else sender


def languages_to_render(incident: Incident) -> list[Info]:
    """French and English blocks; if neither exists, the first block (with French labels)."""
    chosen = [info for lang in TEMPLATE_LANGUAGES if (info := incident.info_for(lang)) is not None]
    return chosen or incident.info[:1]


def template_language(language: str) -> str:
    code = language[:2].lower()
    return code if code in TEMPLATE_LANGUAGES else "fr"


def clean(incident: Incident) -> Incident:
    """The incident without control characters: they would break posts, and would let an
    incident forge the part markers templates use."""

    def strip(value: Any) -> Any:
        if isinstance(value, str):
            return MARKERS.sub("", value)
        if isinstance(value, list):
            return [strip(item) for item in value]
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items()}
        return value

    return Incident.model_validate(strip(incident.model_dump()))


def context_for(incident: Incident, info: Info, language: str, link: str) -> dict[str, Any]:
    """What templates see (documented in templates/README.md)."""
    exercise = incident.status in (Status.EXERCISE, Status.TEST)
    if incident.msg_type == MsgType.CANCEL:
        state = END_LABELS[language]
    elif incident.msg_type == MsgType.UPDATE:
        state = UPDATE_LABELS[language]
    else:
        state = ""
    start = info.onset or info.effective
    return {
        "incident": incident,
        "info": info,
        "lang": language,
        "where": where(info),
        "where_items": where_items(info),
        "start": start,
        "ongoing": start is not None and start <= clock.now(),
        "source": source(info, incident),
        "link": link or info.web or "",
        "label": EXERCISE_LABELS[language] if exercise else "",
        "state": state,
    }


def finish(
    channel: str,
    language: str,
    fitted: FitResult,
    findings: list[Finding],
) -> ChannelText:
    """A fitted text with its findings; blocked if it does not fit or a finding blocks."""
    reasons = [fitted.reason_said] if fitted.blocked else []
    blockers = [finding for finding in findings if finding.blocking]
    if blockers:
        rules = ", ".join(dict.fromkeys(finding.rule for finding in blockers))
        reasons.append(said(N_("blocking charter findings: %(rules)s"), rules=rules))
    return ChannelText(
        channel=channel,
        language=language,
        text=fitted.text,
        length=fitted.length.length,
        limit=fitted.length.limit,
        unit=fitted.length.unit,
        segments=fitted.length.segments,
        segments_before=fitted.length.segments_before,
        dropped=fitted.dropped,
        findings=findings,
        blocked=bool(reasons),
        reason="; ".join(reason["message"] for reason in reasons),
        reason_id="%(reasons)s" if reasons else "",
        params={"reasons": reasons} if reasons else {},
    )


def _nfc(part: TextPart) -> TextPart:
    """One form of each character (an SMS's typography is made GSM-7 later, by `fit`, which
    counts its segments before and after). A part already NFC, as nearly all are, is kept: copying
    every part was 0.29 s of compose's 16 s in a profile of 400 incidents on five channels."""
    if all(unicodedata.is_normalized("NFC", text) for text in (part.text, *(f.text for f in part.shorter))):
        return part
    nfc = [form.model_copy(update={"text": unicodedata.normalize("NFC", form.text)}) for form in part.shorter]
    return part.model_copy(update={"text": unicodedata.normalize("NFC", part.text), "shorter": nfc})


def _check(
    text: str,
    language: str,
    incident: Incident,
    charter_dir: Path | None,
    checker: grammar.GrammarChecker | None = None,
) -> list[Finding]:
    """`checker` None: the LanguageTool server of the settings, if one is configured."""
    try:
        return check_text(
            text, language, incident=incident, extra_dir=charter_dir, checker=checker or grammar.configured()
        )
    except LexiconError as error:
        # The body's lexicon is broken: say so on the text instead of stopping the worker.
        return [
            Finding.said(
                "charter.lexicon_error",
                "block",
                "%(error)s",
                N_("fix the charter directory's YAML"),
                error=str(error),
            )
        ]


def check_edit(
    channel: str,
    text: str,
    language: str,
    incident: Incident,
    *,
    charter_dir: Path | None = None,
    limit: int | None = None,
    checker: grammar.GrammarChecker | None = None,
) -> ChannelText:
    """A communicator's edited text, counted, fitted-or-blocked and checked like a rendered one.

    An edit is one mandatory whole: it is never shortened behind the communicator's back. Its
    length is the post's, the reference the adapter adds included (`reference.as_posted`).
    """
    text = unicodedata.normalize("NFC", MARKERS.sub("", text.replace("\r\n", "\n"))).strip()
    fitted = fit([TextPart(name="text", text=text)], channel, limit=limit, language=language)
    # checked as published: an SMS's typography was made GSM-7, so spans point into that text
    return finish(channel, language, fitted, _check(fitted.text, language, incident, charter_dir, checker))


@dataclass
class Composition:
    """What compose produces for one incident: texts, incident-level findings, template problems."""

    texts: list[ChannelText] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        """An incident-level finding blocks every text (e.g. no time, already expired)."""
        return blocking(self.findings)


def compose(
    incident: Incident,
    channels: list[str],
    templates: Templates,
    *,
    link: str = "",
    charter_dir: Path | None = None,
    limits: dict[str, int] | None = None,
    checker: grammar.GrammarChecker | None = None,
) -> Composition:
    """Render, fit and check every (channel, language).

    `link` overrides the alert page link (else the `shortlink` of the templates' site URL);
    `limits` are the accounts' own limits where a network reports them (a Mastodon instance);
    `checker` the LanguageTool client (else the configured one, if any).
    """
    incident = clean(incident)
    result = Composition(findings=check_incident(incident))
    if not incident.info:
        result.problems.append(
            Problem.said(
                "info",
                "nothing_to_render",
                N_("a %(msg_type)s without info: no text to render"),
                N_("the channels end the earlier alert from its own texts"),
                value=incident.msg_type.value,
                msg_type=incident.msg_type.value,
            )
        )
    fitted_texts: list[tuple[str, Info, FitResult]] = []
    for info in languages_to_render(incident):
        language = template_language(info.language)
        shortlink = templates.env.filters["shortlink"](incident)
        context = context_for(incident, info, language, link or shortlink)
        rendered_by_source: dict[str, str] = {}
        parts_of: dict[str, list[TextPart]] = {}  # channels sharing a template share its parts
        for channel in channels:
            try:
                rendered = templates.render(
                    channel, info.category.value, language, context, rendered_by_source
                )
            except TemplateProblem as error:
                result.problems.append(error.problem)
                continue
            if rendered not in parts_of:
                parts_of[rendered] = [_nfc(part) for part in split_parts(rendered)]
            parts = parts_of[rendered]
            fitted = fit(
                parts,
                channel,
                limit=(limits or {}).get(channel),
                separator=separator(channel),
                language=language,
            )
            fitted_texts.append((channel, info, fitted))
    checker = checker or grammar.configured()
    if checker is not None:
        with contextlib.suppress(grammar.GrammarUnavailable):  # each text's check then says so
            checker.prefetch([(fitted.text, info.language) for _, info, fitted in fitted_texts])
    checked: dict[tuple[str, str], list[Finding]] = {}
    for channel, info, fitted in fitted_texts:
        key = (fitted.text, info.language)
        if key not in checked:  # the long channels often share one text
            checked[key] = _check(fitted.text, info.language, incident, charter_dir, checker)
        result.texts.append(finish(channel, info.language, fitted, checked[key]))
    seen = {problem.path for problem in result.problems}
    result.problems += [problem for problem in templates.problems() if problem.path not in seen]
    return result
