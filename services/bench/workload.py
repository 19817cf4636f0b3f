"""The event-store work the bench suites measure, ours and raw, on synthetic notes.

"Ours" goes through `PostgresEventStore`; "raw" does the same database work with plain
asyncpg on `bench_raw`, a table of `haven.events`' own definition, with rows of random bytes
as long as our ciphertexts. The store, HTTP and projection suites share it, so that their
raw limits are measured the same way.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from crypto.aead import OVERHEAD
from crypto.keyring import Keyring
from domain.event import DomainEvent, EventMetadata
from events.log_order import LOG_START
from events.recorded import EVENT_COLUMNS
from events.registry import EventRegistry, tag_of
from events.store import PostgresEventStore, utc_now
from services.bench.timing import Op

TENANT = "bench-org-01"
STREAM_EVENTS = 50  # events per stream in bulk_import, read_stream and catch_up
STREAMS_PER_TRANSACTION = 20  # bulk_import: 20 x 50 = 1000 events per transaction
BATCH = 1000  # catch_up page size
EVENT_POOL = 1000  # distinct synthetic events, used round robin


class BenchNoted(DomainEvent, frozen=True, tag="bench.noted"):
    """A synthetic case note. Exists only for the bench; never registered by the application."""

    note_id: str
    sequence: int
    category: str
    priority: int
    summary: str
    labels: tuple[str, ...] = ()


_CATEGORIES = ("intake", "follow-up", "referral", "review", "closure")
_LABELS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
_WORDS = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua enim ad minim veniam"
).split()


def synthetic_events(count: int = EVENT_POOL, *, seed: int = 20_250_101) -> list[BenchNoted]:
    """`count` synthetic notes, ~190 bytes of payload each (lorem ipsum, no real-looking data).

    With the metadata and the AEAD overhead an event seals to ~325 bytes of ciphertext.
    """
    rng = random.Random(seed)
    events = []
    for sequence in range(count):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 7)))
        events.append(
            BenchNoted(
                note_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                sequence=sequence,
                category=rng.choice(_CATEGORIES),
                priority=rng.randint(1, 5),
                summary=f"Synthetic note {sequence:06d}: {words}.",
                labels=tuple(rng.sample(_LABELS, rng.randint(1, 3))),
            )
        )
    return events


def bench_metadata() -> EventMetadata:
    """Metadata of one synthetic command (a fresh command id)."""
    return EventMetadata(actor_id="bench-actor-01", command_id=str(uuid.uuid4()))


# The raw table is haven.events' own definition (columns, checks, keys, indexes), so the two
# can never drift apart; only the write path and the reading differ.
RAW_SCHEMA = "CREATE TABLE bench_raw (LIKE haven.events INCLUDING ALL)"

RAW_INSERT = """INSERT INTO bench_raw (tenant_id, stream_id, version, event_type, schema_version,
    key_id, recorded_at, ciphertext, chain_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"""

_RAW_READ_STREAM = f"""SELECT {EVENT_COLUMNS} FROM bench_raw
 WHERE tenant_id = $1 AND stream_id = $2 ORDER BY version"""

_KEYSET_SQL = """SELECT {columns} FROM {table}
 WHERE (transaction_id, position) > ($1::xid8, $2::bigint)
 ORDER BY transaction_id, position LIMIT $3"""


async def raw_catch_up(pool: asyncpg.Pool, table: str = "bench_raw") -> int:
    """Every row of `table` (`bench_raw` or `haven.events`) in log order, keyset-paginated
    with plain asyncpg, `BATCH` rows a page; returns the rows read."""
    sql = _KEYSET_SQL.format(columns=EVENT_COLUMNS, table=table)
    transaction_id, position, count = 0, 0, 0
    while rows := await pool.fetch(sql, transaction_id, position, BATCH):
        count += len(rows)
        transaction_id, position = rows[-1]["transaction_id"], rows[-1]["position"]
    return count


class StoreWorkload:
    """What every figure needs: the store, the pool, synthetic events and matching raw rows."""

    def __init__(self, pool: asyncpg.Pool, keyring: Keyring, registry: EventRegistry) -> None:
        self.pool = pool
        self.keyring = keyring
        self.store = PostgresEventStore(pool, keyring, registry)
        self.events = synthetic_events()
        self.tag = tag_of(BenchNoted)
        # raw row i has a "ciphertext" exactly as long as event i's sealed form
        sample = bench_metadata()
        sizes = [len(registry.encode(event, sample)[2]) + OVERHEAD for event in self.events]
        self.blobs = [os.urandom(size) for size in sizes]
        self.chains = [os.urandom(32) for _ in self.events]
        self.mean_ciphertext = sum(sizes) / len(sizes)
        self._ours = 0
        self._raw = 0

    def our_events(self, count: int) -> list[BenchNoted]:
        start, self._ours = self._ours, self._ours + count
        return [self.events[(start + i) % EVENT_POOL] for i in range(count)]

    def raw_rows(
        self,
        stream_id: uuid.UUID,
        key_id: str,
        first_version: int,
        count: int,
        recorded_at: dt.datetime,
    ) -> list[tuple[Any, ...]]:
        start, self._raw = self._raw, self._raw + count
        rows = []
        for i in range(count):
            index = (start + i) % EVENT_POOL
            rows.append(
                (
                    TENANT,
                    stream_id,
                    first_version + i,
                    self.tag,
                    BenchNoted.schema_version,
                    key_id,
                    recorded_at,
                    self.blobs[index],
                    self.chains[index],
                )
            )
        return rows

    # -- one operation each, ours and raw ----------------------------------------------

    def our_writer(self) -> Op:
        """Appends one event per call, version after version of its own stream."""
        stream_id, version = uuid.uuid4(), 0

        async def op() -> int:
            nonlocal version
            await self.store.append(
                TENANT, stream_id, version, self.our_events(1), bench_metadata()
            )
            version += 1
            return 1

        return op

    def raw_writer(self) -> Op:
        stream_id, key_id, version = uuid.uuid4(), os.urandom(8).hex(), 0

        async def op() -> int:
            nonlocal version
            version += 1
            (row,) = self.raw_rows(stream_id, key_id, version, 1, utc_now())
            await self.pool.execute(RAW_INSERT, *row)
            return 1

        return op

    async def our_import(
        self, sizes: Sequence[int] = (STREAM_EVENTS,) * STREAMS_PER_TRANSACTION
    ) -> int:
        """One transaction appending one new stream of `size` events per entry of `sizes`."""
        async with self.pool.acquire() as conn, conn.transaction():
            for size in sizes:
                await self.store.append(
                    TENANT,
                    uuid.uuid4(),
                    0,
                    self.our_events(size),
                    bench_metadata(),
                    connection=conn,
                )
        return sum(sizes)

    async def raw_import(
        self, sizes: Sequence[int] = (STREAM_EVENTS,) * STREAMS_PER_TRANSACTION
    ) -> int:
        now = utc_now()
        rows = []
        for size in sizes:
            rows.extend(self.raw_rows(uuid.uuid4(), os.urandom(8).hex(), 1, size, now))
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(RAW_INSERT, rows)
        return len(rows)

    def our_reader(self, stream_id: uuid.UUID) -> Op:
        async def op() -> int:
            return len(await self.store.read_stream(TENANT, stream_id))

        return op

    def raw_reader(self, stream_id: uuid.UUID) -> Op:
        async def op() -> int:
            return len(await self.pool.fetch(_RAW_READ_STREAM, TENANT, stream_id))

        return op

    async def our_catch_up(self) -> int:
        """The store's catch-up reader from the start to the head; returns the events read."""
        count = 0
        async for batch in self.store.read_all_batches(LOG_START, BATCH):
            count += len(batch)
        return count

    async def raw_catch_up(self, table: str = "bench_raw") -> int:
        return await raw_catch_up(self.pool, table)
