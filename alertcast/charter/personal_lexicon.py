"""The data behind the personal-data rules (lexicons/personal/*.yaml), loaded once.

Lists of first names, civilities, service mailboxes and mobile ranges change with usage, not
with code, so they are data. What belongs to one body (its switchboards, its domains) is not
here: it goes in the body's common.yaml (public_numbers, official_domains) like the rest of
its charter.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field


class ContactsFile(BaseModel):
    """`personal/contacts.yaml`: how numbers are read and which addresses are services."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regions: tuple[str, ...] = ("FR",)
    overseas: tuple[str, ...] = ()
    emergency_numbers: frozenset[str] = Field(default_factory=frozenset)
    mobile_prefixes: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    role_mailboxes: frozenset[str] = Field(default_factory=frozenset)
    public_domains: tuple[str, ...] = ()


class NamesFile(BaseModel):
    """`personal/names.yaml`: what makes a word sequence a private person's name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    civilities: tuple[str, ...] = ()
    titles: frozenset[str] = Field(default_factory=frozenset)
    places_before: frozenset[str] = Field(default_factory=frozenset)
    first_names: frozenset[str] = Field(default_factory=frozenset)


def _load(name: str) -> object:
    resource = resources.files("alertcast.charter").joinpath("lexicons", "personal", name)
    return yaml.safe_load(resource.read_text(encoding="utf-8")) or {}


@lru_cache(maxsize=1)
def contacts() -> ContactsFile:
    return ContactsFile.model_validate(_load("contacts.yaml"))


@lru_cache(maxsize=1)
def names() -> NamesFile:
    return NamesFile.model_validate(_load("names.yaml"))
