"""Reading the event store: one stream whole, the global log, or a range of streams.

A stream is read with its head in one statement, and its versions, hash chain and head
anchor are checked before any event is opened. The log is read in the order of
`events.log_order`, in pages; a range of streams in stream order, for a partitioned rebuild.
Pages are opened (`events.recorded.open_rows`) while the next one is fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg

from crypto.chain import GENESIS, next_link
from crypto.envelope import event_header
from crypto.keyring import Keyring
from events.errors import StreamErased, StreamNotFound, TamperDetected
from events.log_order import LOG_START, PRECISE_HORIZON_SQL, LogPosition
from events.recorded import (
    READ_COLUMNS,
    Connection,
    RecordedEvent,
    StreamHead,
    StreamKeys,
    open_rows,
    read_columns,
    recorded_time,
    stream_id_of,
)
from events.registry import EventRegistry
from events.stream_keys import keys_for, unwrap_stream_key

# A stream's head and its events in one statement, so one snapshot: no explicit transaction,
# one round trip. No rows: no such stream; a head without events comes back as one row of
# NULL event columns. Each event's chain hash comes before its READ_COLUMNS.
_READ_STREAM_SQL = (
    """
SELECT s.version, s.head_hash, s.key_id, s.kek_id, s.wrapped_key, e.chain_hash,
       """
    + read_columns("e")
    + """
  FROM haven.streams s
  LEFT JOIN haven.events e ON e.tenant_id = s.tenant_id AND e.stream_id = s.stream_id
 WHERE s.tenant_id = $1 AND s.stream_id = $2
 ORDER BY e.version"""
)

_READ_ALL_FAST_SQL = f"""
SELECT {READ_COLUMNS} FROM haven.events
 WHERE (transaction_id, position) > ($1::xid8, $2::bigint)
   AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
 ORDER BY transaction_id, position LIMIT $3"""

_READ_ALL_BELOW_SQL = f"""
SELECT {READ_COLUMNS} FROM haven.events
 WHERE (transaction_id, position) > ($1::xid8, $2::bigint) AND transaction_id < $3::xid8
 ORDER BY transaction_id, position LIMIT $4"""

# A range of streams, whole, in stream order: what a partitioned rebuild reads
# (`projections.partitioned`). Only transactions below a horizon that has passed, so the set
# of rows is fixed; an append to an existing stream is its transaction's first write
# (`events.log_order`), so what lies below the horizon is a prefix of each stream.
_READ_STREAM_RANGE_SQL = f"""
SELECT {READ_COLUMNS} FROM haven.events
 WHERE tenant_id = $1 AND (stream_id, version) > ($2::uuid, $3::integer)
   AND ($4::uuid IS NULL OR stream_id < $4::uuid) AND transaction_id < $5::xid8
 ORDER BY tenant_id, stream_id, version LIMIT $6"""

Page = tuple[list[Any], StreamKeys]  # rows selected as READ_COLUMNS, and their streams' keys


class LogReader:
    def __init__(self, pool: asyncpg.Pool, keyring: Keyring, registry: EventRegistry) -> None:
        self._pool = pool
        self._keyring = keyring
        self._registry = registry

    async def read_stream(
        self, tenant_id: str, stream_id: uuid.UUID, connection: Connection | None
    ) -> tuple[StreamHead, list[RecordedEvent]]:
        """The stream's head and every event, checked and opened."""
        joined = await (connection or self._pool).fetch(_READ_STREAM_SQL, tenant_id, stream_id)
        if not joined:
            raise StreamNotFound(str(stream_id))
        version, head_hash, key_id, kek_id, wrapped_key = joined[0][:5]
        # each row's chain hash, then its READ_COLUMNS; NULLs when the stream has no events
        with_events = joined if joined[0][6] is not None else []
        rows = [row[6:] for row in with_events]
        stream = str(stream_id)
        if wrapped_key is None:
            raise StreamErased(stream)
        data_key = unwrap_stream_key(self._keyring, tenant_id, stream, key_id, kek_id, wrapped_key)
        link = GENESIS
        for expected, (joined_row, row) in enumerate(zip(with_events, rows, strict=True), 1):
            _, _, row_version, _, _, kind, schema, row_key, at, sealed = row
            chain_hash = joined_row[5]
            if row_version != expected:
                raise TamperDetected(f"stream {stream} has a gap before version {row_version}")
            header = event_header(
                tenant_id, stream, row_version, kind, schema, row_key, recorded_time(at)
            )
            link = next_link(link, header, sealed)
            if link != chain_hash:
                raise TamperDetected(f"stream {stream} breaks its hash chain at version {expected}")
        if len(rows) != version or link != head_hash:
            raise TamperDetected(f"stream {stream} does not end at its recorded head")
        events = open_rows(self._registry, rows, {(tenant_id, stream_id): data_key})
        return StreamHead(version, head_hash), events

    async def stream_version(self, tenant_id: str, stream_id: uuid.UUID) -> int:
        version = await self._pool.fetchval(
            "SELECT version FROM haven.streams WHERE tenant_id = $1 AND stream_id = $2",
            tenant_id,
            stream_id,
        )
        return version or 0

    async def read_all(self, after: LogPosition, limit: int, precise: bool) -> list[RecordedEvent]:
        async with self._pool.acquire() as conn:
            rows, keys = await self._log_page(conn, after, limit, precise)
        return open_rows(self._registry, rows, keys)

    def read_all_batches(
        self, after: LogPosition, batch_size: int
    ) -> AsyncIterator[list[RecordedEvent]]:
        return self._prefetched(
            lambda conn, position: self._log_page(conn, position, batch_size),
            after,
            lambda row: LogPosition(row[3], row[4]),
            batch_size,
        )

    def read_stream_range_batches(
        self, tenant_id: str, first: uuid.UUID, end: uuid.UUID | None, below: int, batch_size: int
    ) -> AsyncIterator[list[RecordedEvent]]:
        async def page(conn: Connection, after: tuple[uuid.UUID, int]) -> Page:
            rows = await conn.fetch(
                _READ_STREAM_RANGE_SQL, tenant_id, *after, end, below, batch_size
            )
            return rows, (await keys_for(self._keyring, conn, rows) if rows else {})

        return self._prefetched(
            page, (first, 0), lambda row: (stream_id_of(row[1]), row[2]), batch_size
        )

    async def _prefetched(
        self,
        fetch: Callable[[Connection, Any], Awaitable[Page]],
        start: Any,
        cursor: Callable[[Any], Any],
        batch_size: int,
    ) -> AsyncIterator[list[RecordedEvent]]:
        """Pages of rows from `fetch(conn, after)` (`after` = `start`, then `cursor(last
        row)`), opened. The next page, and the data keys of its streams, are fetched (on a
        connection of the pool's) while this one is decrypted, so the database and the
        decryption work side by side instead of taking turns. A short page is the last."""
        reading: list[asyncio.Task[None]] = []  # each page's read, until its connection is back

        def read(after: Any) -> asyncio.Future[Page]:
            page: asyncio.Future[Page] = asyncio.get_running_loop().create_future()
            reading.append(asyncio.ensure_future(self._read_page(fetch, after, page)))
            return page

        pending: asyncio.Future[Page] | None = read(start)
        try:
            while pending is not None:
                page = [await pending]
                pending = None
                for task in [task for task in reading if task.done()]:
                    reading.remove(task)
                    task.result()  # a connection that could not go back to the pool
                rows = page[0][0]
                if not rows:
                    return
                if len(rows) == batch_size:
                    pending = read(cursor(rows[-1]))
                    await asyncio.sleep(0)  # it sends its query before this page is opened
                del rows
                # the page's rows are freed as soon as they are opened, not when the consumer
                # is done with the batch: fewer objects for the garbage collector to traverse
                yield open_rows(self._registry, *page.pop())
        finally:
            for task in reading:
                task.cancel()
            for task in reading:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _read_page(
        self,
        fetch: Callable[[Connection, Any], Awaitable[Page]],
        after: Any,
        page: asyncio.Future[Page],
    ) -> None:
        """`fetch(conn, after)` into `page`, on a connection of the pool's. The page is handed
        over before the connection goes back to the pool: the pool resets a connection it
        takes back, one more round trip the reader need not wait for."""
        try:
            async with self._pool.acquire() as conn:
                page.set_result(await fetch(conn, after))
        except BaseException as error:
            if page.done():
                raise  # the page was read; giving its connection back failed
            if not isinstance(error, Exception):  # cancelled, or the process is stopping
                page.cancel()
                raise
            page.set_exception(error)  # whoever awaits the page gets the error

    async def _log_page(
        self, conn: Connection, after: LogPosition, limit: int, precise: bool = False
    ) -> Page:
        """Up to `limit` rows of the log after `after`, and the data keys of their streams."""
        if precise:
            horizon = await conn.fetchval(PRECISE_HORIZON_SQL)
            rows = await conn.fetch(
                _READ_ALL_BELOW_SQL, after.transaction_id, after.position, horizon, limit
            )
        else:
            rows = await conn.fetch(_READ_ALL_FAST_SQL, after.transaction_id, after.position, limit)
        return rows, (await keys_for(self._keyring, conn, rows) if rows else {})

    async def log_horizon(self) -> int:
        return int(await self._pool.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())"))

    async def last_position_below(self, horizon: int) -> LogPosition:
        row = await self._pool.fetchrow(
            "SELECT transaction_id, position FROM haven.events WHERE transaction_id < $1::xid8"
            " ORDER BY transaction_id DESC, position DESC LIMIT 1",
            horizon,
        )
        return LOG_START if row is None else LogPosition(int(row[0]), row[1])

    async def tenants(self) -> list[str]:
        return [
            row[0]
            for row in await self._pool.fetch(
                "SELECT DISTINCT tenant_id FROM haven.streams ORDER BY 1"
            )
        ]

    async def has_events_after(self, after: LogPosition) -> bool:
        return await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM haven.events"
            " WHERE (transaction_id, position) > ($1::xid8, $2::bigint))",
            after.transaction_id,
            after.position,
        )
