"""Building a projection from position zero into a new generation, then swapping it in.

1. Under the projection's *rebuild lock* (a session advisory lock, so two rebuilds of one
   projection take turns; held on a connection of its own when the pool goes through a
   transaction pooler, `session`), once no worker process of an earlier, dead rebuild is still
   writing (`projections.partitioned`), create the tables of generation N+1 (N = the live
   generation).
2. Record the rebuild in the access log, once per live case (`events.disclosures`: a system
   decryption), then apply the whole log to the new tables in batches, writing (`flush`)
   every `FLUSH_AT` cases. Readers still see generation N through the stable views; the
   running projector keeps feeding N. A stream-local projection may take this pass split by
   stream across processes up to a horizon, then in log order from there
   (`projections.partitioned`).
3. Swap, in one transaction: lock the checkpoint row (the running projector's next batch
   waits, then finds itself fenced), apply what arrived meanwhile, drop the rows of erased
   cases, point the views at N+1 and move the checkpoint to (N+1, position, fingerprint).
4. After commit, drop generation N's tables.

A rebuild that dies leaves only unreferenced tables of N+1, dropped by the next rebuild.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import asyncpg

from crypto.loggers import get_logger
from events.disclosures import record_system_access
from events.log_order import LOG_START, LogPosition
from events.store import Connection, PostgresEventStore, RecordedEvent
from projections import checkpoints, quarantine
from projections.base import (
    Projection,
    Tables,
    bulk_apply,
    create_statements,
    drop_statements,
    execute_all,
    fingerprint,
    tables_of,
    view_statements,
)
from projections.partitioned import (
    PartitionFailed,
    Partitioning,
    build_partitions,
    wait_for_orphans,
)

_log = get_logger("projections")
# pg_advisory_lock(int4, hashtext(name)): one rebuild per projection
REBUILD_LOCK_CLASS = 1214346855

Progress = Callable[[int], None]  # called with the number of events just applied
Connect = Callable[[], Awaitable[asyncpg.Connection]]


async def count_events(pool: asyncpg.Pool) -> int:
    """The size of the log, for a progress bar's total (cheap estimate is not needed: an
    index-only count of a few million rows takes a moment, once)."""
    return int(await pool.fetchval("SELECT count(*) FROM haven.events"))


async def rebuild(
    store: PostgresEventStore,
    pool: asyncpg.Pool,
    make: Callable[[], Projection],
    *,
    progress: Progress | None = None,
    batch_size: int = 1000,
    partitioning: Partitioning | None = None,
    session: Connect | None = None,
) -> checkpoints.Checkpoint:
    """Rebuild the projection `make()` builds (module doc) and return its new checkpoint.
    With `partitioning` (more than one worker) a stream-local projection's bulk pass runs
    split by stream across worker processes (`projections.partitioned`). `session` opens the
    connection that holds the session locks (the rebuild lock, the wait for orphans); None: one
    of the pool's, which must then be a pool straight to PostgreSQL."""
    projection = make()
    name = projection.name
    async with _lock_connection(pool, session) as lock_conn:
        await lock_conn.execute(
            "SELECT pg_advisory_lock($1, hashtext($2))", REBUILD_LOCK_CLASS, name
        )
        try:
            live = await checkpoints.load(pool, name)
            tables = tables_of(projection, (live.generation if live else 0) + 1)
            await wait_for_orphans(lock_conn, name)
            async with pool.acquire() as conn, conn.transaction():
                await _drop_strays(conn, projection, keep=live.generation if live else None)
                await execute_all(conn, create_statements(projection, tables))
            quarantined = await quarantine.streams(pool, name)
            # recorded before anything is decrypted: a rebuild that cannot say so does not run
            await record_system_access(pool, part="projection-rebuild", purpose=name)
            try:
                position = await _bulk_pass(
                    store,
                    pool,
                    projection,
                    tables,
                    quarantined,
                    batch_size,
                    progress,
                    None if quarantined else partitioning,
                )
            except (*quarantine.POISON, PartitionFailed) as error:
                if isinstance(error, PartitionFailed) and not error.poison:
                    raise
                # an event no batch can carry: build again, carefully (`projections.quarantine`)
                _log.warning(
                    "rebuild goes on one batch at a time",
                    projection=name,
                    exc_type=type(error).__name__,
                )
                projection.reset()
                async with pool.acquire() as conn, conn.transaction():
                    await execute_all(conn, create_statements(projection, tables))
                position = await _bulk_pass(
                    store,
                    pool,
                    projection,
                    tables,
                    quarantined,
                    batch_size,
                    progress,
                    None,
                    careful=True,
                )
            built = checkpoints.Checkpoint(tables.generation, fingerprint(projection), position)
            async with pool.acquire() as conn:
                async with conn.transaction():
                    live = await checkpoints.lock(conn, name)
                    built = built._replace(
                        position=await _finish(
                            store,
                            conn,
                            projection,
                            tables,
                            position,
                            batch_size,
                            progress,
                            quarantined,
                        )
                    )
                    await _purge_erased(conn, tables)
                    await execute_all(conn, view_statements(projection, tables))
                    await checkpoints.install(conn, name, built)
                if live is not None:
                    await execute_all(conn, drop_statements(tables_of(projection, live.generation)))
            return built
        finally:
            try:
                await lock_conn.execute(
                    "SELECT pg_advisory_unlock($1, hashtext($2))", REBUILD_LOCK_CLASS, name
                )
            except BaseException:
                lock_conn.terminate()  # never hand a connection holding the lock back to the pool
                raise


@contextlib.asynccontextmanager
async def _lock_connection(
    pool: asyncpg.Pool, session: Connect | None
) -> AsyncIterator[asyncpg.Connection]:
    if session is None:
        async with pool.acquire() as conn:
            yield conn
        return
    conn = await session()
    try:
        yield conn
    finally:
        if not conn.is_closed():
            conn.terminate()  # its session locks go with it


async def _has_events(pool: asyncpg.Pool, at_least: int) -> bool:
    """Whether the log holds `at_least` events (counting no further than that)."""
    return at_least <= 0 or bool(
        await pool.fetchval(
            "SELECT count(*) >= $1 FROM (SELECT FROM haven.events LIMIT $1) AS head", at_least
        )
    )


async def _bulk_pass(
    store: PostgresEventStore,
    pool: asyncpg.Pool,
    projection: Projection,
    tables: Tables,
    quarantined: set[tuple[str, object]],
    batch_size: int,
    progress: Progress | None,
    partitioning: Partitioning | None,
    *,
    careful: bool = False,
) -> LogPosition:
    """Step 2 of the module doc: the whole log into `tables`; the position it reached. Careful:
    each batch written in a transaction of its own, and an event that cannot be applied
    quarantines its stream instead of failing the rebuild."""
    position = LOG_START
    if (
        partitioning is not None
        and partitioning.workers > 1
        and getattr(projection, "stream_local", False)
        and await _has_events(pool, partitioning.min_events)
    ):
        horizon = await store.log_horizon()
        await build_partitions(
            partitioning,
            projection.name,
            tables.generation,
            horizon,
            await store.tenants(),
            batch_size,
            progress,
        )
        position = await store.last_position_below(horizon)  # the workers took it and all before it
    async with pool.acquire() as conn:
        async for batch in _whole_log(store, position, batch_size):
            if careful:
                await quarantine.apply_carefully(conn, projection, batch, tables, quarantined)
            else:
                await bulk_apply(conn, projection, quarantine.admitted(batch, quarantined), tables)
            position = batch[-1].log_position
            if progress:
                progress(len(batch))
        async with (
            conn.transaction()
        ):  # what the bulk pass deferred: here, where a failure may be retried
            await projection.flush(conn, tables)
    return position


async def _whole_log(
    store: PostgresEventStore, position: LogPosition, batch_size: int
) -> AsyncIterator[Sequence[RecordedEvent]]:
    """Every committed event after `position`, in log order: fast reads up to the oldest
    running transaction, then, past an unrelated transaction that holds that horizon back,
    precise reads (`events.log_order`) — so a long transaction elsewhere cannot push the
    whole rebuild into the swap transaction."""
    async for batch in store.read_all_batches(position, batch_size):
        position = batch[-1].log_position
        yield batch
    while await store.has_events_after(position):
        batch = await store.read_all(position, batch_size, precise=True)
        if not batch:
            return  # an appender is still at work: `_finish` takes the rest
        position = batch[-1].log_position
        yield batch


async def _finish(
    store: PostgresEventStore,
    conn: Connection,
    projection: Projection,
    tables: Tables,
    position: LogPosition,
    batch_size: int,
    progress: Progress | None,
    quarantined: set[tuple[str, object]],
) -> LogPosition:
    """Apply what arrived since the bulk pass, inside the swap transaction. Committed events
    held back behind an unrelated transaction's xid are read with the precise horizon
    (`events.log_order`), so a rebuild ends with everything committed, not merely with
    everything below the oldest running transaction."""
    while True:
        tail = await store.read_all(position, batch_size)
        if not tail and await store.has_events_after(position):
            tail = await store.read_all(position, batch_size, precise=True)
        if not tail:
            await projection.flush(conn, tables)
            return position
        await quarantine.apply_carefully(conn, projection, tail, tables, quarantined)
        position = tail[-1].log_position
        if progress:
            progress(len(tail))


async def _purge_erased(conn: Connection, tables: Tables) -> None:
    """A case erased during the rebuild may have been applied before its key was destroyed."""
    for logical, physical in tables.physical.items():
        if logical.startswith("views."):
            await conn.execute(
                f"DELETE FROM {physical} WHERE (tenant_id, case_id) IN "
                "(SELECT tenant_id, stream_id FROM haven.streams WHERE wrapped_key IS NULL)"
            )


async def forget_case(
    conn: Connection, projections: Sequence[type[Projection]], tenant_id: str, case_id: uuid.UUID
) -> None:
    """Erasure: remove a case from every live view (through the stable views), in the
    caller's transaction. A view not built yet has nothing to remove."""
    for projection in projections:
        for logical in projection.tables:
            if logical.startswith("views.") and await conn.fetchval(
                "SELECT to_regclass($1) IS NOT NULL", logical
            ):
                await conn.execute(
                    f"DELETE FROM {logical} WHERE tenant_id = $1 AND case_id = $2",
                    tenant_id,
                    case_id,
                )


async def _drop_strays(conn: Connection, projection: Projection, keep: int | None) -> None:
    """Tables of generations that are not live: left by a rebuild or a swap that died."""
    for logical in projection.tables:
        schema, table = logical.split(".", 1)
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables "
            "WHERE schemaname = $1 AND tablename ~ ('^' || $2 || '_g[0-9]+$')",
            schema,
            table,
        )
        for (stray,) in rows:
            if keep is None or stray != f"{table}_g{keep}":
                await conn.execute(f'DROP TABLE IF EXISTS {schema}."{stray}"')
