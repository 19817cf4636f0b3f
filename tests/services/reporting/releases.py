"""Releases computed once per test run: the ledger after a sequence of federal releases, kept.

A release solves integer programs for seconds; many tests need the same one ("2026Q3 released
from an empty ledger") and only look at what it published or at the ledger it left. `Releases`
runs each sequence of releases once for given data, keeps the ledger's rows it produced, and
restores them when another test asks for the same sequence over the same data: the documents
and rows such a test sees are exactly what the job wrote in this run, not a fixture.

What is kept lives in a scratch schema of the worker's own database, and in a file of a
directory every worker of the run shares (`shared`), so a release one worker made is restored
by the others instead of made again (two workers missing it at once both make it: the same
release, written atomically).

The data is identified by a fingerprint of the reporting inputs (the clients' rows, the
identification and activity counts, the horizon) that ignores the random subject ids (which
differ between two seedings of the same demo data) but keeps which rows belong to one client.
Tests about the job's own computation (determinism, revisions, the role it runs as) still run
it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Protocol

import asyncpg

Run = tuple[str, str | None]  # (period, organisation or None for the roll-up)


class Releasing(Protocol):
    """What makes a release: the job itself, or the API in front of it."""

    async def run(self, period: str, organisation: str | None = None) -> dict[str, Any]: ...


SCRATCH = "test_saved_ledgers"
LEDGER_TABLES = ("releases", "publications")

# Quarters wide enough for any test's data: the identification and activity counts by quarter.
_QUARTERS = (
    "ARRAY(SELECT y || 'Q' || q FROM generate_series(2020, 2035) y, generate_series(1, 4) q)"
)
FINGERPRINT = f"""
    SELECT md5(
        coalesce((SELECT quarter FROM reporting.federal_inputs_horizon), '') || ':' || coalesce(
            (SELECT string_agg(rows, '|' ORDER BY rows) FROM (
                SELECT string_agg((to_jsonb(f) - 'subject')::text, ','
                                  ORDER BY (to_jsonb(f) - 'subject')::text) AS rows
                FROM reporting.federal_inputs f GROUP BY subject) AS per_client), '')
        || ':' || coalesce((SELECT string_agg(to_jsonb(i)::text, ',' ORDER BY to_jsonb(i)::text)
                            FROM reporting_ledger.identification_counts({_QUARTERS}) i), '')
        || ':' || coalesce((SELECT string_agg(to_jsonb(a)::text, ',' ORDER BY to_jsonb(a)::text)
                            FROM reporting_ledger.activity_counts({_QUARTERS}) a), ''))"""


class Releases:
    def __init__(self, shared: Path | None = None) -> None:
        self._kept: dict[tuple[str, tuple[Run, ...]], tuple[str, list[dict[str, Any]]]] = {}
        self._shared = shared

    async def after(self, pool: asyncpg.Pool, job: Releasing, *runs: Run) -> list[dict[str, Any]]:
        """The ledger as `runs`, made in order from an empty ledger, leave it; their documents."""
        data = await pool.fetchval(FINGERPRINT)
        done = max((n for n in range(len(runs) + 1) if (data, runs[:n]) in self._kept), default=0)
        for n in range(len(runs), done, -1):  # a longer prefix another worker kept
            if await self._take_shared(pool, data, runs[:n]):
                done = n
                break
        documents: list[dict[str, Any]] = []
        if done:
            saved, documents = self._kept[(data, runs[:done])]
            await _restore(pool, saved)
        else:
            await empty_ledger(pool)
        for n in range(done, len(runs)):
            documents = [*documents, await job.run(*runs[n])]
            self._kept[(data, runs[: n + 1])] = (await _save(pool, len(self._kept)), documents)
            await self._give_shared(pool, data, runs[: n + 1], documents)
        return copy.deepcopy(documents)  # a test may change what it was given

    def _file(self, data: str, runs: tuple[Run, ...]) -> Path | None:
        if self._shared is None:
            return None
        key = hashlib.sha256(json.dumps([data, runs]).encode()).hexdigest()
        return self._shared / f"{key}.json"

    async def _take_shared(self, pool: asyncpg.Pool, data: str, runs: tuple[Run, ...]) -> bool:
        """Keep here what another worker kept for these runs over this data; whether it did."""
        path = self._file(data, runs)
        if path is None or not path.exists():
            return False
        kept = json.loads(path.read_text())
        name = await _save_given(pool, len(self._kept), kept["rows"])
        self._kept[(data, runs)] = (name, kept["documents"])
        return True

    async def _give_shared(
        self, pool: asyncpg.Pool, data: str, runs: tuple[Run, ...], documents: list[dict[str, Any]]
    ) -> None:
        path = self._file(data, runs)
        if path is None:
            return
        rows = {
            table: await pool.fetchval(
                f"SELECT coalesce(jsonb_agg(to_jsonb(t))::text, '[]') "
                f"FROM reporting_ledger.{table} t"
            )
            for table in LEDGER_TABLES
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps({"rows": rows, "documents": documents}))
        partial.replace(path)  # atomic: a reader sees the whole file or none


async def empty_ledger(db: asyncpg.Pool | asyncpg.Connection) -> None:
    # append-only tables refuse DELETE; TRUNCATE (the test's superuser) starts a fresh ledger, of
    # both modes (a period released in one refuses the other)
    await db.execute(
        "TRUNCATE reporting_ledger.publications, reporting_ledger.releases, "
        "dp.requester_spends, dp.spends, dp.balances, dp.releases"
    )


async def _save(pool: asyncpg.Pool, number: int) -> str:
    """The ledger's rows kept in the scratch schema; their name there."""
    name = f"ledger_{number}"
    await pool.execute(f"CREATE SCHEMA IF NOT EXISTS {SCRATCH}")
    for table in LEDGER_TABLES:
        await pool.execute(
            f"CREATE TABLE {SCRATCH}.{name}_{table} AS TABLE reporting_ledger.{table}"
        )
    return name


async def _save_given(pool: asyncpg.Pool, number: int, rows: dict[str, str]) -> str:
    """Another worker's rows (`Releases._give_shared`: JSON per table) kept as `_save` keeps
    this worker's."""
    name = f"ledger_{number}"
    await pool.execute(f"CREATE SCHEMA IF NOT EXISTS {SCRATCH}")
    for table in LEDGER_TABLES:
        await pool.execute(
            f"CREATE TABLE {SCRATCH}.{name}_{table} AS SELECT * "
            f"FROM jsonb_populate_recordset(NULL::reporting_ledger.{table}, $1::jsonb)",
            rows[table],
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
        # the next release numbered after these (another worker's, perhaps), and after every
        # one this database made
        await conn.execute("""
            SELECT setval(sequence, greatest(
                (SELECT coalesce(max(release_no), 1) FROM reporting_ledger.releases),
                (SELECT last_value FROM pg_sequences
                  WHERE format('%I.%I', schemaname, sequencename)::regclass = sequence::regclass)))
              FROM pg_get_serial_sequence('reporting_ledger.releases', 'release_no') AS sequence""")
