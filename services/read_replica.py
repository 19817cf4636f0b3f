"""Where reads of the read models go: a PostgreSQL streaming replica, or the primary.

With `HAVEN_READ_DATABASE_URL` set, caseloads and case lists (`views.*`) are read from that
hot standby; commands, case reads from the event store, access records, federal reports and
everything else that writes or must be exact stay on the primary (`Runtime.pool`).

A replica lags the primary. A read that must see the caller's own write (`fresh=true`, a
page shown right after a command) is read-your-writes by WAL position: once the projection
has applied everything committed (on the primary), the primary's `pg_current_wal_lsn()` is
taken, and the read waits, up to `Replica.wait` seconds, until the replica has replayed past
it (`pg_last_wal_replay_lsn()`). If it does not — replay paused or too far behind, the
replica unreachable or not a standby — the read goes to the primary instead: slower, never
stale, never an error. A read the replica fails for want of a connection, a database or a
conflict with its replay is read again from the primary (`read_views`). `READ_FROM_HEADER`
tells the client which server answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal, NamedTuple, TypeVar

import asyncpg

from services.database import connection_pool
from services.settings import DatabaseLimits

READ_FROM_HEADER = "Haven-Read-From"
REPLICA_WAIT_SECONDS = 1.0  # how long a read-your-writes read waits for the replica at most
PROBE_GRACE = 1.0  # seconds past the wait for the replica to answer the last probe
Server = Literal["primary", "replica"]
# why a read went where it went
Reason = Literal["no-replica", "replica", "caught-up", "behind", "paused", "not-a-standby", "down"]

# a replica down, restarting or without the database yet, or a query cancelled by replay
REPLICA_FAILURES = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.SerializationError,
)
T = TypeVar("T")

_REPLAY = """SELECT pg_is_in_recovery(),
                    pg_last_wal_replay_lsn() >= $1::text::pg_lsn,
                    CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END"""


class Replica(NamedTuple):
    pool: asyncpg.Pool
    wait: float = REPLICA_WAIT_SECONDS


class ViewSource(NamedTuple):
    """The pool to read the read models from, which server that is, and why."""

    pool: asyncpg.Pool
    server: Server
    reason: Reason


async def primary_position(primary: asyncpg.Pool) -> str:
    """The primary's current WAL position: every commit seen so far lies before it."""
    return str(await primary.fetchval("SELECT pg_current_wal_lsn()::text"))


async def replayed_past(replica: asyncpg.Pool, position: str, *, timeout: float) -> Reason:
    """Wait (polling, at most `timeout` seconds) until `replica` has replayed the WAL up to
    `position`: "caught-up", else why not ("behind", "paused", "not-a-standby")."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        standby, reached, paused = await replica.fetchrow(_REPLAY, position)
        if not standby:
            return "not-a-standby"  # a promoted or misconfigured server: its WAL is not ours
        if reached:
            return "caught-up"
        if paused:
            return "paused"  # replay resumes only when someone resumes it: no use waiting
        if time.monotonic() >= deadline:
            return "behind"
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


async def view_source(primary: asyncpg.Pool, replica: Replica | None, *, fresh: bool) -> ViewSource:
    """Where to read the read models: the replica when there is one, unless `fresh` (the
    caller's writes must be in the answer, and the projection has applied them on the
    primary) and the replica has not replayed them within `replica.wait`."""
    if replica is None:
        return ViewSource(primary, "primary", "no-replica")
    if not fresh:
        return ViewSource(replica.pool, "replica", "replica")
    position = await primary_position(primary)
    try:
        async with asyncio.timeout(replica.wait + PROBE_GRACE):  # an unanswering replica too
            reason = await replayed_past(replica.pool, position, timeout=replica.wait)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        reason = "down"
    if reason == "caught-up":
        return ViewSource(replica.pool, "replica", reason)
    return ViewSource(primary, "primary", reason)


@contextlib.asynccontextmanager
async def replica_at(
    url: str | None, limits: DatabaseLimits | None = None
) -> AsyncIterator[Replica | None]:
    """The replica at `url` for the duration (None for no URL). Its pool connects lazily, so
    a replica that is down or still catching up does not hold up start-up."""
    if url is None:
        yield None
        return
    async with connection_pool(url, min_size=0, limits=limits) as pool:
        yield Replica(pool)


async def read_views(
    primary: asyncpg.Pool,
    replica: Replica | None,
    read: Callable[[asyncpg.Pool], Awaitable[T]],
    *,
    fresh: bool,
) -> tuple[T, Server]:
    """`read` the read models where `view_source` says, and which server answered; on the
    primary again if the replica fails it (`REPLICA_FAILURES`)."""
    source = await view_source(primary, replica, fresh=fresh)
    if source.server == "primary":
        return await read(primary), "primary"
    try:
        return await read(source.pool), "replica"
    except REPLICA_FAILURES:
        return await read(primary), "primary"
