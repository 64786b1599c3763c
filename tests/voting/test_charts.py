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
