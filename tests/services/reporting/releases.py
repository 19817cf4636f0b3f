"""Releases computed once per test run: the ledger after a sequence of federal releases, kept.

A release solves integer programs for seconds; many tests need the same one ("2026Q3 released
from an empty ledger") and only look at what it published or at the ledger it left. `Releases`
runs each sequence of releases once for given data, keeps the ledger's rows it produced in a
scratch schema, and restores them when another test asks for the same sequence over the same
data: the documents and rows such a test sees are exactly what the job wrote, not a fixture.

The data is identified by a fingerprint of the reporting inputs that ignores the random
subject ids (which differ between two seedings of the same demo data) but keeps which rows
belong to one client. Tests about the job's own computation (determinism, revisions, the
role it runs as) still run it.
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

import asyncpg

Run = tuple[str, str | None]  # (period, organisation or None for the roll-up)


class Releasing(Protocol):
    """What makes a release: the job itself, or the API in front of it."""

    async def run(self, period: str, organisation: str | None = None) -> dict[str, Any]: ...


SCRATCH = "test_saved_ledgers"
LEDGER_TABLES = ("releases", "publications")

FINGERPRINT = """
    SELECT md5(
        coalesce((SELECT quarter FROM reporting.federal_inputs_horizon), '') || ':' || coalesce(
            (SELECT string_agg(rows, '|' ORDER BY rows) FROM (
                SELECT string_agg((to_jsonb(f) - 'subject')::text, ','
                                  ORDER BY (to_jsonb(f) - 'subject')::text) AS rows
                FROM reporting.federal_inputs f GROUP BY subject) AS per_client), ''))"""


class Releases:
    def __init__(self) -> None:
        self._kept: dict[tuple[str, tuple[Run, ...]], tuple[str, list[dict[str, Any]]]] = {}

    async def after(self, pool: asyncpg.Pool, job: Releasing, *runs: Run) -> list[dict[str, Any]]:
        """The ledger as `runs`, made in order from an empty ledger, leave it; their documents."""
        data = await pool.fetchval(FINGERPRINT)
        done = max((n for n in range(len(runs) + 1) if (data, runs[:n]) in self._kept), default=0)
        documents: list[dict[str, Any]] = []
        if done:
            saved, documents = self._kept[(data, runs[:done])]
            await _restore(pool, saved)
        else:
            await empty_ledger(pool)
        for n in range(done, len(runs)):
            documents = [*documents, await job.run(*runs[n])]
            self._kept[(data, runs[: n + 1])] = (await _save(pool, len(self._kept)), documents)
        return copy.deepcopy(documents)  # a test may change what it was given


async def empty_ledger(db: asyncpg.Pool | asyncpg.Connection) -> None:
    # append-only tables refuse DELETE; TRUNCATE (the test's superuser) starts a fresh ledger, of
    # both modes (a period released in one refuses the other)
    await db.execute(
        "TRUNCATE reporting_ledger.publications, reporting_ledger.releases, "
        "dp.requester_spends, dp.spends, dp.balances, dp.releases"
    )


async def _save(pool: asyncpg.Pool, number: int) -> str:
    name = f"ledger_{number}"
    await pool.execute(f"CREATE SCHEMA IF NOT EXISTS {SCRATCH}")
    for table in LEDGER_TABLES:
        await pool.execute(
            f"CREATE TABLE {SCRATCH}.{name}_{table} AS TABLE reporting_ledger.{table}"
        )
    return name


async def _restore(pool: asyncpg.Pool, name: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await empty_ledger(conn)
        for table in LEDGER_TABLES:
            await conn.execute(
                f"INSERT INTO reporting_ledger.{table} OVERRIDING SYSTEM VALUE "
                f"SELECT * FROM {SCRATCH}.{name}_{table}"
            )
