"""Moderation of citizens' replies by the usage charter: personal data and insults are hidden,
scams and campaigning are flagged for a person, ordinary questions stay; every reason points
at the characters at fault, and a person can reverse the machine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alertcast.replies.model import Reply, reply_id
from alertcast.replies.moderation import ModerationDecision, lexicon, moderate

AT = datetime(2031, 3, 3, 10, 0, tzinfo=UTC)
BODY = ["arras.fr"]


def reply(text: str) -> Reply:
    return Reply(
        id=reply_id("mastodon", "109"),
        network="mastodon",
        author="@citoyen@piaille.fr",
        text=text,
        at=AT,
        alert_id="a-1",
        in_reply_to="100",
        conversation="100",
    )


def test_an_insult_is_hidden_with_its_span() -> None:
    text = "Bande de CONNARDS, vous êtes des crétins"
    moderation = moderate(reply(text), "fr", body_domains=BODY)
    assert moderation.action == "hide"
    spans = [(reason.rule, reason.start, reason.end, reason.excerpt) for reason in moderation.reasons]
    assert spans == [("moderation.insult", 9, 17, "CONNARDS"), ("moderation.insult", 33, 40, "crétins")]
    assert all(text[r.start : r.end] == r.excerpt for r in moderation.reasons)
    said = moderation.reasons[0].message
    assert said == "« CONNARDS » est une insulte : la charte d'utilisation la masque."


def test_insults_match_without_accents_on_word_boundaries() -> None:
    assert moderate(reply("espece de cretin"), "fr").action == "hide"
    # "con" is in the lexicon; "cône" and "conduite" are not insults.
    assert moderate(reply("Le cône est tombé sur la conduite d'eau"), "fr").action == "keep"


def test_an_english_insult_is_explained_in_english() -> None:
    moderation = moderate(reply("You idiot, answer me"), "en-GB")
    assert moderation.action == "hide"
    assert moderation.reasons[0].message == '"idiot" is an insult: the usage charter hides it.'


def test_a_threat_is_hidden() -> None:
    moderation = moderate(reply("On sait où tu habites."), "fr")
    assert [(r.rule, r.excerpt) for r in moderation.reasons] == [
        ("moderation.harassment", "On sait où tu habites")
    ]


def test_a_private_mobile_number_is_hidden_by_the_charter() -> None:
    text = "Mon numéro : 06 12 34 56 78, rappelez-moi"
    moderation = moderate(reply(text), "fr", body_domains=BODY)
    assert moderation.action == "hide"
    [reason] = moderation.reasons
    assert reason.rule == "personal_data.phone"
    assert (reason.start, reason.end, reason.excerpt) == (13, 27, "06 12 34 56 78")
    assert reason.message.startswith("Donnée personnelle, masquée par la charte d'utilisation : ")


def test_a_switchboard_and_a_contact_address_on_public_domains_are_kept() -> None:
    text = (
        "Appelez le standard de la mairie au 03 21 50 50 50 ou écrivez à "
        "contact@pas-de-calais.gouv.fr ou accueil@arras.fr"
    )
    assert moderate(reply(text), "fr", body_domains=BODY).action == "keep"


def test_a_personal_address_is_hidden_unless_on_the_bodys_domains() -> None:
    assert moderate(reply("Écrivez à jean.dupont@gmail.com"), "fr", body_domains=BODY).action == "hide"
    assert moderate(reply("Écrivez à voirie@arras.fr"), "fr", body_domains=BODY).action == "keep"


def test_a_scam_link_with_gagnez_is_flagged() -> None:
    text = "Gagnez 1000€ ici http://promo-gratuite.xyz/win"
    moderation = moderate(reply(text), "fr", body_domains=BODY)
    assert moderation.action == "flag"
    [reason] = moderation.reasons
    assert (reason.rule, reason.excerpt) == ("moderation.scam_link", "http://promo-gratuite.xyz/win")
    assert text[reason.start : reason.end] == reason.excerpt


def test_money_words_next_to_a_public_link_are_kept() -> None:
    text = "Le remboursement des tickets est expliqué sur https://www.service-public.gouv.fr/aide"
    assert moderate(reply(text), "fr").action == "keep"


def test_a_reply_that_is_mostly_outside_links_is_flagged() -> None:
    moderation = moderate(reply("regardez http://a.example.xyz/1 http://b.example.xyz/2"), "fr")
    assert [(r.rule, r.start, r.end) for r in moderation.reasons] == [("moderation.mostly_links", 0, 0)]
    assert moderation.action == "flag"


def test_links_to_public_and_body_sites_are_kept() -> None:
    text = "Voir https://www.vigicrues.gouv.fr/ et https://www.arras.fr/travaux"
    assert moderate(reply(text), "fr", body_domains=BODY).action == "keep"


def test_partisan_campaigning_is_flagged_not_hidden() -> None:
    moderation = moderate(reply("Votez pour la liste Ensemble pour Arras aux municipales"), "fr")
    assert moderation.action == "flag"
    assert [(r.rule, r.excerpt) for r in moderation.reasons] == [("neutrality.partisan", "Votez pour")]
    assert moderation.reasons[0].message.startswith("Propagande politique possible")


def test_a_normal_question_is_kept() -> None:
    moderation = moderate(reply("La route est-elle toujours fermée à Arras ?"), "fr", body_domains=BODY)
    assert moderation.action == "keep"
    assert moderation.reasons == []


def test_hide_wins_over_flag() -> None:
    moderation = moderate(reply("Gagnez un cadeau http://promo.xyz/x bande de crétins"), "fr")
    assert moderation.action == "hide"
    assert {r.rule for r in moderation.reasons} == {"moderation.scam_link", "moderation.insult"}


def test_a_person_reverses_the_machine_and_the_record_keeps_both() -> None:
    insult = reply("espèce d'idiot")
    machine = ModerationDecision.automatic(insult, moderate(insult, "fr"), AT)
    assert (machine.action, machine.by) == ("hide", "alertcast")
    later = datetime(2031, 3, 3, 11, 0, tzinfo=UTC)
    person = machine.reversed_by("cm.dupont", later)
    assert (person.action, person.by, person.at, person.overrides) == ("keep", "cm.dupont", later, machine)
    again = person.reversed_by("chef.martin", datetime(2031, 3, 3, 12, 0, tzinfo=UTC), "hide")
    assert again.overrides is not None and again.overrides.overrides == machine


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_packaged_lexicons_load(language: str) -> None:
    table = lexicon(language)
    assert table.insults and table.harassment and table.scam_words
