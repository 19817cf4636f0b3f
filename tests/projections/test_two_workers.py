"""Two workers running together apply every event exactly once.

* Two real `haven worker` processes run at once while events arrive; the leader of the
  `cases` projection (the holder of its advisory lock, found in `pg_locks`) is SIGKILLed three
  times, each time the standby takes over and a fresh process becomes the new standby. At the
  end the case views equal the fold of every stream, each version listed once.
* Two in-process workers, each with its own pool and connections, run a test-only counting
  projection — one row per applied event in a table WITHOUT a unique key, so that an event
  applied twice or never shows when compared with `haven.events` — next to the real `cases`
  projection. The leader is taken down twice: once by cutting only its lock connection (it
  goes on believing it leads until it notices: the fence must stop its batches), once by
  killing all its connections and its tasks (a crash); a third worker joins.
* Runners with the leader lock disabled (every one of them leads) are still held to
  exactly-once by the checkpoint fence alone.
* Control: the same runners with the fence disabled as well apply the events twice, and the
  same comparison shows it.

All data is the demo generator's (synthetic).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import ClassVar

import asyncpg
import pytest

from crypto.keyring import Keyring
from events.catalog import haven_registry
from events.store import Connection, PostgresEventStore, RecordedEvent
from projections import checkpoints
from projections.base import Tables
from projections.cases import CasesProjection
from projections.rebuild import rebuild
from projections.runner import LEADER_LOCK_CLASS, ProjectionRunner, run_projections
from services.demo.seeding import demo_use_cases, seed_demo
from tests.conftest import eventually
from tests.projections.fault_support import (
    HavenWorker,
    Writers,
    log_head,
    view_differences,
    worker_environment,
)

pytestmark = pytest.mark.fault

CATCH_UP_TIMEOUT = 300.0  # generous: a bound on a hang, never on speed
APPLIED = "views.applied_events"


class CountingProjection:
    """Test-only: one row per event applied, tagged with who applied it; no unique key."""

    name: ClassVar[str] = "applied_events"
    version: ClassVar[int] = 1
    tables: ClassVar[dict[str, str]] = {
        APPLIED: """CREATE TABLE {table} (
        tenant_id text    NOT NULL,
        case_id   uuid    NOT NULL,
        version   integer NOT NULL,
        applier   text    NOT NULL)"""
    }

    def __init__(self, applier: str) -> None:
        self.applier = applier

    async def apply(self, conn: Connection, batch: Sequence[RecordedEvent], tables: Tables) -> None:
        await conn.executemany(
            f"INSERT INTO {tables[APPLIED]} (tenant_id, case_id, version, applier) "
            "VALUES ($1, $2, $3, $4)",
            [(r.tenant_id, r.stream_id, r.version, self.applier) for r in batch],
        )

    async def flush(self, conn: Connection, tables: Tables) -> None:
        pass  # writes in apply

    @property
    def pending(self) -> int:
        return 0

    def reset(self) -> None:
        pass


async def not_applied_exactly_once(pool: asyncpg.Pool) -> list[tuple]:
    """(tenant, case, version, times applied) of every event of the log not applied exactly
    once, and of every applied row that is no event of the log."""
    rows = await pool.fetch(f"""
        WITH applied AS (SELECT tenant_id, case_id, version, count(*) AS n FROM {APPLIED}
                          GROUP BY tenant_id, case_id, version),
             logged AS (SELECT tenant_id, stream_id AS case_id, version FROM haven.events)
        SELECT coalesce(l.tenant_id, a.tenant_id), coalesce(l.case_id, a.case_id),
               coalesce(l.version, a.version), coalesce(a.n, 0)
          FROM logged l FULL JOIN applied a
            ON a.tenant_id = l.tenant_id AND a.case_id = l.case_id AND a.version = l.version
         WHERE l.version IS NULL OR coalesce(a.n, 0) <> 1
         ORDER BY 1, 2, 3""")
    return [tuple(row) for row in rows]


async def appliers(pool: asyncpg.Pool) -> dict[str, int]:
    return {
        r[0]: r[1]
        for r in await pool.fetch(f"SELECT applier, count(*) FROM {APPLIED} GROUP BY applier")
    }


async def leader_of(pool: asyncpg.Pool, projection: str) -> str | None:
    """The application_name of the session holding the projection's leader lock."""
    return await pool.fetchval(
        """SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid::bigint = $1
              AND l.objid::bigint = (hashtext($2)::bigint & 4294967295)""",
        LEADER_LOCK_CLASS,
        projection,
    )


def named(url: str, application_name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={application_name}"


async def caught_up(pool: asyncpg.Pool, names: list[str]) -> None:
    head = await log_head(pool)
    assert await checkpoints.wait_until_projected(pool, names, head, timeout=CATCH_UP_TIMEOUT), (
        f"{names} never reached the log head {head}"
    )


# -- two real `haven worker` processes ------------------------------------------------------


async def test_two_haven_workers_apply_every_event_once_across_kills_of_the_leader(
    case_store: PostgresEventStore,
    keyring: Keyring,
    database_url: str,
    key_file: Path,
    tmp_path: Path,
) -> None:
    pool = case_store.pool
    await seed_demo(demo_use_cases(case_store), cases=4, seed=501)
    writers = Writers(case_store, first_seed=502, cases=4, concurrency=2, gap=0.03)
    workers: dict[str, HavenWorker] = {}

    async def start(label: str) -> None:
        env = worker_environment(
            named(database_url, f"haven-worker-{label}"), key_file, tmp_path / "data"
        )
        workers[label] = await HavenWorker.start(env, tmp_path / f"worker-{label}.log")

    leaders: list[str] = []
    writers.start()
    try:
        await start("a")
        await start("b")
        labels = iter("cdefg")
        for _ in range(3):
            for worker in workers.values():
                await worker.wait_running()
            await caught_up(pool, ["cases"])  # the leader projects the events arriving

            async def one_leader() -> bool:
                return await leader_of(pool, "cases") in {
                    f"haven-worker-{label}" for label in workers
                }

            await eventually(one_leader, attempts=2000)
            leader = (await leader_of(pool, "cases")).removeprefix("haven-worker-")
            (standby,) = set(workers) - {leader}
            leaders.append(leader)
            await workers.pop(leader).kill()

            async def standby_leads(standby: str = standby) -> bool:
                return await leader_of(pool, "cases") == f"haven-worker-{standby}"

            await eventually(standby_leads, attempts=2000)
            await caught_up(pool, ["cases"])  # ... and goes on projecting what arrives
            await start(next(labels))
    finally:
        await writers.stop()
    try:
        await caught_up(pool, ["cases"])
        found = await view_differences(case_store, keyring)
        assert found == [], "\n".join(found)
    finally:
        for worker in workers.values():
            await worker.kill()
    assert len(leaders) == 3 and len(set(leaders)) == 3, (
        leaders
    )  # three different leaders were killed
    print(f"\nleaders killed: {leaders}; {writers.commands} commands written meanwhile")


# -- in-process workers with the counting projection ----------------------------------------


class InProcessWorker:
    """Runners for `applied_events` and `cases` on a pool and connections of their own,
    recognisable in pg_stat_activity by their application_name."""

    def __init__(
        self,
        label: str,
        database_url: str,
        keyring: Keyring,
        runner: type[ProjectionRunner] = ProjectionRunner,
        *,
        cases: bool = True,
    ) -> None:
        self.label = label
        self.application_name = f"haven-test-{label}"
        self._url = named(database_url, self.application_name)
        self._keyring = keyring
        self._runner = runner
        self._cases = cases
        self.runners: list[ProjectionRunner] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> InProcessWorker:
        self.pool = await asyncpg.create_pool(self._url, min_size=1, max_size=10)
        self.store = PostgresEventStore(self.pool, self._keyring, haven_registry())
        self.reachable = (
            asyncio.Event()
        )  # cleared: new connections of this worker hang (a network cut)
        self.reachable.set()
        url = self._url

        async def connect() -> asyncpg.Connection:
            await self.reachable.wait()
            return await asyncpg.connect(url)

        label, keyring = self.label, self._keyring
        options = dict(poll_interval=0.2, standby_interval=0.2, batch_size=50)
        self.runners = [
            self._runner(self.store, connect, lambda: CountingProjection(label), **options)
        ]
        if self._cases:
            self.runners.append(
                self._runner(self.store, connect, lambda: CasesProjection(keyring), **options)
            )
        self._task = asyncio.create_task(run_projections(self.runners), name=self.label)
        return self

    async def cut_lock_connection(self, admin: asyncpg.Pool, projection: str) -> None:
        """Terminate the session holding the leader lock, and let no new connection through
        until `reachable` is set again: a network cut of the worker's own connections. Its
        pool and its tasks go on (a batch it is applying must be fenced)."""
        self.reachable.clear()
        terminated = await admin.fetchval(
            """SELECT count(pg_terminate_backend(l.pid))
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE a.application_name = $1
                  AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                  AND l.classid::bigint = $2
                  AND l.objid::bigint = (hashtext($3)::bigint & 4294967295)""",
            self.application_name,
            LEADER_LOCK_CLASS,
            projection,
        )
        assert terminated == 1

    async def crash(self, admin: asyncpg.Pool) -> None:
        """Every connection of the worker dies, and so do its tasks (as with a kill -9)."""
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            self.application_name,
        )
        await self.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
            self.pool.terminate()
            with contextlib.suppress(Exception):
                await self.store.close()


@contextlib.asynccontextmanager
async def stopping(workers: list[InProcessWorker]) -> AsyncIterator[list[InProcessWorker]]:
    try:
        yield workers
    finally:
        for worker in workers:
            await worker.stop()


async def test_two_runners_count_every_event_once_across_a_cut_and_a_crash_of_the_leader(
    case_store: PostgresEventStore, keyring: Keyring, database_url: str
) -> None:
    pool = case_store.pool
    await seed_demo(demo_use_cases(case_store), cases=3, seed=601)
    writers = Writers(case_store, first_seed=602, cases=4, concurrency=2, gap=0.02)
    names = ["applied_events", "cases"]

    async def applied_some(label: str) -> bool:  # its counting runner applied live batches
        return sum(w.runners[0].applied for w in workers if w.label == label) > 0

    writers.start()
    async with stopping([]) as workers:
        try:
            workers += [
                await InProcessWorker("a", database_url, keyring).start(),
                await InProcessWorker("b", database_url, keyring).start(),
            ]
            await caught_up(pool, names)

            # 1. the leader's lock connection is cut; it still runs, its batches must be fenced
            first = (await leader_of(pool, "applied_events")).removeprefix("haven-test-")
            (other,) = {"a", "b"} - {first}
            cut = next(w for w in workers if w.label == first)
            await cut.cut_lock_connection(pool, "applied_events")

            async def other_leads() -> bool:
                return await leader_of(pool, "applied_events") == f"haven-test-{other}"

            await eventually(other_leads, attempts=2000)
            await eventually(lambda: applied_some(other), attempts=2000)
            cut.reachable.set()  # the cut heals: the old leader finds the lock taken and stands by
            await caught_up(pool, names)

            # 2. the new leader crashes; the first (standing by since) takes over; a third joins
            await next(w for w in workers if w.label == other).crash(pool)
            workers.append(await InProcessWorker("c", database_url, keyring).start())

            async def first_or_third_leads() -> bool:
                return await leader_of(pool, "applied_events") in {
                    f"haven-test-{first}",
                    "haven-test-c",
                }

            await eventually(first_or_third_leads, attempts=2000)
            third = (await leader_of(pool, "applied_events")).removeprefix("haven-test-")
            await eventually(lambda: applied_some(third), attempts=2000)
            await caught_up(pool, names)
        finally:
            await writers.stop()
        await caught_up(pool, names)
        assert await not_applied_exactly_once(pool) == []
        by = await appliers(pool)
        assert by.get(first, 0) > 0 and by.get(other, 0) > 0, by  # both leaders applied events
        assert await view_differences(case_store, keyring) == []
    print(f"\napplied by: {by}; {writers.commands} commands written meanwhile")


class EveryoneLeads(ProjectionRunner):
    """The leader lock disabled: every runner believes it is the leader."""

    @contextlib.asynccontextmanager
    async def _leadership(self):
        conn = await self._connect()
        try:
            self.leading.set()
            yield conn
        finally:
            self.leading.clear()
            conn.terminate()


class EveryoneLeadsUnfenced(EveryoneLeads):
    """BROKEN on purpose: no leader lock and no fence (the writes and the checkpoint still in
    one transaction). The runners of a control meet at a barrier before their first batch, so
    that each has loaded the checkpoint before any moves it."""

    barrier: ClassVar[asyncio.Barrier | None] = None

    async def _apply(self, projection, checkpoint, tables, batch):
        if not getattr(self, "_met", False):
            self._met = True
            await self.barrier.wait()
        position = batch[-1].log_position
        async with self._pool.acquire() as conn, conn.transaction():
            await projection.apply(conn, batch, tables)
            await projection.flush(conn, tables)
            await checkpoints.advance(conn, self.name, position)
        self.applied += len(batch)
        return checkpoint._replace(position=position)


async def test_runners_that_all_believe_they_lead_are_held_to_exactly_once_by_the_fence(
    case_store: PostgresEventStore, keyring: Keyring, database_url: str
) -> None:
    pool = case_store.pool
    await seed_demo(demo_use_cases(case_store), cases=3, seed=701)
    await rebuild(case_store, pool, lambda: CountingProjection("rebuild"))
    await rebuild(case_store, pool, lambda: CasesProjection(keyring))
    writers = Writers(case_store, first_seed=702, cases=4, concurrency=2, gap=0.02)
    writers.start()
    async with stopping([]) as workers:
        try:
            for label in "abc":
                workers.append(
                    await InProcessWorker(label, database_url, keyring, EveryoneLeads).start()
                )

            async def every_one_applied() -> bool:
                return all(sum(r.applied for r in w.runners) > 0 for w in workers)

            await eventually(every_one_applied, attempts=2000)
        finally:
            await writers.stop()
        await caught_up(pool, ["applied_events", "cases"])
    assert await not_applied_exactly_once(pool) == []
    assert await view_differences(case_store, keyring) == []
    assert len(await appliers(pool)) >= 3  # the rebuild and more than one runner did apply


async def test_control_without_the_fence_two_runners_that_lead_apply_events_twice(
    case_store: PostgresEventStore, keyring: Keyring, database_url: str
) -> None:
    pool = case_store.pool
    await seed_demo(demo_use_cases(case_store), cases=2, seed=801)
    await rebuild(case_store, pool, lambda: CountingProjection("rebuild"))
    assert await not_applied_exactly_once(pool) == []  # sound so far
    await seed_demo(demo_use_cases(case_store), cases=2, seed=802)  # the backlog both will read
    backlog = await pool.fetchval(
        "SELECT count(*) FROM haven.events e WHERE (e.transaction_id, e.position) > "
        "(SELECT transaction_id, position FROM haven.projection_checkpoints "
        "WHERE name = 'applied_events')"
    )
    assert backlog > 0
    EveryoneLeadsUnfenced.barrier = asyncio.Barrier(2)
    async with stopping([]) as workers:
        for label in "ab":
            workers.append(
                await InProcessWorker(
                    label, database_url, keyring, EveryoneLeadsUnfenced, cases=False
                ).start()
            )

        async def both_applied_the_backlog() -> bool:
            return all(w.runners[0].applied >= backlog for w in workers)

        await eventually(both_applied_the_backlog, attempts=2000)
    wrong = await not_applied_exactly_once(pool)
    assert len(wrong) == backlog and {row[3] for row in wrong} == {2}, wrong[:5]
