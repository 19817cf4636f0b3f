"""HAVEN_READ_DATABASE_URL: caseloads are read from a streaming replica, and a `fresh=true`
read still holds the caller's own write (read-your-writes by WAL position).

A throw-away primary (Debian's PostgreSQL binaries, `wal_level=replica`, on a free loopback
port) and a hot standby of it made with `pg_basebackup -R` on another port. A case opened on
the primary is in the worker's `fresh=true` caseload read from the replica. With replay
paused on the replica, a `fresh=true` read is answered by the primary and holds the write,
while the control — a plain read, from the paused replica — does not, so the test can fail.
Once replay resumes, the replica answers again; a replica that is down leaves reads to the
primary. Every wait is a bounded poll."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest

from projections import checkpoints
from services.identity import LocalIssuer
from services.projection_service import projectors_in_background
from services.read_replica import (
    READ_FROM_HEADER,
    Replica,
    read_views,
    replayed_past,
    replica_at,
    view_source,
)
from tests.api.test_canary import people
from tests.api.test_served import free_port
from tests.services.test_backup_restore import open_case, serving, settings_for
from tests.services.test_database_tls import RUN_AS, _as_cluster_owner, _bin, _run

pytestmark = pytest.mark.slow

ATTEMPTS = 500  # x 0.01 s at most per poll: bounded, never a timing assertion
FAR_AHEAD = "FFFFFFFF/0"  # a WAL position no replica of this test reaches


@contextlib.contextmanager
def primary_and_replica(base: Path) -> Iterator[tuple[int, int]]:
    """A primary under `base/primary` and its hot standby under `base/replica`, both on
    127.0.0.1: their ports."""
    owner = _as_cluster_owner()
    if owner:
        shutil.chown(base, RUN_AS, RUN_AS)
    primary, replica = base / "primary", base / "replica"
    _run(owner, _bin() / "initdb", "-D", primary, "-U", "postgres", "--auth=trust", "--no-sync")
    port, replica_port = free_port(), free_port()
    with (primary / "postgresql.conf").open("a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n"
            "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nfsync = off\n"
        )
    (primary / "pg_hba.conf").write_text(
        "host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n"
    )
    log = base / "primary.log"
    _run(owner, _bin() / "pg_ctl", "-D", primary, "-l", log, "-w", "-t", "30", "start", log=log)
    try:
        _run(
            owner, _bin() / "pg_basebackup", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
            "-D", replica, "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        with (replica / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {replica_port}\n")
        replica_log = base / "replica.log"
        _run(
            owner, _bin() / "pg_ctl", "-D", replica, "-l", replica_log, "-w", "-t", "30", "start",
            log=replica_log,
        )  # fmt: skip
        try:
            yield port, replica_port
        finally:
            _run(owner, _bin() / "pg_ctl", "-D", replica, "-m", "immediate", "-w", "stop")
    finally:
        _run(owner, _bin() / "pg_ctl", "-D", primary, "-m", "immediate", "-w", "stop")


async def test_caseloads_read_from_the_replica_keep_read_your_writes(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="haven-pg-replica-"))  # not under pytest's private base
    try:
        with primary_and_replica(base) as (port, replica_port):
            await _read_your_writes(
                f"postgresql://postgres@127.0.0.1:{port}/haven",
                f"postgresql://postgres@127.0.0.1:{replica_port}/haven",
                tmp_path,
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def _one(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT 1"))


async def _mine(
    client: httpx.AsyncClient, headers: dict[str, str], *, fresh: bool
) -> tuple[str, set[str]]:
    """The worker's caseload: (the server that answered, the case ids listed)."""
    response = await client.get("/v1/cases", params={"fresh": fresh}, headers=headers)
    assert response.status_code == 200, response.text
    return response.headers[READ_FROM_HEADER], {c["case_id"] for c in response.json()["cases"]}


async def _fresh_from_the_replica(
    client: httpx.AsyncClient, headers: dict[str, str], case_id: str
) -> None:
    """Poll `fresh=true` reads until the replica answers one; every answer, from whichever
    server, holds `case_id`."""
    for _ in range(ATTEMPTS):
        server, listed = await _mine(client, headers, fresh=True)
        assert case_id in listed, server  # read-your-writes, whoever answered
        if server == "replica":
            return
        await asyncio.sleep(0.01)
    pytest.fail("the replica never answered a fresh read")


async def _read_your_writes(primary_url: str, replica_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = msgspec.structs.replace(
        settings_for(primary_url, data, tmp_path / "kek", data / "erasures.log"),
        read_database_url=replica_url,
    )
    async with serving(settings) as (rt, client):
        assert rt.replica is not None
        worker = people(LocalIssuer.open(data))["worker"]
        async with projectors_in_background(rt, primary_url):
            first, _ = await open_case(client, {"worker": worker})
            await _fresh_from_the_replica(client, worker, first)  # the database is there too
            replica = await asyncpg.connect(replica_url)
            try:
                await replica.execute("SELECT pg_wal_replay_pause()")
                for _ in range(ATTEMPTS):
                    if await replica.fetchval("SELECT pg_get_wal_replay_pause_state()") == "paused":
                        break
                    await asyncio.sleep(0.01)
                else:
                    pytest.fail("replay never paused")
                second, _ = await open_case(client, {"worker": worker})
                head = await checkpoints.log_head(rt.pool)
                assert await checkpoints.wait_until_projected(rt.pool, ["cases"], head, timeout=30)

                # the control: without read-your-writes, the paused replica answers, stale
                server, listed = await _mine(client, worker, fresh=False)
                assert server == "replica" and first in listed and second not in listed
                # read-your-writes: the primary answers, with the write
                server, listed = await _mine(client, worker, fresh=True)
                assert server == "primary" and second in listed
                assert (await view_source(rt.pool, rt.replica, fresh=True)).reason == "paused"

                await replica.execute("SELECT pg_wal_replay_resume()")
                await _fresh_from_the_replica(client, worker, second)
                server, listed = await _mine(client, worker, fresh=False)
                assert server == "replica" and second in listed

                # a replica that has not replayed that far within the wait: the primary answers
                assert await replayed_past(rt.replica.pool, FAR_AHEAD, timeout=0.05) == "behind"
                # a server not in recovery (here the primary itself) is never taken as caught up
                source = await view_source(rt.pool, Replica(rt.pool), fresh=True)
                assert (source.server, source.reason) == ("primary", "not-a-standby")
                # a replica nobody answers at: the primary answers, plain or fresh
                async with replica_at(f"postgresql://postgres@127.0.0.1:{free_port()}/x") as down:
                    for fresh in (False, True):
                        assert await read_views(rt.pool, down, _one, fresh=fresh) == (1, "primary")
            finally:
                await replica.close()
