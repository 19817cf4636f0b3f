"""`haven bench projections`: rebuilding a projection and the supervisor's caseload query.

`run_projections_bench` seeds a throw-away database from the demo generator through its bulk
path (`services.demo.bulk`), sized to hold at least `events` events and `team_cases` open
cases on one team, and measures two figures, each against a raw limit of the same run:
``rebuild`` (the ``cases`` projection, as `haven projections rebuild` rebuilds it) and
``team_caseload`` (`projections.caseload.team_caseload` for that team). What each figure and
its raw limit measure is in docs/benchmarks.md.

The team: after the demo plan, the organisation's supervisor reassigns `team_cases` open cases
to ``team-harbor-bench`` as `AssignCase` steps, decided by the domain like every other step.
The demo has one organisation here (``org-harbor``): with three, one organisation holds about
a quarter of the open cases, and 5,000 of them would take some 600,000 events.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg

from crypto.keyring import Keyring
from domain.case import commands as cmd
from domain.case.state import fold
from events.store import PostgresEventStore
from projections.base import tables_of
from projections.caseload import team_caseload
from projections.cases import CASELOAD, CasesProjection
from projections.catalog import projection_factories
from projections.partitioned import Partitioning
from projections.rebuild import rebuild
from services.bench.report import format_table
from services.bench.scratch import scratch_database, scratch_pool, scratch_store
from services.bench.timing import percentile
from services.bench.workload import raw_catch_up
from services.commands.use_cases import Actor
from services.demo.bulk import write_scripts
from services.demo.generator import demo_plan
from services.demo.plan import DEMO_TODAY, DemoPlan, Step

FIGURES = ("rebuild", "team_caseload")
TARGETS: dict[str, float] = {"rebuild": 0.25}  # minimum ours/raw

ORGANISATION = "org-harbor"
SUPERVISOR = "supervisor-harbor"
TEAM = "team-harbor-bench"
EVENTS_PER_CASE = 27  # about, in the demo plan (one organisation, no transfers)
OPEN_PER_CASE = 0.55  # about: open cases per intake

# What `team_caseload` reads of each row; the raw side fetches exactly these, unprocessed.
_RAW_CASELOAD = """SELECT case_id, worker_id, version, enrolled_on, last_contact_on,
       waiting_referrals_since, services_month, services_in_month, consent_expiries,
       has_safe_contact_plan, has_victim_status
  FROM bench_caseload WHERE tenant_id = $1 AND team_id = $2"""


# -- the seed ------------------------------------------------------------------------------


def sized_plan(
    events: int, open_cases: int, *, seed: int, today: dt.date
) -> tuple[DemoPlan, list[str]]:
    """A one-organisation demo plan with at least `events` events and `open_cases` open
    cases, and the ids of its open cases in plan order."""
    cases = max(1, math.ceil(max(events / EVENTS_PER_CASE, open_cases / OPEN_PER_CASE) * 1.03))
    while True:
        plan = demo_plan(seed=seed, cases=cases, today=today, organisations=(ORGANISATION,))
        opened = [
            case_id
            for (org, case_id), stream in plan.streams.items()
            if _is_open(fold(enumerate(stream, start=1)))
        ]
        if plan.summary.events >= events and len(opened) >= open_cases:
            return plan, opened
        cases = math.ceil(cases * 1.1)


def _is_open(state: Any) -> bool:
    return state.closure is None and state.transfer is None


def with_team(plan: DemoPlan, case_ids: Sequence[str], *, workers: int) -> list[tuple[Step, ...]]:
    """The plan's scripts, each of the given cases ending with its reassignment to `TEAM`
    by the organisation's supervisor (worker k of `workers`, round robin)."""
    chosen = {case_id: index for index, case_id in enumerate(case_ids)}
    supervisor = Actor(SUPERVISOR, ORGANISATION, "bench-team")
    scripts = []
    for script in plan.scripts:
        last: dict[str, Step] = {}
        for step in script:
            if step.case_id in chosen:
                last[step.case_id] = step
        extra = tuple(
            Step(
                "assign",
                supervisor,
                case_id,
                cmd.AssignCase(
                    worker_id=f"worker-harbor-bench-{chosen[case_id] % workers + 1}",
                    team_id=TEAM,
                    assigned_on=plan.today,
                ),
                step.version,
                step.version + 1,
            )
            for case_id, step in last.items()
        )
        scripts.append((*script, *extra))
    return scripts


async def _seed(
    store: PostgresEventStore,
    events: int,
    team_cases: int,
    team_workers: int,
    *,
    seed: int,
    today: dt.date,
    note: Callable[[str], None],
) -> int:
    """Plan, add the team, write through the bulk path; returns the number of events."""
    start = time.perf_counter()
    plan, open_cases = sized_plan(events, team_cases, seed=seed, today=today)
    planned = time.perf_counter() - start
    scripts = with_team(plan, open_cases[:team_cases], workers=team_workers)
    written = await write_scripts(store, scripts, today)
    seeded = time.perf_counter() - start
    note(
        f"seeded {written.events:,} events ({written.streams:,} cases, {written.steps:,} commands) "
        f"in {seeded:.1f} s ({planned:.1f} s planning; {written.events / seeded:,.0f} ev/s); "
        "not a figure"
    )
    return written.events


# -- timing ------------------------------------------------------------------------------


def _figure(ours: float, raw: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "value": float(ours),
        "unit": unit,
        "raw": float(raw),
        "ratio": float(ours / raw) if raw else 0.0,
        **extra,
    }


async def _rebuild(
    pool: asyncpg.Pool,
    keyring: Keyring,
    store: PostgresEventStore,
    events: int,
    *,
    partitioning: Partitioning,
    rounds: int,
    note: Callable[[str], None],
) -> tuple[dict[str, Any], int]:
    make = projection_factories(keyring, store)["cases"]

    async def raw() -> int:  # the store bench's raw catch-up, over the same rows
        return await raw_catch_up(pool, "haven.events")

    generation = 0

    async def ours() -> int:
        nonlocal generation
        keyring.clear()  # a fresh process: every stream's key is unwrapped again
        applied = 0

        def count(n: int) -> None:
            nonlocal applied
            applied += n

        built = await rebuild(store, pool, make, progress=count, partitioning=partitioning)
        generation = built.generation
        return applied

    await raw()  # warms the buffer cache (heap and log-order index) for both sides
    totals = {"ours": [0, 0.0], "raw": [0, 0.0]}
    sides = [("ours", ours), ("raw", raw)]
    for round_ in range(rounds):
        note(f"rebuild: round {round_ + 1} of {rounds}")
        for side, run in sides if round_ % 2 == 0 else sides[::-1]:
            start = time.perf_counter()
            read = await run()
            totals[side][1] += time.perf_counter() - start
            totals[side][0] += read
            if read != events:
                raise RuntimeError(f"rebuild ({side}) handled {read} of {events} events")
    figure = _figure(
        totals["ours"][0] / totals["ours"][1],
        totals["raw"][0] / totals["raw"][1],
        "ev/s",
        events=events,
        workers=partitioning.workers,
    )
    return figure, generation


async def _team_caseload(
    pool: asyncpg.Pool,
    generation: int,
    team_cases: int,
    today: dt.date,
    *,
    seconds: float,
    warmup: float,
    rounds: int,
    note: Callable[[str], None],
) -> dict[str, Any]:
    caseload = tables_of(CasesProjection, generation)[CASELOAD]
    await pool.execute(f"CREATE TABLE bench_caseload (LIKE {caseload} INCLUDING ALL)")
    await pool.execute(
        f"INSERT INTO bench_caseload SELECT * FROM {caseload} "
        "WHERE tenant_id = $1 AND team_id = $2",
        ORGANISATION,
        TEAM,
    )
    await pool.execute(f"VACUUM (ANALYZE) bench_caseload, {caseload}")
    page = await team_caseload(pool, ORGANISATION, TEAM, today)
    rows = len(await pool.fetch(_RAW_CASELOAD, ORGANISATION, TEAM))
    if page.total_cases != team_cases or rows != team_cases:
        raise RuntimeError(
            f"the team holds {page.total_cases} open cases ({rows} raw rows), not {team_cases}"
        )
    note(
        f"team_caseload: {page.total_cases:,} open cases, {len(page.workers)} workers, "
        f"a page of {len(page.cases)}"
    )

    async def ours() -> None:
        await team_caseload(pool, ORGANISATION, TEAM, today)

    async def raw() -> None:
        await pool.fetch(_RAW_CASELOAD, ORGANISATION, TEAM)

    latencies: dict[str, list[float]] = {"ours": [], "raw": []}
    elapsed = {"ours": 0.0, "raw": 0.0}

    async def drive(side: str, query: Callable[[], Any], span: float, counted: bool) -> None:
        deadline = time.perf_counter() + span
        began = time.perf_counter()
        while (now := time.perf_counter()) < deadline:
            await query()
            if counted:
                latencies[side].append((time.perf_counter() - now) * 1000)
        if counted:
            elapsed[side] += time.perf_counter() - began

    sides = [("ours", ours), ("raw", raw)]
    for round_ in range(rounds):
        for side, query in sides if round_ % 2 == 0 else sides[::-1]:
            if round_ == 0 and warmup > 0:
                await drive(side, query, warmup, counted=False)
            await drive(side, query, seconds / rounds, counted=True)
    ours_rate = len(latencies["ours"]) / elapsed["ours"]
    raw_rate = len(latencies["raw"]) / elapsed["raw"]
    return _figure(
        ours_rate,
        raw_rate,
        "q/s",
        p50_ms=percentile(latencies["ours"], 0.50),
        p99_ms=percentile(latencies["ours"], 0.99),
        raw_p50_ms=percentile(latencies["raw"], 0.50),
        raw_p99_ms=percentile(latencies["raw"], 0.99),
        queries=len(latencies["ours"]),
        rows=team_cases,
    )


# -- the suite ---------------------------------------------------------------------------


async def run_projections_bench(
    database_url: str,
    *,
    events: int = 200_000,
    team_cases: int = 5_000,
    team_workers: int = 25,
    rebuild_rounds: int = 2,
    rebuild_workers: int = os.cpu_count() or 1,
    seconds: float = 4.5,
    warmup: float = 0.5,
    rounds: int = 3,
    seed: int = 7,
    today: dt.date = DEMO_TODAY,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Seed, then measure `rebuild` and `team_caseload`; returns the figures.

    `database_url` names any database on the server: the bench creates its own database
    `haven_bench_<hex>` next to it and drops it at the end, whatever happens. The rebuild runs
    `rebuild_rounds` rounds with `rebuild_workers` processes; the caseload query `rounds`
    rounds, `seconds` per side in all, after `warmup` seconds each. Seeding is timed and
    reported through `progress`, but it is not a figure.

    The results are ``{"rebuild": {"value", "unit": "ev/s", "raw", "ratio", "events",
    "workers"}, "team_caseload": {"value", "unit": "q/s", "raw", "ratio", "p50_ms", "p99_ms",
    "raw_p50_ms", "raw_p99_ms", "queries", "rows"}}``.
    """
    if (
        min(events, team_cases, team_workers, rebuild_rounds, rebuild_workers, rounds) < 1
        or seconds <= 0
    ):
        raise ValueError(
            "events, team_cases, team_workers, rebuild_rounds, rebuild_workers, seconds and rounds "
            "must be positive"
        )
    note = progress or (lambda _line: None)
    async with (
        scratch_database(database_url, note) as url,
        scratch_pool(url, min_size=4, max_size=12) as pool,
        scratch_store(pool) as scratched,
    ):
        store, keyring, kek = scratched
        written = await _seed(
            store, events, team_cases, team_workers, seed=seed, today=today, note=note
        )
        # The plan's hundreds of thousands of objects are garbage at this point: collected
        # here, so that no full collection walks them during the timed part.
        gc.collect()
        await pool.execute("VACUUM (ANALYZE) haven.events, haven.streams")
        results: dict[str, dict[str, Any]] = {}
        partitioning = Partitioning(url, f"file:{kek}", rebuild_workers)
        results["rebuild"], generation = await _rebuild(
            pool,
            keyring,
            store,
            written,
            partitioning=partitioning,
            rounds=rebuild_rounds,
            note=note,
        )
        note("team_caseload")
        results["team_caseload"] = await _team_caseload(
            pool,
            generation,
            team_cases,
            today,
            seconds=seconds,
            warmup=warmup,
            rounds=rounds,
            note=note,
        )
        return results


def format_results(results: Mapping[str, Mapping[str, Any]]) -> str:
    """One table per unit (events/s for the rebuild, queries/s with latencies for the
    caseload), with the targets and pass/MISS markers."""
    by_unit: dict[str, dict[str, Mapping[str, Any]]] = {}
    for figure, values in results.items():
        by_unit.setdefault(str(values.get("unit", "")), {})[figure] = values
    return "\n\n".join(format_table(group, TARGETS) for group in by_unit.values())


def print_table(results: Mapping[str, Mapping[str, Any]]) -> None:
    print(format_results(results))
