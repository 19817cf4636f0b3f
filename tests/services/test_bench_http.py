"""`haven bench http`: a very short run against the test server, for shape and success only.

Never an assertion on speed: the figures of a run this short mean nothing; what matters is
that the real server, the raw app's server and the load generator process all ran, that every
timed request was answered 200 (commands carried their ETags forward across rounds), that the
open loops ran with every answer accounted for, and that the throw-away database is gone
afterwards. The raw app's routes are checked by themselves, under granian, against the test
database.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from services.bench.http import FIGURES, TARGETS, print_table, run_http_bench
from services.bench.http_rounds import LATENCY_LOAD, format_latency
from services.bench.http_server import RAW_FACTORY, free_port, served, wait_ready
from services.bench.overload import HALF, PROBE_RATE, TWICE, format_overload
from services.bench.raw_app import RAW_TABLE, SIZE_VARIABLE, TENANT, seed_reads
from services.bench.report import format_table
from services.bench.timing import percentile
from tests.services.bench_support import assert_scratch_database_dropped
from tests.tiers import tiered

pytestmark = pytest.mark.bench

FIGURE_KEYS = {"value", "unit", "raw", "ratio", "p50_ms", "p99_ms", "requests", "failed"}
FIGURE_KEYS |= {"raw_p50_ms", "raw_p99_ms", "generator_cpu", "raw_generator_cpu"}
FIGURE_KEYS |= {"server_cpu_ms", "raw_server_cpu_ms", "raw_failed"}
TABLE_P99_LIMIT_MS = 50.0
# The short run's lengths (seconds): its figures are checked for shape, never for speed, so the
# default tier runs each load for less; two rounds either way, so commands carry their ETags
# from one round to the next.
RUN_SECONDS = tiered(default=0.5, full=1.0)
WARMUP_SECONDS = tiered(default=0.1, full=0.2)
OVERLOAD_SECONDS = tiered(default=0.5, full=1.0)


async def test_a_short_run_answers_every_request_and_drops_its_database(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    notes: list[str] = []
    results = await run_http_bench(
        database_url,
        seconds=RUN_SECONDS,
        warmup=WARMUP_SECONDS,
        rounds=2,
        clients=3,
        cases_per_client=2,
        history=2,
        overload_seconds=OVERLOAD_SECONDS,
        overload_cases=8,
        progress=notes.append,
    )

    assert tuple(results) == (*FIGURES, "command_latency", "overload")
    assert FIGURES == ("command", "case_read")
    for name in FIGURES:
        figure = results[name]
        assert set(figure) == FIGURE_KEYS, name
        assert figure["unit"] == "req/s"
        assert figure["requests"] > 0 and figure["failed"] == figure["raw_failed"] == 0, figure
        assert figure["value"] > 0 and figure["raw"] > 0
        assert figure["ratio"] == pytest.approx(figure["value"] / figure["raw"])
        assert 0 < figure["p50_ms"] <= figure["p99_ms"]
        assert 0 < figure["raw_p50_ms"] <= figure["raw_p99_ms"]
        assert figure["generator_cpu"] > 0 and figure["raw_generator_cpu"] > 0
        assert figure["server_cpu_ms"] > 0 and figure["raw_server_cpu_ms"] > 0

    latency = results["command_latency"]
    assert latency["capacity"] == results["command"]["value"]
    assert latency["offered"] == pytest.approx(LATENCY_LOAD * latency["capacity"])
    assert latency["requests"] > 0 and latency["failed"] == 0 and latency["achieved"] > 0
    assert 0 < latency["p50_ms"] <= latency["p99_ms"] and latency["generator_cpu"] > 0

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
    assert overload["health_requests"] == round(PROBE_RATE * OVERLOAD_SECONDS)
    assert overload["health_failed"] == 0
    assert 0 < overload["health_p50_ms"] <= overload["health_p99_ms"]
    # every command answered 200 is in the database; those that were not left nothing there
    assert overload["lost"] == 0 and overload["acknowledged"] > 0
    assert overload["appended"] == overload["acknowledged"]
    assert overload["bad_shed"] == 0 and overload["errors_500"] == 0

    await assert_scratch_database_dropped(database_url, notes)

    print_table(results)
    table = capsys.readouterr().out
    assert all(name in table for name in FIGURES) and ">= 0.50" in table
    assert format_latency(latency) in table
    assert format_overload(overload) in table


def test_the_table_marks_ratio_and_latency_targets_separately() -> None:
    results = {
        "command": {
            "value": 1200.0,
            "unit": "req/s",
            "raw": 3000.0,
            "ratio": 0.4,
            "p50_ms": 20.0,
            "p99_ms": 49.9,
        },
        "case_read": {
            "value": 1800.0,
            "unit": "req/s",
            "raw": 3000.0,
            "ratio": 0.6,
            "p50_ms": 30.0,
            "p99_ms": 50.0,
        },
    }
    lines = format_table(results, TARGETS, latency_limit_ms=TABLE_P99_LIMIT_MS).splitlines()
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


def latency_figure(**changes: object) -> dict[str, object]:
    figure: dict[str, object] = {"capacity": 1000.0, "offered": 500.0, "achieved": 500.0}
    figure |= {"goodput": 500.0, "requests": 5000, "failed": 0, "p50_ms": 9.9, "p99_ms": 49.9}
    figure |= {"lag_p99_ms": 1.0, "behind": False, "generator_cpu": 0.2}
    return figure | changes


def test_the_open_loop_marks_p50_and_p99_and_a_late_generator() -> None:
    met = format_latency(latency_figure())
    assert "MISS" not in met and met.count("  pass") == 2 and "on schedule" in met
    slow = format_latency(latency_figure(p50_ms=10.0, behind=True)).splitlines()
    assert "BEHIND its schedule" in slow[0]
    assert slow[1].endswith("MISS") and slow[2].endswith("pass")
    assert format_latency(latency_figure(p99_ms=50.0)).splitlines()[2].endswith("MISS")
    assert format_latency(latency_figure(failed=1)).count("MISS") == 2  # an error is no latency


RawServer = tuple[str, "subprocess.Popen[bytes]", Path]


@pytest.fixture(scope="module")
def raw_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    folder = tmp_path_factory.mktemp("raw-app")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env |= {"HAVEN_DATABASE_URL": database_url, "HAVEN_DATA_DIR": str(folder)}
    env |= {SIZE_VARIABLE: "321", "HAVEN_DB_POOL_SIZE": "3"}
    port, log = free_port(), folder / "raw.log"
    with served(RAW_FACTORY, env, port, 1, log) as process:
        yield f"http://127.0.0.1:{port}", process, log


async def test_the_raw_app_inserts_a_row_per_command_and_reads_one_by_key(
    raw_server: RawServer, pool: asyncpg.Pool
) -> None:
    base_url, process, log = raw_server
    case_id = str(uuid.uuid4())
    await seed_reads(pool, [case_id], 200)
    await wait_ready(base_url, process, log)
    body = {"delivered_on": "2026-01-01", "service_type": "case_management"}
    async with aiohttp.ClientSession(base_url) as session:
        for version in (7, 8):
            async with session.post(
                f"/v1/cases/{case_id}/services", json=body, headers={"If-Match": f'"{version}"'}
            ) as response:
                assert response.status == 200
                assert response.headers["ETag"] == f'"{version + 1}"'
                assert await response.json() == {"case_id": case_id, "version": version + 1}
        async with session.get(f"/v1/cases/{case_id}") as response:
            assert response.status == 200 and response.headers["ETag"] == '"1"'
            read = await response.json()
        async with session.get(f"/v1/cases/{uuid.uuid4()}") as response:
            assert response.status == 404  # the control: only a seeded case is read
    assert read["case_id"] == case_id and len(read["content"]) == 268  # 200 bytes in base64
    inserted = await pool.fetch(
        f"SELECT length(ciphertext) AS size FROM {RAW_TABLE} WHERE tenant_id = $1"
        " AND stream_id <> $2",
        TENANT,
        uuid.UUID(case_id),
    )
    assert [row["size"] for row in inserted] == [321, 321]  # one row per command, of its size
