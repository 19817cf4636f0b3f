"""`haven db upgrade` as a real process, on both database paths.

Embedded: no HAVEN_DATABASE_URL, so the CLI starts PostgreSQL under $HAVEN_DATA_DIR/postgres,
migrates it and stops it again on exit. External: HAVEN_DATABASE_URL names a server, which is
used as it is; no cluster is created under the data directory.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import psutil

from events.migrate import available_migrations
from services.database import database_server, ensure_database, with_database
from services.settings import Settings

REPOSITORY = Path(__file__).resolve().parents[2]
FIRST_MIGRATION = available_migrations()[0].name


def haven_env(**values: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("HAVEN_")}
    env.update(values)
    return env


def run_db_upgrade(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "db", "upgrade"],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def postgres_processes_for(pgdata: Path) -> list[int]:
    """Live processes whose command line names this data directory (the postmaster does)."""
    needle = str(pgdata.resolve())
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] != psutil.STATUS_ZOMBIE and any(
            needle in part for part in cmdline
        ):
            found.append(process.info["pid"])
    return found


def test_embedded_path_creates_migrates_and_stops_its_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    pgdata = data_dir / "postgres"

    first = run_db_upgrade(haven_env(HAVEN_DATA_DIR=str(data_dir)))
    assert first.returncode == 0, first.stderr
    assert f"applied {FIRST_MIGRATION}" in first.stdout
    assert (pgdata / "PG_VERSION").exists()
    assert postgres_processes_for(pgdata) == []  # stopped cleanly when the CLI exited

    second = run_db_upgrade(haven_env(HAVEN_DATA_DIR=str(data_dir)))
    assert second.returncode == 0, second.stderr
    assert "schema is up to date" in second.stdout
    assert postgres_processes_for(pgdata) == []

    # control: the process scan does find a server that is running on this data directory
    with database_server(Settings.from_environ({"HAVEN_DATA_DIR": str(data_dir)})):
        assert postgres_processes_for(pgdata) != []
    assert postgres_processes_for(pgdata) == []


async def test_external_path_uses_the_given_database_and_creates_no_cluster(
    server_url: str,
    tmp_path: Path,
) -> None:
    name = f"haven_mig_{uuid.uuid4().hex[:12]}"
    url = with_database(server_url, name)
    await ensure_database(url)
    data_dir = tmp_path / "data"
    try:
        result = await asyncio.to_thread(
            run_db_upgrade, haven_env(HAVEN_DATABASE_URL=url, HAVEN_DATA_DIR=str(data_dir))
        )
        assert result.returncode == 0, result.stderr
        assert f"applied {FIRST_MIGRATION}" in result.stdout

        conn = await asyncpg.connect(url)
        try:
            names = await conn.fetch("SELECT name FROM haven.schema_migrations ORDER BY version")
        finally:
            await conn.close()
        assert [row["name"] for row in names] == [m.name for m in available_migrations()]
        assert not (data_dir / "postgres").exists()
    finally:
        admin = await asyncpg.connect(with_database(server_url, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
