"""Group commit (`events.committer`): concurrent appends share one statement and one commit,
and each caller still gets its own answer.

Each test makes a batch form deterministically: the store has one lane, and a first append
waits on a head row another transaction holds locked, so the appends handed in meanwhile
queue up and are written together once the lock goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from domain.event import EventMetadata
from events.append_statements import SealedAppend, write_many
from events.errors import ConcurrencyConflict
from events.store import PostgresEventStore
from tests.conftest import eventually
from tests.events.sample_events import NoteAdded, sample_registry

ORG = "org-a"
META = EventMetadata(actor_id="worker-1")
# A connection killed under a running query surfaces as any of these, depending on timing.
DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError, OSError)


def notes(*texts: str) -> list[NoteAdded]:
    return [NoteAdded(text=t) for t in texts]


@pytest.fixture
async def one_lane(clean_pool, keyring) -> AsyncIterator[PostgresEventStore]:
    store = PostgresEventStore(clean_pool, keyring, sample_registry(), commit_lanes=1)
    yield store
    await store.close()


@contextlib.asynccontextmanager
async def head_locked(pool: asyncpg.Pool, stream: uuid.UUID) -> AsyncIterator[None]:
    """The stream's head row locked by another transaction until the block ends."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT 1 FROM haven.streams WHERE tenant_id = $1 AND stream_id = $2 FOR UPDATE",
            ORG,
            stream,
        )
        yield


async def queued_behind_a_lock(store, pool, appends, meanwhile=None) -> list[asyncio.Task]:
    """Start a blocker append waiting on a locked head, hand in `appends` (coroutine
    factories) while it waits, run `meanwhile` (if given), then let it go: `appends` are then
    written as one batch. Returns the tasks of `appends`."""
    blocker = uuid.uuid4()
    await store.append(ORG, blocker, 0, notes("blocker"), META)
    async with head_locked(pool, blocker):
        first = asyncio.create_task(store.append(ORG, blocker, 1, notes("first"), META))
        await eventually(lambda: _waiting_on_a_lock(pool))
        tasks = [asyncio.create_task(append()) for append in appends]
        await eventually(lambda: _is(store._committer.waiting, len(appends)))
        if meanwhile is not None:
            await meanwhile()
    await first
    return tasks


async def _waiting_on_a_lock(pool) -> bool:
    return bool(
        await pool.fetchval(
            """SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock'"""
        )
    )


async def _is(value: int, expected: int) -> bool:
    return value == expected


async def test_concurrent_appends_share_one_commit_and_each_gets_its_own_positions(
    one_lane, clean_pool
):
    streams = [uuid.uuid4() for _ in range(6)]
    tasks = await queued_behind_a_lock(
        one_lane,
        clean_pool,
        [
            lambda s=s, i=i: one_lane.append(ORG, s, 0, notes(f"{i}-a", f"{i}-b"), META)
            for i, s in enumerate(streams)
        ],
    )
    results = await asyncio.gather(*tasks)
    transactions = {p.transaction_id for r in results for p in r.positions}
    assert len(transactions) == 1, "the six appends were committed together"
    for i, (stream, result) in enumerate(zip(streams, results, strict=True)):
        rows = await clean_pool.fetch(
            """SELECT version, position FROM haven.events
                WHERE tenant_id = $1 AND stream_id = $2 ORDER BY version""",
            ORG,
            stream,
        )
        assert result.version == 2
        assert [p.position for p in result.positions] == [r["position"] for r in rows]
        texts = [r.event.text for r in await one_lane.read_stream(ORG, stream)]
        assert texts == [f"{i}-a", f"{i}-b"]


async def test_a_conflicting_append_fails_alone_in_its_batch(one_lane, clean_pool, keyring):
    kept, created_twice, stale, other = (uuid.uuid4() for _ in range(4))
    for stream in (kept, created_twice, stale, other):
        await one_lane.append(ORG, stream, 0, notes("one"), META)
    tasks = await queued_behind_a_lock(
        one_lane,
        clean_pool,
        [
            lambda: one_lane.append(ORG, kept, 1, notes("two"), META),
            lambda: one_lane.append(ORG, created_twice, 0, notes("again"), META),
            lambda: one_lane.append(ORG, stale, 1, notes("late"), META),
            lambda: one_lane.append(ORG, other, 1, notes("two"), META),
        ],
        meanwhile=lambda: PostgresEventStore(clean_pool, keyring, sample_registry()).append(
            ORG, stale, 1, notes("another writer's"), META
        ),
    )
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(outcomes[1], ConcurrencyConflict)
    assert isinstance(outcomes[2], ConcurrencyConflict)
    assert outcomes[0].positions[0].transaction_id == outcomes[3].positions[0].transaction_id
    for stream, texts in (
        (kept, ["one", "two"]),
        (created_twice, ["one"]),
        (stale, ["one", "another writer's"]),
    ):
        assert [r.event.text for r in await one_lane.read_stream(ORG, stream)] == texts


async def test_two_appends_to_one_stream_are_never_in_one_batch(one_lane, clean_pool):
    stream = uuid.uuid4()
    tasks = await queued_behind_a_lock(
        one_lane,
        clean_pool,
        [
            lambda: one_lane.append(ORG, stream, 0, notes("first"), META),
            lambda: one_lane.append(ORG, stream, 0, notes("second"), META),
        ],
    )
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert outcomes[0].version == 1
    assert isinstance(outcomes[1], ConcurrencyConflict)
    assert [r.event.text for r in await one_lane.read_stream(ORG, stream)] == ["first"]


async def test_a_batch_the_server_refuses_is_retried_one_append_at_a_time(one_lane, clean_pool):
    """A trigger makes the server refuse one append's rows: the whole batch statement fails,
    and every other caller's append is still written, each on its own."""
    poisoned, healthy = uuid.uuid4(), [uuid.uuid4() for _ in range(3)]
    await clean_pool.execute(
        f"""CREATE OR REPLACE FUNCTION public.refuse_poisoned() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.stream_id = '{poisoned}' THEN RAISE EXCEPTION 'refused by trigger'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_poisoned BEFORE INSERT ON haven.events
               FOR EACH ROW EXECUTE FUNCTION public.refuse_poisoned()"""
    )
    try:
        tasks = await queued_behind_a_lock(
            one_lane,
            clean_pool,
            [
                lambda s=s: one_lane.append(ORG, s, 0, notes("kept"), META)
                for s in [healthy[0], poisoned, *healthy[1:]]
            ],
        )
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await clean_pool.execute(
            """DROP TRIGGER refuse_poisoned ON haven.events;
               DROP FUNCTION public.refuse_poisoned()"""
        )
    assert isinstance(outcomes[1], asyncpg.RaiseError)
    assert [o.version for i, o in enumerate(outcomes) if i != 1] == [1, 1, 1]
    for stream in healthy:
        assert [r.event.text for r in await one_lane.read_stream(ORG, stream)] == ["kept"]
    assert not await clean_pool.fetchval(
        "SELECT count(*) FROM haven.streams WHERE stream_id = $1", poisoned
    )


async def test_a_connection_killed_mid_batch_fails_every_caller_and_writes_nothing(
    one_lane, clean_pool
):
    held = uuid.uuid4()
    await one_lane.append(ORG, held, 0, notes("one"), META)
    fresh = [uuid.uuid4() for _ in range(3)]
    async with head_locked(clean_pool, held):  # the batch waits on this row
        tasks = await queued_behind_a_lock(
            one_lane,
            clean_pool,
            [
                lambda: one_lane.append(ORG, held, 1, notes("two"), META),
                *(lambda s=s: one_lane.append(ORG, s, 0, notes("new"), META) for s in fresh),
            ],
        )
        await eventually(lambda: _waiting_on_a_lock(clean_pool))
        killed = await clean_pool.fetchval(
            """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock'"""
        )
        assert killed == 1
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, DRIVER_ERRORS) for o in outcomes), outcomes
    assert (
        await clean_pool.fetchval(
            "SELECT count(*) FROM haven.streams WHERE stream_id = ANY($1)", fresh
        )
        == 0
    )
    assert [r.event.text for r in await one_lane.read_stream(ORG, held)] == ["one"]
    # Nothing was written: the same appends, again, succeed.
    assert (await one_lane.append(ORG, held, 1, notes("two"), META)).version == 2
    for stream in fresh:
        assert (await one_lane.append(ORG, stream, 0, notes("new"), META)).version == 1


async def _sealed(store, stream: uuid.UUID, expected: int, head_hash: bytes) -> SealedAppend:
    """An append to `stream` built on `head_hash`, with placeholder ciphertext: only the
    statement's head checks are under test, and the transaction is rolled back."""
    return SealedAppend(
        ORG,
        stream,
        expected,
        await store.pool.fetchval("SELECT key_id FROM haven.streams WHERE stream_id = $1", stream),
        dt_now(),
        ["test.note_added"],
        [1],
        [b"placeholder"],
        [bytes(32)],
        previous_hash=head_hash,
    )


def dt_now():
    import datetime as dt

    return dt.datetime.now(dt.UTC)


@pytest.mark.parametrize("moved_after_our_transaction_began", [True, False])
async def test_a_head_moved_by_a_later_transaction_is_not_built_on_in_a_shared_one(
    store, clean_pool, moved_after_our_transaction_began
):
    """Sharing a transaction, an append is not its transaction's first write: if a later
    transaction moved the head since, building on it would put the stream's next version
    below its previous one in log order. The statement refuses it (and the committer writes
    it again alone). Control: the same append in a transaction begun after the move."""
    stream, other = uuid.uuid4(), uuid.uuid4()
    await store.append(ORG, stream, 0, notes("one"), META)
    async with clean_pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            if moved_after_our_transaction_began:
                await conn.execute("SELECT haven.enter_append(0), pg_current_xact_id()")
                await store.append(ORG, stream, 1, notes("two"), META)
            else:
                await store.append(ORG, stream, 1, notes("two"), META)
                await conn.execute("SELECT haven.enter_append(0), pg_current_xact_id()")
            head = await conn.fetchval(
                "SELECT head_hash FROM haven.streams WHERE stream_id = $1", stream
            )
            written = await write_many(
                conn,
                [
                    await _sealed(store, stream, 2, head),
                    SealedAppend(
                        ORG,
                        other,
                        0,
                        "k",
                        dt_now(),
                        ["test.note_added"],
                        [1],
                        [b"placeholder"],
                        [bytes(32)],
                        kek_id="k",
                        wrapped_key=b"w",
                    ),
                ],
            )
        finally:
            await transaction.rollback()
    assert bool(written[0]) is not moved_after_our_transaction_began
    assert written[1], "the other append of the batch is written either way"
