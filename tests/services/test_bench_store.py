"""`haven bench store`: a tiny run against the test server, for shape only (never speed), and
the throw-away database is gone afterwards."""

from __future__ import annotations

import pytest

from services.bench.store import FIGURES, run_store_bench
from tests.services.bench_support import assert_scratch_database_dropped

pytestmark = pytest.mark.bench


async def test_a_tiny_run_measures_every_figure_and_drops_its_database(database_url: str) -> None:
    notes: list[str] = []
    results = await run_store_bench(
        database_url,
        events_for_catch_up=2_000,
        seconds=0.4,
        warmup=0.05,
        rounds=1,
        writers=2,
        many_writers=4,
        catch_up_rounds=1,
        progress=notes.append,
    )
    assert tuple(results) == FIGURES
    for figure in results.values():
        assert figure["unit"] == "ev/s"
        assert figure["value"] > 0 and figure["raw"] > 0
        assert figure["ratio"] == figure["value"] / figure["raw"]
    single = results["append_single"]
    assert 0 < single["p50_ms"] <= single["p99_ms"]
    assert 0 < single["raw_p50_ms"] <= single["raw_p99_ms"]
    await assert_scratch_database_dropped(database_url, notes)
