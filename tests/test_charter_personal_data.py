"""Personal data beyond French mobiles: numbers of every country (phonenumbers), a landline
next to a person's name, plates of France and the UK, service mailboxes; each with the neutral
twin that must pass (switchboards, service numbers, short codes, roads, times, postcodes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertcast.charter import check_text, phones
from alertcast.charter.personal_lexicon import contacts, names
from alertcast.charter.persons import person_spans
from alertcast.charter.phones import e164, find_numbers
from alertcast.charter.plates import plate_spans


def personal(text: str, language: str = "fr", extra_dir: Path | None = None) -> list[tuple[str, str]]:
    return [
        (f.rule, f.excerpt)
        for f in check_text(text, language, extra_dir=extra_dir)
        if f.rule.startswith("personal_data.")
    ]


# --- the "done when" -------------------------------------------------------------


def test_done_when_uk_mobile_british_plate_and_named_private_number_are_flagged() -> None:
    assert personal("Call the witness on +44 7700 900123.", "en") == [
        ("personal_data.phone", "+44 7700 900123")
    ]
    assert personal("Van registration AB12 CDE seen on the A1.", "en") == [
        ("personal_data.plate", "AB12 CDE")
    ]
    assert personal("Call John Smith on 020 7946 0958.", "en") == [("personal_data.phone", "020 7946 0958")]


def test_done_when_switchboard_and_contact_address_on_the_body_domain_pass(tmp_path: Path) -> None:
    (tmp_path / "common.yaml").write_text(
        "official_domains: [ville-arras.fr]\npublic_numbers: ['03 21 50 50 50']\n", encoding="utf-8"
    )
    text = "Le maire, M. Petit, vous informe : standard 03 21 50 50 50, contact@ville-arras.fr."
    assert personal(text) == [
        ("personal_data.phone", "03 21 50 50 50"),  # next to a name, unless the body lists it
        ("personal_data.email", "contact@ville-arras.fr"),  # outside the official domains
    ]
    assert personal(text, extra_dir=tmp_path) == []
    assert personal("Standard de la mairie : 03 21 50 50 50.") == []


# --- phone numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("06 12 34 56 78", "mobile"),
        ("0033 7 12 34 56 78", "mobile"),  # unallocated range, still a mobile by its prefix
        ("+44 7700 900123", "mobile"),  # Ofcom's fictional range: not "valid", still a mobile
        ("07700 900123", "mobile"),  # UK national format, read as GB since FR cannot
        ("+44 7911 123456", "mobile"),
        ("+32 470 12 34 56", "mobile"),
        ("+41 79 123 45 67", "mobile"),
        ("0692 12 34 56", "mobile"),  # Réunion, French national format
        ("0696 12 34 56", "mobile"),  # Martinique
        ("+262 692 12 34 56", "mobile"),
        ("03 21 21 20 00", "line"),
        ("0262 21 00 00", "line"),  # Réunion landline
        ("+44 20 7946 0958", "line"),
        ("09 70 12 34 56", "line"),  # French VoIP: a home box as often as a service
        ("0 800 123 456", "service"),
        ("0 820 12 34 56", "service"),
        ("0 806 000 126", "service"),
        ("0300 123 4567", "service"),
    ],
)
def test_numbers_are_read_and_classified(number: str, kind: str) -> None:
    found = find_numbers(f"Numéro : {number}.")
    assert [(match.raw, match.kind) for match in found] == [(number, kind)]


def test_overseas_numbers_resolve_to_their_own_country_code() -> None:
    assert e164("0692 12 34 56") == "+262692123456"
    assert e164("0690 12 34 56") == "+590690123456"
    assert e164("03 21 21 20 00") == "+33321212000"
    assert e164("not a number") is None


@pytest.mark.parametrize("number", sorted(contacts().emergency_numbers))
def test_emergency_and_national_short_numbers_pass(number: str) -> None:
    assert personal(f"En cas de besoin, appelez le {number}.") == []
    assert find_numbers(f"Call {number} now.") == []


@pytest.mark.parametrize(
    "number", ["+44 7700 900123", "07700 900123", "+32 470 12 34 56", "+41 79 123 45 67", "0692 12 34 56"]
)
def test_foreign_and_overseas_mobiles_block(number: str) -> None:
    assert personal(f"Contact : {number}.") == [("personal_data.phone", number)]


@pytest.mark.parametrize(
    "text",
    [
        "Standard de la préfecture : 03 21 21 20 00.",
        "Numéro vert : 0 800 123 456, numéro Azur : 0 810 12 34 56.",
        "Call the council on 020 7946 0958 or 0300 123 4567.",
        "M. le Maire vous informe : standard 03 21 21 20 00.",
        "Madame la Préfète communique : 03 21 21 20 00.",
        "La mairie, rue Jean Jaurès, répond au 03 21 21 20 00.",
        "Le collège Marie Curie est fermé ; secrétariat : 03 21 21 20 00.",
        "Accueil de Saint-Jean Brevelay : 03 21 21 20 00.",
    ],
)
def test_a_landline_without_a_person_is_a_switchboard(text: str) -> None:
    assert personal(text) == [], text


@pytest.mark.parametrize(
    ("text", "language", "number"),
    [
        ("Contactez Jean Dupont au 03 21 45 67 89.", "fr", "03 21 45 67 89"),
        ("Mme Martin (03 21 45 67 89) a signalé la fuite.", "fr", "03 21 45 67 89"),
        ("Le propriétaire, M. Petit, est joignable au 03 21 45 67 89.", "fr", "03 21 45 67 89"),
        ("03 21 45 67 89 : demandez Marie LEFEBVRE.", "fr", "03 21 45 67 89"),
        ("Call Mrs Jones on 020 7946 0958.", "en", "020 7946 0958"),
    ],
)
def test_a_landline_next_to_a_person_blocks(text: str, language: str, number: str) -> None:
    findings = [f for f in check_text(text, language) if f.rule == "personal_data.phone"]
    assert [(f.excerpt, f.level) for f in findings] == [(number, "block")]
    assert text[findings[0].start : findings[0].end] == number


def test_a_name_in_another_sentence_or_far_away_does_not_make_a_switchboard_private() -> None:
    assert personal("M. Petit a signalé la fuite. Standard de la mairie : 03 21 21 20 00.") == []
    far = (
        "Jean Dupont a vu la fuite près du pont et a prévenu les services de la ville "
        "qui répondent au 03 21 21 20 00."
    )
    assert personal(far) == []


def test_the_named_number_message_is_in_the_text_language_and_names_the_person() -> None:
    french = [
        f
        for f in check_text("Contactez Jean Dupont au 03 21 45 67 89.", "fr")
        if f.rule == "personal_data.phone"
    ]
    assert french[0].message.startswith("« 03 21 45 67 89 »") and "Jean Dupont" in french[0].message
    english = check_text("Call John Smith on 020 7946 0958.", "en")
    assert english[0].message.startswith('"020 7946 0958"') and "John Smith" in english[0].message
    mobile = check_text("Appelez le 06 12 34 56 78.", "fr")
    assert "mobile" in mobile[0].message and mobile[0].message.startswith("«")


def test_a_body_lists_its_numbers_in_any_format(tmp_path: Path) -> None:
    (tmp_path / "common.yaml").write_text(
        "public_numbers: ['+33 3 21 45 67 89', '+44 7700 900123', '0692 12 34 56']\n", encoding="utf-8"
    )
    text = "Astreinte : M. Petit au 03.21.45.67.89, UK desk 07700 900123, Réunion 0692 12 34 56."
    assert len(personal(text)) == 3
    assert personal(text, extra_dir=tmp_path) == []


# --- names -------------------------------------------------------------------------------


def test_person_spans() -> None:
    text = (
        "M. Petit, Mme la Maire, Jean Dupont, rue Jean Jaurès, Mrs Jones, Saint-Jean Baptiste, Marie DURAND."
    )
    assert [text[a:b] for a, b in person_spans(text)] == [
        "M. Petit",
        "Jean Dupont",
        "Mrs Jones",
        "Marie DURAND",
    ]


def test_name_lists_are_loaded_from_data() -> None:
    assert {"Jean", "Marie", "John", "Mary"} <= names().first_names
    assert "France" not in names().first_names  # also a country: not a name signal
    assert {"rue", "collège", "street"} <= names().places_before


# --- plates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plate",
    [
        "AB-123-CD",
        "AB 123 CD",
        "AB123CD",
        "1234 AB 62",
        "123 ABC 75",
        "45 AB 2A",
        "7 XY 2B",
        "12 ABC 974",
        "1234-AB-62",
        "AB12 CDE",
        "AB12CDE",
        "BD51 SMR",
        "LV70 XYZ",
    ],
)
def test_plates_block(plate: str) -> None:
    assert personal(f"Le véhicule {plate} est recherché.") == [("personal_data.plate", plate)]


@pytest.mark.parametrize(
    "text",
    [
        "La route D 934 est fermée, déviation par la N 17 et la RN 43.",
        "The A1 and the M25 are closed; use the A12.",
        "Fermeture de 14 H 30 à 18 H 00 ; réouverture à 8H30.",
        "Code INSEE 62041, code postal 62000 ; en Corse, 2A004.",
        "Postcodes SW1A 1AA and SW19 5AE are affected.",
        "Réunion publique le 12 MAI 2024 à la mairie.",
        "Le TER 847 62 est supprimé.",
        "Voiture IO-123-UU, SS-123-AB.",  # letters and pairs never issued
        "Immeuble 12 AB 20 : le département 20 n'existe plus depuis 1976.",
        "Le car 12 ab 62 circule.",  # lower case: not how plates are written
    ],
)
def test_plate_twins_pass(text: str) -> None:
    assert [f for f in check_text(text, "fr") if f.rule == "personal_data.plate"] == [], text


def test_plate_spans_ignore_acronyms_given() -> None:
    assert plate_spans("ligne 12 TGV 75") == [(6, 15)]
    assert plate_spans("ligne 12 TGV 75", ["TGV"]) == []


# --- e-mail ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "contact@pas-de-calais.gouv.fr",
        "enquiries@leeds.gov.uk",
        "info@nhs.uk",
        "Communication@arras.gouv.fr",
    ],
)
def test_service_mailboxes_on_public_domains_pass(address: str) -> None:
    assert personal(f"Écrivez à {address}.") == []


@pytest.mark.parametrize(
    "address",
    ["jean.martin@gmail.com", "john.smith@leeds.gov.uk", "contact@gmail.com", "mairie.wimereux@orange.fr"],
)
def test_other_addresses_block(address: str) -> None:
    assert personal(f"Écrivez à {address}.") == [("personal_data.email", address)]


@pytest.mark.parametrize(
    "number",
    [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "06\u00a012\u00a034\u00a056\u00a078",
        "06\u202f12\u202f34\u202f56\u202f78",  # French typography's narrow no-break spaces
        "06\u200912\u200934\u200956\u200978",  # thin spaces
        "+33 (0)6 12 34 56 78",
        "+44 7700 900123",
        "0692 12 34 56",
        "0692\u202f12\u202f34\u202f56",  # a Réunion mobile, in French typography
    ],
)
def test_numbers_written_with_any_separator_pass_the_digit_run_prefilter(number: str) -> None:
    """find_numbers skips the matchers when no run of six digits is there: every way a number is
    written keeps its digits in one run, so it is still found, as a mobile."""
    assert [m.kind for m in find_numbers(f"Appelez le {number} ce soir.")] == ["mobile"]


def test_a_text_with_only_dates_hours_and_road_numbers_has_no_phone_number() -> None:
    assert find_numbers("Route D 934 fermée du 7/12 à 4 h 14 au 8/12 à 11 h 44, 130 km/h.") == []


@pytest.mark.parametrize(
    "page",
    ["a0612345678bcdef", "0612345678abcdef", "abcdef0612345678", "f4e569469645eadd", "07700900123abcde"],
)
def test_an_alert_page_s_identifier_in_its_link_is_not_a_phone_number(page: str) -> None:
    """The page names alertcast writes hold 16 hex digits: "0612345678" among them once in a
    thousand blocked that alert for a mobile number no one wrote."""
    link = f"https://alertes.example.fr/alerts/{page}.html"
    assert personal(f"Route fermée. Plus d'informations : {link}") == []


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Contact : https://wa.me/+33612345678", "+33612345678"),
        ("Contact : https://example.fr/rappel?tel=0612345678", "0612345678"),
        ("Appelez le 06 12 34 56 78 ou https://example.fr", "06 12 34 56 78"),
    ],
)
def test_a_number_that_stands_apart_in_a_link_or_beside_one_still_blocks(text: str, number: str) -> None:
    assert personal(text) == [("personal_data.phone", number)]


def test_a_link_whose_only_digit_runs_are_in_its_identifiers_is_not_read_by_the_matchers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The matchers cost most of the charter on one text of four (the page name's digits); a
    number standing apart in a link still has them run."""
    read: list[str] = []
    matcher = phones.PhoneNumberMatcher

    def counted(text: str, region: str, **options: object) -> object:
        read.append(region)
        return matcher(text, region, **options)

    monkeypatch.setattr(phones, "PhoneNumberMatcher", counted)
    assert find_numbers("Infos : https://alertes.example.fr/alerts/e2b9e507993799052.html") == []
    assert read == []
    assert [m.e164 for m in find_numbers("Infos : https://example.fr/rappel?tel=0612345678")] == [
        "+33612345678"
    ]
    assert read


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789abcdefx/-.?=+() ", max_size=40))
def test_blanking_the_identifiers_of_links_finds_what_the_matchers_find(path: str) -> None:
    text = f"Plus d'informations : https://alertes.example.fr/{path} ce soir."
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(phones, "_identifiers_blanked", lambda text, links: text)
        expected = find_numbers(text)
    assert find_numbers(text) == expected
