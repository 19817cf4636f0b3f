"""The composition root: wires settings into a pool, a keyring and the event store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import NamedTuple

import asyncpg

from crypto.keyring import Keyring
from crypto.providers import provider_from_uri
from events.catalog import haven_registry
from events.store import PostgresEventStore
from services.database import connection_pool, prepare_database
from services.recent_states import RecentStates
from services.settings import Settings


class Runtime(NamedTuple):
    pool: asyncpg.Pool
    keyring: Keyring
    store: PostgresEventStore
    recent: RecentStates | None = None  # case states this process just saw (None: none kept)


@contextlib.asynccontextmanager
async def runtime(settings: Settings, database_url: str) -> AsyncIterator[Runtime]:
    """Migrate the database, then open the pool and the key provider for the duration."""
    await prepare_database(database_url)
    provider = provider_from_uri(settings.kek_uri)
    try:
        async with connection_pool(database_url) as pool:
            keyring = Keyring(provider)
            store = PostgresEventStore(pool, keyring, haven_registry())
            try:
                yield Runtime(pool, keyring, store, RecentStates())
            finally:
                await store.close()
    finally:
        provider.close()
