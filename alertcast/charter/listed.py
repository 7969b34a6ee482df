"""Findings for the phrases a lexicon lists (opinion, partisan, alarmist...).

Several rule modules share this: the list decides what matches, the module decides the rule id
and its level.
"""

from __future__ import annotations

from alertcast.charter.folding import Folded
from alertcast.charter.lexicon import Charter, Message
from alertcast.models.finding import Finding, Level


def listed_findings(
    charter: Charter, folded: Folded, list_name: str, rule: str, level: Level, default: Message
) -> list[Finding]:
    """One finding per match; a match inside a longer match of the same list is dropped."""
    spans: dict[tuple[int, int], Message] = {}
    for matcher in charter.matchers.get(list_name, ()):
        for start, end in matcher.spans(folded):
            excerpt = folded.original[start:end]
            said = charter.say(rule, default, excerpt=excerpt)
            entry = matcher.entry
            message = entry.message.format(excerpt=excerpt) if getattr(entry, "message", "") else said.message
            suggestion = entry.suggestion or said.suggestion
            spans.setdefault((start, end), Message(message=message, suggestion=suggestion))
    kept = [
        span
        for span in spans
        if not any(other != span and other[0] <= span[0] and span[1] <= other[1] for other in spans)
    ]
    return [
        Finding(
            rule=rule,
            level=level,
            start=start,
            end=end,
            excerpt=folded.original[start:end],
            message=spans[(start, end)].message,
            suggestion=spans[(start, end)].suggestion,
        )
        for start, end in sorted(kept)
    ]
