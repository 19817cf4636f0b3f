"""`haven bench keys`: a tiny run against the test server, for shape only (never speed): every
key re-wrapped, the raw limit measured, and the throw-away database gone afterwards."""

from __future__ import annotations

import pytest

from services.bench.keys import TARGETS, run_keys_bench
from tests.services.bench_support import assert_scratch_database_dropped

pytestmark = pytest.mark.bench


async def test_a_tiny_run_rewraps_every_key_and_drops_its_database(database_url: str) -> None:
    notes: list[str] = []
    results = await run_keys_bench(database_url, keys=50, batch=7, progress=notes.append)
    assert tuple(results) == tuple(TARGETS)
    figure = results["key_rewrap"]
    assert figure["unit"] == "keys/s" and figure["keys"] == 50
    assert figure["value"] > 0 and figure["raw"] > 0
    assert figure["ratio"] == figure["value"] / figure["raw"]
    await assert_scratch_database_dropped(database_url, notes)
