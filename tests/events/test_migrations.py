"""Schema migrations: ordered, recorded with checksums, idempotent, one migrator at a time."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.migrate import MIGRATION_LOCK, Migration, MigrationError, available_migrations, upgrade
from services.database import ensure_database, with_database
from tests.conftest import eventually

TABLES = ("haven.schema_migrations", "haven.streams", "haven.events")


@contextlib.asynccontextmanager
async def throwaway_database(server_url: str) -> AsyncIterator[str]:
    name = f"haven_mig_{uuid.uuid4().hex[:12]}"
    url = with_database(server_url, name)
    await ensure_database(url)
    try:
        yield url
    finally:
        admin = await asyncpg.connect(with_database(server_url, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def conn(server_url: str) -> AsyncIterator[asyncpg.Connection]:
    async with throwaway_database(server_url) as url:
        connection = await asyncpg.connect(url)
        try:
            yield connection
        finally:
            await connection.close()


async def recorded(conn: asyncpg.Connection) -> list[tuple[int, str, str]]:
    rows = await conn.fetch(
        "SELECT version, name, checksum FROM haven.schema_migrations ORDER BY version"
    )
    return [tuple(row) for row in rows]


async def advisory_locks_held(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    )


async def tables_exist(conn: asyncpg.Connection) -> bool:
    return all(
        [await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table) for table in TABLES]
    )


def test_available_migrations_are_numbered_from_0001_without_gaps() -> None:
    migrations = available_migrations()
    assert migrations, "there must be at least the event store migration"
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    for migration in migrations:
        assert migration.name.startswith(f"{migration.version:04d}_")
        assert re.fullmatch(r"[0-9a-f]{64}", migration.checksum)
    assert migrations[0].name == "0001_event_store.sql"


async def test_migrations_apply_in_order_and_are_recorded_with_checksums(
    conn: asyncpg.Connection,
) -> None:
    migrations = available_migrations()
    assert not await tables_exist(conn)  # control: a fresh database has none of it
    applied = await upgrade(conn)
    assert applied == [m.name for m in migrations]
    assert await recorded(conn) == [(m.version, m.name, m.checksum) for m in migrations]
    assert await tables_exist(conn)


async def test_later_migration_runs_after_the_one_it_depends_on(conn: asyncpg.Connection) -> None:
    migrations = [
        Migration(
            1,
            "0001_first.sql",
            "CREATE SCHEMA IF NOT EXISTS haven; CREATE TABLE haven.first (id int PRIMARY KEY)",
        ),
        Migration(
            2, "0002_second.sql", "CREATE TABLE haven.second (id int REFERENCES haven.first (id))"
        ),
    ]
    assert await upgrade(conn, migrations) == ["0001_first.sql", "0002_second.sql"]
    assert [version for version, _, _ in await recorded(conn)] == [1, 2]


async def test_second_upgrade_applies_nothing(conn: asyncpg.Connection) -> None:
    first = await upgrade(conn)
    assert first  # control: the first run did apply something
    before = await recorded(conn)
    assert await upgrade(conn) == []
    assert await recorded(conn) == before


async def test_concurrent_upgrades_apply_each_migration_exactly_once(server_url: str) -> None:
    names = [m.name for m in available_migrations()]
    async with throwaway_database(server_url) as url:
        one, two = await asyncpg.connect(url), await asyncpg.connect(url)
        try:
            results = await asyncio.gather(upgrade(one), upgrade(two))
            assert sorted(results) == [[], names]
            count = await one.fetchval(
                "SELECT count(*) FROM haven.schema_migrations WHERE version = 1"
            )
            assert count == 1
            assert await one.fetchval("SELECT count(*) FROM haven.schema_migrations") == len(names)
            assert await tables_exist(one)
        finally:
            await one.close()
            await two.close()


async def test_upgrade_waits_for_the_migration_lock(server_url: str) -> None:
    async with throwaway_database(server_url) as url:
        holder, migrator = await asyncpg.connect(url), await asyncpg.connect(url)
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            assert await advisory_locks_held(holder) == 1  # control for advisory_locks_held
            waiting_pid = migrator.get_server_pid()
            task = asyncio.create_task(upgrade(migrator))

            async def migrator_is_blocked() -> bool:
                return bool(
                    await holder.fetchval(
                        "SELECT 1 FROM pg_locks"
                        " WHERE pid = $1 AND locktype = 'advisory' AND NOT granted",
                        waiting_pid,
                    )
                )

            await eventually(migrator_is_blocked)
            assert not task.done()
            assert not await holder.fetchval("SELECT to_regclass('haven.events') IS NOT NULL")
            await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
            assert await task == [m.name for m in available_migrations()]
        finally:
            await holder.close()
            await migrator.close()


async def test_changed_migration_is_refused(conn: asyncpg.Connection) -> None:
    migrations = available_migrations()
    await upgrade(conn, migrations)
    assert await upgrade(conn, migrations) == []  # control: unchanged files pass
    changed = [
        migrations[0]._replace(sql=migrations[0].sql + "\n-- edited after release\n"),
        *migrations[1:],
    ]
    with pytest.raises(MigrationError, match=migrations[0].name):
        await upgrade(conn, changed)
    assert await advisory_locks_held(conn) == 0  # the refusal released the migration lock


async def test_failing_migration_is_rolled_back_and_not_recorded(conn: asyncpg.Connection) -> None:
    migrations = [
        Migration(
            1, "0001_ok.sql", "CREATE SCHEMA IF NOT EXISTS haven; CREATE TABLE haven.ok (id int)"
        ),
        Migration(
            2, "0002_broken.sql", "CREATE TABLE haven.half (id int); SELECT no_such_function()"
        ),
    ]
    with pytest.raises(asyncpg.PostgresError):
        await upgrade(conn, migrations)
    assert [version for version, _, _ in await recorded(conn)] == [1]
    assert not await conn.fetchval("SELECT to_regclass('haven.half') IS NOT NULL")
    assert await advisory_locks_held(conn) == 0


async def test_two_databases_of_one_cluster_migrate_at_the_same_moment(server_url: str) -> None:
    """Their roles are the cluster's: both upgrades change the same roles at once, and both
    complete (a migration PostgreSQL refuses as "tuple concurrently updated" is applied again)."""
    async with throwaway_database(server_url) as first, throwaway_database(server_url) as second:
        connections = [await asyncpg.connect(first), await asyncpg.connect(second)]
        try:
            applied = await asyncio.gather(*(upgrade(c) for c in connections))
        finally:
            for connection in connections:
                await connection.close()
    assert applied[0] == applied[1] == [m.name for m in available_migrations()]


async def test_dropping_a_retired_read_model_removes_every_generation_and_its_bookkeeping(
    conn: asyncpg.Connection,
) -> None:
    """0017 retires `intake_origins`, whose tables held case ids: a database that ran it (two
    generations, a view, a checkpoint and a quarantined stream) keeps none of them.
    Control: another projection's rows and tables stay."""
    migrations = available_migrations()
    retiring = next(m for m in migrations if m.name == "0017_drop_intake_origins.sql")
    await upgrade(conn, migrations[: retiring.version - 1])
    await conn.execute("""
        CREATE TABLE views.intake_origins_g1 (case_id uuid);
        CREATE TABLE views.intake_origins_g2 (case_id uuid);
        CREATE VIEW views.intake_origins AS SELECT * FROM views.intake_origins_g2;
        CREATE TABLE views.intake_origins_kept (case_id uuid);""")
    for name in ("intake_origins", "cases"):
        await conn.execute(
            "INSERT INTO haven.projection_checkpoints (name, generation, fingerprint, "
            "transaction_id, position) VALUES ($1, 2, 'f', '1', 0)",
            name,
        )
        await conn.execute(
            "INSERT INTO haven.projection_quarantine (projection, tenant_id, stream_id, "
            "transaction_id, position, version, event_type, error_class) "
            "VALUES ($1, 'org-a', $2, '1', 0, 1, 'CaseOpened', 'ValueError')",
            name,
            uuid.uuid4(),
        )

    assert await upgrade(conn, migrations[: retiring.version]) == [retiring.name]

    for relation in ("views.intake_origins", "views.intake_origins_g1", "views.intake_origins_g2"):
        assert not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", relation)
    assert await conn.fetchval("SELECT to_regclass('views.intake_origins_kept') IS NOT NULL")
    for table, column in (
        ("projection_checkpoints", "name"),
        ("projection_quarantine", "projection"),
    ):
        names = await conn.fetch(f"SELECT {column} FROM haven.{table}")
        assert [row[0] for row in names] == ["cases"]
