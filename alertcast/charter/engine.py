"""The charter engine: one entry point for rendered texts and for a communicator's edits.

`check_text` knows nothing of templates: what the communicator sees and may change is the
final text of one channel, so that is what is checked, every time, the same way.
`check_incident` checks what only the incident knows: mandatory facts and coherent times.
"""

from __future__ import annotations

from pathlib import Path

from alertcast.charter import facts, grammar, neutrality, opinion, personal_data, spelling, style, times
from alertcast.charter.folding import Folded, fold_with_map
from alertcast.charter.lexicon import Charter, Message, load_charter, primary_language
from alertcast.i18n import N_
from alertcast.models.finding import Finding
from alertcast.models.incident import Incident

_UNSUPPORTED = Message(
    message=N_(
        'The charter has no lexicon for the language "%(language)s": only personal data, '
        "punctuation and emoji were checked."
    ),
    suggestion=N_("Add %(language)s.yaml to the charter directory."),
)


def _order(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda finding: (finding.start, finding.end, finding.rule))


def check_text(
    text: str,
    language: str,
    *,
    incident: Incident | None = None,
    extra_dir: Path | None = None,
    checker: grammar.GrammarChecker | None = None,
) -> list[Finding]:
    """Every charter finding on `text`, sorted by start.

    `incident` only teaches the spelling rule the incident's own names (areas, sender).
    `extra_dir` is the body's lexicon directory (ALERTCAST_CHARTER_DIR).
    `checker` is LanguageTool (grammar and spelling); without it, or when it does not answer
    (a warning says so), spelling uses the offline word lists and grammar is not checked.
    """
    charter = load_charter(language, extra_dir)
    if incident is not None:
        names = [area.area_desc for info in incident.info for area in info.areas]
        names += [info.sender_name for info in incident.info if info.sender_name]
        charter = charter.with_proper_nouns(names)
    folded = fold_with_map(text)
    findings = personal_data.check(charter, folded)
    if not charter.supported:
        code = primary_language(language) or language
        findings.append(charter.finding("charter.language_unsupported", "warn", _UNSUPPORTED, language=code))
        findings += [f for f in style.check(charter, folded) if f.rule != "style.capitals"]
        return _order(findings)
    findings += neutrality.check(charter, folded)
    findings += opinion.check(charter, folded, extra_dir)  # structural patterns (spaCy)
    findings += style.check(charter, folded)
    findings += _spelling_and_grammar(charter, folded, checker)
    return _order(findings)


def _spelling_and_grammar(
    charter: Charter, folded: Folded, checker: grammar.GrammarChecker | None
) -> list[Finding]:
    if checker is None or not checker.supports(charter.language):
        return spelling.check(charter, folded)
    try:
        matches = checker.check(folded.original, charter.language)
    except grammar.GrammarUnavailable as error:
        return [*spelling.check(charter, folded), grammar.unavailable(charter, error)]
    return grammar.findings(charter, folded.original, matches)


def check_incident(incident: Incident) -> list[Finding]:
    """Missing facts and incoherent times, each pointing at the incident field by `path`."""
    return facts.check(incident) + times.check(incident)


def blocking(findings: list[Finding]) -> bool:
    """Whether anything stops publication (the CLI's exit code 2)."""
    return any(finding.blocking for finding in findings)
