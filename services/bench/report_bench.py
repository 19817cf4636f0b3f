"""`haven bench report`: a full quarterly federal report over the demo generator's data.

For each size (10,000 and 100,000 clients by default) the bench creates a throw-away
database `haven_bench_<hex>` next to `database_url`, migrates it, seeds that many demo
intakes through the bulk path (`services.demo.bulk`, the demo clock in mid-October 2026 so
that 2026Q3 — the last quarter of federal fiscal year 2026 — is final) with the demo's richer
case life (`services.demo.rich_life`: about 50 events per client, so 100,000 clients ≈ 5,000,000
events), rebuilds the `federal_inputs` projection, and times `FederalReportJob.run("2026Q3")`
on an empty ledger: every table of the codebook (grant-year tables included), the aggregate
query as role haven_reporting, complementary suppression, the exact audit of every family's
ledger and the ledger write. Seeding and the rebuild are timed and reported through
`progress`, not figures. A re-run (answered from the ledger) is timed too, as
`report_<size>_rerun`.

Figures (seconds, lower is better): ``report_10k``, ``report_100k`` (named by the size in
thousands), each with ``clients``, ``events`` (as counted in the seeded log), ``seed_seconds``,
``cells`` and ``suppressed``. The databases are dropped at the end, whatever happens.
"""

from __future__ import annotations

import datetime as dt
import gc
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bench.scratch import scratch_database, scratch_pool, scratch_store
from services.demo.bulk import seed_demo_bulk
from services.reporting.job import FederalReportJob
from services.settings import login_as

TODAY = dt.date(2026, 10, 15)
PERIOD = "2026Q3"
SIZES = (10_000, 100_000)


def figure_name(clients: int) -> str:
    return (
        f"report_{clients // 1000}k"
        if clients >= 1000 and clients % 1000 == 0
        else f"report_{clients}"
    )


async def _one(database_url: str, clients: int, note: Callable[[str], None]) -> dict[str, Any]:
    async with (
        scratch_database(database_url, lambda line: note(f"{clients} clients: {line}")) as url,
        scratch_pool(url, min_size=2, max_size=8) as pool,
        scratch_store(pool) as scratched,
    ):
        store, keyring, _ = scratched
        started = time.perf_counter()
        await seed_demo_bulk(store, cases=clients, seed=7, today=TODAY, rich=True)
        seeded = time.perf_counter() - started
        events = await pool.fetchval("SELECT count(*) FROM haven.events")
        note(
            f"{clients} clients: seeded {events} events ({events / clients:.1f} per client) "
            f"in {seeded:.1f} s"
        )
        gc.collect()
        started = time.perf_counter()
        await rebuild(store, pool, projection_factories(keyring, store)["federal_inputs"])
        rows = await pool.fetchval("SELECT count(*) FROM reporting.federal_inputs")
        note(
            f"{clients} clients: federal_inputs rebuilt ({rows} rows) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        await pool.execute("VACUUM (ANALYZE)")
        job = FederalReportJob(login_as(url, "haven_reporting"))
        started = time.perf_counter()
        document = await job.run(PERIOD)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = await job.run(PERIOD)
        rerun = time.perf_counter() - started
        if again != document:
            raise AssertionError("a re-run returned another release")
        counts = [c["count"] for t in document["tables"] for c in t["cells"]]
        note(f"{clients} clients: report in {seconds:.2f} s (re-run {rerun:.3f} s)")
        return {
            "value": round(seconds, 3),
            "unit": "s",
            "clients": clients,
            "events": events,
            "seed_seconds": round(seeded, 1),
            "input_rows": rows,
            "cells": len(counts),
            "suppressed": sum(1 for c in counts if c is None),
            "audit_targets": document["certificate"]["audit"]["targets"],
            "audit_solves": document["certificate"]["audit"]["solves"],
            "rerun_seconds": round(rerun, 4),
        }


async def run_report_bench(
    database_url: str,
    *,
    sizes: Sequence[int] = SIZES,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Time a full quarterly report per size (see the module doc)."""
    if not sizes or any(size < 1 for size in sizes):
        raise ValueError("sizes must be positive")
    note = progress or (lambda _line: None)
    return {figure_name(size): await _one(database_url, size, note) for size in sizes}


def format_results(results: Mapping[str, Mapping[str, Any]]) -> str:
    lines = [f"{'figure':14s} {'seconds':>9s} {'clients':>9s} {'events':>10s}"]
    lines += [
        f"{name:14s} {r['value']:9.2f} {r['clients']:9d} {r['events']:10d}"
        for name, r in results.items()
    ]
    for name, r in results.items():
        lines.append(
            f"{name}: {r['clients']} clients, {r['events']} events "
            f"(seeded in {r['seed_seconds']} s), {r['input_rows']} input rows, "
            f"{r['cells']} cells ({r['suppressed']} suppressed), "
            f"audit {r['audit_targets']} targets / {r['audit_solves']} solves, "
            f"re-run {r['rerun_seconds']} s"
        )
    return "\n".join(lines)


def print_table(results: Mapping[str, Mapping[str, Any]]) -> None:
    print(format_results(results))
