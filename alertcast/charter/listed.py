"""Findings for the phrases a lexicon lists (opinion, partisan, alarmist...).

Several rule modules share this: the list decides what matches, the module decides the rule id
and its level.
"""

from __future__ import annotations

from alertcast.charter.folding import Folded
from alertcast.charter.lexicon import Charter, Message
from alertcast.charter.phrases import PhraseList
from alertcast.models.finding import Finding, Level


def listed_findings(
    charter: Charter, folded: Folded, list_name: str, rule: str, level: Level, default: Message
) -> list[Finding]:
    """One finding per match; a match inside a longer match of the same list is dropped."""
    spans: dict[tuple[int, int], Finding] = {}
    for matcher in charter.matchers.get(list_name, PhraseList()).candidates(folded):
        for start, end in matcher.spans(folded):
            excerpt = folded.original[start:end]
            said = charter.finding(rule, level, default, start=start, end=end, excerpt=excerpt)
            entry = matcher.entry  # its own words (lexicon data, the text's language) stand as written
            if getattr(entry, "message", ""):
                said = said.model_copy(
                    update={"message": entry.message.format(excerpt=excerpt), "message_id": ""}
                )
            if getattr(entry, "suggestion", ""):
                said = said.model_copy(update={"suggestion": entry.suggestion, "suggestion_id": ""})
            spans.setdefault((start, end), said)
    kept = [
        span
        for span in spans
        if not any(other != span and other[0] <= span[0] and span[1] <= other[1] for other in spans)
    ]
    return [spans[span] for span in sorted(kept)]
