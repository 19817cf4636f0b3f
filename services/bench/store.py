"""`haven bench store`: event-store throughput against the raw PostgreSQL limit.

`run_store_bench(url)` creates a throw-away database `haven_bench_<hex>` on the server of
`url`, migrates it, and measures five figures, each in events per second, twice: through
`PostgresEventStore` ("ours") and with plain asyncpg on a table `bench_raw` that has the
columns, constraints and indexes of `haven.events` and is filled with random bytes of the
same length as our ciphertexts, with the same commit pattern ("raw"). Ours and raw run in
the same process against the same database, interleaved over `rounds` rounds in alternating
order, after a short warm-up. The database is dropped at the end, whatever happens.

Figures:

* ``append_single``: one writer appending one event per commit, version after version of
  its own stream. Raw: one single-row autocommit INSERT per event.
* ``append_concurrent``: `writers` (16) concurrent writers, each on its own stream, one event
  per commit. Raw: as many tasks doing single-row autocommit INSERTs.
* ``bulk_import``: transactions of 20 new streams of 50 events each (one `append` of 50
  events per stream, all in the caller's transaction). Raw: one `executemany` of the same
  1000 rows per transaction.
* ``read_stream``: `read_stream` of one 50-event stream (hash chain checked, every event
  opened), repeatedly. Raw: SELECT of the same columns of 50 rows ORDER BY version.
* ``catch_up``: `read_all` from the start of a log of `events_for_catch_up` events in
  batches of 1000, with a cold keyring cache (as a projector starting up). Raw: the
  keyset-paginated SELECT over `bench_raw` in (transaction_id, position) order.

The results are ``{figure: {"value": ours, "unit": "ev/s", "raw": raw, "ratio": ours/raw}}``;
`print_table` shows them with the targets in `TARGETS`.

Everything written is synthetic: one organisation ``bench-org-01`` and one event type,
`BenchNoted`, registered only in the bench's own registry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from crypto.aead import OVERHEAD
from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from domain.event import DomainEvent, EventMetadata
from events.log_order import LOG_START
from events.registry import EventRegistry, tag_of
from events.store import EVENT_COLUMNS, PostgresEventStore, utc_now
from services.bench.report import format_table
from services.bench.scratch import scratch_database, scratch_pool

FIGURES = ("append_single", "append_concurrent", "bulk_import", "read_stream", "catch_up")
TARGETS: dict[str, float] = {"append_concurrent": 0.6, "catch_up": 0.3}  # minimum ours/raw

TENANT = "bench-org-01"
STREAM_EVENTS = 50            # events per stream in bulk_import, read_stream and catch_up
STREAMS_PER_TRANSACTION = 20  # bulk_import: 20 x 50 = 1000 events per transaction
BATCH = 1000                  # catch_up page size
EVENT_POOL = 1000             # distinct synthetic events, used round robin

Op = Callable[[], Awaitable[int]]  # does some work, returns the number of events it handled


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
_WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
          "incididunt ut labore et dolore magna aliqua enim ad minim veniam").split()


def synthetic_events(count: int = EVENT_POOL, *, seed: int = 20_250_101) -> list[BenchNoted]:
    """`count` synthetic notes, ~190 bytes of payload each (lorem ipsum, no real-looking data).

    With the metadata and the AEAD overhead an event seals to ~325 bytes of ciphertext.
    """
    rng = random.Random(seed)
    events = []
    for sequence in range(count):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 7)))
        events.append(BenchNoted(
            note_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            sequence=sequence,
            category=rng.choice(_CATEGORIES),
            priority=rng.randint(1, 5),
            summary=f"Synthetic note {sequence:06d}: {words}.",
            labels=tuple(rng.sample(_LABELS, rng.randint(1, 3))),
        ))
    return events


def bench_metadata() -> EventMetadata:
    """Metadata of one synthetic command (a fresh command id)."""
    return EventMetadata(actor_id="bench-actor-01", command_id=str(uuid.uuid4()))


# The raw table is haven.events' own definition (columns, checks, keys, indexes), so the two
# can never drift apart; only the write path and the reading differ.
_RAW_SCHEMA = "CREATE TABLE bench_raw (LIKE haven.events INCLUDING ALL)"
_COLUMNS = EVENT_COLUMNS

_RAW_INSERT = """INSERT INTO bench_raw (tenant_id, stream_id, version, event_type, schema_version,
    key_id, recorded_at, ciphertext, chain_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"""

_RAW_READ_STREAM = f"""SELECT {_COLUMNS} FROM bench_raw
 WHERE tenant_id = $1 AND stream_id = $2 ORDER BY version"""

_KEYSET_SQL = """SELECT {columns} FROM {table}
 WHERE (transaction_id, position) > ($1::xid8, $2::bigint)
 ORDER BY transaction_id, position LIMIT $3"""


class _Bench:
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

    def raw_rows(self, stream_id: uuid.UUID, key_id: str, first_version: int, count: int,
                 recorded_at: dt.datetime) -> list[tuple[Any, ...]]:
        start, self._raw = self._raw, self._raw + count
        rows = []
        for i in range(count):
            index = (start + i) % EVENT_POOL
            rows.append((TENANT, stream_id, first_version + i, self.tag, BenchNoted.schema_version,
                         key_id, recorded_at, self.blobs[index], self.chains[index]))
        return rows

    # -- one operation each, ours and raw ----------------------------------------------

    def our_writer(self) -> Op:
        """Appends one event per call, version after version of its own stream."""
        stream_id, version = uuid.uuid4(), 0

        async def op() -> int:
            nonlocal version
            await self.store.append(TENANT, stream_id, version, self.our_events(1), bench_metadata())
            version += 1
            return 1

        return op

    def raw_writer(self) -> Op:
        stream_id, key_id, version = uuid.uuid4(), os.urandom(8).hex(), 0

        async def op() -> int:
            nonlocal version
            version += 1
            (row,) = self.raw_rows(stream_id, key_id, version, 1, utc_now())
            await self.pool.execute(_RAW_INSERT, *row)
            return 1

        return op

    async def our_import(self, sizes: Sequence[int] = (STREAM_EVENTS,) * STREAMS_PER_TRANSACTION) -> int:
        """One transaction appending one new stream of `size` events per entry of `sizes`."""
        async with self.pool.acquire() as conn, conn.transaction():
            for size in sizes:
                await self.store.append(TENANT, uuid.uuid4(), 0, self.our_events(size), bench_metadata(),
                                        connection=conn)
        return sum(sizes)

    async def raw_import(self, sizes: Sequence[int] = (STREAM_EVENTS,) * STREAMS_PER_TRANSACTION) -> int:
        now = utc_now()
        rows = []
        for size in sizes:
            rows.extend(self.raw_rows(uuid.uuid4(), os.urandom(8).hex(), 1, size, now))
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(_RAW_INSERT, rows)
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
        sql = _KEYSET_SQL.format(columns=_COLUMNS, table=table)
        transaction_id, position, count = 0, 0, 0
        while rows := await self.pool.fetch(sql, transaction_id, position, BATCH):
            count += len(rows)
            transaction_id, position = rows[-1]["transaction_id"], rows[-1]["position"]
        return count


# -- timing ------------------------------------------------------------------------------


async def _drive(ops: Sequence[Op], seconds: float, warmup: float) -> tuple[int, float]:
    """Run every op in its own task, in a loop: `warmup` seconds uncounted, then `seconds`
    counted. Returns (events, elapsed seconds of the counted part)."""

    async def loop(op: Op, deadline: float) -> int:
        done = 0
        while time.perf_counter() < deadline:
            done += await op()
        return done

    if warmup > 0:
        deadline = time.perf_counter() + warmup
        await asyncio.gather(*(loop(op, deadline) for op in ops))
    start = time.perf_counter()
    counts = await asyncio.gather(*(loop(op, start + seconds) for op in ops))
    return sum(counts), time.perf_counter() - start


def _figure(ours: float, raw: float) -> dict[str, Any]:
    return {"value": float(ours), "unit": "ev/s", "raw": float(raw), "ratio": float(ours / raw) if raw else 0.0}


async def _compare(ours: Sequence[Op], raw: Sequence[Op], *, seconds: float, warmup: float,
                   rounds: int) -> dict[str, Any]:
    """Ours and raw alternately, `rounds` times, `seconds` in all for each side.

    The order flips every round (ours-raw, raw-ours, ...) so that drift in the machine's
    speed (other load, checkpoints, autovacuum) falls on both sides alike; each side warms up
    for `warmup` seconds before its first round only.
    """
    totals = {"ours": [0, 0.0], "raw": [0, 0.0]}
    sides = [("ours", ours), ("raw", raw)]
    for round_ in range(rounds):
        for side, ops in sides if round_ % 2 == 0 else sides[::-1]:
            events, elapsed = await _drive(ops, seconds / rounds, warmup if round_ == 0 else 0.0)
            totals[side][0] += events
            totals[side][1] += elapsed
    return _figure(totals["ours"][0] / totals["ours"][1], totals["raw"][0] / totals["raw"][1])


async def _in_parallel(jobs: Sequence[Callable[[], Awaitable[int]]], workers: int) -> int:
    """Run the jobs with at most `workers` at a time; returns the sum of their results."""
    queue = list(reversed(jobs))
    total = 0

    async def worker() -> None:
        nonlocal total
        while queue:
            done = await queue.pop()()
            total += done

    await asyncio.gather(*(worker() for _ in range(workers)))
    return total


def _import_plan(events: int) -> list[list[int]]:
    """Transactions (lists of stream sizes) that write exactly `events` events."""
    sizes = [STREAM_EVENTS] * (events // STREAM_EVENTS)
    if events % STREAM_EVENTS:
        sizes.append(events % STREAM_EVENTS)
    return [sizes[i:i + STREAMS_PER_TRANSACTION] for i in range(0, len(sizes), STREAMS_PER_TRANSACTION)]


# -- the figures ------------------------------------------------------------------------


async def _catch_up(bench: _Bench, events: int, *, rounds: int, loaders: int,
                    note: Callable[[str], None]) -> dict[str, Any]:
    await bench.pool.execute("TRUNCATE haven.events, haven.streams, bench_raw")
    plan = _import_plan(events)
    note(f"catch_up: loading {events:,} events into haven.events")
    loaded = await _in_parallel([lambda sizes=sizes: bench.our_import(sizes) for sizes in plan], loaders)
    note(f"catch_up: loading {events:,} rows into bench_raw")
    await _in_parallel([lambda sizes=sizes: bench.raw_import(sizes) for sizes in plan], loaders)
    await bench.pool.execute("VACUUM (ANALYZE) haven.events, haven.streams, bench_raw")
    # warm the buffer cache the same way for both tables (heap and log-order index)
    await bench.raw_catch_up("haven.events")
    await bench.raw_catch_up("bench_raw")
    totals = {"ours": [0, 0.0], "raw": [0, 0.0]}

    async def ours() -> int:
        bench.keyring.clear()  # a projector starting cold unwraps every stream's key
        return await bench.our_catch_up()

    sides = [("ours", ours), ("raw", bench.raw_catch_up)]
    for round_ in range(rounds):
        note(f"catch_up: round {round_ + 1} of {rounds}")
        for side, read_all in sides if round_ % 2 == 0 else sides[::-1]:
            start = time.perf_counter()
            read = await read_all()
            totals[side][1] += time.perf_counter() - start
            totals[side][0] += read
            if read != loaded:
                raise RuntimeError(f"catch_up ({side}) read {read} of {loaded} events")
    return _figure(totals["ours"][0] / totals["ours"][1], totals["raw"][0] / totals["raw"][1])


async def _run(bench: _Bench, *, events_for_catch_up: int, seconds: float, warmup: float, rounds: int,
               writers: int, catch_up_rounds: int, note: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    timing = {"seconds": seconds, "warmup": warmup, "rounds": rounds}
    results: dict[str, dict[str, Any]] = {}

    note("append_single")
    results["append_single"] = await _compare([bench.our_writer()], [bench.raw_writer()], **timing)

    note(f"append_concurrent ({writers} writers)")
    results["append_concurrent"] = await _compare(
        [bench.our_writer() for _ in range(writers)], [bench.raw_writer() for _ in range(writers)], **timing)

    note("bulk_import")
    results["bulk_import"] = await _compare([bench.our_import], [bench.raw_import], **timing)

    note("read_stream")
    our_stream, raw_stream = uuid.uuid4(), uuid.uuid4()
    await bench.store.append(TENANT, our_stream, 0, bench.our_events(STREAM_EVENTS), bench_metadata())
    await bench.pool.executemany(
        _RAW_INSERT, bench.raw_rows(raw_stream, os.urandom(8).hex(), 1, STREAM_EVENTS, utc_now()))
    results["read_stream"] = await _compare(
        [bench.our_reader(our_stream)], [bench.raw_reader(raw_stream)], **timing)

    results["catch_up"] = await _catch_up(
        bench, events_for_catch_up, rounds=catch_up_rounds, loaders=4, note=note)
    return {name: results[name] for name in FIGURES}


async def run_store_bench(
    database_url: str,
    *,
    events_for_catch_up: int = 200_000,
    seconds: float = 4.5,
    warmup: float = 0.5,
    rounds: int = 3,
    writers: int = 16,
    catch_up_rounds: int = 2,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Measure the event store against raw asyncpg; returns the figures (see the module doc).

    `database_url` names any database on the server to use (the `haven` one is fine): the
    bench creates its own database `haven_bench_<hex>` next to it, with the same user, and
    drops it at the end. Each timed figure runs `seconds` per side (ours, raw), split into
    `rounds` alternating rounds, after `warmup` seconds per side; `catch_up` reads the whole
    log of `events_for_catch_up` events `catch_up_rounds` times per side. `progress`, if
    given, is called with a short line as each step starts. With the defaults the bench
    takes about a minute on a 2-core machine.
    """
    if events_for_catch_up < 1 or seconds <= 0 or rounds < 1 or writers < 1 or catch_up_rounds < 1:
        raise ValueError("events_for_catch_up, seconds, rounds, writers and catch_up_rounds must be positive")
    note = progress or (lambda _line: None)
    async with scratch_database(database_url, note) as url, \
            scratch_pool(url, min_size=writers + 4, max_size=max(writers + 4, 20)) as pool:
        await pool.execute(_RAW_SCHEMA)
        with tempfile.TemporaryDirectory(prefix="haven-bench-") as folder:
            provider = FileKeyProvider(Path(folder) / "kek")
            try:
                keyring = Keyring(provider)
                bench = _Bench(pool, keyring, EventRegistry([BenchNoted]))
                note(f"events of {bench.mean_ciphertext:.0f} bytes of ciphertext on average")
                return await _run(bench, events_for_catch_up=events_for_catch_up, seconds=seconds,
                                  warmup=warmup, rounds=rounds, writers=writers,
                                  catch_up_rounds=catch_up_rounds, note=note)
            finally:
                provider.close()


def print_table(results: Mapping[str, Mapping[str, Any]]) -> None:
    """Print the results of `run_store_bench` as a table, with targets and pass/MISS markers."""
    print(format_table(results, TARGETS))
