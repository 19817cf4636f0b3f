"""`haven bench report --history`: a fiscal year of federal releases of a many-organisation
deployment, each release timed next to the raw aggregate query it reads.

`run_report_history_bench` seeds a throw-away database through the bulk path, with the demo
clock in mid-October 2026 so that every quarter of federal fiscal year 2026 is final, and
releases the fiscal year in order: each quarter, the roll-up and every organisation, late
intakes then revising the first quarter for two organisations. Each release is timed as the
job runs it (`FederalReportJob.run`), next to the raw aggregate query alone
(`read_true_counts`, as role haven_reporting). The figure and its target are described in
docs/benchmarks.md; the database is dropped at the end.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any

from domain.reporting.periods import Period
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bench.scratch import scratch_database, scratch_pool, scratch_store
from services.demo.bulk import seed_demo_bulk
from services.reporting.access import reporting_connection
from services.reporting.job import FederalReportJob
from services.reporting.true_counts import read_true_counts
from services.settings import login_as

TODAY = dt.date(2026, 10, 15)
FISCAL_YEAR = ("2025Q4", "2026Q1", "2026Q2", "2026Q3")
ORGANISATIONS = 20
CLIENTS_PER_ORGANISATION = (
    200  # over the demo's two years: about 100 per organisation in a fiscal year
)
LATE = 12
TARGET_RATIO = 0.5  # first / last: the last release takes at most twice as long as the first


def organisation_ids(count: int) -> tuple[str, ...]:
    return tuple(f"org-{n:02d}" for n in range(1, count + 1))


async def _raw_query_seconds(reporting_url: str, period: str) -> float:
    """The aggregate query of a release alone, on its own connection as haven_reporting."""
    async with reporting_connection(reporting_url) as conn:
        horizon = await conn.fetchval("SELECT quarter FROM reporting.federal_inputs_horizon")
        started = time.perf_counter()
        await read_true_counts(conn, Period.parse(period), horizon)
        return time.perf_counter() - started


async def run_report_history_bench(
    database_url: str,
    *,
    organisations: int = ORGANISATIONS,
    clients: int | None = None,
    late: int = LATE,
    quarters: Sequence[str] = FISCAL_YEAR,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Release a fiscal year in order (see the module doc); one figure, with every release's times.
    `quarters`: the fiscal year's first quarters only (a smaller run); the first quarter's
    revisions follow its releases however many quarters run."""
    clients = CLIENTS_PER_ORGANISATION * organisations if clients is None else clients
    if (
        organisations < 2
        or clients < 1
        or late < 0
        or tuple(quarters) != FISCAL_YEAR[: len(quarters)]
        or not quarters
    ):
        raise ValueError(
            "at least two organisations, one client and the fiscal year's first quarter"
        )
    note = progress or (lambda _line: None)
    orgs = organisation_ids(organisations)
    async with (
        scratch_database(database_url, note) as url,
        scratch_pool(url, min_size=2, max_size=8) as pool,
        scratch_store(pool) as scratched,
    ):
        store, keyring, _ = scratched
        inputs = projection_factories(keyring, store)["federal_inputs"]
        await seed_demo_bulk(store, cases=clients, seed=7, organisations=orgs, today=TODAY)
        await rebuild(store, pool, inputs)
        note(f"seeded {clients} clients across {organisations} organisations")
        reporting_url = login_as(url, "haven_reporting")
        job = FederalReportJob(reporting_url)
        runs: list[dict[str, Any]] = []

        async def release(period: str, org: str | None) -> None:
            started = time.perf_counter()
            document = await job.run(period, org)
            seconds = time.perf_counter() - started
            raw = await _raw_query_seconds(reporting_url, period)
            cells = [c for t in document["tables"] for c in t["cells"]]
            runs.append(
                {
                    "n": len(runs) + 1,
                    "period": period,
                    "scope": org or "all",
                    "revision": document["certificate"]["revision"],
                    "seconds": round(seconds, 3),
                    "raw_seconds": round(raw, 4),
                    "cells": len(cells),
                    "withheld": sum(1 for c in cells if c["status"] == "withheld"),
                }
            )
            note(
                f"{len(runs):3d} {period} {org or 'all':8s} r{document['certificate']['revision']} "
                f"{seconds:7.2f} s (raw query {raw * 1000:.1f} ms)"
            )

        for index, period in enumerate(quarters):
            for org in (None, *orgs):
                await release(period, org)
            if index == 0 and late:  # late intakes in the released quarter: revisions
                await seed_demo_bulk(
                    store, cases=late, seed=99, organisations=orgs[:2], today=TODAY
                )
                await rebuild(store, pool, inputs)
                for org in (None, *orgs[:2]):
                    await release(period, org)
    first, last = runs[0]["seconds"], runs[-1]["seconds"]
    return {
        "report_history": {
            "value": last,
            "unit": "s",
            "raw": first,
            "ratio": round(first / last, 3),
            "releases": runs,
            "organisations": organisations,
            "clients": clients,
        }
    }


def format_results(results: dict[str, dict[str, Any]]) -> str:
    figure = results["report_history"]
    lines = [
        f"{'n':>3s}  {'period':6s}  {'scope':8s}  {'rev':>3s}  {'seconds':>8s}  "
        f"{'raw query s':>11s}  {'withheld':>8s}"
    ]
    lines += [
        f"{r['n']:3d}  {r['period']:6s}  {r['scope']:8s}  {r['revision']:3d}  {r['seconds']:8.2f}  "
        f"{r['raw_seconds']:11.4f}  {r['withheld']:8d}"
        for r in figure["releases"]
    ]
    verdict = "pass" if figure["ratio"] >= TARGET_RATIO else "MISS"
    lines.append(
        f"report_history: last release {figure['value']:.2f} s, first {figure['raw']:.2f} s, "
        f"first/last {figure['ratio']:.2f} (target >= {TARGET_RATIO}) {verdict}; "
        f"{len(figure['releases'])} releases, {figure['organisations']} organisations, "
        f"{figure['clients']} clients"
    )
    return "\n".join(lines)


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print(format_results(results))
