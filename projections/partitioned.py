"""A rebuild's bulk pass split by stream across processes, for stream-local projections.

A projection is *stream-local* (``stream_local = True``) when what it writes for a stream
depends on that stream's events alone — `cases`: one case view and one caseload row per case.
Its bulk pass (`projections.rebuild`) can then be cut by stream instead of read in log order:

1. The horizon ``H`` is the oldest running transaction when the pass starts
   (`PostgresEventStore.log_horizon`). Every transaction below it has ended, so the events
   below ``H`` never change, and for each stream they are a prefix of the stream (an append
   to an existing stream is its transaction's first write, `events.log_order`).
2. The UUID space is cut into ``workers`` equal ranges. Each range goes to a worker process
   (``spawn``: a fresh interpreter with its own connections and keyring, opened from the
   database URL and the ``HAVEN_KEK`` URI), which reads its streams below ``H`` in stream
   order (`read_stream_range_batches`) — whole cases, so each case is folded once — and
   writes into the new generation's tables, as the sequential pass does (`bulk_apply`).
3. The rebuild then goes on in log order from the latest event below ``H`` (the workers took
   it and everything before it) in the calling process, exactly as after a sequential bulk
   pass: what arrived since (or sat behind a transaction
   running at the start) is applied on top of what the workers wrote, reading back the rows
   the workers sealed where it needs them.

Why processes: the pass is CPU-bound Python (decrypt, decode, fold, seal, encode), one core
per interpreter. Why not for every projection: `federal_inputs` also keeps a log-wide
quarter horizon, so it is not stream-local and is rebuilt in log order.

A worker that fails (or dies) fails the rebuild: nothing is swapped in, and the half-built
generation is dropped by the next rebuild, as for any rebuild that dies. Worker errors carry
the exception's type and message only; messages of Haven's errors name no person.

**Orphans.** Workers stop at their next batch once the rebuild that started them is gone
(killed with SIGKILL, say). Until then they could still write into a generation a new rebuild
has made again under the same name, so each worker holds a shared *worker lock* for its whole
life, and every rebuild takes that lock exclusively, and lets go, before it touches any table
(`wait_for_orphans`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue as queues
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import asyncpg

from crypto.keyring import Keyring
from crypto.provider_uri import provider_from_uri
from events.catalog import haven_registry
from events.store import PostgresEventStore
from projections.base import bulk_apply, tables_of
from projections.catalog import projection_factories
from projections.quarantine import POISON

_REPORT_EVERY = 10_000  # events a worker applies between two progress messages
# pg_advisory_lock(int4, hashtext(name)): shared by a rebuild's workers
WORKER_LOCK_CLASS = 1214346856


# Below this many events a sequential pass ends sooner than worker interpreters start (some
# 0.4 s each to spawn and import), so a smaller log is not split.
MIN_EVENTS = 10_000


class Partitioning(NamedTuple):
    """How a rebuild may split its bulk pass: where worker processes find the database and
    the key-encryption keys, how many of them to start, and from how many events in the log
    on (`min_events`)."""

    database_url: str
    kek_uri: str
    workers: int
    min_events: int = MIN_EVENTS


class PartitionFailed(RuntimeError):
    """A worker process of a partitioned rebuild failed or died. `poison`: it failed on an event
    it could not apply (`projections.quarantine.POISON`), which a careful rebuild can set aside."""

    def __init__(self, message: str, *, poison: bool = False) -> None:
        super().__init__(message)
        self.poison = poison


class _Job(NamedTuple):
    database_url: str
    kek_uri: str
    projection: str
    generation: int
    tenants: tuple[str, ...]
    first: uuid.UUID
    end: uuid.UUID | None
    below: int
    batch_size: int


async def wait_for_orphans(conn: asyncpg.Connection, projection: str) -> None:
    """Wait until no worker of an earlier rebuild of `projection` is still running (module doc)."""
    await conn.execute("SELECT pg_advisory_lock($1, hashtext($2))", WORKER_LOCK_CLASS, projection)
    await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", WORKER_LOCK_CLASS, projection)


def uuid_ranges(parts: int) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    """`parts` equal ranges [first, end) covering the UUID space (the last has no end)."""
    starts = [uuid.UUID(int=(index << 128) // parts) for index in range(parts)]
    return [
        (start, starts[index + 1] if index + 1 < parts else None)
        for index, start in enumerate(starts)
    ]


async def build_partitions(
    partitioning: Partitioning,
    projection: str,
    generation: int,
    below: int,
    tenants: Sequence[str],
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> int:
    """Run the stream-partitioned bulk pass (module doc) in `partitioning.workers`
    processes; returns the number of events they applied."""
    context = multiprocessing.get_context("spawn")
    messages: Any = context.Queue()
    processes = [
        context.Process(
            target=run_partition,
            name=f"haven-rebuild-{projection}-{index}",
            daemon=True,
            args=(
                _Job(
                    partitioning.database_url,
                    partitioning.kek_uri,
                    projection,
                    generation,
                    tuple(tenants),
                    first,
                    end,
                    below,
                    batch_size,
                ),
                messages,
            ),
        )
        for index, (first, end) in enumerate(uuid_ranges(partitioning.workers))
    ]
    for process in processes:
        process.start()
    try:
        applied, finished = 0, 0
        while finished < len(processes):
            try:
                kind, value = await asyncio.to_thread(messages.get, True, 0.2)
            except queues.Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if not dead:
                    continue
                try:  # a worker that failed said why before it exited
                    kind, value = await asyncio.to_thread(messages.get, True, 1.0)
                except queues.Empty:
                    raise PartitionFailed(
                        f"rebuild worker {dead[0].name} died (exit code {dead[0].exitcode})"
                    ) from None
            if kind == "progress":
                applied += value
                if progress:
                    progress(value)
            elif kind == "done":
                finished += 1
            else:
                reason, poison = value
                raise PartitionFailed(f"a rebuild worker failed: {reason}", poison=poison)
        return applied
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            await asyncio.to_thread(process.join)
        messages.close()


def run_partition(job: _Job, messages: Any) -> None:
    """A worker process's body: build one range of streams, report progress and the end (a
    failure is reported as its type and message, and the process exits with status 1)."""
    try:
        asyncio.run(_build(job, lambda count: messages.put(("progress", count))))
    except BaseException as error:  # noqa: BLE001 (reported to the parent, which raises it)
        messages.put(("failed", (f"{type(error).__name__}: {error}", isinstance(error, POISON))))
        messages.close()
        messages.join_thread()  # the report is in the pipe before the process ends
        sys.exit(1)
    messages.put(("done", None))


async def _build(job: _Job, progress: Callable[[int], None]) -> None:
    provider = provider_from_uri(job.kek_uri)
    try:
        async with asyncpg.create_pool(job.database_url, min_size=2, max_size=3) as pool:
            keyring = Keyring(provider)
            store = PostgresEventStore(pool, keyring, haven_registry())
            try:
                projection = projection_factories(keyring, store)[job.projection]()
                tables = tables_of(projection, job.generation)
                unreported = 0
                parent = multiprocessing.parent_process()
                async with pool.acquire() as conn:
                    # held until this process ends, whichever way (session lock): see
                    # wait_for_orphans
                    await conn.execute(
                        "SELECT pg_advisory_lock_shared($1, hashtext($2))",
                        WORKER_LOCK_CLASS,
                        job.projection,
                    )
                    for tenant in job.tenants:
                        async for batch in store.read_stream_range_batches(
                            tenant, job.first, job.end, job.below, job.batch_size
                        ):
                            if parent is not None and not parent.is_alive():
                                raise SystemExit("the rebuild that started this worker is gone")
                            await bulk_apply(conn, projection, batch, tables)
                            unreported += len(batch)
                            if unreported >= _REPORT_EVERY:
                                progress(unreported)
                                unreported = 0
                    async with conn.transaction():
                        await projection.flush(conn, tables)
                progress(unreported)
            finally:
                await store.close()
    finally:
        provider.close()
