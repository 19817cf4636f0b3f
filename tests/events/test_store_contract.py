"""The event store's contract, run against real PostgreSQL.

`EventStoreContract` holds the behaviour every store must have; a subclass supplies the
store. (Haven keeps no in-memory fake: upper layers test against PostgreSQL too.)
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from domain.event import EventMetadata
from events.errors import (
    AppendOrderError,
    ConcurrencyConflict,
    StreamErased,
    StreamNotFound,
    UnknownEventType,
)
from events.log_order import LOG_START
from events.registry import EventRegistry
from events.store import PostgresEventStore
from tests.events.sample_events import (
    NoteAdded,
    NoteAddedWithMood,
    VisitCounted,
    VisitCountedV1,
    sample_registry,
    v1_registry,
)

META = EventMetadata(actor_id="worker-1", command_id="cmd-1")
ORG = "org-a"


def notes(*texts: str) -> list[NoteAdded]:
    return [NoteAdded(text=t) for t in texts]


class EventStoreContract:
    async def test_append_to_a_new_stream_returns_version_and_positions(self, store):
        result = await store.append(ORG, uuid.uuid4(), 0, notes("a", "b"), META)
        assert result.version == 2
        assert len(result.positions) == 2 and result.positions[0] < result.positions[1]

    async def test_read_stream_returns_decrypted_events_in_version_order(self, store):
        stream = uuid.uuid4()
        await store.append(ORG, stream, 0, notes("a", "b"), META)
        await store.append(ORG, stream, 2, notes("c"), EventMetadata(actor_id="worker-2"))
        recorded = await store.read_stream(ORG, stream)
        assert [r.version for r in recorded] == [1, 2, 3]
        assert [r.event for r in recorded] == notes("a", "b", "c")
        assert [r.metadata.actor_id for r in recorded] == ["worker-1", "worker-1", "worker-2"]

    async def test_stale_expected_version_is_a_concurrency_conflict(self, store):
        stream = uuid.uuid4()
        await store.append(ORG, stream, 0, notes("a"), META)
        await store.append(ORG, stream, 1, notes("b"), META)
        with pytest.raises(ConcurrencyConflict):
            await store.append(ORG, stream, 1, notes("late"), META)
        assert [r.event.text for r in await store.read_stream(ORG, stream)] == ["a", "b"]

    async def test_creating_an_existing_stream_is_a_concurrency_conflict(self, store):
        stream = uuid.uuid4()
        await store.append(ORG, stream, 0, notes("a"), META)
        with pytest.raises(ConcurrencyConflict):
            await store.append(ORG, stream, 0, notes("again"), META)
        assert len(await store.read_stream(ORG, stream)) == 1

    async def test_appending_to_a_missing_stream_is_a_concurrency_conflict(self, store):
        with pytest.raises(ConcurrencyConflict):
            await store.append(ORG, uuid.uuid4(), 3, notes("x"), META)

    async def test_two_writers_with_the_same_expected_version_exactly_one_wins(self, store):
        stream = uuid.uuid4()
        await store.append(ORG, stream, 0, notes("a"), META)
        outcomes = await asyncio.gather(
            *(store.append(ORG, stream, 1, notes(f"w{i}"), META) for i in range(8)),
            return_exceptions=True,
        )
        winners = [o for o in outcomes if not isinstance(o, BaseException)]
        assert len(winners) == 1
        assert all(isinstance(o, ConcurrencyConflict) for o in outcomes if o not in winners)
        assert len(await store.read_stream(ORG, stream)) == 2

    async def test_two_creators_of_the_same_stream_exactly_one_wins(self, store):
        stream = uuid.uuid4()
        outcomes = await asyncio.gather(
            *(store.append(ORG, stream, 0, notes(f"w{i}"), META) for i in range(8)),
            return_exceptions=True,
        )
        assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
        assert [r.version for r in await store.read_stream(ORG, stream)] == [1]

    async def test_a_rejected_batch_writes_nothing(self, store):
        stream = uuid.uuid4()
        await store.append(ORG, stream, 0, notes("a"), META)
        with pytest.raises(ConcurrencyConflict):
            await store.append(ORG, stream, 0, notes("b", "c", "d"), META)
        assert len(await store.read_stream(ORG, stream)) == 1
        assert len(await store.read_all()) == 1

    async def test_another_organisation_cannot_read_the_stream(self, store):
        stream = uuid.uuid4()
        await store.append(ORG, stream, 0, notes("a"), META)
        assert len(await store.read_stream(ORG, stream)) == 1  # control
        with pytest.raises(StreamNotFound):
            await store.read_stream("org-b", stream)
        with pytest.raises(ConcurrencyConflict):
            await store.append("org-b", stream, 1, notes("x"), META)

    async def test_read_all_returns_every_event_once_in_log_order(self, store):
        streams = [uuid.uuid4() for _ in range(3)]
        for i, stream in enumerate(streams):
            await store.append(ORG, stream, 0, notes(f"{i}-1", f"{i}-2"), META)
        page1 = await store.read_all(LOG_START, limit=4)
        page2 = await store.read_all(page1[-1].log_position, limit=4)
        seen = page1 + page2
        assert len(seen) == 6
        assert [r.log_position for r in seen] == sorted(r.log_position for r in seen)
        assert [r.event.text for r in seen] == ["0-1", "0-2", "1-1", "1-2", "2-1", "2-2"]
        assert await store.read_all(seen[-1].log_position) == []

    async def test_catching_up_in_batches_reads_the_same_log_as_read_all(self, store):
        for i in range(7):
            await store.append(ORG, uuid.uuid4(), 0, notes(f"{i}-a", f"{i}-b", f"{i}-c"), META)
        batches = [batch async for batch in store.read_all_batches(LOG_START, batch_size=4)]
        assert [len(b) for b in batches] == [4, 4, 4, 4, 4, 1]
        assert [r for b in batches for r in b] == await store.read_all(LOG_START, limit=100)

    async def test_unknown_fields_in_stored_events_are_tolerated(self, store, pool, keyring):
        newer = PostgresEventStore(pool, keyring, EventRegistry([NoteAddedWithMood]))
        stream = uuid.uuid4()
        await newer.append(ORG, stream, 0, [NoteAddedWithMood(text="a", mood="calm")], META)
        (recorded,) = await store.read_stream(ORG, stream)
        assert recorded.event == NoteAdded(text="a")

    async def test_unknown_event_tag_is_a_clear_error(self, store, pool, keyring):
        stream = uuid.uuid4()
        await store.append(ORG, stream, 0, notes("a"), META)
        reader = PostgresEventStore(pool, keyring, EventRegistry([VisitCounted]))
        with pytest.raises(UnknownEventType, match="test.note_added"):
            await reader.read_stream(ORG, stream)

    async def test_an_old_schema_version_is_upcast_on_read(self, store, pool, keyring):
        old_writer = PostgresEventStore(pool, keyring, v1_registry())
        stream = uuid.uuid4()
        await old_writer.append(ORG, stream, 0, [VisitCountedV1(n=3)], META)
        (recorded,) = await store.read_stream(ORG, stream)
        assert recorded.event == VisitCounted(visits=3, unit="visit")
        (via_log,) = await store.read_all()
        assert via_log.event == VisitCounted(visits=3, unit="visit")

    async def test_appending_an_unregistered_event_type_is_refused(self, store):
        with pytest.raises(UnknownEventType):
            await store.append(ORG, uuid.uuid4(), 0, [VisitCountedV1(n=1)], META)

    async def test_append_inside_the_callers_transaction_rolls_back_with_it(self, store, pool):
        stream = uuid.uuid4()
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            await store.append(ORG, stream, 0, notes("a"), META, connection=conn)
            await tx.rollback()
        with pytest.raises(StreamNotFound):
            await store.read_stream(ORG, stream)
        assert await store.read_all() == []

    async def test_append_to_an_existing_stream_after_another_write_is_refused(self, store, pool):
        stream = uuid.uuid4()
        await store.append(ORG, stream, 0, notes("a"), META)
        async with pool.acquire() as conn, conn.transaction():
            await store.append(
                ORG, uuid.uuid4(), 0, notes("new stream: allowed"), META, connection=conn
            )
            with pytest.raises(AppendOrderError):
                await store.append(ORG, stream, 1, notes("b"), META, connection=conn)

    async def test_shredded_stream_cannot_be_read_or_appended(self, store):
        stream, other = uuid.uuid4(), uuid.uuid4()
        await store.append(ORG, stream, 0, notes("a", "b"), META)
        await store.append(ORG, other, 0, notes("kept"), META)
        await store.shred(ORG, stream)
        with pytest.raises(StreamErased):
            await store.read_stream(ORG, stream)
        with pytest.raises(StreamErased):
            await store.append(ORG, stream, 2, notes("c"), META)
        log = await store.read_all()
        assert [(r.stream_id, r.event) for r in log] == [
            (stream, None),
            (stream, None),
            (other, NoteAdded(text="kept")),
        ]

    async def test_shredding_survives_a_restart_of_the_process(self, store, pool, key_file):
        from crypto.keyring import Keyring
        from crypto.providers import FileKeyProvider

        stream = uuid.uuid4()
        await store.append(ORG, stream, 0, notes("a"), META)
        await store.shred(ORG, stream)
        fresh = PostgresEventStore(pool, Keyring(FileKeyProvider(key_file)), sample_registry())
        with pytest.raises(StreamErased):
            await fresh.read_stream(ORG, stream)

    async def test_reading_a_stream_unwraps_its_data_key_once(self, store, pool, key_file):
        from crypto.keyring import Keyring
        from crypto.providers import FileKeyProvider

        class CountingProvider(FileKeyProvider):
            unwraps = 0

            def unwrap(self, *args):
                CountingProvider.unwraps += 1
                return super().unwrap(*args)

        stream = uuid.uuid4()
        await store.append(ORG, stream, 0, notes(*(str(i) for i in range(50))), META)
        cold = PostgresEventStore(pool, Keyring(CountingProvider(key_file)), sample_registry())
        assert len(await cold.read_stream(ORG, stream)) == 50
        assert len(await cold.read_stream(ORG, stream)) == 50
        assert len(await cold.read_all()) == 50
        assert CountingProvider.unwraps == 1


class TestPostgresEventStore(EventStoreContract):
    """The contract against PostgreSQL (embedded, or HAVEN_TEST_DATABASE_URL)."""


async def test_a_rolled_back_append_does_not_poison_later_appends(store, pool):
    """The store remembers heads it wrote; one whose transaction rolled back must not turn a
    correct expected version into a conflict."""
    stream = uuid.uuid4()
    await store.append(ORG, stream, 0, notes("a"), META)
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await store.append(ORG, stream, 1, notes("rolled back"), META, connection=conn)
        await tx.rollback()
    other_writer = PostgresEventStore(pool, store._keyring, sample_registry())
    await other_writer.append(ORG, stream, 1, notes("b"), META)  # the real version 2
    result = await store.append(ORG, stream, 2, notes("c"), META)
    assert result.version == 3
    assert [r.event.text for r in await store.read_stream(ORG, stream)] == ["a", "b", "c"]


async def test_the_log_reader_keeps_interleaved_streams_apart(store, pool, key_file):
    """Rows of different streams, organisations (even with the same stream id), event types
    and erased streams interleave in the log; each row is opened with its own stream's key."""
    from crypto.keyring import Keyring
    from crypto.providers import FileKeyProvider

    shared_id, erased = uuid.uuid4(), uuid.uuid4()
    async with store.transaction() as conn:
        await store.append(ORG, shared_id, 0, notes("a1"), META, connection=conn)
        await store.append(
            "org-b", shared_id, 0, [VisitCounted(visits=1, unit="x")], META, connection=conn
        )
        await store.append(ORG, erased, 0, notes("gone"), META, connection=conn)
    async with store.transaction() as conn:
        await store.append(ORG, shared_id, 1, notes("a2", "a3"), META, connection=conn)
    await store.shred(ORG, erased)
    cold = PostgresEventStore(pool, Keyring(FileKeyProvider(key_file)), sample_registry())
    log = await cold.read_all()
    assert [(r.tenant_id, r.stream_id, r.version, r.event) for r in log] == [
        (ORG, shared_id, 1, NoteAdded(text="a1")),
        ("org-b", shared_id, 1, VisitCounted(visits=1, unit="x")),
        (ORG, erased, 1, None),
        (ORG, shared_id, 2, NoteAdded(text="a2")),
        (ORG, shared_id, 3, NoteAdded(text="a3")),
    ]
    assert [r.metadata is None for r in log] == [False, False, True, False, False]
    assert log == [
        event for batch in [b async for b in cold.read_all_batches(batch_size=2)] for event in batch
    ]


async def test_appends_are_announced_after_a_burst_and_again_later(store, listen):
    """NOTIFY is coalesced (one connection, a short gap between notifications), never lost:
    a burst of appends wakes listeners, and so does a single append after it."""
    from events.notification import NOTIFY_CHANNEL

    woken = asyncio.Queue()
    conn = await listen()
    try:
        await conn.add_listener(NOTIFY_CHANNEL, lambda *_: woken.put_nowait(1))
        await asyncio.gather(
            *(store.append(ORG, uuid.uuid4(), 0, notes("burst"), META) for _ in range(20))
        )
        await asyncio.wait_for(woken.get(), timeout=5)
        await asyncio.sleep(0.1)
        while not woken.empty():
            woken.get_nowait()
        await store.append(ORG, uuid.uuid4(), 0, notes("later"), META)
        await asyncio.wait_for(woken.get(), timeout=5)
    finally:
        await conn.close()
