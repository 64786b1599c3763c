"""The results chart is plain, escaped SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from portal.voting.charts import Bar, bar_chart


def test_chart_draws_one_bar_per_project_scaled_to_the_largest() -> None:
    svg = bar_chart(
        [Bar("Techado feria", 300, "300 votos", True), Bar("Capacitación <b>", 150, "150 votos")],
        "Votos por proyecto",
    )
    root = ET.fromstring(str(svg))
    rects = root.findall("{http://www.w3.org/2000/svg}rect")
    assert len(rects) == 2
    widths = [int(r.get("width")) for r in rects]
    assert widths[0] == 2 * widths[1]
    assert rects[0].get("class") == "bar bar-on"
    assert "<b>" not in str(svg) and "&lt;b&gt;" in str(svg)
    assert root.find("{http://www.w3.org/2000/svg}title").text == "Votos por proyecto"


def test_empty_chart_is_still_valid_svg() -> None:
    ET.fromstring(str(bar_chart([], "Sin votos")))


def test_two_charts_on_one_page_have_distinct_ids() -> None:
    svg = "{http://www.w3.org/2000/svg}"
    first = ET.fromstring(str(bar_chart([Bar("A", 1, "1")], "Cerro Alegre")))
    second = ET.fromstring(str(bar_chart([Bar("B", 2, "2")], "Playa Ancha")))
    named = ET.fromstring(str(bar_chart([], "Comuna", chart_id="chart-list-7")))
    ids = [root.find(svg + "title").get("id") for root in (first, second)]
    assert ids[0] != ids[1]
    assert [root.get("aria-labelledby") for root in (first, second)] == ids
    assert named.get("aria-labelledby") == "chart-list-7-title"
