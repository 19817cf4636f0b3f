"""A rebuild split by stream across worker processes (`projections.partitioned`) builds the same
views as the log, hands over to the log-order pass at its horizon, and fails as a whole.

Real processes (spawned), a real PostgreSQL, real keys; all data is the demo generator's.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import uuid
from pathlib import Path

import asyncpg
import pytest

import projections.rebuild as rebuild_module
from crypto.keyring import Keyring
from crypto.pkcs11 import Pkcs11KeyProvider
from domain.case import commands as cmd
from events.catalog import haven_registry
from events.store import PostgresEventStore
from projections import checkpoints
from projections.catalog import projection_factories
from projections.partitioned import WORKER_LOCK_CLASS, PartitionFailed, Partitioning, uuid_ranges
from projections.rebuild import rebuild
from services.commands.use_cases import Actor, CaseUseCases
from services.demo.plan import DEMO_TODAY
from services.demo.seeding import demo_use_cases, seed_demo
from tests.crypto.softhsm import SoftHsmToken
from tests.projections.test_cases_projection import assert_views_match_the_log


@pytest.fixture
def partition_counts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of events each partitioned pass applied (proof that the workers ran)."""
    counts: list[int] = []
    original = rebuild_module.build_partitions

    async def counted(*args, **kwargs) -> int:
        applied = await original(*args, **kwargs)
        counts.append(applied)
        return applied

    monkeypatch.setattr(rebuild_module, "build_partitions", counted)
    return counts


async def event_count(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM haven.events"))


async def log_a_service_on_every_open_case(
    store: PostgresEventStore, use_cases: CaseUseCases
) -> int:
    """One more event on each open case (its assigned worker, on the demo's last day)."""
    logged = 0
    for tenant_id, stream_id in await store.pool.fetch(
        "SELECT tenant_id, stream_id FROM haven.streams"
    ):
        state = await use_cases.load(tenant_id, str(stream_id))
        if state.closure is None and state.transfer is None and state.worker_id:
            await use_cases.record_service(
                Actor(state.worker_id, tenant_id),
                str(stream_id),
                cmd.RecordService(
                    service_id=f"service-after-{logged}",
                    category="case_management",
                    delivered_on=DEMO_TODAY,
                ),
            )
            logged += 1
    return logged


def test_the_uuid_ranges_cover_the_whole_space_without_overlap() -> None:
    ranges = uuid_ranges(3)
    assert ranges[0][0] == uuid.UUID(int=0) and ranges[-1][1] is None
    assert all(end == following[0] for (_, end), following in zip(ranges, ranges[1:], strict=False))
    assert [first.int >> 126 for first, _ in uuid_ranges(4)] == [0, 1, 2, 3]


async def test_a_rebuild_split_across_worker_processes_equals_the_log(
    case_store, factories, partitioning, partition_counts
) -> None:
    await seed_demo(demo_use_cases(case_store), cases=24)
    applied: list[int] = []
    built = await rebuild(
        case_store,
        case_store.pool,
        factories["cases"],
        partitioning=partitioning,
        progress=applied.append,
    )
    total = await event_count(case_store.pool)
    assert partition_counts == [
        total
    ]  # the workers applied the whole log; the log-order pass had nothing left
    assert sum(applied) == total
    await assert_views_match_the_log(case_store)
    assert built.position == await checkpoints.log_head(case_store.pool)
    assert not multiprocessing.active_children()


async def test_a_projection_that_is_not_stream_local_is_rebuilt_in_log_order(
    case_store, factories, partitioning, partition_counts
) -> None:
    await seed_demo(demo_use_cases(case_store), cases=6)
    await rebuild(
        case_store, case_store.pool, factories["federal_inputs"], partitioning=partitioning
    )
    assert partition_counts == []  # federal_inputs keeps a log-wide quarter horizon


async def test_events_behind_a_transaction_running_at_the_start_are_applied_after_the_workers(
    case_store: PostgresEventStore, factories, partitioning, partition_counts, database_url
) -> None:
    use_cases = demo_use_cases(case_store)
    await seed_demo(use_cases, cases=12, seed=3)
    before = await event_count(case_store.pool)
    blocker = await asyncpg.connect(database_url)  # an unrelated transaction holds the horizon back
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.fetchval("SELECT pg_current_xact_id()")
        assert (
            await log_a_service_on_every_open_case(case_store, use_cases) > 0
        )  # streams the workers saw begin of
        await seed_demo(use_cases, cases=4, seed=4)  # and streams they never saw
        await rebuild(case_store, case_store.pool, factories["cases"], partitioning=partitioning)
        assert partition_counts == [before]  # the workers stopped at the horizon ...
        await assert_views_match_the_log(case_store)  # ... and the log-order pass applied the rest
        await transaction.rollback()
    finally:
        await blocker.close()


async def test_a_failing_worker_fails_the_rebuild_and_the_live_views_stay(
    case_store, factories, partitioning, tmp_path: Path
) -> None:
    await seed_demo(demo_use_cases(case_store), cases=8)
    live = await rebuild(case_store, case_store.pool, factories["cases"], partitioning=partitioning)
    wrong_keys = partitioning._replace(
        kek_uri=f"file:{tmp_path / 'another-kek'}"
    )  # no stream key unwraps
    with pytest.raises(PartitionFailed, match="TamperDetected"):
        await rebuild(case_store, case_store.pool, factories["cases"], partitioning=wrong_keys)
    assert not multiprocessing.active_children()
    assert await checkpoints.load(case_store.pool, "cases") == live
    await assert_views_match_the_log(case_store)
    # control: with the right keys the same rebuild succeeds and moves to the next generation
    rebuilt = await rebuild(
        case_store, case_store.pool, factories["cases"], partitioning=partitioning
    )
    assert (
        rebuilt.generation == live.generation + 1
    )  # the failed attempt's tables were dropped and made again
    await assert_views_match_the_log(case_store)


async def test_workers_unwrap_keys_through_their_own_hsm_sessions(
    empty_log: asyncpg.Pool,
    database_url: str,
    softhsm_token: SoftHsmToken,
    partition_counts: list[int],
) -> None:
    """With the KEK in a PKCS#11 token (SoftHSM2), each worker process opens the token itself."""
    provider = Pkcs11KeyProvider.from_uri(softhsm_token.uri())
    store = PostgresEventStore(empty_log, Keyring(provider), haven_registry())
    try:
        await seed_demo(demo_use_cases(store), cases=6)
        make = projection_factories(store._keyring, store)["cases"]
        await rebuild(
            store,
            empty_log,
            make,
            partitioning=Partitioning(database_url, softhsm_token.uri(), 2, min_events=0),
        )
        assert partition_counts == [await event_count(empty_log)]
        await assert_views_match_the_log(store)
    finally:
        await store.close()
        provider.close()


async def test_a_log_smaller_than_min_events_is_rebuilt_without_workers(
    case_store, factories, partitioning, partition_counts: list[int]
) -> None:
    """Starting worker interpreters costs more than a small log's sequential pass: below
    `min_events` the rebuild does not split. Control: at exactly the log's size it does."""
    await seed_demo(demo_use_cases(case_store), cases=3)
    events = await event_count(case_store.pool)
    small = partitioning._replace(min_events=events + 1)
    await rebuild(case_store, case_store.pool, factories["cases"], partitioning=small)
    assert partition_counts == []
    await assert_views_match_the_log(case_store)

    exact = partitioning._replace(min_events=events)
    await rebuild(case_store, case_store.pool, factories["cases"], partitioning=exact)
    assert partition_counts == [events]
    await assert_views_match_the_log(case_store)


async def test_a_rebuild_waits_until_the_workers_of_a_dead_rebuild_have_stopped(
    case_store, factories, partitioning, database_url
) -> None:
    """A worker whose rebuild was killed could otherwise write stale rows into the generation a
    new rebuild makes again under the same name. Here a connection holding the shared worker
    lock stands in for such an orphan."""
    await seed_demo(demo_use_cases(case_store), cases=6)
    orphan = await asyncpg.connect(database_url)
    try:
        await orphan.execute(
            "SELECT pg_advisory_lock_shared($1, hashtext('cases'))", WORKER_LOCK_CLASS
        )
        rebuilding = asyncio.create_task(
            rebuild(case_store, case_store.pool, factories["cases"], partitioning=partitioning)
        )
        while not await case_store.pool.fetchval(
            "SELECT count(*) FROM pg_locks "
            "WHERE locktype = 'advisory' AND classid = $1::bigint::oid"
            " AND NOT granted",
            WORKER_LOCK_CLASS,
        ):
            assert not rebuilding.done(), (
                "the rebuild went ahead while an orphan worker held its lock"
            )
            await asyncio.sleep(0.05)
        assert await case_store.pool.fetchval(
            "SELECT to_regclass('views.case_view_g1') IS NULL"
        )  # nothing made yet
    finally:
        await orphan.close()  # the orphan ends
    await rebuilding
    await assert_views_match_the_log(case_store)
