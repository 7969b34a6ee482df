from __future__ import annotations

from alertcast.render.fitting import ShorterForm, TextPart, fit

HEADLINE = TextPart(name="headline", text="Route D 934 fermée entre Arras et Cambrai.", mandatory=True)
ADVICE = TextPart(name="advice", text="Déviation par la D 939.", mandatory=True)
LINK = TextPart(name="link", text="https://www.pas-de-calais.gouv.fr/routes", mandatory=True)
DETAILS = TextPart(
    name="details",
    text="Travaux de réfection de la chaussée après les intempéries ; réouverture prévue vendredi.",
    mandatory=False,
    drop_order=2,
)
HASHTAGS = TextPart(name="hashtags", text="#PasDeCalais #Routes #Info", mandatory=False, drop_order=1)
PARTS = [HEADLINE, ADVICE, DETAILS, LINK, HASHTAGS]


def test_a_text_that_fits_is_left_whole() -> None:
    result = fit(PARTS, "mastodon")
    assert not result.blocked
    assert result.dropped == []
    assert result.text == "\n".join(part.text for part in PARTS)
    assert result.length.fits


def test_hashtags_go_first() -> None:
    full = fit(PARTS, "website").text
    limit = len(full) - 5
    result = fit(PARTS, "bluesky", limit=limit)
    assert result.dropped == ["hashtags"]
    assert HASHTAGS.text not in result.text
    assert DETAILS.text in result.text
    assert result.length.fits


def test_secondary_details_go_next_and_hashtags_come_back_if_they_fit() -> None:
    without_details = "\n".join(part.text for part in PARTS if part is not DETAILS)
    result = fit(PARTS, "bluesky", limit=len(without_details))
    assert result.dropped == ["details"]
    assert result.text == without_details


def test_mandatory_parts_never_go_and_block_with_a_reason() -> None:
    result = fit(PARTS, "bluesky", limit=40)
    assert result.blocked
    assert result.dropped == ["hashtags", "details"]
    for part in (HEADLINE, ADVICE, LINK):
        assert part.text in result.text
    assert "mandatory" in result.reason and "40" in result.reason
    assert not result.length.fits


def test_never_cut_in_the_middle() -> None:
    for limit in range(60, 260, 7):
        result = fit(PARTS, "bluesky", limit=limit)
        pieces = result.text.split("\n")
        assert all(piece in {part.text for part in PARTS} for piece in pieces)


def test_x_counts_the_link_as_23() -> None:
    long_link = TextPart(name="link", text="https://example.org/" + "a" * 300, mandatory=True)
    result = fit([HEADLINE, long_link], "x")
    assert result.length.fits
    assert result.length.length == len(HEADLINE.text) + 1 + 23


def test_sms_drops_to_one_segment_when_the_account_allows_one() -> None:
    result = fit([HEADLINE, ADVICE, DETAILS, HASHTAGS], "sms", limit=1)
    assert result.length.segments == 1
    assert result.dropped == ["hashtags"]
    assert result.length.encoding == "gsm7"
    # A letter GSM-7 lacks (ê) makes it UCS-2 (70 units): the details must go; once they are
    # gone the text is GSM-7 again and the hashtags, dropped first, fit back in.
    details = DETAILS.model_copy(update={"text": DETAILS.text.replace("vendredi", "après la fête")})
    result = fit([HEADLINE, ADVICE, details, HASHTAGS], "sms", limit=1)
    assert result.dropped == ["details"]
    assert (result.length.encoding, result.length.segments, result.blocked) == ("gsm7", 1, False)
    assert HASHTAGS.text in result.text


def test_sms_typography_is_made_gsm7_before_anything_is_dropped() -> None:
    # A typographic apostrophe alone would force UCS-2 and cost the details: it is made ' and
    # the text stays whole in one GSM-7 segment; "before" says it would have taken three UCS-2.
    details = DETAILS.model_copy(update={"text": DETAILS.text.replace("la chaussée", "l’accotement")})
    result = fit([HEADLINE, ADVICE, details], "sms", limit=1)
    assert result.dropped == []
    assert "l'accotement" in result.text and "’" not in result.text
    assert (result.length.encoding, result.length.segments) == ("gsm7", 1)
    assert (result.length.encoding_before, result.length.segments_before) == ("ucs2", 3)


def test_sms_never_changes_letters_and_counts_them_as_ucs2() -> None:
    headline = TextPart(
        name="headline", text="Arrêté : la fête de l’île est annulée ; la rôtisserie, ouverte."
    )
    result = fit([headline], "sms")
    assert result.text == "Arrêté : la fête de l'île est annulée ; la rôtisserie, ouverte."
    assert (result.length.encoding, result.length.encoding_before) == ("ucs2", "ucs2")
    assert result.length.segments == result.length.segments_before == 1


def test_sms_shorter_forms_and_blocked_texts_are_plain_too() -> None:
    long = TextPart(
        name="advice",
        text="« Restez chez vous » " + "a" * 500,
        shorter=[ShorterForm(text="« Restez chez vous »\u00a0!")],
    )
    result = fit([HEADLINE, long], "sms", limit=1)
    assert result.text.endswith('"Restez chez vous" !')
    assert result.dropped == ["advice (full)"]
    assert (result.length.segments, result.length.segments_before) == (1, 1)
    blocked = fit([TextPart(name="advice", text="L’accès " + "a" * 600)], "sms", limit=1)
    assert blocked.blocked and blocked.text.startswith("L'accès")
    assert (blocked.length.segments, blocked.length.segments_before) == (4, 10)


def test_other_channels_keep_their_typography_and_have_no_before() -> None:
    text = "L’accès au « centre »\u00a0: fermé."
    result = fit([TextPart(name="headline", text=text)], "mastodon")
    assert result.text == text
    assert result.length.segments_before is None


def test_empty_parts_leave_no_blank_line() -> None:
    empty = TextPart(name="when", text="  ", mandatory=False)
    assert fit([HEADLINE, empty, ADVICE], "x").text == HEADLINE.text + "\n" + ADVICE.text


def test_custom_separator() -> None:
    assert fit([HEADLINE, ADVICE], "email", separator=" ").text == HEADLINE.text + " " + ADVICE.text


def test_sms_keeps_every_part_within_three_segments_by_default() -> None:
    result = fit([HEADLINE, ADVICE, DETAILS, HASHTAGS], "sms")
    assert (result.dropped, result.length.segments, result.length.limit) == ([], 2, 459)


WHERE = TextPart(
    name="where",
    text=", ".join(f"Commune {n}" for n in range(1, 30)),
    shorter=[ShorterForm(text="Commune 1, Commune 2 et 27 autres", order=3)],
)
LONG_ADVICE = TextPart(
    name="advice",
    text="Restez chez vous. " + "Fermez les volets et coupez la ventilation. " * 4,
    shorter=[
        ShorterForm(text="Restez chez vous. Consignes complètes : lien ci-dessous.", order=4),
        ShorterForm(text="Consignes complètes : lien ci-dessous.", order=5),
    ],
)


def test_a_mandatory_part_takes_its_shorter_form_never_disappears() -> None:
    result = fit([HEADLINE, WHERE, LONG_ADVICE, DETAILS, LINK, HASHTAGS], "x")
    assert not result.blocked and result.length.fits
    assert result.dropped == ["where (full)", "advice (full)"]
    assert result.text.split("\n") == [
        HEADLINE.text,
        "Commune 1, Commune 2 et 27 autres",
        "Restez chez vous. Consignes complètes : lien ci-dessous.",
        DETAILS.text,
        LINK.text,
        HASHTAGS.text,
    ], "details and hashtags, dropped first, come back once the long forms have given way"


def test_forms_give_way_in_order_and_come_back_when_they_fit() -> None:
    parts = [HEADLINE, WHERE, LONG_ADVICE, LINK]
    full = fit(parts, "website").text
    # Just too long for the full list: only the list gives way.
    result = fit(parts, "bluesky", limit=len(full) - 1)
    assert result.dropped == ["where (full)"] and LONG_ADVICE.text in result.text
    # Room for nothing long: the shortest forms, whole.
    result = fit(parts, "bluesky", limit=170)
    assert result.dropped == ["where (full)", "advice (full)", "advice (short)"]
    assert result.text.split("\n")[2] == "Consignes complètes : lien ci-dessous."
    # Not even that: blocked, the mandatory parts shown whole for a human to shorten, and the
    # reason says how long they would be at their shortest.
    result = fit(parts, "bluesky", limit=100)
    assert result.blocked and result.dropped == [] and result.text == full
    shortest = "\n".join([HEADLINE.text, WHERE.shorter[0].text, LONG_ADVICE.shorter[1].text, LINK.text])
    assert result.reason == (
        f"the mandatory parts alone take {len(full)} graphemes on bluesky ({len(shortest)} with their "
        "shortest forms), over the limit of 100: shorten them by hand"
    )


def test_an_optional_part_with_forms_shrinks_before_it_goes() -> None:
    details = DETAILS.model_copy(update={"shorter": [ShorterForm(text="Réouverture vendredi.", order=1)]})
    result = fit([HEADLINE, details], "bluesky", limit=len(HEADLINE.text) + 1 + len("Réouverture vendredi."))
    assert result.dropped == ["details (full)"] and result.text.endswith("Réouverture vendredi.")
    result = fit([HEADLINE, details], "bluesky", limit=len(HEADLINE.text))
    assert result.dropped == ["details"] and result.text == HEADLINE.text
