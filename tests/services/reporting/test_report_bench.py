"""`haven bench report` (and `--history`) with tiny sizes: the figures' shape
(no wall-clock assertion)."""

from __future__ import annotations

import pytest

from services.bench.report_bench import figure_name, format_results, run_report_bench
from services.bench.report_history import format_results as format_history
from services.bench.report_history import run_report_history_bench
from tests.tiers import scaled

pytestmark = pytest.mark.bench

# Clients of the history bench's two organisations: enough that each has the minimum reporting
# unit in the first quarter, so the late intakes revise the roll-up and both organisations.
HISTORY_CLIENTS = scaled(default=110, full=150)


async def test_the_report_bench_runs_at_tiny_sizes(database_url: str) -> None:
    lines: list[str] = []
    results = await run_report_bench(database_url, sizes=(300,), progress=lines.append)
    assert set(results) == {"report_300"}
    figure = results["report_300"]
    assert figure["unit"] == "s" and figure["value"] > 0 and figure["clients"] == 300
    assert figure["cells"] > 100
    assert (
        45 <= figure["events"] / 300 <= 56
    )  # the demo's richer case life: about 50 events per client
    assert figure["seed_seconds"] > 0
    assert "report_300" in format_results(results) and lines
    assert figure_name(10_000) == "report_10k" and figure_name(100_000) == "report_100k"


async def test_the_history_bench_times_every_release_of_a_fiscal_year_next_to_its_raw_query(
    database_url: str,
) -> None:
    lines: list[str] = []
    results = await run_report_history_bench(
        database_url,
        organisations=2,
        clients=HISTORY_CLIENTS,
        late=6,
        quarters=("2025Q4", "2026Q1"),
        progress=lines.append,
    )
    figure = results["report_history"]
    releases = figure["releases"]
    # two quarters of the roll-up and both organisations, and the first quarter's three revisions
    assert len(releases) == 2 * 3 + 3
    assert [(r["period"], r["scope"], r["revision"]) for r in releases[3:6]] == [
        ("2025Q4", "all", 1),
        ("2025Q4", "org-01", 1),
        ("2025Q4", "org-02", 1),
    ]
    assert all(r["seconds"] > 0 and r["raw_seconds"] > 0 for r in releases)
    assert figure["value"] == releases[-1]["seconds"] and figure["raw"] == releases[0]["seconds"]
    assert "report_history" in format_history(results) and lines
