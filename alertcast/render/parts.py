"""Parts: how a template tells the fitter what may go, what may shrink and what must stay.

A channel template wraps each piece of its text in a `part` tag:

    {% part "what" %}{{ info.headline }}{% shorter 6 %}{{ info.event }}{% endpart %}
    {% part "details", optional=2 %}{{ info.description }}{% endpart %}
    {% part "hashtags", optional=1 %}{{ info.event|hashtag }}{% endpart %}

A part without `optional` is mandatory; `optional=N` may be dropped, lowest N first (hashtags
1, secondary details 2). A part may also carry shorter forms of the same fact, each after a
`{% shorter N %}` tag: the part shows its first (fullest) form, and when the text is too long
step N replaces it by the next form (a long list of areas by "Arras, Bapaume and 12
others", a long instruction by its first sentence and a pointer to the alert page, a long
headline by the event name). Steps of every part, drops and shortenings alike, are taken
lowest N first; a mandatory part keeps its shortest form, it never disappears. A shorter form
that is empty, or not shorter than the form before it, is ignored (a one-sentence instruction
has no "first sentence" form). `shorter` may sit inside `{% if %}`: a form exists only when
it can be written (no pointer to the alert page without a link).

The tags wrap their rendered bodies in control characters that incident text can never carry
(compose strips them from every incident field first), so `split_parts` recovers the parts and
their forms exactly and `fitting.fit` drops whole parts or swaps whole forms, never cutting one.
Parts are joined by one newline on short networks and a blank line elsewhere; whitespace the
template writes between parts is ignored, and an empty part disappears with its separator.
Text outside any part is one mandatory part, so a template without tags still renders.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser

from alertcast.render.fitting import ShorterForm, TextPart

START, FIELD, END, FORM = "\x02", "\x1f", "\x03", "\x1e"
MARKERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Every control character but FORM: a part's body keeps its `shorter` markers, nothing else.
_NOT_FORM = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1d\x1f\x7f]")
_PART = re.compile(f"{START}([^{FIELD}]*){FIELD}([0-9]*){FIELD}(.*?){END}", re.DOTALL)
_SHORTER = re.compile(f"{FORM}([0-9]*){FORM}")
_BLANK_LINES = re.compile(r"\n{3,}")

#: Networks read on a phone in a feed: one newline between parts. Others: a blank line.
SHORT_CHANNELS = frozenset({"x", "mastodon", "bluesky", "sms", "webpush"})


def separator(channel: str) -> str:
    return "\n" if channel in SHORT_CHANNELS else "\n\n"


def _order(value: object) -> int:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else 0


class PartExtension(Extension):
    """`{% part "name"[, optional=N] %}...[{% shorter N %}...]{% endpart %}`."""

    tags = {"part", "shorter"}  # noqa: RUF012 (Extension declares it as an instance attribute)

    def parse(self, parser: Parser) -> nodes.Node:
        token = next(parser.stream)
        lineno = token.lineno
        if token.value == "shorter":
            order = parser.parse_expression()
            return nodes.Output([self.call_method("_shorter", [order])]).set_lineno(lineno)
        name = parser.parse_expression()
        optional: nodes.Expr = nodes.Const(0)
        if parser.stream.skip_if("comma"):
            keyword = parser.stream.expect("name")
            if keyword.value != "optional":
                parser.fail(f"part takes only 'optional=N', not {keyword.value!r}", keyword.lineno)
            parser.stream.expect("assign")
            optional = parser.parse_expression()
        body = parser.parse_statements(("name:endpart",), drop_needle=True)
        call = self.call_method("_wrap", [name, optional])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _wrap(self, name: object, optional: object, caller: Callable[[], str]) -> str:
        order = _order(optional)
        body = _NOT_FORM.sub("", str(caller()))
        return f"{START}{MARKERS.sub('', str(name))}{FIELD}{order or ''}{FIELD}{body}{END}"

    def _shorter(self, order: object) -> str:
        return f"{FORM}{_order(order)}{FORM}"


def split_parts(rendered: str) -> list[TextPart]:
    """The parts of a rendered template, in order, each stripped of surrounding blank space."""
    parts: list[TextPart] = []
    position = 0
    for match in _PART.finditer(rendered):
        _loose(rendered[position : match.start()], parts)
        name, order, body = match.groups()
        pieces = _SHORTER.split(body)
        text = _tidy(pieces[0])
        if text:
            parts.append(
                TextPart(
                    name=name,
                    text=text,
                    mandatory=not order,
                    drop_order=int(order or 0),
                    shorter=_forms(text, pieces[1:]),
                )
            )
        position = match.end()
    _loose(rendered[position:], parts)
    return parts


def _forms(text: str, pieces: list[str]) -> list[ShorterForm]:
    """The `shorter` forms after the first: each non-empty and shorter than the one before."""
    forms: list[ShorterForm] = []
    previous = text
    for order, body in zip(pieces[::2], pieces[1::2], strict=True):
        form = _tidy(body)
        if form and len(form) < len(previous):
            forms.append(ShorterForm(text=form, order=int(order or 0)))
            previous = form
    return forms


def _loose(text: str, parts: list[TextPart]) -> None:
    """Text between parts: blank in a tagged template, the whole text in an untagged one."""
    tidy = _tidy(MARKERS.sub("", text))
    if tidy:
        parts.append(TextPart(name="text", text=tidy))


def _tidy(text: str) -> str:
    """No trailing spaces on a line, no run of blank lines, nothing around. Most calls get the
    blank space between two parts: 24,500 calls were 0.12 s of rendering's 1.8 s for 400
    incidents on five channels, so blank space returns at once and the pattern is compiled."""
    text = text.strip()
    if not text:
        return ""
    return _BLANK_LINES.sub("\n\n", "\n".join([line.rstrip() for line in text.splitlines()]))
