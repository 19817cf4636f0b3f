"""A real PgBouncer (Debian's package) in transaction pooling mode, for the tests: started on a
free loopback port in front of one database of the test server, stopped at the end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import asyncpg
import pytest

from tests.api.test_served import free_port

RUN_AS = "postgres"  # pgbouncer refuses to run as root
READY_ATTEMPTS = 100  # x 0.05 s: bounded, never a timing assertion


def _binary() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if found is None:
        pytest.skip("no pgbouncer (Debian: apt-get install pgbouncer; .ci/run installs it)")
    return found


def _owner(host: str) -> dict[str, Any]:
    """Whom pgbouncer runs as when we are root: the owner of the server's socket directory (the
    embedded server's system user), else the system user postgres."""
    if os.geteuid() != 0:
        return {}
    if host.startswith("/"):
        folder = Path(host).stat()
        return {"user": folder.st_uid, "group": folder.st_gid}
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        pytest.skip(f"running as root needs the system user {RUN_AS} to run pgbouncer")
    return {"user": RUN_AS, "group": RUN_AS}


def backend(url: str) -> tuple[str, int, str]:
    """The host (or socket directory), port and database a libpq-style URL names."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    host = parts.hostname or query.get("host") or "/tmp"
    port = parts.port or int(query.get("port") or 0)
    if not port and host.startswith("/"):
        sockets = sorted(Path(host).glob(".s.PGSQL.*[0-9]"))
        port = int(sockets[0].suffix.lstrip(".")) if sockets else 5432
    return host, port or 5432, parts.path.lstrip("/")


@contextlib.asynccontextmanager
async def pgbouncer(direct_url: str, *, pool_size: int = 10) -> AsyncIterator[str]:
    """PgBouncer with `pool_mode = transaction` and at most `pool_size` server connections in
    front of the database `direct_url` names; yields the URL that goes through it."""
    host, port, database = backend(direct_url)
    binary, owner = _binary(), _owner(host)
    base = Path(tempfile.mkdtemp(prefix="haven-pgbouncer-"))  # readable by RUN_AS
    listen = free_port()
    (base / "userlist.txt").write_text(f'"{RUN_AS}" ""\n"postgres" ""\n')
    (base / "pgbouncer.ini").write_text(
        f"[databases]\nhaven = host={host} port={port} dbname={database} user=postgres\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {base / 'userlist.txt'}\npool_mode = transaction\n"
        f"default_pool_size = {pool_size}\nmax_client_conn = 200\nquery_wait_timeout = 10\n"
    )
    if owner:
        for path in (base, *base.iterdir()):
            shutil.chown(path, owner["user"], owner["group"])
    log = base / "pgbouncer.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, str(base / "pgbouncer.ini")], stdout=out, stderr=out, **owner
        )
    url = f"postgresql://postgres@127.0.0.1:{listen}/haven"
    try:
        await _until_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(base, ignore_errors=True)


async def _until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(READY_ATTEMPTS):
        if process.poll() is not None:
            break
        try:
            conn = await asyncpg.connect(url, statement_cache_size=0, timeout=5)
        except (OSError, TimeoutError, asyncpg.PostgresError):
            await asyncio.sleep(0.05)
            continue
        await conn.close()
        return
    pytest.fail(f"pgbouncer did not start: {log.read_text(errors='replace')[-2000:]}")
