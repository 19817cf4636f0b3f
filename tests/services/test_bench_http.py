"""`haven bench http`: a very short run against the test server, for shape and success only.

Never an assertion on speed: the figures of a run this short mean nothing; what matters is
that the real server, the load generator process and the raw side all ran, that every timed
request was answered 200 (commands carried their ETags forward across rounds), that the
overload figure's loads ran open loop with every answer accounted for, and that the
throw-away database is gone afterwards.
"""

from __future__ import annotations

import pytest

from services.bench.http import FIGURES, P99_LIMIT_MS, TARGETS, print_table, run_http_bench
from services.bench.overload import HALF, PROBE_RATE, TWICE, format_overload
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
        overload_seconds=1.0,
        overload_cases=8,
        progress=notes.append,
    )

    assert tuple(results) == (*FIGURES, "overload") == ("command", "case_read", "overload")
    for name in FIGURES:
        figure = results[name]
        assert set(figure) == FIGURE_KEYS, name
        assert figure["unit"] == "req/s"
        assert figure["requests"] > 0 and figure["failed"] == 0, (name, figure)
        assert figure["value"] > 0 and figure["raw"] > 0
        assert figure["ratio"] == pytest.approx(figure["value"] / figure["raw"])
        assert 0 < figure["p50_ms"] <= figure["p99_ms"]

    overload = results["overload"]
    before, after = overload["capacity_before"], overload["capacity_after"]
    assert before > 0 and after > 0 and overload["capacity_p99_ms"] > 0
    assert overload["capacity"] == pytest.approx((before + after) / 2)
    for load, fraction in ((overload["half"], HALF), (overload["twice"], TWICE)):
        assert load["offered"] == pytest.approx(fraction * before)  # offered from the first
        assert load["requests"] > 0 and load["achieved"] > 0
        assert 0 < load["p50_ms"] <= load["p99_ms"] and load["generator_cpu"] > 0
    answers = sum(overload["statuses"].values())
    assert answers == overload["half"]["requests"] + overload["twice"]["requests"]
    assert overload["statuses"].get("200", 0) + overload["shed"] <= answers
    # every probe scheduled in the measured second was sent and answered 200
    assert overload["health_requests"] == round(PROBE_RATE * 1.0)
    assert overload["health_failed"] == 0
    assert 0 < overload["health_p50_ms"] <= overload["health_p99_ms"]
    # every command answered 200 is in the database; those that were not left nothing there
    assert overload["lost"] == 0 and overload["acknowledged"] > 0
    assert overload["appended"] == overload["acknowledged"]
    assert overload["bad_shed"] == 0 and overload["errors_500"] == 0

    await assert_scratch_database_dropped(database_url, notes)

    print_table(results)
    table = capsys.readouterr().out
    assert "p99 target" in table and f"< {P99_LIMIT_MS:g} ms" in table
    assert all(name in table for name in FIGURES)
    assert format_overload(overload) in table


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


def overload_figure(**changes: object) -> dict[str, object]:
    load = {"offered": 100.0, "achieved": 100.0, "goodput": 95.0, "requests": 1000}
    load |= {"p50_ms": 10.0, "p99_ms": 40.0, "lag_p99_ms": 1.0, "behind": False}
    load |= {"generator_cpu": 0.1, "waited_for_case": 0}
    figure: dict[str, object] = {
        "capacity": 100.0,
        "capacity_before": 100.0,
        "capacity_after": 100.0,
        "capacity_p99_ms": 50.0,
        "half": {**load, "offered": 50.0, "p99_ms": 20.0},
        "twice": {**load, "offered": 200.0},
        "goodput_ratio": 0.95,
        "p99_ratio": 2.0,
        "health_p50_ms": 1.0,
        "health_p99_ms": 5.0,
        "health_requests": 500,
        "health_failed": 0,
        "shed": 900,
        "bad_shed": 0,
        "errors_500": 0,
        "statuses": {"200": 1100, "503": 900},
        "acknowledged": 1100,
        "appended": 1100,
        "lost": 0,
    }
    return figure | changes


def test_the_overload_table_marks_each_target_by_itself() -> None:
    met = format_overload(overload_figure())
    assert "MISS" not in met and met.count("  pass") == 6  # the control: every target met
    missed = format_overload(
        overload_figure(goodput_ratio=0.89, health_p99_ms=50.0, bad_shed=1, errors_500=2, lost=3)
    )
    rows = {line.split("  ")[0]: line for line in missed.splitlines()}
    assert rows["goodput at 2x / capacity"].endswith("MISS")
    assert rows["p99 admitted at 2x / at 0.5x"].endswith("pass")
    assert rows["/health p99 at 2x"].endswith("MISS")
    assert rows["shed: 503 overloaded + Retry-After"].endswith("MISS")
    assert rows["5xx answers other than 503"].endswith("MISS")
    assert rows["acknowledged commands lost"].endswith("MISS")
    assert "MISS" in format_overload(overload_figure(p99_ratio=5.01))
