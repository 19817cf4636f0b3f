"""Versioned SQL migrations: applied in order, recorded, idempotent, one migrator at a time.

Files are `events/migrations/NNNN_name.sql`. Each runs in its own transaction together with
the row that records it. A session-level advisory lock makes two processes that start
together take turns: the second finds everything applied and does nothing. A recorded
migration whose file has changed since is refused rather than silently skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from importlib import resources
from typing import NamedTuple

import asyncpg

MIGRATION_LOCK = 1214346853  # pg_advisory_lock(bigint): 'Have'
CLUSTER_RACE_ATTEMPTS = 5
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class Migration(NamedTuple):
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(Exception):
    pass


def available_migrations() -> list[Migration]:
    folder = resources.files("events") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(
                Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8"))
            )
    found.sort()
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise MigrationError("migration numbers must run 0001, 0002, ... without gaps")
    return found


async def upgrade(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply every migration not yet recorded; returns the names applied now."""
    migrations = available_migrations() if migrations is None else migrations
    if await _up_to_date(conn, migrations):  # the application's role may check, not create
        return []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute("""
            CREATE SCHEMA IF NOT EXISTS haven;
            CREATE TABLE IF NOT EXISTS haven.schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())""")
        recorded = {
            row["version"]: row for row in await conn.fetch("SELECT * FROM haven.schema_migrations")
        }
        applied = []
        for migration in migrations:
            done = recorded.get(migration.version)
            if done is not None:
                if done["checksum"] != migration.checksum:
                    raise MigrationError(f"{migration.name} changed after it was applied")
                continue
            await _apply(conn, migration)
            applied.append(migration.name)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    """One migration and its record, in one transaction. Roles are the cluster's, not the
    database's: the advisory lock does not keep a migration of another database on the same
    cluster from changing the same role at the same moment, which PostgreSQL refuses ("tuple
    concurrently updated") and which a second attempt, after the other has committed, passes."""
    for attempt in range(1, CLUSTER_RACE_ATTEMPTS + 1):
        try:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO haven.schema_migrations (version, name, checksum)"
                    " VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            return
        except asyncpg.InternalServerError as error:
            if "tuple concurrently updated" not in str(error) or attempt == CLUSTER_RACE_ATTEMPTS:
                raise
            await asyncio.sleep(0.1 * attempt)


async def _up_to_date(conn: asyncpg.Connection, migrations: list[Migration]) -> bool:
    """Every migration recorded, unchanged: read only, so the application's role (which may
    not create anything in `haven`) starts on a database the owner has upgraded."""
    if not await conn.fetchval("SELECT to_regclass('haven.schema_migrations') IS NOT NULL"):
        return False
    recorded = {
        r["version"]: r["checksum"]
        for r in await conn.fetch("SELECT version, checksum FROM haven.schema_migrations")
    }
    return all(recorded.get(m.version) == m.checksum for m in migrations)


async def applied_versions(conn: asyncpg.Connection) -> list[int]:
    exists = await conn.fetchval("SELECT to_regclass('haven.schema_migrations') IS NOT NULL")
    if not exists:
        return []
    return [
        r[0]
        for r in await conn.fetch("SELECT version FROM haven.schema_migrations ORDER BY version")
    ]
