"""The throw-away database every bench suite measures in.

`scratch_database(url)` creates `haven_bench_<hex>` on the server of `url` (any database on
it will do), migrates it, yields its URL, and drops it at the end whatever happens;
`scratch_pool(url)` is a pool on it that is closed, or terminated if closing hangs;
`scratch_store(pool)` is an event store on it under a throw-away key file.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import NamedTuple

import asyncpg

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from events.catalog import haven_registry
from events.store import PostgresEventStore
from services.database import prepare_database, with_database

POOL_CLOSE_SECONDS = 10


@contextlib.asynccontextmanager
async def scratch_database(
    database_url: str, note: Callable[[str], None] = lambda _line: None
) -> AsyncIterator[str]:
    name = f"haven_bench_{secrets.token_hex(6)}"
    url = with_database(database_url, name)
    try:
        note(f"creating database {name}")
        await prepare_database(url)
        yield url
    finally:
        await drop_database(database_url, name)


@contextlib.asynccontextmanager
async def scratch_pool(url: str, *, min_size: int, max_size: int) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)
    try:
        yield pool
    finally:
        try:
            await asyncio.wait_for(pool.close(), timeout=POOL_CLOSE_SECONDS)
        except (TimeoutError, asyncpg.PostgresError, OSError):
            pool.terminate()


class ScratchStore(NamedTuple):
    store: PostgresEventStore
    keyring: Keyring
    kek: Path  # the key file (a partitioned rebuild's workers open it by path)


@contextlib.asynccontextmanager
async def scratch_store(pool: asyncpg.Pool) -> AsyncIterator[ScratchStore]:
    """Haven's event store on `pool`, its keys in a throw-away file; both closed at the end."""
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as folder:
        kek = Path(folder) / "kek"
        provider = FileKeyProvider(kek)
        keyring = Keyring(provider)
        store = PostgresEventStore(pool, keyring, haven_registry())
        try:
            yield ScratchStore(store, keyring, kek)
        finally:
            await store.close()
            provider.close()


async def drop_database(database_url: str, name: str) -> None:
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
