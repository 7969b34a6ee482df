"""Neutrality: no value judgement, no partisan content, no praise of officials, no blame.

A public body speaks for everyone: an opinion word, a party name or a "thanks to our mayor"
turns a safety message into politics (and, near elections, breaks the law on public
communication). These block. Borderline words ("malheureusement", "enfin") express the body's
feeling without judging anyone: they warn, and the communicator decides.
"""

from __future__ import annotations

from alertcast.charter.folding import Folded
from alertcast.charter.lexicon import Charter, Message
from alertcast.charter.listed import listed_findings
from alertcast.i18n import N_
from alertcast.models.finding import Finding, Level

RULES: tuple[tuple[str, str, Level, Message], ...] = (
    (
        "opinion",
        "neutrality.opinion",
        "block",
        Message(
            message=N_('"%(excerpt)s" is a value judgement: the charter requires a neutral, factual voice.'),
            suggestion=N_("State the facts (what, where, when) without qualifying them."),
        ),
    ),
    (
        "borderline",
        "neutrality.borderline",
        "warn",
        Message(
            message=N_('"%(excerpt)s" expresses the body\'s feeling; avoid it in a factual message.'),
            suggestion=N_("Remove the word, or replace it with the fact it comments on."),
        ),
    ),
    (
        "partisan",
        "neutrality.partisan",
        "block",
        Message(
            message=N_(
                '"%(excerpt)s" is political or partisan content, not allowed in public crisis communication.'
            ),
            suggestion=N_("Remove any reference to a party, a list or a voting instruction."),
        ),
    ),
    (
        "praise",
        "neutrality.praise",
        "block",
        Message(
            message=N_(
                '"%(excerpt)s" praises an elected official or team: public communication stays neutral.'
            ),
            suggestion=N_('Say only who decided ("by order of the council"), without thanks or praise.'),
        ),
    ),
    (
        "blame",
        "neutrality.blame",
        "block",
        Message(
            message=N_('"%(excerpt)s" blames a group of people.'),
            suggestion=N_('State the cause factually ("due to industrial action").'),
        ),
    ),
)


def check(charter: Charter, folded: Folded) -> list[Finding]:
    findings: list[Finding] = []
    for list_name, rule, level, default in RULES:
        findings.extend(listed_findings(charter, folded, list_name, rule, level, default))
    return findings
