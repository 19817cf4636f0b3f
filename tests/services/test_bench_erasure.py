"""`haven bench erasure`: a tiny run against the test server, for shape only (never speed):
another process hears of every erasure, and the throw-away database is gone afterwards."""

from __future__ import annotations

import pytest

from services.bench.erasure import FIGURES, run_erasure_bench
from tests.services.bench_support import assert_scratch_database_dropped

pytestmark = pytest.mark.bench


async def test_a_tiny_run_measures_the_broadcast_and_drops_its_database(database_url: str) -> None:
    notes: list[str] = []
    results = await run_erasure_bench(database_url, erasures=5, progress=notes.append)
    assert tuple(results) == FIGURES
    figure = results["erasure_broadcast"]
    assert figure["unit"] == "ms" and figure["raw"] > 0
    assert 0 < figure["p50_ms"] <= figure["p99_ms"] <= figure["max_ms"]
    await assert_scratch_database_dropped(database_url, notes)
