"""Running projections: one leader per projection, exactly-once by the checkpoint fence.

Several processes may run the same projections (`haven serve` workers, `haven worker`s).
Which one applies a projection is decided by a session advisory lock per projection, held on
a connection of the runner's own: the holder is the *leader*, the others stand by and take
over within `standby_interval` when the leader's connection goes (a crash, a kill, a network
cut). The lock only saves duplicated work. Correctness does not depend on it: every batch is
applied in a transaction that first checks the checkpoint row under FOR UPDATE
(`projections.checkpoints.fence`), so even two processes that both think they lead — or a
rebuild swapping generations underneath — cannot apply an event twice or skip one.

Why not partition by stream? The views are per case, but the caseload of a team and the
reporting facts of a quarter gather many streams, and one ordered position per projection is
what makes "wait until position P is projected" and lag simple and exact. A projection that
outgrows one leader can be split into several, each with its own name.

A projection whose stored fingerprint (name, version, DDL) differs from the code's, or that
has never run, is first rebuilt (`projections.rebuild`) — also under the leader lock.

An event the projection cannot apply does not stop it: its stream is quarantined and the log
goes on (`projections.quarantine`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import asyncpg

from crypto.loggers import get_logger
from events.store import PostgresEventStore, RecordedEvent
from events.subscription import Subscription
from projections import checkpoints, quarantine
from projections.base import Projection, Tables, fingerprint, tables_of
from projections.rebuild import Progress, rebuild

LEADER_LOCK_CLASS = 1214346854  # pg_try_advisory_lock(int4, hashtext(name))
MAX_RETRY_DELAY = 30.0

_log = get_logger("projections")

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class ProjectionRunner:
    """Keeps one projection up to date, for as long as `run()` is awaited."""

    def __init__(
        self,
        store: PostgresEventStore,
        connect: Connect,
        make: Callable[[], Projection],
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        standby_interval: float = 1.0,
        progress: Progress | None = None,
    ) -> None:
        self._store = store
        self._pool = store.pool
        self._connect = connect
        self._make = make
        self.name = make().name
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._standby_interval = standby_interval
        self._progress = progress
        self.leading = asyncio.Event()  # set while this runner is the leader (for tests, /ready)
        self.applied = 0  # events applied by this runner (not counting rebuilds)
        self._quarantined: set[tuple[str, object]] = set()  # streams passed over, as of `_lead`
        self._projection: Projection | None = None  # the instance `_lead` applies with

    def drop_cached(self, tenant_id: str, stream_id: object) -> None:
        """An erasure elsewhere: the projection forgets what it cached of that case."""
        if self._projection is not None:
            self._projection.drop_cached((tenant_id, stream_id))

    def drop_all_cached(self) -> None:
        if self._projection is not None:
            self._projection.drop_cached(None)

    async def run(self) -> None:
        delay = self._standby_interval
        while True:
            _stop_if_cancelled()
            try:
                async with self._leadership() as leader:
                    if leader is None:
                        await asyncio.sleep(self._standby_interval)
                        continue
                    await self._lead(leader)
                delay = self._standby_interval
            except checkpoints.Fenced:
                _log.info("projection fenced; reloading its checkpoint", projection=self.name)
            except Exception as error:  # noqa: BLE001 (logged by class; retried with backoff)
                _stop_if_cancelled()
                _log.warning(
                    "projection interrupted", projection=self.name, exc_type=type(error).__name__
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY)

    @contextlib.asynccontextmanager
    async def _leadership(self) -> AsyncIterator[asyncpg.Connection | None]:
        conn = await self._connect()
        try:
            if not await conn.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext($2))", LEADER_LOCK_CLASS, self.name
            ):
                yield None
                return
            self.leading.set()
            try:
                yield conn
            finally:
                self.leading.clear()
        finally:
            conn.terminate()  # releases the lock with the session, whatever state it is in

    async def _lead(self, leader: asyncpg.Connection) -> None:
        checkpoint = await checkpoints.load(self._pool, self.name)
        projection = self._projection = self._make()
        if checkpoint is None or checkpoint.fingerprint != fingerprint(projection):
            _log.info("projection rebuild starting", projection=self.name)
            checkpoint = await rebuild(
                self._store, self._pool, self._make, progress=self._progress, session=self._connect
            )
            _log.info("projection rebuilt", projection=self.name, generation=checkpoint.generation)
        tables = tables_of(projection, checkpoint.generation)
        self._quarantined = await quarantine.streams(self._pool, self.name)
        subscription = Subscription(
            self._store,
            self._connect,
            checkpoint.position,
            batch_size=self._batch_size,
            poll_interval=self._poll_interval,
        )
        async with contextlib.aclosing(
            subscription.batches()
        ) as batches:  # its listener closes with it
            async for batch in batches:
                _stop_if_cancelled()
                if leader.is_closed():
                    return  # leadership is gone with its session; the outer loop tries again
                checkpoint = await self._apply(projection, checkpoint, tables, batch)

    async def _apply(
        self,
        projection: Projection,
        checkpoint: checkpoints.Checkpoint,
        tables: Tables,
        batch: Sequence[RecordedEvent],
    ) -> checkpoints.Checkpoint:
        position = batch[-1].log_position
        quarantined = self._quarantined
        before = len(quarantined)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await checkpoints.fence(conn, self.name, checkpoint)
                await quarantine.apply_carefully(conn, projection, batch, tables, quarantined)
                await checkpoints.advance(conn, self.name, position)
        except BaseException:
            projection.reset()  # its cache may hold what did not commit
            raise  # (and `_lead` reloads the quarantine: what was added here did not commit)
        if len(quarantined) > before:
            _log.error(
                "projection quarantined a stream it cannot apply",
                projection=self.name,
                count=len(quarantined) - before,
                error_code="projection-quarantine",
            )
        self.applied += len(batch)
        return checkpoint._replace(position=position)


def _stop_if_cancelled() -> None:
    """Raise CancelledError if this task was asked to stop. A cancellation can be lost on its
    way out: a clean-up that fails (the rollback of a transaction whose connection was just
    killed) replaces the CancelledError with its own error, which the retry loop would catch;
    `asyncio.wait_for` (Python 3.11) returns normally when the cancel coincides with what it
    waits for (the subscription woken by a NOTIFY or a dead listener). Task.cancelling() still
    counts the request, so the loop stops instead of running on (and `haven worker` ignoring
    SIGTERM)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def run_projections(runners: Sequence[ProjectionRunner]) -> None:
    """Run every runner until cancelled (a failure of one is logged and retried by itself)."""
    async with asyncio.TaskGroup() as group:
        for runner in runners:
            group.create_task(runner.run(), name=f"projection:{runner.name}")
