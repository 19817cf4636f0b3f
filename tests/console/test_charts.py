"""The console's bar charts: bars from numbers, accessible, no script or inline style."""

from __future__ import annotations

import re

import pytest

from services.console.charts import PLOT_WIDTH, bar_chart, bar_width


def test_bars_are_proportional_to_the_largest_value():
    assert bar_width(10, 10) == PLOT_WIDTH
    assert bar_width(5, 10) == PLOT_WIDTH // 2
    assert bar_width(0, 10) == 0
    assert bar_width(1, 10_000) == 1  # a value above zero is always seen
    assert bar_width(0, 0) == 0


def test_a_chart_is_an_image_named_by_its_title_with_a_bar_per_value():
    svg = bar_chart("cases-per-worker", "Open cases per worker", [("worker-a", 3), ("b", 0)])
    assert svg.startswith('<svg class="chart" id="cases-per-worker" role="img"')
    assert 'aria-labelledby="cases-per-worker-title"' in svg
    assert '<title id="cases-per-worker-title">Open cases per worker</title>' in svg
    assert re.findall(r'class="bar-value"[^>]*>(\d+)<', svg) == ["3", "0"]
    assert re.findall(r'class="bar-label"[^>]*>([^<]+)<', svg) == ["worker-a", "b"]
    assert re.findall(r'<rect [^>]*width="(\d+)"', svg) == [str(PLOT_WIDTH), "0"]


def test_a_chart_has_no_script_no_inline_style_and_escapes_its_text():
    svg = bar_chart("c", "<b>&", [("<script>alert(1)</script>", 1)])
    assert "<script" not in svg and "style=" not in svg
    assert "&lt;b&gt;&amp;" in svg and "&lt;script&gt;" in svg


def test_an_empty_chart_says_so():
    assert "No data" in bar_chart("empty", "Nothing", [])


@pytest.mark.parametrize("chart_id", ["", "Upper", "a b", 'x" onload="y'])
def test_a_chart_id_is_a_plain_token(chart_id):
    with pytest.raises(ValueError):
        bar_chart(chart_id, "t", [])


def test_a_negative_value_is_refused():
    with pytest.raises(ValueError):
        bar_chart("c", "t", [("a", -1)])
