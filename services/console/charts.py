"""Bar charts drawn on the server as inline SVG: numbers in, markup out, no I/O.

A chart is an image for assistive technology (`role="img"`, named by its `<title>` through
`aria-labelledby`) and carries no script and no `style` attribute (the console's
Content-Security-Policy allows neither): its look is SVG presentation attributes and the
classes of `console.css`. Each chart on a page is followed by a table of the same numbers.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from markupsafe import Markup

BAR_HEIGHT = 24
GAP = 8
LABEL_WIDTH = 200
PLOT_WIDTH = 360
VALUE_WIDTH = 60
_ID = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


def bar_width(value: int, largest: int, plot_width: int = PLOT_WIDTH) -> int:
    """The bar's length in user units: proportional to `largest`, at least 1 for a value
    above zero (so it is seen), 0 for zero."""
    if value <= 0 or largest <= 0:
        return 0
    return max(1, round(plot_width * value / largest))


def bar_chart(
    chart_id: str, title: str, bars: Sequence[tuple[str, int]], empty: str = "No data"
) -> Markup:
    """A horizontal bar chart of (label, value) pairs, in the order given; `empty` is what
    a chart without bars says."""
    if not _ID.match(chart_id):
        raise ValueError("a chart id is lowercase letters, digits and hyphens")
    if any(value < 0 for _, value in bars):
        raise ValueError("a bar's value is a count, never negative")
    largest = max((value for _, value in bars), default=0)
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    height = max(1, len(bars)) * (BAR_HEIGHT + GAP) + GAP
    title_id = f"{chart_id}-title"
    parts = [
        f'<svg class="chart" id="{chart_id}" role="img" aria-labelledby="{title_id}"'
        f' viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">{html.escape(title)}</title>',
    ]
    for row, (label, value) in enumerate(bars):
        y = GAP + row * (BAR_HEIGHT + GAP)
        middle = y + BAR_HEIGHT // 2 + 5
        length = bar_width(value, largest)
        parts.append(
            f'<g class="bar"><text class="bar-label" x="{LABEL_WIDTH - 8}" y="{middle}"'
            f' text-anchor="end" fill="#1b1b1b">{html.escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}"'
            f' fill="#1d4ed8"></rect>'
            f'<text class="bar-value" x="{LABEL_WIDTH + length + 6}" y="{middle}"'
            f' fill="#1b1b1b">{value}</text></g>'
        )
    if not bars:
        parts.append(
            f'<text x="8" y="{GAP + BAR_HEIGHT // 2 + 5}" fill="#4a4a4a">'
            f"{html.escape(empty)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
