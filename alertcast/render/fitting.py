"""Fit a text into a channel by dropping whole optional parts or swapping whole forms, never by
cutting.

A text cut mid-sentence can change its meaning ("ne sortez pas" -> "ne sortez"): so a text is
assembled from parts (headline, where, when, advice, link, details, hashtags), and when it is
too long it gives way step by step, in the order the template declares (lowest number first):
optional parts go (hashtags 1, secondary details 2), and parts that have shorter forms of the
same fact switch to the next one (the full list of areas -> "Arras, Bapaume and 12 others"
3; the full instruction -> its first sentence and a pointer to the alert page 4, then the
pointer alone 5; the headline -> its first sentence 6, then the event name 7). Mandatory
parts never go: their shortest form stays. If that still does not fit, the draft is blocked
with the reason and shows the mandatory parts whole, for a human to shorten. Once the text
fits, every step is undone again if the text still fits without it (hashtags dropped first
come back once a longer part has gone).

`FitResult.dropped` names every step still in effect: a part's name when it was dropped,
"<name> (full)" when its fullest form gave way to a shorter one, "<name> (short)" when that
gave way to the next ("advice (full)", "where (full)", "what (short)").

For sms, every form is first made SMS-safe (`length.sms_plain`: ’ « » and non-breaking spaces
become their GSM-7 equivalents, letters never change), since a single ’ costs more than any
optional part; `length.segments_before` says what the same parts would have taken with their
typography as written, so the saving is shown, not hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alertcast.i18n import N_, said
from alertcast.render.length import Length, count, sms_plain
from alertcast.render.reference import as_posted


class ShorterForm(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    order: int = Field(default=0, description="steps with a lower number are taken first")


class TextPart(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    text: str
    mandatory: bool = True
    drop_order: int = Field(default=0, description="optional parts with a lower number are dropped first")
    shorter: list[ShorterForm] = Field(
        default_factory=list, description="shorter forms of the same fact, each shorter than the one before"
    )

    def form(self, level: int) -> str:
        """The text at `level`: 0 the full form, then each shorter form; past them, dropped."""
        if level == 0:
            return self.text
        return self.shorter[level - 1].text if level <= len(self.shorter) else ""


class FitResult(BaseModel):
    text: str
    length: Length
    dropped: list[str] = Field(default_factory=list, description="names, in the order they were dropped")
    blocked: bool = False
    reason: str = ""
    reason_said: dict[str, Any] = Field(default_factory=dict, description="`reason` as i18n.said words")


@dataclass(frozen=True)
class _Step:
    index: int
    level: int
    order: int
    name: str


def join(parts: list[TextPart], separator: str) -> str:
    """Parts in their order, empty ones left out so no blank line is left behind."""
    return separator.join(part.text for part in parts if part.text.strip())


def _steps(parts: list[TextPart]) -> list[_Step]:
    """Every way the text may give, in the order to try them: lower number first; among
    equals, the later part first (it is usually the lesser), a part's forms in their order."""
    steps: list[_Step] = []
    for index, part in enumerate(parts):
        for level, form in enumerate(part.shorter, start=1):
            label = "full" if level == 1 else "short" if level == 2 else f"short {level - 1}"
            steps.append(_Step(index, level, form.order, f"{part.name} ({label})"))
        if not part.mandatory:
            steps.append(_Step(index, len(part.shorter) + 1, part.drop_order, part.name))
    return sorted(steps, key=lambda step: (step.order, -step.index, step.level))


def _sms_safe(part: TextPart) -> TextPart:
    forms = [form.model_copy(update={"text": sms_plain(form.text)}) for form in part.shorter]
    return part.model_copy(update={"text": sms_plain(part.text), "shorter": forms})


def fit(
    parts: list[TextPart],
    channel: str,
    *,
    limit: int | None = None,
    url_weight: int | None = None,
    separator: str = "\n",
    language: str = "fr",
) -> FitResult:
    """Counted as the channel's adapter will post it (`reference.as_posted`: its reference
    included, in `language`)."""
    as_written = parts
    if channel == "sms":
        parts = [_sms_safe(part) for part in parts]
    levels = [0] * len(parts)

    def text(state: list[int], chosen: list[TextPart] = parts) -> str:
        return separator.join(
            form for part, level in zip(chosen, state, strict=True) if (form := part.form(level)).strip()
        )

    def measure(state: list[int], chosen: list[TextPart] = parts) -> Length:
        shown = as_posted(channel, text(state, chosen), language)
        return count(channel, shown, limit=limit, url_weight=url_weight)

    def with_before(state: list[int], length: Length) -> Length:
        """For sms, what the same parts take with their typography as written."""
        if channel != "sms":
            return length
        before = measure(state, as_written)
        return length.model_copy(
            update={"segments_before": before.segments, "encoding_before": before.encoding}
        )

    length = measure(levels)
    if length.fits:
        return FitResult(text=text(levels), length=with_before(levels, length))

    steps = _steps(parts)

    def dropped() -> list[str]:
        """The steps in effect; a dropped part is named once, not with its forms too."""
        return [
            step.name
            for step in steps
            if levels[step.index] >= step.level
            and (
                levels[step.index] <= len(parts[step.index].shorter)
                or step.level > len(parts[step.index].shorter)
            )
        ]

    taken: list[_Step] = []
    for step in steps:
        if levels[step.index] >= step.level:
            continue  # already past it (a part dropped before its forms' turn)
        levels[step.index] = step.level
        taken.append(step)
        length = measure(levels)
        if length.fits:
            break

    if not length.fits:
        # Blocked: show the mandatory parts whole, for a human to shorten what they choose.
        shortest = length
        levels = [0 if part.mandatory else len(part.shorter) + 1 for part in parts]
        length = measure(levels)
        unit = (
            said(N_("%(unit)s (%(count)s segments)"), unit=length.unit, count=length.segments)
            if channel == "sms"
            else length.unit
        )
        also = (
            said(N_(" (%(count)s with their shortest forms)"), count=shortest.length)
            if shortest.length != length.length
            else ""
        )
        reason = said(
            N_(
                "the mandatory parts alone take %(length)s %(unit)s on %(channel)s%(also)s, "
                "over the limit of %(limit)s: shorten them by hand"
            ),
            length=length.length,
            unit=unit,
            channel=channel,
            also=also,
            limit=length.limit,
        )
        return FitResult(
            text=text(levels),
            length=with_before(levels, length),
            dropped=dropped(),
            blocked=True,
            reason=reason["message"],
            reason_said=reason,
        )

    # A step taken early (hashtags dropped) may be undone now that a longer part has given way.
    for step in sorted(taken, key=lambda step: (-step.order, step.index, -step.level)):
        if levels[step.index] != step.level:
            continue
        trial = list(levels)
        trial[step.index] = step.level - 1
        trial_length = measure(trial)
        if trial_length.fits:
            levels, length = trial, trial_length
    return FitResult(
        text=text(levels),
        length=with_before(levels, length),
        dropped=dropped(),
    )
