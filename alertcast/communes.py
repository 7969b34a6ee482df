"""The official list of French communes, offline: Etalab's `@etalab/decoupage-administratif`.

Every commune of France (overseas included) with its INSEE code, name, département and
postcodes, as Etalab publishes it on npm. It is fetched once by `alertcast communes install`
(run by `make install`, like the broker's jars and LanguageTool) into the cache outside the
clone, and only read after that: nothing is downloaded while a worker runs.

What it is for: the charter's spelling check accepts the name of any commune (on real neutral
texts, 31 of 33 spelling warnings were place names), and the subscriptions search communes by
name and check INSEE codes against it. It has no coordinates: matching an alert's polygon to
communes uses the body's communes file (alertcast/subscriptions/communes.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

from alertcast.errors import ConfigurationError
from alertcast.settings import get_settings

PACKAGE = "@etalab/decoupage-administratif"
VERSION = "6.0.0"
MEMBER = "package/data/communes.json"
# Current communes, and the delegated or associated ones whose names people still write.
KINDS = ("commune-actuelle", "commune-deleguee", "commune-associee", "arrondissement-municipal")


class CommunesMissing(ConfigurationError):
    """The list is not installed: `alertcast communes install` (or `make install`) fetches it."""


class OfficialCommune(BaseModel):
    code: str = Field(pattern=r"^[0-9][0-9AB][0-9]{3}$", description="INSEE code")
    nom: str
    type: str
    departement: str | None = None
    codesPostaux: list[str] = Field(default_factory=list)  # Etalab's field name
    population: int | None = None
    chefLieu: str | None = Field(default=None, description="a delegated or associated commune's commune")
    commune: str | None = Field(default=None, description="a municipal arrondissement's commune")


def path(cache_dir: Path | None = None) -> Path:
    cache = cache_dir or get_settings().cache_dir
    return cache / "communes" / f"decoupage-administratif-{VERSION}" / "communes.json"


def install(cache_dir: Path | None = None) -> Path:
    """Fetch the package with npm (once) and keep its communes file in the cache."""
    target = path(cache_dir)
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise CommunesMissing(f"npm is needed once to fetch {PACKAGE}@{VERSION} (install Node.js)")
    with tempfile.TemporaryDirectory() as work:
        done = subprocess.run(
            [npm, "pack", f"{PACKAGE}@{VERSION}", "--silent", "--pack-destination", work],
            capture_output=True,
            text=True,
            timeout=300,
        )
        archives = list(Path(work).glob("*.tgz"))
        if done.returncode != 0 or not archives:
            raise CommunesMissing(f"npm pack {PACKAGE}@{VERSION} failed: {done.stderr.strip()[-300:]}")
        with tarfile.open(archives[0]) as archive:
            member = archive.extractfile(MEMBER)
            if member is None:
                raise CommunesMissing(f"{PACKAGE}@{VERSION} has no {MEMBER}")
            data = member.read()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(target)  # whole or absent: a cut download is never read
    return target


@lru_cache(maxsize=2)
def load(cache_dir: Path | None = None) -> tuple[OfficialCommune, ...]:
    """Every commune of the list, or `CommunesMissing` saying how to install it."""
    source = path(cache_dir)
    if not source.exists():
        raise CommunesMissing(f"{source} is missing: run `alertcast communes install` (make install)")
    entries = json.loads(source.read_bytes())
    return tuple(OfficialCommune.model_validate(entry) for entry in entries if entry.get("type") in KINDS)


@lru_cache(maxsize=2)
def name_tokens(cache_dir: Path | None = None) -> frozenset[str]:
    """The capitalised pieces of every commune's name ("Beuvry", "Omer", "Haÿ"), or none
    when the list is not installed (the spelling check then knows only the body's places)."""
    try:
        communes = load(cache_dir)
    except CommunesMissing:
        return frozenset()
    pieces = (piece for commune in communes for piece in split_name(commune.nom))
    return frozenset(piece for piece in pieces if piece[:1].isupper())


def split_name(name: str) -> list[str]:
    """The word pieces of a place name: "Saint-Omer" -> Saint, Omer; "L'Haÿ" -> L, Haÿ."""
    pieces = name.replace("\u2019", "'").replace("'", " ").replace("-", " ").split()
    return [piece for piece in pieces if piece]
