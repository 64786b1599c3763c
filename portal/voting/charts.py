"""Server-rendered SVG bar charts: no script, no CDN, readable on a 360-pixel phone."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Bar:
    """One bar: a label, its value, the value as text, and whether it is highlighted."""

    label: str
    value: int
    value_text: str
    highlighted: bool = False


_numbers = itertools.count(1)


def bar_chart(
    bars: Sequence[Bar],
    title: str,
    *,
    chart_id: str | None = None,
    width: int = 340,
    bar_height: int = 22,
) -> Markup:
    """Draw horizontal bars, the label above each bar so long project names fit a phone.

    The title's id must be unique on the page (a page may show several charts): callers pass
    a chart_id of their own, or get a fresh one.
    """
    title_id = escape(f"{chart_id or f'chart-{next(_numbers)}'}-title")
    top = max((b.value for b in bars), default=0) or 1
    row = bar_height + 22
    height = row * len(bars) + 8
    label_width = width - 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{title_id}">',
        f'<title id="{title_id}">{escape(title)}</title>',
    ]
    for i, bar in enumerate(bars):
        y = i * row + 4
        length = round((width - 90) * bar.value / top)
        css = "bar bar-on" if bar.highlighted else "bar"
        label = bar.label if len(bar.label) <= 48 else bar.label[:47] + "…"
        parts.append(
            f'<text x="2" y="{y + 13}" class="chart-label" textLength="{label_width}" '
            f'lengthAdjust="spacingAndGlyphs">{escape(label)}</text>'
            if len(label) > 44
            else f'<text x="2" y="{y + 13}" class="chart-label">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="2" y="{y + 18}" width="{max(length, 1)}" height="{bar_height - 6}" '
            f'class="{css}" rx="2"/>'
        )
        parts.append(
            f'<text x="{max(length, 1) + 8}" y="{y + 18 + bar_height - 10}" class="chart-value">'
            f"{escape(bar.value_text)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text and number above is escaped
