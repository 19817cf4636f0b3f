"""The PostgreSQL event store: sealed, hash-chained, optimistically concurrent.

Write path (one round trip, `haven.append_events` in the 0001 migration): each event is
msgspec-encoded with its metadata, sealed with the stream's data key (AES-256-GCM, the
header of `crypto.envelope.event_header` as associated data), then the database checks the
expected version, extends the stream's hash chain, inserts the rows, moves the stream head
and notifies subscribers — atomically, in the caller's transaction if one is given.

Read path: `read_stream` checks versions, the hash chain and the head anchor, then opens
every event; `read_all` reads the global log in the order described in `events.log_order`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import asyncpg
import msgspec

from crypto.chain import GENESIS, next_link
from crypto.envelope import event_header
from crypto.errors import DecryptionError
from crypto.keyring import DataKey, Keyring, WrappedDataKey
from domain.event import DomainEvent, EventMetadata
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


_APPEND_SQL = "SELECT version, position, transaction_id FROM haven.append_events($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"

EVENT_COLUMNS = """tenant_id, stream_id, version, transaction_id, position, event_type,
    schema_version, key_id, recorded_at, ciphertext, chain_hash"""

_READ_STREAM_SQL = f"""
SELECT {EVENT_COLUMNS} FROM haven.events
 WHERE tenant_id = $1 AND stream_id = $2 ORDER BY version"""

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

_WRAPPED_KEYS_SQL = """
SELECT s.tenant_id, s.stream_id, s.key_id, s.kek_id, s.wrapped_key
  FROM haven.streams s JOIN unnest($1::text[], $2::uuid[]) AS w(tenant_id, stream_id)
    ON s.tenant_id = w.tenant_id AND s.stream_id = w.stream_id"""

_SQLSTATE_ERRORS = {"HV409": "conflict", "HV410": "erased", "HV412": "conflict", "HV001": "order"}


class PostgresEventStore:
    def __init__(
        self,
        pool: asyncpg.Pool,
        keyring: Keyring,
        registry: EventRegistry,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._pool = pool
        self._keyring = keyring
        self._registry = registry
        self._clock = clock

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
        else:
            data_key = await self._data_key(connection, tenant_id, stream_id, expected_version)
            wrapped = WrappedDataKey(data_key.key_id, "", b"")
        now = self._clock()
        recorded_at_us = to_microseconds(now)
        types, versions, headers, ciphertexts = [], [], [], []
        for offset, event in enumerate(events, start=1):
            tag, schema_version, plaintext = self._registry.encode(event, metadata)
            header = event_header(tenant_id, stream, expected_version + offset, tag, schema_version,
                                  data_key.key_id, recorded_at_us)
            types.append(tag)
            versions.append(schema_version)
            headers.append(header)
            ciphertexts.append(data_key.aead.seal(plaintext, header))
        args = (tenant_id, stream_id, expected_version, data_key.key_id, wrapped.kek_id,
                wrapped.wrapped or None, types, versions, [now] * len(events), headers, ciphertexts)
        try:
            if connection is None:
                rows = await self._pool.fetch(_APPEND_SQL, *args)
            else:
                rows = await connection.fetch(_APPEND_SQL, *args)
        except asyncpg.UniqueViolationError as error:
            raise ConcurrencyConflict(stream, expected_version) from error
        except asyncpg.PostgresError as error:
            kind = _SQLSTATE_ERRORS.get(error.sqlstate or "")
            if kind == "conflict":
                self._keyring.forget(tenant_id, stream)
                raise ConcurrencyConflict(stream, expected_version) from error
            if kind == "erased":
                self._keyring.forget(tenant_id, stream)
                raise StreamErased(stream) from error
            if kind == "order":
                raise AppendOrderError(str(error)) from error
            raise
        self._keyring.remember(tenant_id, stream, data_key)
        rows = sorted(rows, key=lambda row: row[0])
        return AppendResult(rows[-1][0], [LogPosition(row[2], row[1]) for row in rows])

    async def shred(self, tenant_id: str, stream_id: uuid.UUID, *, connection: Connection | None = None) -> None:
        """Destroy the stream's wrapped data key: its events become unreadable for good.

        The ciphertext and hash chain stay, so `haven verify` still checks them.
        """
        sql = """UPDATE haven.streams SET wrapped_key = NULL, shredded_at = now()
                  WHERE tenant_id = $1 AND stream_id = $2 AND wrapped_key IS NOT NULL"""
        executor = connection or self._pool
        status = await executor.execute(sql, tenant_id, stream_id)
        self._keyring.forget(tenant_id, str(stream_id))
        if status == "UPDATE 0":
            exists = await executor.fetchval(
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
        if connection is None:
            async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                head, rows = await self._fetch_stream(conn, tenant_id, stream_id)
        else:
            head, rows = await self._fetch_stream(connection, tenant_id, stream_id)
        if head is None:
            raise StreamNotFound(str(stream_id))
        version, head_hash, key_id, kek_id, wrapped_key = head
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
            if row["version"] != expected:
                raise TamperDetected(f"stream {stream} has a gap before version {row['version']}")
            header = header_of(row)
            link = next_link(link, header, row["ciphertext"])
            if link != row["chain_hash"]:
                raise TamperDetected(f"stream {stream} breaks its hash chain at version {expected}")
            headers.append(header)
        if len(rows) != version or link != head_hash:
            raise TamperDetected(f"stream {stream} does not end at its recorded head")
        return self._open_rows(rows, lambda tenant, stream: data_key, headers)

    async def _fetch_stream(self, conn: Connection, tenant_id: str, stream_id: uuid.UUID) -> tuple[Any, list[Any]]:
        head = await conn.fetchrow(_STREAM_SQL, tenant_id, stream_id)
        rows = await conn.fetch(_READ_STREAM_SQL, tenant_id, stream_id) if head is not None else []
        return head, rows

    async def stream_version(self, tenant_id: str, stream_id: uuid.UUID) -> int:
        """The stream's current version, 0 when it does not exist."""
        version = await self._pool.fetchval(
            "SELECT version FROM haven.streams WHERE tenant_id = $1 AND stream_id = $2", tenant_id, stream_id)
        return version or 0

    async def _data_key(
        self, connection: Connection | None, tenant_id: str, stream_id: uuid.UUID, expected_version: int
    ) -> DataKey:
        stream = str(stream_id)
        cached = self._keyring.cached(tenant_id, stream)
        if cached is not None:
            return cached
        row = await (connection or self._pool).fetchrow(_STREAM_SQL, tenant_id, stream_id)
        if row is None:
            raise ConcurrencyConflict(stream, expected_version)
        if row["wrapped_key"] is None:
            raise StreamErased(stream)
        try:
            return self._keyring.unwrap(tenant_id, stream, WrappedDataKey(row["key_id"], row["kek_id"], row["wrapped_key"]))
        except DecryptionError as error:
            raise TamperDetected(f"the data key of stream {stream} does not unwrap") from error

    def _open_rows(self, rows: list[Any], keys: Callable[[str, Any], DataKey | None],
                   headers: list[bytes] | None = None) -> list[RecordedEvent]:
        """Decrypt and decode rows selected as EVENT_COLUMNS. The hot path of every reader:
        rows are unpacked by position, and per-stream strings and per-append timestamps are
        converted once."""
        decode = self._registry.decode
        stream_names: dict[Any, str] = {}
        microseconds: dict[dt.datetime, int] = {}
        opened = []
        for index, row in enumerate(rows):
            tenant, stream_id, version, txid, position, event_type, schema_version, key_id, recorded_at, \
                ciphertext, _ = row
            data_key = keys(tenant, stream_id)
            event = metadata = None
            if data_key is not None:
                if data_key.key_id != key_id:
                    raise TamperDetected(f"event {version} of stream {stream_id} names another key")
                if headers is not None:
                    header = headers[index]
                else:
                    name = stream_names.get(stream_id) or stream_names.setdefault(stream_id, str(stream_id))
                    us = microseconds.get(recorded_at)
                    if us is None:
                        us = microseconds[recorded_at] = to_microseconds(recorded_at)
                    header = event_header(tenant, name, version, event_type, schema_version, key_id, us)
                try:
                    plaintext = data_key.aead.open(ciphertext, header)
                except DecryptionError as error:
                    raise TamperDetected(f"event {version} of stream {stream_id} fails authentication") from error
                event, metadata = decode(event_type, schema_version, plaintext)
            opened.append(RecordedEvent(tenant, stream_id, version, LogPosition(txid, position), recorded_at,
                                        event_type, event, metadata))
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
        async with self._pool.acquire() as conn:
            if precise:
                horizon = await conn.fetchval(PRECISE_HORIZON_SQL)
                rows = await conn.fetch(_READ_ALL_BELOW_SQL, after.transaction_id, after.position, horizon, limit)
            else:
                rows = await conn.fetch(_READ_ALL_FAST_SQL, after.transaction_id, after.position, limit)
            keys = await self._keys_for(conn, rows)
        return self._open_rows(rows, lambda tenant, stream: keys[(tenant, stream)])

    async def _keys_for(self, conn: Connection, rows: list[Any]) -> dict[tuple[str, Any], DataKey | None]:
        keys: dict[tuple[str, Any], DataKey | None] = {}
        missing: list[tuple[str, Any]] = []
        for row in rows:
            ident = (row[0], row[1])
            if ident in keys:
                continue
            cached = self._keyring.cached(ident[0], str(ident[1]))
            keys[ident] = cached
            if cached is None or cached.key_id != row[7]:
                missing.append(ident)
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
