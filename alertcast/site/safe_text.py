"""Text from incidents made safe to put into XML and UTF-8 pages.

Incident texts are hostile input. Escaping (`<`, `&`) is the job of Jinja's autoescape and
of lxml; this module removes what no escaping can carry: control characters that XML 1.0
forbids (lxml refuses them) and lone surrogates (UTF-8 cannot encode them). One bad
character in one headline must not stop the whole site from being rebuilt during a crisis.
"""

from __future__ import annotations

import re

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    return _NOT_XML.sub("", text)
