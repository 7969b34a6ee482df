"""INSEE area codes: what a commune code and a département code look like, and how they nest.

Subscriptions, alerts' geocodes and the communes file all speak these codes, and must agree
on them: a commune belongs to the département its code starts with (two characters, or three
overseas), so matching by département needs no table.
"""

from __future__ import annotations

import re

_COMMUNE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
# 01-19, 21-95 (20 was split into 2A and 2B in 1976), 2A, 2B, and the overseas 971-978.
_DEPARTEMENT = re.compile(r"^(?:0[1-9]|1\d|2[1-9AB]|[3-8]\d|9[0-5]|97[1-8])$")


def departement_of(commune: str) -> str:
    """Overseas communes (97105) belong to a three-digit département (971), others to two."""
    return commune[:3] if commune.startswith("97") else commune[:2]


def is_departement(code: str) -> bool:
    return _DEPARTEMENT.match(code) is not None


def is_commune(code: str) -> bool:
    """Five characters, and a département that exists (so 20xxx, from before 1976, is refused)."""
    return _COMMUNE.match(code) is not None and is_departement(departement_of(code))
