"""Attack: whoever takes over the application (its database login, its process) tries to
rewrite history or the read audit with the application's own database role. That role is a
member of `haven_app` (migration 0009), not the tables' owner: it may append to and read the
log and the access records, and nothing else — each refusal below is PostgreSQL's own, on
the real database. Control: the owner (the migrating role) can do each of these things, so
the refusals are the role's doing. And the application still works as `haven_app` alone:
seeding cases, rebuilding every projection, verifying and erasing, in a database of its own.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from crypto.keyring import Keyring
from events.catalog import haven_registry
from events.store import EventMetadata, PostgresEventStore
from services.bench.scratch import scratch_database
from tests.domain.builders import opened_event
from tests.projections.fault_support import REPOSITORY, worker_environment

ORG = "org-roles"
REFUSED = {
    "update the log": "UPDATE haven.events SET event_type = event_type",
    "delete from the log": "DELETE FROM haven.events",
    "truncate the log": "TRUNCATE haven.events",
    "alter the log": "ALTER TABLE haven.events ADD COLUMN rewritten boolean",
    "drop the log": "DROP TABLE haven.events",
    "update the read audit": "UPDATE haven.access_records SET part = part",
    "delete the read audit": "DELETE FROM haven.access_records",
    "truncate the read audit": "TRUNCATE haven.access_records",
    "disable the read audit's trigger": "ALTER TABLE haven.access_records DISABLE TRIGGER ALL",
    "alter the grants": "ALTER TABLE haven.break_glass_grants DISABLE TRIGGER ALL",
    "rewind a stream head's history": "DELETE FROM haven.streams",
    "take the migrations' place": "DELETE FROM haven.schema_migrations",
}


def as_login(url: str, user: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


@contextlib.asynccontextmanager
async def application_login(database_url: str) -> AsyncIterator[str]:
    """A login that is a member of haven_app and nothing else; its URL."""
    name = f"haven_app_login_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f"CREATE ROLE {name} LOGIN IN ROLE haven_app")
        yield as_login(database_url, name)
    finally:
        await admin.execute(f"DROP OWNED BY {name}")
        await admin.execute(f"DROP ROLE {name}")
        await admin.close()


@pytest.mark.parametrize("attack", REFUSED)
async def test_the_application_role_cannot_rewrite_history_or_the_read_audit(
    database_url: str, keyring: Keyring, attack: str
) -> None:
    statement = REFUSED[attack]
    async with application_login(database_url) as url:
        app = await asyncpg.connect(url)
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with app.transaction():
                    await app.execute(statement)
        finally:
            await app.close()
    owner = await asyncpg.connect(database_url)
    try:  # control: the owner may (and the transaction is rolled back)
        transaction = owner.transaction()
        await transaction.start()
        await owner.execute("ALTER TABLE haven.access_records DISABLE TRIGGER ALL")
        await owner.execute(statement)
        await transaction.rollback()
    finally:
        await owner.close()


async def test_the_application_role_appends_and_records_reads(
    database_url: str, keyring: Keyring
) -> None:
    async with (
        application_login(database_url) as url,
        asyncpg.create_pool(url, min_size=1, max_size=2) as pool,
    ):
        store = PostgresEventStore(pool, keyring, haven_registry())
        case = uuid.uuid4()
        await store.append(
            ORG,
            case,
            0,
            [opened_event(case_id=str(case), organisation_id=ORG)],
            EventMetadata(actor_id="synthetic-worker"),
        )
        assert len(await store.read_stream(ORG, case)) == 1
        await pool.execute(
            """INSERT INTO haven.access_records (tenant_id, case_id, actor_id, role, part, basis)
               VALUES ($1, $2, 'synthetic-worker', 'caseworker', 'full', 'assignment')""",
            ORG,
            case,
        )
        await store.shred(ORG, case)  # an erasure moves the key, which the role may
        await store.close()


def _haven(
    url: str, tmp_path: Path, key_file: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPOSITORY,
        env=worker_environment(url, key_file, tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


async def test_the_application_runs_as_haven_app_alone(
    database_url: str, key_file: Path, tmp_path: Path
) -> None:
    """The owner migrates a fresh database; everything after runs as the application's login."""
    async with scratch_database(database_url) as owner_url, application_login(owner_url) as url:
        for args in (
            ("demo", "--cases", "12"),
            ("projections", "rebuild", "--workers", "2"),
            ("verify",),
        ):
            done = _haven(url, tmp_path, key_file, *args)
            assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        pool = await asyncpg.connect(url)
        try:
            assert await pool.fetchval("SELECT count(*) FROM views.caseload") > 0
            assert await pool.fetchval("SELECT count(*) FROM reporting.federal_inputs") >= 0
            owners = {
                r[0]
                for r in await pool.fetch(
                    "SELECT tableowner FROM pg_tables WHERE schemaname = 'haven'"
                )
            }
            assert urlsplit(url).username not in owners  # the log is never the application's own
        finally:
            await pool.close()
