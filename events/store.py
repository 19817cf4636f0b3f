"""The PostgreSQL event store: sealed, hash-chained, optimistically concurrent.

Write path (one statement, one round trip): each event is msgspec-encoded with its metadata,
sealed with the stream's data key (AES-256-GCM, the header of `crypto.envelope.event_header`
as associated data) and linked into the stream's hash chain; then a single statement takes
the append lock, moves the stream head only if it is still where the writer found it, and
inserts the rows — atomically, in the caller's transaction if one is given. Subscribers are
woken by a NOTIFY sent after commit (see `announce`).

Read path: `read_stream` checks versions, the hash chain and the head anchor, then opens
every event; `read_all` reads the global log in the order described in `events.log_order`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, NamedTuple, NoReturn

import asyncpg
import msgspec

from crypto.aead import FORMAT_VERSION, NONCE_END, OVERHEAD, AuthenticationFailed
from crypto.chain import GENESIS, next_link
from crypto.envelope import LABEL as HEADER_LABEL
from crypto.envelope import encode_header, event_header
from crypto.errors import DecryptionError
from crypto.keyring import DataKey, Keyring, WrappedDataKey
from domain.event import DomainEvent, EventMetadata
from events.erasure import announce_erasure, hold_for_erasure
from events.errors import (
    AppendOrderError,
    ConcurrencyConflict,
    StreamErased,
    StreamNotFound,
    TamperDetected,
)
from events.log_order import LOG_START, PRECISE_HORIZON_SQL, LogPosition
from events.registry import EventRegistry

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
ONE_MICROSECOND = dt.timedelta(microseconds=1)
NOTIFY_CHANNEL = "haven_events"
_NOTIFY_SQL = "SELECT pg_notify($1, '')"
_NOTIFY_GAP = 0.005  # seconds: at most ~200 notifications a second, the first one at once

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def to_microseconds(moment: dt.datetime) -> int:
    return (moment - EPOCH) // ONE_MICROSECOND


class RecordedEvent(msgspec.Struct, frozen=True, gc=False):
    """An event as stored. `gc=False`: plain data without cycles; readers create them by the
    hundred thousand."""

    tenant_id: str
    stream_id: uuid.UUID
    version: int
    log_position: LogPosition
    recorded_at: dt.datetime
    event_type: str
    event: DomainEvent | None  # None when the stream was erased (crypto-shredded)
    metadata: EventMetadata | None


class AppendResult(NamedTuple):
    version: int
    positions: list[LogPosition]


# Appending is one statement. `haven.enter_append` runs first (an initplan over a materialised
# CTE: before any row is written, so before the transaction has an xid, and only once even
# when a concurrent update makes PostgreSQL re-check the head row) and takes the append lock.
# The head row's update is the optimistic-concurrency check — version, chain head and key
# must all match — and events are inserted only if it succeeded: no rows back, no append.
_MANY_ROWS = """
SELECT $1, $2, $3 + i, ($5::text[])[i], ($6::smallint[])[i], $4, $7, ($8::bytea[])[i], ($9::bytea[])[i]
  FROM generate_subscripts($8::bytea[], 1) AS i"""
# One event (the common case) binds plain values: cheaper to encode than one-element arrays.
_ONE_ROW = "SELECT $1, $2, $3 + 1, $5::text, $6::smallint, $4, $7, $8::bytea, $9::bytea"

_MOVE_HEAD = """
    UPDATE haven.streams s SET version = $3 + {count}, head_hash = $10
     WHERE s.tenant_id = $1 AND s.stream_id = $2 AND s.version = $3 AND s.head_hash = $11
       AND s.key_id = $4 AND s.wrapped_key IS NOT NULL AND (SELECT entered FROM guard)"""
_CREATE_HEAD = """
    INSERT INTO haven.streams (tenant_id, stream_id, version, head_hash, key_id, kek_id, wrapped_key)
    SELECT $1, $2, {count}, $10, $4, $11, $12 WHERE (SELECT entered FROM guard)
    ON CONFLICT DO NOTHING"""


def _append_sql(create: bool, single: bool) -> str:
    count = "1" if single else "cardinality($8::bytea[])"
    head = (_CREATE_HEAD if create else _MOVE_HEAD).format(count=count)
    return f"""
WITH guard AS MATERIALIZED (SELECT haven.enter_append({"0" if create else "$3"}) AS entered),
head AS ({head}
    RETURNING 1)
INSERT INTO haven.events AS e (tenant_id, stream_id, version, event_type, schema_version, key_id,
                               recorded_at, ciphertext, chain_hash)
{_ONE_ROW if single else _MANY_ROWS}
 WHERE EXISTS (SELECT 1 FROM head)
RETURNING e.version, e.position, e.transaction_id"""


_APPEND_SQL = {(create, single): _append_sql(create, single) for create in (False, True) for single in (False, True)}

EVENT_COLUMNS = """tenant_id, stream_id, version, transaction_id, position, event_type,
    schema_version, key_id, recorded_at, ciphertext, chain_hash"""

# A stream's head and its events in one statement, so one snapshot: no explicit transaction,
# one round trip. No rows: no such stream; a head without events comes back as one row of
# NULL event columns.
_READ_STREAM_SQL = """
SELECT s.version, s.head_hash, s.key_id, s.kek_id, s.wrapped_key,
       """ + ", ".join(f"e.{column.strip()}" for column in EVENT_COLUMNS.split(",")) + """
  FROM haven.streams s
  LEFT JOIN haven.events e ON e.tenant_id = s.tenant_id AND e.stream_id = s.stream_id
 WHERE s.tenant_id = $1 AND s.stream_id = $2
 ORDER BY e.version"""

_STREAM_SQL = """
SELECT version, head_hash, key_id, kek_id, wrapped_key FROM haven.streams
 WHERE tenant_id = $1 AND stream_id = $2"""

_READ_ALL_FAST_SQL = f"""
SELECT {EVENT_COLUMNS} FROM haven.events
 WHERE (transaction_id, position) > ($1::xid8, $2::bigint)
   AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
 ORDER BY transaction_id, position LIMIT $3"""

_READ_ALL_BELOW_SQL = f"""
SELECT {EVENT_COLUMNS} FROM haven.events
 WHERE (transaction_id, position) > ($1::xid8, $2::bigint) AND transaction_id < $3::xid8
 ORDER BY transaction_id, position LIMIT $4"""

# A range of streams, whole, in stream order: what a partitioned rebuild reads
# (`projections.partitioned`). Only transactions below a horizon that has passed, so the set
# of rows is fixed; an append to an existing stream is its transaction's first write
# (`events.log_order`), so what lies below the horizon is a prefix of each stream.
_READ_STREAM_RANGE_SQL = f"""
SELECT {EVENT_COLUMNS} FROM haven.events
 WHERE tenant_id = $1 AND (stream_id, version) > ($2::uuid, $3::integer)
   AND ($4::uuid IS NULL OR stream_id < $4::uuid) AND transaction_id < $5::xid8
 ORDER BY tenant_id, stream_id, version LIMIT $6"""

_ERASED_AMONG_SQL = """
SELECT s.tenant_id, s.stream_id
  FROM haven.streams s JOIN unnest($1::text[], $2::uuid[]) AS w(tenant_id, stream_id)
    ON s.tenant_id = w.tenant_id AND s.stream_id = w.stream_id
 WHERE s.wrapped_key IS NULL"""

_WRAPPED_KEYS_SQL = """
SELECT s.tenant_id, s.stream_id, s.key_id, s.kek_id, s.wrapped_key
  FROM haven.streams s JOIN unnest($1::text[], $2::uuid[]) AS w(tenant_id, stream_id)
    ON s.tenant_id = w.tenant_id AND s.stream_id = w.stream_id"""



class StreamHead(NamedTuple):
    version: int
    chain_hash: bytes


class PostgresEventStore:
    def __init__(
        self,
        pool: asyncpg.Pool,
        keyring: Keyring,
        registry: EventRegistry,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        head_cache_size: int = 100_000,
    ) -> None:
        self._pool = pool
        self._keyring = keyring
        self._registry = registry
        self._clock = clock
        # Stream heads this process has seen (read or written): an append extends the chain
        # from here without reading the head first. A stale entry only costs a conflict.
        # A dict in least-recently-written order (cheaper than an LRUCache on every append).
        self._heads: dict[tuple[str, str], StreamHead] = {}
        self._head_cache_size = head_cache_size
        self._announce = asyncio.Event()
        self._announcer: asyncio.Task[None] | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    # -- writing ---------------------------------------------------------------------

    async def append(
        self,
        tenant_id: str,
        stream_id: uuid.UUID,
        expected_version: int,
        events: Sequence[DomainEvent],
        metadata: EventMetadata,
        *,
        connection: Connection | None = None,
        _trust_cache: bool = True,
    ) -> AppendResult:
        """Append `events` atomically if the stream is at `expected_version` (0: new stream).

        With `connection`, the append joins the caller's transaction (the API's unit of work),
        and must be that transaction's first write. Raises `ConcurrencyConflict` when the
        stream has moved on or already exists.
        """
        if not events:
            raise ValueError("append needs at least one event")
        if expected_version < 0:
            raise ValueError("expected_version must be >= 0")
        stream = str(stream_id)
        if expected_version == 0:
            data_key, wrapped = self._keyring.create(tenant_id, stream)
            head, known = StreamHead(0, GENESIS), False
        else:
            head, data_key, known = await self._head(connection, tenant_id, stream_id, stream, expected_version,
                                                     _trust_cache)
        now = self._clock()
        recorded_at_us = to_microseconds(now)
        types, versions, ciphertexts, links = [], [], [], []
        link = head.chain_hash
        for offset, event in enumerate(events, start=1):
            tag, schema_version, plaintext = self._registry.encode(event, metadata)
            header = event_header(tenant_id, stream, expected_version + offset, tag, schema_version,
                                  data_key.key_id, recorded_at_us)
            ciphertext = data_key.aead.seal(plaintext, header)
            link = next_link(link, header, ciphertext)
            types.append(tag)
            versions.append(schema_version)
            ciphertexts.append(ciphertext)
            links.append(link)
        single = len(events) == 1
        args: tuple[Any, ...] = (tenant_id, stream_id, expected_version, data_key.key_id,
                                 *((types[0], versions[0], now, ciphertexts[0], links[0]) if single
                                   else (types, versions, now, ciphertexts, links)), link)
        create = expected_version == 0
        sql = _APPEND_SQL[(create, single)]
        args = (*args, wrapped.kek_id, wrapped.wrapped) if create else (*args, head.chain_hash)
        executor = connection or self._pool
        try:
            rows = await executor.fetch(sql, *args)
        except asyncpg.UniqueViolationError as error:
            raise ConcurrencyConflict(stream, expected_version) from error
        except asyncpg.PostgresError as error:
            if error.sqlstate == "HV001":
                raise AppendOrderError(str(error)) from error
            raise
        if not rows:
            self._heads.pop((tenant_id, stream), None)
            if _trust_cache and expected_version > 0:
                # Our remembered head may be stale (an append whose transaction rolled back):
                # try once more from the stored head before calling it a conflict.
                return await self.append(tenant_id, stream_id, expected_version, events, metadata,
                                         connection=connection, _trust_cache=False)
            await self._explain_refusal(executor, tenant_id, stream_id, expected_version)
        heads = self._heads
        heads.pop((tenant_id, stream), None)  # (re)inserted last: the most recently used
        heads[(tenant_id, stream)] = StreamHead(expected_version + len(events), link)
        if len(heads) > self._head_cache_size:
            del heads[next(iter(heads))]  # the least recently used
        if not known:  # a key that came from the keyring's cache is there already
            self._keyring.remember(tenant_id, stream, data_key)
        if connection is None:
            self.announce()
        if len(rows) > 1:
            rows = sorted(rows, key=lambda row: row[0])
        return AppendResult(rows[-1][0], [LogPosition(row[2], row[1]) for row in rows])

    async def _head(self, connection: Connection | None, tenant_id: str, stream_id: uuid.UUID, stream: str,
                    expected_version: int, trust_cache: bool) -> tuple[StreamHead, DataKey, bool]:
        """The stream's head and data key, from memory when they are known and current; and
        whether the key came from the keyring's cache."""
        head = self._heads.get((tenant_id, stream)) if trust_cache else None
        if head is not None and head.version == expected_version:
            data_key = self._keyring.cached(tenant_id, stream)
            if data_key is not None:
                return head, data_key, True
        row = await (connection or self._pool).fetchrow(_STREAM_SQL, tenant_id, stream_id)
        if row is None or row["version"] != expected_version:
            raise ConcurrencyConflict(stream, expected_version)
        if row["wrapped_key"] is None:
            raise StreamErased(stream)
        try:
            data_key = self._keyring.unwrap(
                tenant_id, stream, WrappedDataKey(row["key_id"], row["kek_id"], row["wrapped_key"]))
        except DecryptionError as error:
            raise TamperDetected(f"the data key of stream {stream} does not unwrap") from error
        return StreamHead(row["version"], row["head_hash"]), data_key, False

    async def _explain_refusal(self, executor: Any, tenant_id: str, stream_id: uuid.UUID, expected: int) -> NoReturn:
        row = await executor.fetchrow(_STREAM_SQL, tenant_id, stream_id)
        if row is not None and row["wrapped_key"] is None:
            self._keyring.forget(tenant_id, str(stream_id))
            raise StreamErased(str(stream_id))
        raise ConcurrencyConflict(str(stream_id), expected)

    # -- waking subscribers ----------------------------------------------------------

    def announce(self) -> None:
        """Wake subscribers (NOTIFY) soon, outside the appending transaction.

        NOTIFY inside the append would hold PostgreSQL's notification-queue lock through every
        commit, serialising all writers; notifications are only hints (subscribers also poll),
        so one coalesced NOTIFY after commits is enough. Call this after committing a
        transaction that appended through `connection=`; `transaction()` does it for you.
        """
        self._announce.set()
        if self._announcer is None or self._announcer.done():
            self._announcer = asyncio.get_running_loop().create_task(self._announce_loop())

    async def _announce_loop(self) -> None:
        while True:
            await self._announce.wait()
            try:
                # One connection for a busy spell: no pool round trip (and its reset query)
                # per notification while appends keep coming.
                async with self._pool.acquire() as conn:
                    while self._announce.is_set():
                        self._announce.clear()
                        await conn.execute(_NOTIFY_SQL, NOTIFY_CHANNEL)
                        # Appends that commit meanwhile share the next notification: each one is
                        # a commit of its own (an XID and a WAL flush), on the appenders' server.
                        await asyncio.sleep(_NOTIFY_GAP)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await asyncio.sleep(0.1)  # subscribers fall back to polling meanwhile

    async def close(self) -> None:
        if self._announcer is not None:
            self._announcer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._announcer

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A unit of work: a connection in a transaction; subscribers are woken after commit."""
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                yield conn
        self.announce()

    async def shred(self, tenant_id: str, stream_id: uuid.UUID, *, connection: Connection | None = None) -> None:
        """Destroy the stream's wrapped data key: its events become unreadable for good.

        The ciphertext and hash chain stay, so `haven verify` still checks them.
        """
        if connection is None:
            async with self.transaction() as conn:
                await self.shred(tenant_id, stream_id, connection=conn)
            return
        await hold_for_erasure(connection, tenant_id, stream_id)  # projectors take turns with it
        sql = """UPDATE haven.streams SET wrapped_key = NULL, shredded_at = now()
                  WHERE tenant_id = $1 AND stream_id = $2 AND wrapped_key IS NOT NULL"""
        status = await connection.execute(sql, tenant_id, stream_id)
        await announce_erasure(connection, tenant_id, stream_id)  # every process drops its copies
        self._keyring.forget(tenant_id, str(stream_id))
        if status == "UPDATE 0":
            exists = await connection.fetchval(
                "SELECT 1 FROM haven.streams WHERE tenant_id = $1 AND stream_id = $2", tenant_id, stream_id)
            if not exists:
                raise StreamNotFound(str(stream_id))

    # -- reading a stream ------------------------------------------------------------

    async def read_stream(
        self, tenant_id: str, stream_id: uuid.UUID, *, connection: Connection | None = None
    ) -> list[RecordedEvent]:
        """Every event of the stream in version order, chain and tags verified.

        Raises `StreamNotFound` (also for another organisation's stream), `StreamErased`, or
        `TamperDetected`.
        """
        joined = await (connection or self._pool).fetch(_READ_STREAM_SQL, tenant_id, stream_id)
        if not joined:
            raise StreamNotFound(str(stream_id))
        version, head_hash, key_id, kek_id, wrapped_key = joined[0][:5]
        rows = [row[5:] for row in joined] if joined[0][5] is not None else []  # as EVENT_COLUMNS
        stream = str(stream_id)
        if wrapped_key is None:
            raise StreamErased(stream)
        try:
            data_key = self._keyring.unwrap(tenant_id, stream, WrappedDataKey(key_id, kek_id, wrapped_key))
        except DecryptionError as error:
            raise TamperDetected(f"the data key of stream {stream} does not unwrap") from error
        link = GENESIS
        headers = []
        for expected, row in enumerate(rows, start=1):
            _, _, row_version, _, _, event_type, schema_version, row_key_id, recorded_at, ciphertext, chain_hash = row
            if row_version != expected:
                raise TamperDetected(f"stream {stream} has a gap before version {row_version}")
            header = event_header(tenant_id, stream, row_version, event_type, schema_version, row_key_id,
                                  to_microseconds(recorded_at))
            link = next_link(link, header, ciphertext)
            if link != chain_hash:
                raise TamperDetected(f"stream {stream} breaks its hash chain at version {expected}")
            headers.append(header)
        if len(rows) != version or link != head_hash:
            raise TamperDetected(f"stream {stream} does not end at its recorded head")
        self._heads.pop((tenant_id, stream), None)
        self._heads[(tenant_id, stream)] = StreamHead(version, head_hash)
        if len(self._heads) > self._head_cache_size:
            del self._heads[next(iter(self._heads))]
        return self._open_rows(rows, {(tenant_id, stream_id): data_key}, headers)

    async def stream_version(self, tenant_id: str, stream_id: uuid.UUID) -> int:
        """The stream's current version, 0 when it does not exist."""
        version = await self._pool.fetchval(
            "SELECT version FROM haven.streams WHERE tenant_id = $1 AND stream_id = $2", tenant_id, stream_id)
        return version or 0

    def _open_rows(self, rows: list[Any], keys: dict[tuple[str, Any], DataKey | None],
                   headers: list[bytes] | None = None) -> list[RecordedEvent]:
        """Decrypt and decode rows selected as EVENT_COLUMNS. The hot path of every reader.

        Rows are unpacked by position. Consecutive rows usually share a stream (an append of
        several events) and a timestamp (one append): the stream's key, name and decryptor and
        the append's microseconds are worked out when they change, by cheap equality tests
        instead of hashing each row's UUID and datetime. Every row is still checked, opened
        with its own header and decoded.
        """
        decoders: dict[tuple[str, int], Callable[[bytes], tuple[EventMetadata, DomainEvent]]] = {}
        new_position = tuple.__new__
        encode = encode_header
        opened: list[RecordedEvent] = []
        append = opened.append
        last_tenant: Any = None
        last_stream: Any = None
        last_recorded: Any = None
        last_type: Any = None
        last_schema = -1
        name = expected_key = ""
        us = 0
        decrypt: Callable[[bytes, bytes, bytes], bytes] | None = None
        decode: Callable[[bytes], tuple[EventMetadata, DomainEvent]] | None = None
        version: Any = None
        stream_id: Any = None
        try:
            for index, row in enumerate(rows):
                tenant, stream_id, version, txid, position, event_type, schema_version, key_id, recorded_at, \
                    ciphertext, _ = row
                if stream_id != last_stream or tenant != last_tenant:
                    data_key = keys[(tenant, stream_id)]
                    last_tenant, last_stream = tenant, stream_id
                    if data_key is None:
                        decrypt = None
                    else:
                        expected_key, decrypt = data_key.key_id, data_key.aead.decryptor
                        name = str(stream_id)
                if decrypt is None:
                    append(RecordedEvent(tenant, stream_id, version, new_position(LogPosition, (txid, position)),
                                         recorded_at, event_type, None, None))
                    continue
                if key_id != expected_key:
                    raise TamperDetected(f"event {version} of stream {stream_id} names another key")
                if headers is not None:
                    header = headers[index]
                else:
                    if recorded_at != last_recorded:
                        us = (recorded_at - EPOCH) // ONE_MICROSECOND
                        last_recorded = recorded_at
                    header = encode((HEADER_LABEL, tenant, name, version, event_type, schema_version, key_id, us))
                if len(ciphertext) < OVERHEAD or ciphertext[0] != FORMAT_VERSION:
                    raise AuthenticationFailed
                plaintext = decrypt(ciphertext[1:NONCE_END], ciphertext[NONCE_END:], header)
                if event_type != last_type or schema_version != last_schema:
                    decode = decoders.get((event_type, schema_version))
                    if decode is None:
                        decode = decoders[(event_type, schema_version)] = self._registry.decoder(
                            event_type, schema_version)
                    last_type, last_schema = event_type, schema_version
                metadata, event = decode(plaintext)  # type: ignore[misc]
                append(RecordedEvent(tenant, stream_id, version, new_position(LogPosition, (txid, position)),
                                     recorded_at, event_type, event, metadata))
        except AuthenticationFailed:
            error = DecryptionError()
            raise TamperDetected(f"event {version} of stream {stream_id} fails authentication") from error
        return opened

    # -- reading the global log ------------------------------------------------------

    async def read_all(
        self, after: LogPosition = LOG_START, limit: int = 1000, *, precise: bool = False
    ) -> list[RecordedEvent]:
        """Up to `limit` events after `after`, in log order (see `events.log_order`).

        Events of erased streams come with `event=None`. `precise=True` computes the horizon
        from the append lock instead of the oldest running transaction (slower; used by
        subscribers held back by an unrelated long transaction).
        """
        rows, keys = await self._log_batch(after, limit, precise)
        return self._open_rows(rows, keys)

    async def read_all_batches(
        self, after: LogPosition = LOG_START, batch_size: int = 1000
    ) -> AsyncIterator[list[RecordedEvent]]:
        """The log from `after` up to the current horizon, in batches — for catching up."""
        async with contextlib.aclosing(self._prefetched(
                lambda position: self._log_batch(position, batch_size), after,
                lambda row: LogPosition(row[3], row[4]), batch_size)) as batches:
            async for batch in batches:
                yield batch

    async def _prefetched(
        self,
        fetch: Callable[[Any], Awaitable[tuple[list[Any], dict[tuple[str, Any], DataKey | None]]]],
        start: Any,
        cursor: Callable[[Any], Any],
        batch_size: int,
    ) -> AsyncIterator[list[RecordedEvent]]:
        """Pages of rows from `fetch(after)` (`after` = `start`, then `cursor(last row)`),
        opened. The next page, and the data keys of its streams, are fetched (on another
        connection) while this one is decrypted, so the database and the decryption work
        side by side instead of taking turns. A short page is the last."""
        pending: asyncio.Future[tuple[list[Any], dict[tuple[str, Any], DataKey | None]]] | None = (
            asyncio.ensure_future(fetch(start)))
        try:
            while pending is not None:
                rows, keys = await pending
                pending = None
                if not rows:
                    return
                if len(rows) == batch_size:
                    pending = asyncio.ensure_future(fetch(cursor(rows[-1])))
                yield self._open_rows(rows, keys)
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending

    async def read_stream_range_batches(
        self, tenant_id: str, first: uuid.UUID, end: uuid.UUID | None, below: int, batch_size: int = 1000
    ) -> AsyncIterator[list[RecordedEvent]]:
        """Every event of the tenant's streams with ids in [first, end) (no upper bound when
        `end` is None) recorded by transactions below `below` (an xid8 that every running
        transaction is above, such as an earlier `log_horizon()`), in stream and version
        order, in batches, the next one fetched while this one is decrypted. Erased streams'
        events come with `event=None`."""
        async def page(after: tuple[uuid.UUID, int]) -> tuple[list[Any], dict[tuple[str, Any], DataKey | None]]:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(_READ_STREAM_RANGE_SQL, tenant_id, *after, end, below, batch_size)
                return rows, (await self._keys_for(conn, rows) if rows else {})

        async with contextlib.aclosing(self._prefetched(page, (first, 0), lambda row: (row[1], row[2]),
                                                        batch_size)) as batches:
            async for batch in batches:
                yield batch

    async def log_horizon(self) -> int:
        """The oldest running transaction's xid (xid8): every transaction below it has ended,
        so the events below it will never change (`read_stream_range_batches`), and the log
        from `LogPosition(horizon, 0)` on holds everything else."""
        return int(await self._pool.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())"))

    async def last_position_below(self, horizon: int) -> LogPosition:
        """The log position of the latest event below `horizon` (`LOG_START` if none)."""
        row = await self._pool.fetchrow(
            "SELECT transaction_id, position FROM haven.events WHERE transaction_id < $1::xid8"
            " ORDER BY transaction_id DESC, position DESC LIMIT 1", horizon)
        return LOG_START if row is None else LogPosition(int(row[0]), row[1])

    async def tenants(self) -> list[str]:
        """Every tenant that has a stream."""
        return [row[0] for row in await self._pool.fetch("SELECT DISTINCT tenant_id FROM haven.streams ORDER BY 1")]

    async def has_events_after(self, after: LogPosition) -> bool:
        """Whether any committed event lies beyond `after`, whatever the horizon says."""
        return await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM haven.events WHERE (transaction_id, position) > ($1::xid8, $2::bigint))",
            after.transaction_id, after.position)

    async def _log_batch(self, after: LogPosition, limit: int, precise: bool = False
                         ) -> tuple[list[Any], dict[tuple[str, Any], DataKey | None]]:
        """Up to `limit` rows of the log after `after`, and the data keys of their streams
        (None: erased), on one connection."""
        async with self._pool.acquire() as conn:
            if precise:
                horizon = await conn.fetchval(PRECISE_HORIZON_SQL)
                rows = await conn.fetch(_READ_ALL_BELOW_SQL, after.transaction_id, after.position, horizon, limit)
            else:
                rows = await conn.fetch(_READ_ALL_FAST_SQL, after.transaction_id, after.position, limit)
            return rows, (await self._keys_for(conn, rows) if rows else {})

    async def _keys_for(self, conn: Connection | asyncpg.Pool, rows: list[Any]) -> dict[tuple[str, Any], DataKey | None]:
        keys: dict[tuple[str, Any], DataKey | None] = {}
        missing: list[tuple[str, Any]] = []
        streams: dict[tuple[str, Any], str] = {}
        last_tenant = last_stream = None
        for row in rows:  # each stream once; consecutive rows mostly share one, and == is cheaper than hash
            tenant, stream_id = row[0], row[1]
            if stream_id != last_stream or tenant != last_tenant:
                streams[(tenant, stream_id)] = row[7]  # every row's key id is checked when it is opened
                last_tenant, last_stream = tenant, stream_id
        for ident, key_id in streams.items():
            cached = self._keyring.cached(ident[0], str(ident[1]))
            keys[ident] = cached
            if cached is None or cached.key_id != key_id:
                missing.append(ident)
        trusted = [ident for ident in streams if keys[ident] is not None and ident not in missing]
        if trusted:  # a cached key is used only while its stream still holds it (`events.erasure`)
            for tenant_id, stream_id in await conn.fetch(
                    _ERASED_AMONG_SQL, [t[0] for t in trusted], [t[1] for t in trusted]):
                keys[(tenant_id, stream_id)] = None
                self._keyring.forget(tenant_id, str(stream_id))
        if missing:
            found = await conn.fetch(_WRAPPED_KEYS_SQL, [m[0] for m in missing], [m[1] for m in missing])
            if len(found) != len(missing):
                raise TamperDetected("events exist for a stream that has no head")
            for tenant_id, stream_id, key_id, kek_id, wrapped_key in found:
                if wrapped_key is None:
                    keys[(tenant_id, stream_id)] = None
                    continue
                try:
                    keys[(tenant_id, stream_id)] = self._keyring.unwrap(
                        tenant_id, str(stream_id), WrappedDataKey(key_id, kek_id, wrapped_key))
                except DecryptionError as error:
                    raise TamperDetected(f"the data key of stream {stream_id} does not unwrap") from error
        return keys


def header_of(row: Any) -> bytes:
    return event_header(
        row["tenant_id"], str(row["stream_id"]), row["version"], row["event_type"],
        row["schema_version"], row["key_id"], to_microseconds(row["recorded_at"]),
    )
