"""A citizen's text as the inbox keeps it, for the networks that send plain text (Matrix,
Telegram, Facebook, X): control characters and bidi overrides removed (they hide or reorder
what a person reads), newlines and tabs kept, bounded so one message cannot fill a topic."""

from __future__ import annotations

import re

TEXT_LIMIT = 20_000
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain_text(text: str) -> str:
    return _INVISIBLE.sub("", text).replace("\xa0", " ").strip()[:TEXT_LIMIT]
