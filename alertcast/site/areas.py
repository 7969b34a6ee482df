"""Which area pages an alert appears on, and their stable file names.

A commune's page must keep its address whatever wording a source uses ("Paris",
"Ville de Paris", "PARIS 75"), so its slug is the INSEE code when the source gave one; only
then does the description decide. A description with no Latin letters or digits still gets a
stable page (from a hash), never an empty or colliding name.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from alertcast.models.incident import Area

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_CODE = re.compile(r"[^0-9A-Za-z]+")
_MAX_SLUG = 80


@dataclass(frozen=True)
class AreaRef:
    slug: str
    name: str
    insee: str | None = None

    @property
    def path(self) -> str:
        """The page's path from the site root."""
        return f"areas/{self.slug}.html"


def description_slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")[:_MAX_SLUG].strip("-")
    if not slug:
        slug = "zone-" + hashlib.sha256(text.strip().encode("utf-8", "replace")).hexdigest()[:12]
    return slug


def _insee_codes(area: Area) -> list[str]:
    codes = []
    for geocode in area.geocodes:
        if "insee" in geocode.value_name.lower():
            code = _CODE.sub("", geocode.value).upper()
            if code:
                codes.append(code)
    return codes


def area_refs(area: Area) -> list[AreaRef]:
    """One page per INSEE code of the area, else one page for its description."""
    codes = _insee_codes(area)
    name = area.area_desc.strip()
    if not codes:
        return [AreaRef(slug=description_slug(name), name=name)]
    if len(codes) == 1:
        return [AreaRef(slug=codes[0].lower(), name=name, insee=codes[0])]
    # One description for several communes: each page names its code to tell them apart.
    return [AreaRef(slug=code.lower(), name=f"{name} ({code})", insee=code) for code in codes]
