"""Templates: sandbox refusals with file and line, last good version kept, fallbacks, filters."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Template

from alertcast.charter.engine import check_text
from alertcast.clock import clock
from alertcast.models.alert import alert_id_for
from alertcast.models.incident import Area, Category, Incident, Info, MsgType, Reference, Status
from alertcast.render.compose import compose, where_items
from alertcast.render.environment import RECHECK, first_sentence, hashtag, shortlist, when
from alertcast.render.fitting import ShorterForm
from alertcast.render.length import CHANNELS
from alertcast.render.parts import split_parts
from alertcast.render.templates import TemplateProblem, Templates
from alertcast.settings import ROOT, get_settings

NOW = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)
REAL = Templates(ROOT / "templates", site_base_url="https://alertes.example.fr")


#: The clock's time; `rewrite` moves it on, as a communicator's edit takes time to show.
MOMENT = [NOW]


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[None]:
    MOMENT[0] = NOW
    clock.set(lambda: MOMENT[0])
    try:
        yield
    finally:
        clock.set(None)


def incident(category: Category = Category.ROAD_CLOSURE, language: str = "fr", **changes: object) -> Incident:
    info = Info(
        language=language,
        category=category,
        event="Fermeture de route",
        sender_name="Direction des routes du Département",
        headline="Route D 934 fermée entre Arras et Cambrai",
        description="Un poids lourd est immobilisé en travers de la chaussée.",
        instruction="Suivez la déviation par la D 939.",
        onset=datetime(2026, 12, 3, 6, 30, tzinfo=UTC),
        expires=datetime(2026, 12, 3, 13, 0, tzinfo=UTC),
        areas=[Area(area_desc="Vis-en-Artois")],
    )
    fields: dict[str, object] = {
        "identifier": "d934",
        "sender": "routes@departement-exemple.fr",
        "sent": datetime(2026, 12, 3, 5, 0, tzinfo=UTC),
        "info": [info],
        **changes,
    }
    return Incident.model_validate(fields)


def folder(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def rewrite(path: Path, text: str, *, wait: bool = True) -> None:
    """A communicator's edit; the mtime moves on even within the same second. `wait`: the
    clock moves on too, so the templates ask the disk again (environment.RECHECK)."""
    stat = path.stat()
    path.write_text(text, encoding="utf-8")
    os.utime(path, (stat.st_atime + 10, stat.st_mtime + 10))
    if wait:
        MOMENT[0] += RECHECK


CONTEXT = {"incident": incident(), "info": incident().info[0], "where": "Vis-en-Artois", "link": ""}


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("ok\n{{ ''.__class__.__mro__ }}", 2),
        ("{{ cycler.__init__.__globals__ }}", 1),
        ("a\nb\n{{ info|attr('__class__') }}", 3),
        ("{{ info['__dict__'] }}", 1),
        ("{{ lipsum.__globals__['os'] }}", 1),
        ("{% for x in ().__class__.__base__.__subclasses__() %}{% endfor %}", 1),
    ],
)
def test_reaching_python_internals_is_refused_with_file_and_line(
    tmp_path: Path, source: str, line: int
) -> None:
    templates = Templates(folder(tmp_path, {"x/default.fr.j2": source}))
    with pytest.raises(TemplateProblem) as raised:
        templates.render("x", "other", "fr", CONTEXT)
    problem = raised.value.problem
    assert (problem.path, problem.rule, problem.value) == (
        "templates/x/default.fr.j2",
        "template_unsafe",
        line,
    )
    assert problem.message.startswith(f"line {line}: ") and "internals" in problem.message


def test_a_syntax_error_keeps_the_previous_template(tmp_path: Path) -> None:
    root = folder(tmp_path, {"x/default.fr.j2": "{{ info.headline }}"})
    templates = Templates(root)
    assert templates.render("x", "other", "fr", CONTEXT) == "Route D 934 fermée entre Arras et Cambrai"
    rewrite(root / "x/default.fr.j2", "line one\n{% if %}broken")
    assert templates.render("x", "other", "fr", CONTEXT) == "Route D 934 fermée entre Arras et Cambrai"
    [problem] = templates.problems()
    assert (problem.path, problem.rule, problem.value) == ("templates/x/default.fr.j2", "template_syntax", 2)
    rewrite(root / "x/default.fr.j2", "fixed: {{ info.headline }}")
    assert templates.render("x", "other", "fr", CONTEXT).startswith("fixed: ")
    assert templates.problems() == []


def test_a_broken_template_without_a_previous_version_is_refused(tmp_path: Path) -> None:
    templates = Templates(folder(tmp_path, {"x/default.fr.j2": "{% for %}"}))
    with pytest.raises(TemplateProblem) as raised:
        templates.render("x", "other", "fr", CONTEXT)
    assert raised.value.problem.rule == "template_syntax" and raised.value.problem.value == 1


def test_an_unsafe_edit_to_a_layout_keeps_the_previous_layout(tmp_path: Path) -> None:
    root = folder(
        tmp_path,
        {
            "common/short.fr.j2": "layout: {{ info.headline }}",
            "x/default.fr.j2": '{% extends "common/short.fr.j2" %}',
        },
    )
    templates = Templates(root)
    assert templates.render("x", "other", "fr", CONTEXT).startswith("layout: ")
    rewrite(root / "common/short.fr.j2", "{{ cycler.__init__.__globals__ }}")
    assert templates.render("x", "other", "fr", CONTEXT).startswith("layout: ")
    assert [p.path for p in templates.problems()] == ["templates/common/short.fr.j2"]


def test_a_run_time_sandbox_error_keeps_the_previous_template(tmp_path: Path) -> None:
    """A name built at run time passes the static check; the sandbox stops it at render."""
    root = folder(tmp_path, {"x/default.fr.j2": "{{ info.headline }}"})
    templates = Templates(root)
    templates.render("x", "other", "fr", CONTEXT)
    rewrite(root / "x/default.fr.j2", "first line\n{{ ''['__cla' ~ 'ss__'] }}")
    assert templates.render("x", "other", "fr", CONTEXT) == "Route D 934 fermée entre Arras et Cambrai"
    [problem] = templates.problems()
    assert (problem.path, problem.rule, problem.value) == ("templates/x/default.fr.j2", "template_unsafe", 2)
    assert "SecurityError" in problem.message
    # Still refused on the next incident (not retried), still serving the good version.
    assert templates.render("x", "other", "fr", CONTEXT) == "Route D 934 fermée entre Arras et Cambrai"


def test_a_run_time_sandbox_error_without_previous_version_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    templates = Templates(folder(tmp_path, {"x/default.fr.j2": "{{ ''['__cla' ~ 'ss__'] }}"}))
    composition = compose(incident(), ["x"], templates)
    assert composition.texts == []
    assert [(p.path, p.rule) for p in composition.problems] == [
        ("templates/x/default.fr.j2", "template_unsafe")
    ]


def test_channels_whose_templates_are_the_same_source_render_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    same = '{% part "what" %}{{ info.headline }}{% endpart %}{% part "where" %}{{ where }}{% endpart %}'
    root = folder(
        tmp_path,
        {
            "website/default.fr.j2": same,
            "webhook/default.fr.j2": same,
            "email/default.fr.j2": "{{ info.event }}",
        },
    )
    templates = Templates(root)
    rendered: list[str | None] = []
    render = Template.render

    def counted(template: Template, *args: Any, **kwargs: Any) -> str:
        rendered.append(template.name)
        return render(template, *args, **kwargs)

    monkeypatch.setattr(Template, "render", counted)
    channels = ["website", "webhook", "email"]
    texts = [text.text for text in compose(incident(), channels, templates).texts]
    both = "Route D 934 fermée entre Arras et Cambrai\n\nVis-en-Artois"
    assert texts == [both, both, "Fermeture de route"]
    assert rendered == ["website/default.fr.j2", "email/default.fr.j2"]
    rendered.clear()
    rewrite(root / "webhook/default.fr.j2", "{{ where }}")  # no longer the same source
    texts = [text.text for text in compose(incident(), channels, templates).texts]
    assert texts == [both, "Vis-en-Artois", "Fermeture de route"]
    assert rendered == ["website/default.fr.j2", "webhook/default.fr.j2", "email/default.fr.j2"]


def test_an_edit_shows_once_the_disk_is_asked_again(tmp_path: Path) -> None:
    """Templates ask the disk at most once per RECHECK per file: not before, always after."""
    root = folder(
        tmp_path,
        {"common/short.fr.j2": "layout 1: {% block body %}{% endblock %}", "x/default.fr.j2": "one"},
    )
    templates = Templates(root)
    assert templates.render("x", "strike", "fr", CONTEXT) == "one"
    rewrite(
        root / "x/default.fr.j2",
        '{% extends "common/short.fr.j2" %}{% block body %}two{% endblock %}',
        wait=False,
    )
    (root / "x/strike.fr.j2").write_text("strike", encoding="utf-8")
    MOMENT[0] += RECHECK - timedelta(microseconds=1)
    assert templates.render("x", "strike", "fr", CONTEXT) == "one"
    MOMENT[0] += timedelta(microseconds=1)
    assert templates.render("x", "weather", "fr", CONTEXT) == "layout 1: two"
    assert templates.render("x", "strike", "fr", CONTEXT) == "strike"
    rewrite(root / "common/short.fr.j2", "layout 2: {% block body %}{% endblock %}", wait=False)
    assert templates.render("x", "weather", "fr", CONTEXT) == "layout 1: two"
    MOMENT[0] -= timedelta(hours=1)  # a clock set back asks again
    assert templates.render("x", "weather", "fr", CONTEXT) == "layout 2: two"
    (root / "x/strike.fr.j2").unlink()
    MOMENT[0] += RECHECK
    assert templates.render("x", "strike", "fr", CONTEXT) == "layout 2: two"


def test_fallbacks_category_then_default_language_then_french(tmp_path: Path) -> None:
    root = folder(
        tmp_path,
        {
            "x/default.fr.j2": "default fr",
            "x/default.en.j2": "default en",
            "x/strike.fr.j2": "strike fr",
        },
    )
    templates = Templates(root)
    assert templates.render("x", "strike", "fr", CONTEXT) == "strike fr"
    assert templates.render("x", "weather", "fr", CONTEXT) == "default fr"
    assert templates.render("x", "weather", "en", CONTEXT) == "default en"
    assert templates.render("x", "strike", "en", CONTEXT) == "default en"
    assert templates.render("x", "strike", "es", CONTEXT) == "strike fr"
    with pytest.raises(TemplateProblem) as raised:
        templates.render("sms", "strike", "fr", CONTEXT)
    assert raised.value.problem.rule == "template_missing"


def test_road_closure_puts_the_detour_first_and_other_categories_do_not() -> None:
    [road] = compose(incident(), ["x"], REAL).texts
    lines = road.text.split("\n")
    assert lines[:3] == [
        "Route D 934 fermée entre Arras et Cambrai",
        "Suivez la déviation par la D 939.",
        "Vis-en-Artois",
    ]
    assert lines[-1] == "#InfoRoute"
    [other] = compose(incident(Category.OTHER), ["x"], REAL).texts
    assert other.text.split("\n")[1] == "Vis-en-Artois"
    assert other.text.split("\n")[-1] == "#FermetureDeRoute"


def test_category_layouts_in_french_and_english() -> None:
    strike = compose(incident(Category.STRIKE), ["mastodon", "email"], REAL).texts
    assert strike[0].text.split("\n")[1] == "Dès le jeudi 3 décembre à 7 h 30, jusqu'à 14 h."
    assert "Lignes concernées : Vis-en-Artois" in strike[1].text
    english = compose(incident(Category.SCHOOL_TRANSPORT, language="en"), ["x", "email"], REAL).texts
    assert "Routes or schools: Vis-en-Artois" in english[0].text and english[0].text.endswith("#SchoolBus")
    weather = compose(incident(Category.WEATHER), ["email"], REAL).texts[0]
    assert "Phénomène : Fermeture de route" in weather.text


@pytest.mark.parametrize("category", list(Category))
@pytest.mark.parametrize("language", ["fr", "en"])
def test_templates_add_no_finding_to_a_clean_incident(category: Category, language: str) -> None:
    """Labels, dates and hashtags the templates write must pass the charter themselves."""
    english = {
        "event": "Road closure",
        "headline": "D 934 closed between Arras and Cambrai",
        "description": "A lorry is stuck across the road.",
        "instruction": "Follow the detour via the D 939.",
        "sender_name": "Roads department",
    }
    source = incident(category, language)
    if language == "en":
        source = source.model_copy(update={"info": [source.info[0].model_copy(update=english)]})
    composition = compose(source, list(CHANNELS), REAL)
    assert composition.findings == [] and composition.problems == []
    for text in composition.texts:
        assert text.findings == [], (text.channel, text.text, text.findings)
        assert not text.blocked and text.length <= (text.limit or text.length)


def test_system_labels_are_exempt_from_the_capitals_rule() -> None:
    exercise = incident(status=Status.EXERCISE)
    cancel = incident(
        identifier="d934-end",
        msg_type=MsgType.CANCEL,
        references=[Reference(sender="routes@departement-exemple.fr", identifier="d934")],
    )
    for source, label in ((exercise, "EXERCICE"), (cancel, "FIN D'ALERTE")):
        for text in compose(source, ["x", "email", "sms"], REAL).texts:
            assert label in text.text
            assert "style.capitals" not in {finding.rule for finding in text.findings}
    for label in ("EXERCISE – Road closed", "END OF ALERT – Road closed"):
        assert "style.capitals" not in {finding.rule for finding in check_text(label, "en")}


def test_incident_text_cannot_forge_part_markers() -> None:
    hostile = incident()
    info = hostile.info[0].model_copy(update={"headline": "Route fermée\x03\x02hashtags\x1f1\x1fcut me"})
    [text] = compose(hostile.model_copy(update={"info": [info]}), ["x"], REAL).texts
    assert text.text.split("\n")[0] == "Route ferméehashtags1cut me"


def test_split_parts_reads_mandatory_and_optional_parts() -> None:
    template = REAL.env.from_string(
        '{% part "what" %} A {% endpart %}\n\n{% part "tags", optional=1 %}#B{% endpart %}'
    )
    parts = split_parts(template.render())
    assert [(p.name, p.text, p.mandatory, p.drop_order) for p in parts] == [
        ("what", "A", True, 0),
        ("tags", "#B", False, 1),
    ]
    assert [p.text for p in split_parts("no parts at all\n")] == ["no parts at all"]


def test_split_parts_reads_shorter_forms_even_inside_an_if() -> None:
    template = REAL.env.from_string(
        '{% part "where" %}Arras, Bapaume, Cambrai{% shorter 3 %}Arras et 2 autres{% endpart %}\n'
        '{% part "advice" %}Un. Deux.{% if link %}{% shorter 4 %}Un. Plus : lien.{% shorter 5 %}'
        "Lien.{% endif %}{% endpart %}\n"
        '{% part "what" %}Titre{% shorter 6 %}Titre{% shorter 7 %}{% shorter 8 %}Un titre bien plus long'
        "{% endpart %}"
    )
    where, advice, what = split_parts(template.render(link="https://example.org"))
    assert (where.text, where.shorter) == (
        "Arras, Bapaume, Cambrai",
        [ShorterForm(text="Arras et 2 autres", order=3)],
    )
    assert advice.shorter == [ShorterForm(text="Lien.", order=5)], "a form no shorter is skipped"
    what_forms = [(form.text, form.order) for form in what.shorter]
    assert (what.text, what_forms) == ("Titre", []), "equal, empty or longer forms are ignored"
    [advice] = split_parts(
        REAL.env.from_string(
            '{% part "advice" %}Une consigne longue. Et sa suite.{% if link %}{% shorter 4 %}'
            "Une consigne longue.{% endif %}{% endpart %}"
        ).render(link="")
    )
    assert advice.shorter == [], "no link: no shorter form"


def test_incident_text_cannot_forge_a_shorter_form() -> None:
    hostile = incident()
    info = hostile.info[0].model_copy(update={"headline": "Route fermée\x1e1\x1eX"})
    [text] = compose(hostile.model_copy(update={"info": [info]}), ["x"], REAL).texts
    assert text.text.split("\n")[0] == "Route fermée1X" and text.dropped == []


def test_first_sentence_never_cuts_inside_a_sentence() -> None:
    assert first_sentence("Restez chez vous. Fermez les volets.") == "Restez chez vous."
    assert first_sentence("Mettez-vous à l'abri !  « Ne sortez pas. »") == "Mettez-vous à l'abri !"
    assert first_sentence("Delay at Montgomery St. on the Line. Station closed.") == (
        "Delay at Montgomery St. on the Line."
    )
    assert first_sentence("Go to Montgomery St. Then wait.") == "Go to Montgomery St. Then wait."
    assert first_sentence("Follow U.S. Route 1. Then go.") == "Follow U.S. Route 1."
    assert first_sentence("Une seule\n   phrase sur deux lignes") == "Une seule phrase sur deux lignes"


def test_shortlist_and_where_items() -> None:
    items = ["Arras", "Bapaume", *(f"Commune {n}" for n in range(12))]
    assert shortlist(items, "fr", width=30) == "Arras, Bapaume et 12 autres"
    assert shortlist(items, "en", width=30) == "Arras, Bapaume and 12 others"
    assert shortlist(["Arras", "Bapaume"], "en") == "Arras, Bapaume"
    assert shortlist(["Arras " * 12, "Bapaume"], "fr") == ("Arras " * 12).strip() + " et 1 autre"
    info = incident().info[0]
    usgs = "47 miles SSW of Usulután, Usulután, El Salvador; 53 miles S of Zacatecoluca, La Paz, El Salvador"
    nws = "TUOLUMNE COUNTY, CALAVERAS COUNTY, ALPINE COUNTY"
    cases = {
        usgs: [
            "47 miles SSW of Usulután, Usulután, El Salvador",
            "53 miles S of Zacatecoluca, La Paz, El Salvador",
        ],
        nws: ["TUOLUMNE COUNTY", "CALAVERAS COUNTY", "ALPINE COUNTY"],
        "Arras, Pas-de-Calais": ["Arras, Pas-de-Calais"],
    }
    for desc, expected in cases.items():
        assert where_items(info.model_copy(update={"areas": [Area(area_desc=desc)]})) == expected
    two = info.model_copy(update={"areas": [Area(area_desc="Arras, Nord"), Area(area_desc="Lens")]})
    assert where_items(two) == ["Arras, Nord", "Lens"]


def test_french_dates_as_people_write_them() -> None:
    assert when(datetime(2026, 12, 1, 6, 30, tzinfo=UTC)) == "mardi 1er décembre à 7 h 30"
    assert when(datetime(2026, 12, 3, 7, 0, tzinfo=UTC)) == "jeudi 3 décembre à 8 h"
    assert (
        when(datetime(2026, 12, 3, 13, 0, tzinfo=UTC), since=datetime(2026, 12, 3, 6, 0, tzinfo=UTC))
        == "14 h"
    )
    assert when(datetime(2026, 12, 3, 6, 30, tzinfo=UTC), short=True) == "3 décembre à 7 h 30"
    assert when(datetime(2027, 1, 5, 8, 15, tzinfo=UTC)) == "mardi 5 janvier 2027 à 9 h 15"
    assert when(datetime(2026, 7, 14, 20, 0, tzinfo=UTC)) == "mardi 14 juillet à 22 h"  # summer time
    assert when(datetime(2026, 12, 3, 6, 30, tzinfo=UTC), "en") == "Thursday 3 December at 7:30 am"
    assert when(datetime(2026, 12, 3, 7, 0, tzinfo=UTC), "en-GB") == "Thursday 3 December at 8 am"
    assert when(None) == ""


def test_dates_written_once_still_follow_the_clock_and_the_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """`when` keeps the phrases it wrote: the current year and the zone must still count."""
    onset = datetime(2026, 12, 3, 6, 30, 59, tzinfo=UTC)
    assert when(onset) == "jeudi 3 décembre à 7 h 30"
    clock.set(lambda: datetime(2027, 2, 1, tzinfo=UTC))
    assert when(onset) == "jeudi 3 décembre 2026 à 7 h 30"
    clock.set(lambda: NOW)
    monkeypatch.setenv("ALERTCAST_TIMEZONE", "America/Martinique")
    get_settings.cache_clear()
    try:
        assert when(onset) == "jeudi 3 décembre à 2 h 30"
        assert when(onset.replace(second=0), since=onset - timedelta(hours=1)) == "2 h 30"
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert when(onset) == "jeudi 3 décembre à 7 h 30"


def test_hashtag_and_shortlink_filters() -> None:
    assert hashtag("Tempête Ciarán") == "#TempêteCiarán"
    shortlink = REAL.env.filters["shortlink"]
    page = f"https://alertes.example.fr/alerts/{alert_id_for('routes@departement-exemple.fr/d934')}.html"
    assert shortlink(incident()) == page
    update = incident(
        identifier="d934-2",
        msg_type=MsgType.UPDATE,
        references=[Reference(sender="routes@departement-exemple.fr", identifier="d934")],
    )
    assert shortlink(update) == shortlink(incident()), "every version links to the same alert page"
    assert Templates(ROOT / "templates", site_base_url="").env.filters["shortlink"](incident()) == ""
