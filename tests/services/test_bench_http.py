"""`haven bench http`: a very short run against the test server, for shape and success only.

Never an assertion on speed: the figures of a run this short mean nothing; what matters is
that the real server, the load generator process and the raw side all ran, that every timed
request was answered 200 (commands carried their ETags forward across rounds), and that the
throw-away database is gone afterwards.
"""

from __future__ import annotations

import pytest

from services.bench.http import FIGURES, P99_LIMIT_MS, TARGETS, print_table, run_http_bench
from services.bench.report import format_table
from services.bench.timing import percentile
from tests.services.bench_support import assert_scratch_database_dropped

pytestmark = pytest.mark.bench

FIGURE_KEYS = {"value", "unit", "raw", "ratio", "p50_ms", "p99_ms", "requests", "failed"}


async def test_a_short_run_answers_every_request_and_drops_its_database(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    notes: list[str] = []
    results = await run_http_bench(
        database_url,
        seconds=1.0,
        warmup=0.2,
        rounds=2,
        clients=3,
        cases_per_client=2,
        history=2,
        progress=notes.append,
    )

    assert tuple(results) == FIGURES == ("command", "case_read")
    for name, figure in results.items():
        assert set(figure) == FIGURE_KEYS, name
        assert figure["unit"] == "req/s"
        assert figure["requests"] > 0 and figure["failed"] == 0, (name, figure)
        assert figure["value"] > 0 and figure["raw"] > 0
        assert figure["ratio"] == pytest.approx(figure["value"] / figure["raw"])
        assert 0 < figure["p50_ms"] <= figure["p99_ms"]

    await assert_scratch_database_dropped(database_url, notes)

    print_table(results)
    table = capsys.readouterr().out
    assert "p99 target" in table and f"< {P99_LIMIT_MS:g} ms" in table
    assert all(name in table for name in FIGURES)


def test_the_table_marks_ratio_and_latency_targets_separately() -> None:
    results = {
        "command": {
            "value": 300.0,
            "unit": "req/s",
            "raw": 3000.0,
            "ratio": 0.1,
            "p50_ms": 20.0,
            "p99_ms": 49.9,
        },
        "case_read": {
            "value": 900.0,
            "unit": "req/s",
            "raw": 3000.0,
            "ratio": 0.3,
            "p50_ms": 30.0,
            "p99_ms": 50.0,
        },
    }
    lines = format_table(results, TARGETS, latency_limit_ms=P99_LIMIT_MS).splitlines()
    command, case_read = lines[2].split(), lines[3].split()
    assert command[0] == "command" and command[6] == "MISS" and command[-1] == "pass"
    assert case_read[0] == "case_read" and case_read[6] == "pass" and case_read[-1] == "MISS"


def test_a_table_without_latencies_keeps_the_store_columns() -> None:
    table = format_table(
        {"append_single": {"value": 1.0, "unit": "ev/s", "raw": 2.0, "ratio": 0.5}}, {}
    )
    header = table.splitlines()[0].split()
    assert header == ["figure", "ours", "(ev/s)", "raw", "(ev/s)", "ratio", "target"]


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(100, 0, -1)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) == 0.0
