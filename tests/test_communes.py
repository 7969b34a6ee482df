"""The official list of communes (alertcast/communes.py), installed by `make install` into the
cache: read offline, and known to the spelling check."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertcast import communes
from alertcast.charter.engine import check_text


def test_the_installed_list_holds_every_commune_with_its_code() -> None:
    listed = communes.load()
    by_code = {commune.code: commune for commune in listed}
    assert len(by_code) > 34_000
    assert by_code["62126"].nom == "Beuvry" and by_code["62126"].departement == "62"
    assert by_code["97411"].nom == "Saint-Denis"  # La Réunion: overseas communes are there
    assert by_code["2A004"].nom == "Ajaccio"


def test_without_the_list_the_error_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(communes.CommunesMissing, match="alertcast communes install"):
        communes.load(tmp_path)
    assert communes.name_tokens(tmp_path) == frozenset()


def test_installing_again_keeps_the_file_there() -> None:
    assert communes.install() == communes.path()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("La déchetterie de Beuvry est fermée jeudi en raison d'un exercice incendie.", "fr"),
        ("La route entre Hénin-Beaumont et Courrières est fermée.", "fr"),
        ("The road to Wimereux is closed until noon.", "en"),
    ],
)
def test_a_commune_named_is_not_a_spelling_warning(text: str, language: str) -> None:
    rules = {finding.rule for finding in check_text(text, language=language)}
    assert "spelling.unknown" not in rules


def test_a_misspelled_word_is_still_one() -> None:
    findings = check_text("La route de Beuvry est fermmée ce soir.", language="fr")
    assert [finding.excerpt for finding in findings if finding.rule == "spelling.unknown"] == ["fermmée"]
