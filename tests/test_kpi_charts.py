"""The KPI plots: well-formed SVG, images for assistive technology, hostile labels escaped,
the numbers printed beside what is drawn."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from alertcast.kpis.charts import bar_chart, duration, strip

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(1)</script> & "quotes" {{ 7*7 }}'


def parsed(markup: str) -> ET.Element:
    root = ET.fromstring(markup)  # raises on anything not well-formed
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "—"),
        (0.42, "0,4 s"),
        (42.4, "42 s"),
        (200, "3 min 20 s"),
        (180, "3 min"),
        (7500, "2 h 05"),
        (97200, "1 j 3 h"),
    ],
)
def test_durations_read_in_french(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown


def test_bar_chart_escapes_labels_and_prints_each_number() -> None:
    markup = bar_chart("c1", f"Par zone {HOSTILE}", [(HOSTILE, 3), ("Arras", 1)], lambda n: f"{n:.0f}")
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    root = parsed(str(markup))
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == f"Par zone {HOSTILE}"
    shown = texts(root)
    assert "3" in shown and "1" in shown
    assert any(text.startswith("<script>") for text in shown)  # the label, as text, cut to fit
    bars = [float(rect.get("width", "0")) for rect in root.iter(f"{SVG}rect")]
    assert bars[0] == pytest.approx(3 * bars[1], abs=0.2)  # lengths follow the values (0.1 px)
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text == f"{HOSTILE} : 3 ; Arras : 1"


def test_bar_chart_whiskers_print_the_p90_beside_the_median() -> None:
    root = parsed(str(bar_chart("c2", "Par réseau", [("mastodon", 10), ("email", 80)], duration, [40, None])))
    assert "10 s · p90 40 s" in texts(root) and "1 min 20 s" in texts(root)


def test_empty_charts_say_so() -> None:
    for markup in (bar_chart("e1", "Rien", []), strip("e2", "Rien", [], None, None)):
        root = parsed(str(markup))
        assert "Aucune donnée sur cette période." in texts(root)


def test_strip_marks_median_and_p90_on_a_log_axis() -> None:
    samples = [2.0, 30.0, 45.0, 600.0, 5000.0]
    root = parsed(str(strip("s1", "Délais", samples, 45.0, 3000.0)))
    dots = [float(c.get("cx", "0")) for c in root.iter(f"{SVG}circle")]
    assert len(dots) == 5 and dots == sorted(dots)
    assert dots[1] - dots[0] > dots[3] - dots[2]  # 2 → 30 s is wider than 45 s → 10 min... on a log scale
    shown = texts(root)
    assert "médiane 45 s" in shown and "p90 50 min" in shown
    assert {"1 s", "1 min", "1 h", "6 h"} <= set(shown)  # the ticks around the samples, no more
    assert "1 j" not in shown and "0,1 s" not in shown
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text == "5 mesure(s) ; médiane 45 s ; p90 50 min ; de 2,0 s à 1 h 23"
