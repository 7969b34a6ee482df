"""Parts: how a template tells the fitter what may go and what must stay.

A channel template wraps each piece of its text in a `part` tag:

    {% part "what" %}{{ info.headline }}{% endpart %}
    {% part "details", optional=2 %}{{ info.description }}{% endpart %}
    {% part "hashtags", optional=1 %}{{ info.event|hashtag }}{% endpart %}

A part without `optional` is mandatory; `optional=N` may be dropped, lowest N first (hashtags
1, secondary details 2). The tag wraps its rendered body in control characters that incident
text can never carry (compose strips them from every incident field first), so `split_parts`
recovers the parts exactly and `fitting.fit` drops whole optional parts, never cutting one.
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

from alertcast.render.fitting import TextPart

START, FIELD, END = "\x02", "\x1f", "\x03"
MARKERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PART = re.compile(f"{START}([^{FIELD}]*){FIELD}([0-9]*){FIELD}(.*?){END}", re.DOTALL)

#: Networks read on a phone in a feed: one newline between parts. Others: a blank line.
SHORT_CHANNELS = frozenset({"x", "mastodon", "bluesky", "sms"})


def separator(channel: str) -> str:
    return "\n" if channel in SHORT_CHANNELS else "\n\n"


class PartExtension(Extension):
    """`{% part "name"[, optional=N] %}...{% endpart %}`."""

    tags = {"part"}  # noqa: RUF012 (Extension declares it as an instance attribute)

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
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
        order = int(optional) if isinstance(optional, int | str) and str(optional).isdigit() else 0
        body = MARKERS.sub("", str(caller()))
        return f"{START}{MARKERS.sub('', str(name))}{FIELD}{order or ''}{FIELD}{body}{END}"


def split_parts(rendered: str) -> list[TextPart]:
    """The parts of a rendered template, in order, each stripped of surrounding blank space."""
    parts: list[TextPart] = []
    position = 0
    for match in _PART.finditer(rendered):
        _loose(rendered[position : match.start()], parts)
        name, order, body = match.groups()
        text = _tidy(body)
        if text:
            parts.append(TextPart(name=name, text=text, mandatory=not order, drop_order=int(order or 0)))
        position = match.end()
    _loose(rendered[position:], parts)
    return parts


def _loose(text: str, parts: list[TextPart]) -> None:
    """Text between parts: blank in a tagged template, the whole text in an untagged one."""
    tidy = _tidy(MARKERS.sub("", text))
    if tidy:
        parts.append(TextPart(name="text", text=tidy))


def _tidy(text: str) -> str:
    """No trailing spaces on a line, no run of blank lines, nothing around."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
