"""Reading rows as `READ_COLUMNS` select them: the recorded-at time in its binary form."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from domain.event import EventMetadata
from events.errors import TamperDetected
from events.recorded import recorded_time
from events.store import PostgresEventStore
from tests.events.sample_events import NoteAdded, sample_registry

META = EventMetadata(actor_id="worker-1")
ORG = "org-a"
# The log is read with the precise horizon: the fast one is held back by any transaction on
# the server, other test runs' included (`events.log_order`).
MOMENTS = [
    dt.datetime(2000, 1, 1, tzinfo=dt.UTC),  # PostgreSQL's epoch: zero on the wire
    dt.datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),  # negative on the wire
    dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 7, 18, 28, 32, 518_897, tzinfo=dt.UTC),
    dt.datetime(2999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),
]


async def test_the_recorded_time_read_in_binary_form_is_the_stored_time(pool):
    rows = await pool.fetch(
        "SELECT moment, timestamptz_send(moment) FROM unnest($1::timestamptz[]) AS m(moment)",
        MOMENTS,
    )
    assert [recorded_time(wire) for _, wire in rows] == [moment for moment, _ in rows] == MOMENTS
    assert {recorded_time(wire).tzinfo for _, wire in rows} == {dt.UTC}


async def test_read_events_carry_their_stream_id_and_the_time_they_were_appended(store):
    stream = uuid.uuid4()
    await store.append(ORG, stream, 0, [NoteAdded(text="a"), NoteAdded(text="b")], META)
    stored = await store.pool.fetchval(
        "SELECT recorded_at FROM haven.events WHERE stream_id = $1 AND version = 2", stream
    )
    for read in (await store.read_stream(ORG, stream), await store.read_all(precise=True)):
        assert [(event.stream_id, event.recorded_at) for event in read] == [(stream, stored)] * 2
        assert all(isinstance(event.stream_id, uuid.UUID) for event in read)
        assert {hash(event.stream_id) for event in read} == {hash(stream)}


@pytest.mark.parametrize("moment", ["infinity", "-infinity"])
async def test_attack_an_infinite_recorded_time_is_detected_on_read(store, moment):
    stream = uuid.uuid4()
    await store.append(ORG, stream, 0, [NoteAdded(text="a")], META)
    assert len(await store.read_all(precise=True)) == 1  # control: reads before tampering
    await store.pool.execute(
        "UPDATE haven.events SET recorded_at = $1::text::timestamptz WHERE stream_id = $2",
        moment,
        stream,
    )
    with pytest.raises(TamperDetected):
        await store.read_all(precise=True)
    with pytest.raises(TamperDetected):
        await store.read_stream(ORG, stream)


@pytest.mark.parametrize(
    "tampering",
    [
        "key_id = 'another-key'",  # names another key
        "ciphertext = substring(ciphertext FROM 1 FOR 20)",  # truncated
        "ciphertext = '\\x02'::bytea || substring(ciphertext FROM 2)",  # another format
        "ciphertext = overlay(ciphertext PLACING '\\x00'::bytea FROM 30 FOR 1)",  # flipped
        "version = 3",  # moved within its stream: the header no longer matches
    ],
)
async def test_attack_a_tampered_row_is_detected_by_the_log_reader(store, tampering):
    stream = uuid.uuid4()
    await store.append(ORG, stream, 0, [NoteAdded(text="a"), NoteAdded(text="b")], META)
    assert len(await store.read_all(precise=True)) == 2  # control: reads before tampering
    await store.pool.execute(
        f"UPDATE haven.events SET {tampering} WHERE stream_id = $1 AND version = 2", stream
    )
    with pytest.raises(TamperDetected):
        await store.read_all(precise=True)
    with pytest.raises(TamperDetected):
        await anext(store.read_all_batches(batch_size=10))


async def test_attack_events_without_their_streams_head_are_detected_in_batches(store, key_file):
    """The data keys of a page are read with the page, before it is handed over: a failure
    there reaches the reader of the batches."""
    stream = uuid.uuid4()
    await store.append(ORG, stream, 0, [NoteAdded(text="a")], META)
    cold = PostgresEventStore(store.pool, Keyring(FileKeyProvider(key_file)), sample_registry())
    batches = [batch async for batch in cold.read_all_batches(batch_size=10)]  # control
    assert [len(batch) for batch in batches] == [1]
    await store.pool.execute(
        "ALTER TABLE haven.streams DISABLE TRIGGER ALL;"
        f"DELETE FROM haven.streams WHERE stream_id = '{stream}';"
        "ALTER TABLE haven.streams ENABLE TRIGGER ALL"
    )
    cold = PostgresEventStore(store.pool, Keyring(FileKeyProvider(key_file)), sample_registry())
    with pytest.raises(TamperDetected):
        await anext(cold.read_all_batches(batch_size=10))
