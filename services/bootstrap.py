"""The composition root: wires settings into a pool, a keyring and the event store."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from typing import NamedTuple

import asyncpg

from crypto.keyring import Keyring
from crypto.provider_uri import provider_from_uri
from events.catalog import haven_registry
from events.erasure import ErasureWatch
from events.erasure_list import ErasureList
from events.idempotency import KeyHasher
from events.key_check import key_mismatches
from events.store import PostgresEventStore
from services.database import CONNECT_TIMEOUT, connection_pool, prepare_database
from services.database_connect import connect
from services.read_replica import Replica, replica_at
from services.recent_states import RecentStates
from services.settings import Settings


class Runtime(NamedTuple):
    pool: asyncpg.Pool
    keyring: Keyring
    store: PostgresEventStore
    recent: RecentStates | None = None  # case states this process just saw (None: none kept)
    erasures: ErasureWatch | None = None  # erasures by any process, for this one's caches
    idempotency: KeyHasher | None = None  # stored Idempotency-Keys (None: a hasher per request)
    erasure_list: ErasureList | None = None  # erasures outside the database (None: not kept)
    # organisations whose data keys the key provider cannot unwrap (`events.key_check`)
    key_mismatches: tuple[str, ...] = ()
    replica: Replica | None = None  # where the read models are read (`services.read_replica`)
    # where connections that keep session state go (LISTEN, session locks): None, the pool's URL
    session_url: str | None = None
    connect_timeout: float = CONNECT_TIMEOUT  # seconds to open a connection, per host
    referral_answer_days: int = 14  # HAVEN_REFERRAL_ANSWER_DAYS: a partner's time to answer

    def key_hasher(self) -> KeyHasher:
        return self.idempotency or KeyHasher(self.keyring.provider)


def watch_erasures(
    database_url: str,
    keyring: Keyring,
    recent: RecentStates | None,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> ErasureWatch:
    """An `ErasureWatch` that drops erased cases from the keyring and the recent states."""
    watch = ErasureWatch(functools.partial(connect, database_url, timeout=connect_timeout))
    watch.subscribe(lambda tenant, stream: keyring.forget(tenant, str(stream)), keyring.clear)
    if recent is not None:
        watch.subscribe(lambda tenant, stream: recent.forget((tenant, str(stream))), recent.clear)
    return watch


@contextlib.asynccontextmanager
async def runtime(settings: Settings, database_url: str) -> AsyncIterator[Runtime]:
    """Migrate the database, then open the pool and the key provider for the duration, and
    watch for erasures made by other processes (`events.erasure`). The runtime knows the
    erasure list (`events.erasure_list`) and whether the key material unwraps this database's
    data keys (`events.key_check`). With `HAVEN_READ_DATABASE_URL` set, it opens a second pool
    on that replica for reading the read models (`services.read_replica`). Migrations and the
    erasure watch's LISTEN go to `Settings.session_url`: `HAVEN_DIRECT_DATABASE_URL` when the
    pool goes through a pooler in transaction mode (docs/operations.md, PgBouncer)."""
    session_url = settings.session_url(database_url)
    await prepare_database(session_url, settings.database_limits.connect_timeout)
    provider = provider_from_uri(settings.kek_uri)
    try:
        async with (
            connection_pool(
                database_url,
                transaction_pooled=settings.transaction_pooled,
                limits=settings.database_limits,
            ) as pool,
            replica_at(settings.read_database_url, settings.database_limits) as replica,
        ):
            keyring = Keyring(provider)
            async with pool.acquire() as conn:
                mismatches = await key_mismatches(conn, keyring)
            store = PostgresEventStore(pool, keyring, haven_registry())
            recent = RecentStates()
            erasures = watch_erasures(
                session_url, keyring, recent, settings.database_limits.connect_timeout
            )
            watching = asyncio.create_task(erasures.run(), name="erasure-watch")
            try:
                yield Runtime(
                    pool,
                    keyring,
                    store,
                    recent,
                    erasures,
                    KeyHasher(provider),
                    ErasureList(settings.erasure_log_path),
                    mismatches,
                    replica,
                    session_url=session_url,
                    connect_timeout=settings.database_limits.connect_timeout,
                    referral_answer_days=settings.referral_answer_days,
                )
            finally:
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watching
                await store.close()
    finally:
        provider.close()
