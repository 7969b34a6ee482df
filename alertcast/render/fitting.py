"""Fit a text into a channel by dropping whole optional parts, never by cutting.

A text cut mid-sentence can change its meaning ("ne sortez pas" -> "ne sortez"): so a text is
assembled from parts (headline, where, when, advice, link, details, hashtags), and when it is
too long the optional parts go, in the order the template declares (hashtags first, then
secondary details). Mandatory parts never go: if they alone do not fit, the draft is blocked
with the reason, for a human to shorten.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from alertcast.render.length import Length, count


class TextPart(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    text: str
    mandatory: bool = True
    drop_order: int = Field(default=0, description="optional parts with a lower number are dropped first")


class FitResult(BaseModel):
    text: str
    length: Length
    dropped: list[str] = Field(default_factory=list, description="names, in the order they were dropped")
    blocked: bool = False
    reason: str = ""


def join(parts: list[TextPart], separator: str) -> str:
    """Parts in their order, empty ones left out so no blank line is left behind."""
    return separator.join(part.text for part in parts if part.text.strip())


def fit(
    parts: list[TextPart],
    channel: str,
    *,
    limit: int | None = None,
    url_weight: int | None = None,
    separator: str = "\n",
) -> FitResult:
    def measure(kept: list[TextPart]) -> Length:
        return count(channel, join(kept, separator), limit=limit, url_weight=url_weight)

    kept = list(parts)
    length = measure(kept)
    if length.fits:
        return FitResult(text=join(kept, separator), length=length)

    # Lower drop_order first; among equals, the later part first (it is usually the lesser).
    candidates = sorted(
        (index for index, part in enumerate(parts) if not part.mandatory),
        key=lambda index: (parts[index].drop_order, -index),
    )
    dropped: list[int] = []
    for index in candidates:
        dropped.append(index)
        kept = [part for position, part in enumerate(parts) if position not in dropped]
        length = measure(kept)
        if length.fits:
            break

    if not length.fits:
        unit = length.unit if channel != "sms" else f"{length.unit} ({length.segments} segments)"
        return FitResult(
            text=join(kept, separator),
            length=length,
            dropped=[parts[index].name for index in dropped],
            blocked=True,
            reason=(
                f"the mandatory parts alone take {length.length} {unit} on {channel}, "
                f"over the limit of {length.limit}: shorten them by hand"
            ),
        )

    # A part dropped early (hashtags) may fit again now that a longer one has gone.
    for index in sorted(dropped, key=lambda index: (-parts[index].drop_order, index)):
        trial = [part for position, part in enumerate(parts) if position not in dropped or position == index]
        trial_length = measure(trial)
        if trial_length.fits:
            dropped.remove(index)
            kept, length = trial, trial_length
    return FitResult(
        text=join(kept, separator), length=length, dropped=[parts[index].name for index in dropped]
    )
