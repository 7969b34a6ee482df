"""`alertcast check FILE...`: what each channel would publish, and what the charter says, offline.

A communicator (or a service writing its first feed) sees, before anything reaches Kafka, the
exact text of every channel, its length as that network counts it, the parts dropped to fit,
and every finding with its span marked in the text: reverse video on a terminal, `^^^` under
the line otherwise (so it survives a log or a CI page). Any intake format is read, through
the same `parse_document` as the worker.
Exit status: 0 clean, 1 warnings only, 2 input refused or blocking findings, 64 usage error.
Human lines are in `language` (the CLI's); None: in English as findings and problems are stored.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from alertcast.explanations import explain
from alertcast.i18n import speaker
from alertcast.ingest.detect import parse_document
from alertcast.models.alert import ChannelText
from alertcast.models.finding import Finding
from alertcast.models.problem import Problem
from alertcast.render.compose import Composition, compose
from alertcast.render.length import CHANNELS
from alertcast.render.templates import Templates
from alertcast.settings import get_settings

EXIT_OK, EXIT_WARNINGS, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2, 64
REVERSE, NORMAL = "\x1b[7m", "\x1b[27m"


def check_command(
    files: list[Path],
    channel: str | None = None,
    lang: str | None = None,
    *,
    out: TextIO | None = None,
    templates: Templates | None = None,
    charter_dir: Path | None = None,
    language: str | None = None,
) -> int:
    """Check every file; `channel` and `lang` narrow what is shown (and counted in the status)."""
    out = out or sys.stdout
    say = _Say(language)
    _ = say.words
    if channel is not None and channel not in CHANNELS:
        print(
            _(
                "alertcast check: unknown channel %(channel)s; expected one of %(channels)s",
                channel=repr(channel),
                channels=", ".join(CHANNELS),
            ),
            file=sys.stderr,
        )
        return EXIT_USAGE
    if lang is not None and not (lang.isascii() and lang.replace("-", "").isalpha() and len(lang) >= 2):
        print(
            _("alertcast check: %(lang)s is not a language code such as fr or en", lang=repr(lang)),
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not files:
        print(_("alertcast check: give at least one FILE"), file=sys.stderr)
        return EXIT_USAGE
    settings = get_settings()
    templates = templates or Templates(settings.templates_dir, site_base_url=settings.site_base_url)
    channels = [channel] if channel else list(CHANNELS)
    if not settings.languagetool_url:
        print(
            _(
                "alertcast check: note: grammar not checked, spelling by the offline word lists "
                "(ALERTCAST_LANGUAGETOOL_URL is not set; `alertcast languagetool up` starts a server)"
            ),
            file=sys.stderr,
        )
    tty = out.isatty()
    status = EXIT_OK
    for path in files:
        status = max(status, _check_file(path, channels, lang, templates, charter_dir, out, tty, say))
    return status


class _Say:
    """The human lines' words in `language` (None: English, problems and findings as stored)."""

    def __init__(self, language: str | None) -> None:
        self.language = language
        self.words: Callable[..., str] = speaker(language or "en")

    def problem(self, problem: Problem) -> str:
        return problem.line(self.language)

    def reason(self, text: ChannelText) -> str:
        return text.reason if self.language is None else explain(text, "reason", self.language)

    def finding(self, finding: Finding) -> str:
        _ = self.words
        where = finding.path if finding.path else f"{finding.start}-{finding.end}"
        values = {"level": finding.level, "rule": finding.rule, "where": where}
        if self.language is None:
            message, suggestion = finding.message, finding.suggestion
        else:
            message, suggestion = (
                explain(finding, field, self.language) for field in ("message", "suggestion")
            )
        if suggestion:
            return _(
                "%(level)s %(rule)s at %(where)s: %(message)s (%(suggestion)s)",
                message=message,
                suggestion=suggestion,
                **values,
            )
        return _("%(level)s %(rule)s at %(where)s: %(message)s", message=message, **values)


def _check_file(
    path: Path,
    channels: list[str],
    lang: str | None,
    templates: Templates,
    charter_dir: Path | None,
    out: TextIO,
    tty: bool,
    say: _Say,
) -> int:
    _ = say.words
    try:
        data = path.read_bytes()
    except OSError as error:
        print(_("%(path)s: cannot read: %(error)s", path=path, error=error.strerror), file=out)
        return EXIT_REFUSED
    result = parse_document(data, source="check")
    status = EXIT_OK
    for warning in result.warnings:
        print(_("%(path)s: warning: %(line)s", path=path, line=say.problem(warning)), file=out)
        status = EXIT_WARNINGS
    if result.problems or not result.incidents:
        for problem in result.problems:
            print(_("%(path)s: refused: %(line)s", path=path, line=say.problem(problem)), file=out)
        if not result.problems:
            print(_("%(path)s: refused: no incident in the document", path=path), file=out)
        return EXIT_REFUSED
    for incident in result.incidents:
        print(f"== {path}: {incident.message_key} ({result.format}, {incident.msg_type.value})", file=out)
        composition = compose(incident, channels, templates, charter_dir=charter_dir)
        status = max(status, _report(composition, lang, out, tty, say))
    return status


def _report(composition: Composition, lang: str | None, out: TextIO, tty: bool, say: _Say) -> int:
    _ = say.words
    status = EXIT_OK
    for problem in composition.problems:
        if problem.rule == "nothing_to_render":
            print(_("note: %(line)s", line=say.problem(problem)), file=out)
            continue
        print(_("refused: %(line)s", line=say.problem(problem)), file=out)
        status = EXIT_REFUSED
    for finding in composition.findings:
        print(_("incident: %(line)s", line=say.finding(finding)), file=out)
        status = max(status, EXIT_REFUSED if finding.blocking else EXIT_WARNINGS)
    texts = [text for text in composition.texts if lang is None or _same_language(text.language, lang)]
    if lang is not None and not texts and composition.texts:
        shown = sorted({text.language for text in composition.texts})
        print(
            _(
                "note: no text in %(lang)s; this incident renders in %(languages)s",
                lang=repr(lang),
                languages=", ".join(shown),
            ),
            file=out,
        )
        status = max(status, EXIT_WARNINGS)
    for text in texts:
        status = max(status, _report_text(text, out, tty, say))
    return status


def _report_text(text: ChannelText, out: TextIO, tty: bool, say: _Say) -> int:
    _ = say.words
    limit = f"/{text.limit}" if text.limit is not None else _(" (no limit)")
    segments = ""
    if text.segments:
        many = text.segments != 1
        segments = _(", %(count)s segments", count=text.segments) if many else _(", 1 segment")
    if text.segments_before is not None and text.segments_before != text.segments:
        segments += _(" (%(count)s before its typography was made GSM-7)", count=text.segments_before)
    dropped = _(", dropped to fit: %(parts)s", parts=", ".join(text.dropped)) if text.dropped else ""
    print(
        f"-- {text.channel} ({text.language}): {text.length}{limit} {text.unit}{segments}{dropped}", file=out
    )
    print(_highlight(text.text, text.findings) if tty else _indent(text.text), file=out)
    for finding in text.findings:
        print(f"   {say.finding(finding)}", file=out)
        if not tty and finding.end > finding.start:
            print(_underline(text.text, finding), file=out)
    if text.blocked:
        print(_("   BLOCKED: %(reason)s", reason=say.reason(text)), file=out)
        return EXIT_REFUSED
    return EXIT_WARNINGS if text.findings else EXIT_OK


def _same_language(language: str, wanted: str) -> bool:
    return language.lower().split("-")[0] == wanted.lower().split("-")[0]


def _indent(text: str) -> str:
    return "\n".join(f"   | {line}" for line in text.split("\n"))


def _width(text: str) -> int:
    """Terminal columns: wide characters (CJK) take two, combining marks none."""
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1
        for char in text
    )


def _underline(text: str, finding: Finding) -> str:
    """The finding's first line again, with ^^^ under its span (to the line's end if it wraps)."""
    line_start = text.rfind("\n", 0, finding.start) + 1
    line_end = text.find("\n", finding.start)
    line_end = len(text) if line_end == -1 else line_end
    end = min(finding.end, line_end)
    line = text[line_start:line_end]
    pad = " " * _width(text[line_start : finding.start])
    marks = "^" * max(1, _width(text[finding.start : end]))
    return f"   | {line}\n   | {pad}{marks}"


def _highlight(text: str, findings: list[Finding]) -> str:
    """The text with every finding's span in reverse video."""
    marked = [False] * len(text)
    for finding in findings:
        for index in range(finding.start, min(finding.end, len(text))):
            marked[index] = True
    pieces: list[str] = []
    inside = False
    for char, mark in zip(text, marked, strict=True):
        if mark != inside:
            pieces.append(REVERSE if mark else NORMAL)
            inside = mark
        pieces.append(char)
    if inside:
        pieces.append(NORMAL)
    return _indent("".join(pieces))
