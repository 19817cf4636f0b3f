"""`haven bench report` (and `--history`) with tiny sizes: the figures' shape
(no wall-clock assertion)."""

from __future__ import annotations

import pytest

from services.bench.report_bench import figure_name, format_results, run_report_bench
from services.bench.report_history import format_results as format_history
from services.bench.report_history import run_report_history_bench
from tests.tiers import scaled, tiered

pytestmark = pytest.mark.bench

# Clients of the tiny report: the audit's size is fixed by the codebook, so every table, its
# suppression and its audit run at any size; more clients only make the seeding longer.
TINY_CLIENTS = scaled(default=100, full=300)
# Clients of the history bench's two organisations: enough that each has the minimum reporting
# unit in the first quarter, so the late intakes revise the roll-up and both organisations.
HISTORY_CLIENTS = scaled(default=110, full=150)
# The stretch of the fiscal year released: the default tier releases the first quarter and its
# revisions (a first release, organisation releases, revisions of each); the full tier a
# second quarter after them too, on a ledger holding the first.
HISTORY_QUARTERS = tiered(default=("2025Q4",), full=("2025Q4", "2026Q1"))


async def test_the_report_bench_runs_at_tiny_sizes(database_url: str) -> None:
    lines: list[str] = []
    results = await run_report_bench(database_url, sizes=(TINY_CLIENTS,), progress=lines.append)
    name = f"report_{TINY_CLIENTS}"
    assert set(results) == {name}
    figure = results[name]
    assert figure["unit"] == "s" and figure["value"] > 0 and figure["clients"] == TINY_CLIENTS
    assert figure["cells"] > 100
    assert (
        45 <= figure["events"] / TINY_CLIENTS <= 56
    )  # the demo's richer case life: about 50 events per client
    assert figure["seed_seconds"] > 0
    assert name in format_results(results) and lines
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
        quarters=HISTORY_QUARTERS,
        progress=lines.append,
    )
    figure = results["report_history"]
    releases = figure["releases"]
    # each quarter's roll-up and both organisations, the first quarter's three revisions after it
    scopes = ("all", "org-01", "org-02")
    first, *later = HISTORY_QUARTERS
    assert [(r["period"], r["scope"], r["revision"]) for r in releases] == [
        *((first, scope, 0) for scope in scopes),
        *((first, scope, 1) for scope in scopes),
        *((period, scope, 0) for period in later for scope in scopes),
    ]
    assert [r["n"] for r in releases] == list(range(1, len(releases) + 1))
    assert all(r["seconds"] > 0 and r["raw_seconds"] > 0 for r in releases)
    assert figure["value"] == releases[-1]["seconds"] and figure["raw"] == releases[0]["seconds"]
    assert "report_history" in format_history(results) and lines
