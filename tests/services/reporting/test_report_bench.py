"""`haven bench report` with tiny sizes: the figures' shape (no wall-clock assertion)."""

from __future__ import annotations

import pytest

from services.bench.report_bench import figure_name, format_results, run_report_bench

pytestmark = pytest.mark.bench


async def test_the_report_bench_runs_at_tiny_sizes(database_url: str) -> None:
    lines: list[str] = []
    results = await run_report_bench(database_url, sizes=(300,), progress=lines.append)
    assert set(results) == {"report_300"}
    figure = results["report_300"]
    assert figure["unit"] == "s" and figure["value"] > 0 and figure["clients"] == 300
    assert figure["cells"] > 100
    assert 45 <= figure["events"] / 300 <= 56  # the demo's richer case life: about 50 events per client
    assert figure["seed_seconds"] > 0
    assert "report_300" in format_results(results) and lines
    assert figure_name(10_000) == "report_10k" and figure_name(100_000) == "report_100k"
