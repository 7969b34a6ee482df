"""Plots read at a glance, drawn on the server as inline SVG: no script, no chart library, no CDN,
and nothing the console's Content-Security-Policy refuses (presentation attributes, no `style`).

Every chart is an image for assistive technology (`role="img"`, a `<title>` and a `<desc>` that
say the numbers), and prints its numbers beside what it draws, so nobody has to read a length.
Labels come from data (sources, areas): they are escaped here, and the result is `Markup` only
because it is built from escaped parts. The words a chart writes itself (its description, the
delays, the axis) come from the `gettext` it is given, so they are the reader's language (French
when none is given, as the console's default).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

from alertcast.i18n import DEFAULT_LANGUAGE, N_, translations

Gettext = Callable[[str], str]

WIDTH = 560
LABEL_W = 200  # the labels' column; longer labels are cut, whole in their tooltip
VALUE_W = 150  # the numbers printed after each bar
ROW_H = 24
BAR_H = 14
MAX_LABEL = 26
INK = "#1b1b1b"
BAR = "#1f5fa8"  # 6.4:1 on white
MARK = "#b3261e"
MUTED = "#5c5c5c"
#: The strip's axis marks: log-scaled, so 2 seconds and 2 hours fit one line.
TICKS: tuple[tuple[float, str], ...] = (
    (0.1, N_("0.1 s")),
    (1, N_("1 s")),
    (10, N_("10 s")),
    (60, N_("1 min")),
    (600, N_("10 min")),
    (3600, N_("1 h")),
    (6 * 3600, N_("6 h")),
    (86400, N_("1 d")),
    (7 * 86400, N_("7 d")),
    (30 * 86400, N_("30 d")),
)


def french(message: str) -> str:
    """The default `gettext`: the console's default language."""
    return str(translations(DEFAULT_LANGUAGE).gettext(message))


def duration(seconds: float | None, gettext: Gettext = french) -> str:
    """A delay, as short as it stays exact enough to act on: "0,4 s", "42 s", "3 min 20 s",
    "2 h 05", "1 j 3 h" in French ("0.4 s", "1 d 3 h" in English)."""
    if seconds is None:
        return "—"
    if seconds < 10:
        whole, tenth = divmod(round(seconds * 10), 10)
        return gettext("%(whole)s.%(tenth)s s") % {"whole": whole, "tenth": tenth}
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest:02d} s" if rest else f"{minutes} min"
    if whole < 86400:
        hours, rest = divmod(whole, 3600)
        return f"{hours} h {rest // 60:02d}"
    days, rest = divmod(whole, 86400)
    return gettext("%(days)s d %(hours)s h") % {"days": days, "hours": rest // 3600}


def _cut(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = INK, size: int = 13) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" font-size="{size}" '
        f'font-family="system-ui, sans-serif">{escape(text)}</text>'
    )


def _svg(chart_id: str, title: str, desc: str, height: float, body: list[str]) -> Markup:
    ident = escape(chart_id)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{WIDTH}" '
        f'height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'aria-labelledby="{ident}-title {ident}-desc">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")  # every part escaped above


def bar_chart(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, float]],
    shown: Callable[[float], str] = lambda value: f"{value:g}",
    whiskers: Sequence[float | None] | None = None,
    whisker_label: str = "p90",
    gettext: Gettext = french,
) -> Markup:
    """One horizontal bar per (label, value), its number after it; `whiskers` (e.g. each row's
    p90 beside its median) draws a thin line from the bar's end to that value."""
    longest = max([value for _, value in rows] + [w or 0.0 for w in whiskers or ()] + [0.0])
    scale = (WIDTH - LABEL_W - VALUE_W) / longest if longest > 0 else 0.0
    body: list[str] = []
    parts: list[str] = []
    for index, (label, value) in enumerate(rows):
        top = index * ROW_H + 4
        middle = top + BAR_H / 2
        width = max(value * scale, 1.0 if value > 0 else 0.0)
        number = shown(value)
        whisker = whiskers[index] if whiskers is not None and index < len(whiskers) else None
        end = LABEL_W + width
        said = gettext("%(label)s: %(value)s") % {"label": label, "value": number}
        body.append(f"<g><title>{escape(said)}</title>")
        body.append(_text(0, middle + 4.5, _cut(label)))
        body.append(f'<rect x="{LABEL_W}" y="{top:.1f}" width="{width:.1f}" height="{BAR_H}" fill="{BAR}"/>')
        if whisker is not None:
            tip = LABEL_W + whisker * scale
            body.append(
                f'<line x1="{end:.1f}" y1="{middle:.1f}" x2="{tip:.1f}" y2="{middle:.1f}" '
                f'stroke="{INK}" stroke-width="1.5"/>'
                f'<line x1="{tip:.1f}" y1="{top:.1f}" x2="{tip:.1f}" y2="{top + BAR_H:.1f}" '
                f'stroke="{INK}" stroke-width="1.5"/>'
            )
            number += f" · {whisker_label} {shown(whisker)}"
            end = max(end, tip)
        body.append(_text(end + 6, middle + 4.5, number))
        body.append("</g>")
        parts.append(gettext("%(label)s: %(value)s") % {"label": label, "value": number})
    desc = gettext("; ").join(parts) if parts else gettext("no data")
    if not rows:
        body.append(_text(0, 17, gettext("No data for this period."), fill=MUTED))
    return _svg(chart_id, title, desc, max(len(rows), 1) * ROW_H + 8, body)


def _position(seconds: float, low: float, high: float) -> float:
    left, right = LABEL_W / 4, WIDTH - 20
    value = min(max(seconds, low), high)
    return left + (right - left) * (math.log10(value) - math.log10(low)) / (
        math.log10(high) - math.log10(low)
    )


def strip(
    chart_id: str,
    title: str,
    samples: Sequence[float],
    median: float | None,
    p90: float | None,
    gettext: Gettext = french,
) -> Markup:
    """Every delay as a dot on a log-scaled line, with the median and the p90 marked and
    printed: the spread shows (one slow night among quick days) where two numbers hide it."""
    if not samples:
        return _svg(
            chart_id,
            title,
            gettext("no data"),
            32,
            [_text(0, 20, gettext("No data for this period."), fill=MUTED)],
        )
    low = max((t for t, _ in TICKS if t <= max(min(samples), TICKS[0][0])), default=TICKS[0][0])
    high = min((t for t, _ in TICKS if t >= max(samples)), default=TICKS[-1][0])
    if high <= low:
        high = next((t for t, _ in TICKS if t > low), low * 10)
    axis_y, dots_y = 64.0, 40.0
    body = [
        f'<line x1="{_position(low, low, high):.1f}" y1="{axis_y}" x2="{_position(high, low, high):.1f}" '
        f'y2="{axis_y}" stroke="{MUTED}" stroke-width="1"/>'
    ]
    for tick, label in TICKS:
        if low <= tick <= high:
            x = _position(tick, low, high)
            body.append(
                f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="{MUTED}"/>'
                + _text(x, axis_y + 17, gettext(label), anchor="middle", fill=MUTED, size=11)
            )
    for seconds in samples:
        body.append(
            f'<circle cx="{_position(seconds, low, high):.1f}" cy="{dots_y}" r="4" fill="{BAR}" '
            f'fill-opacity="0.45"><title>{escape(duration(seconds, gettext))}</title></circle>'
        )
    marks = [(gettext("median"), median, 14.0, ""), ("p90", p90, 27.0, ' stroke-dasharray="4 3"')]
    for name, value, y, dashes in marks:
        if value is None:
            continue
        x = _position(value, low, high)
        body.append(
            f'<line x1="{x:.1f}" y1="{y + 3:.1f}" x2="{x:.1f}" y2="{dots_y + 9:.1f}" stroke="{MARK}" '
            f'stroke-width="2"{dashes}/>'
        )
        anchor = "end" if x > WIDTH / 2 else "start"
        body.append(
            _text(
                x + (-5 if anchor == "end" else 5),
                y,
                f"{name} {duration(value, gettext)}",
                anchor=anchor,
                fill=MARK,
            )
        )
    desc = gettext("%(count)s measure(s); median %(median)s; p90 %(p90)s; from %(low)s to %(high)s") % {
        "count": len(samples),
        "median": duration(median, gettext),
        "p90": duration(p90, gettext),
        "low": duration(min(samples), gettext),
        "high": duration(max(samples), gettext),
    }
    return _svg(chart_id, title, desc, 90, body)
