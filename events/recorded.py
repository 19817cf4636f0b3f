"""Events as the store records them: the columns of an event's row, and the `RecordedEvent`
a reader gets back from one.

Every reader selects `READ_COLUMNS` and hands the rows to `open_rows`, the hot path of
reading: it opens each row's envelope (`crypto.envelope`) and decodes the plaintext.
`READ_COLUMNS` are `EVENT_COLUMNS` without the chain hash (only a stream's read checks the
chain, and selects it apart), and with the stream id and the recorded-at time in PostgreSQL's
binary form (`uuid_send`: 16 bytes; `timestamptz_send`: 8 bytes, big-endian microseconds
since 2000-01-01 UTC). Consecutive rows mostly share both (one append), so a row's UUID and
datetime are built only when they change from the row before: building them for every row,
as asyncpg does for those column types, costs more than the rest of the row's decoding.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import asyncpg
import msgspec
from asyncpg.pgproto.pgproto import UUID as AsyncpgUUID

from crypto.aead import FORMAT_VERSION, NONCE_END, OVERHEAD, AuthenticationFailed
from crypto.envelope import (
    LABEL,
    EnvelopeRejected,
    encode_header,
    event_header,
    header_microseconds,
)
from crypto.keyring import DataKey
from domain.event import DomainEvent, EventMetadata
from events.errors import TamperDetected
from events.log_order import LogPosition
from events.registry import EventRegistry

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

EVENT_COLUMNS = """tenant_id, stream_id, version, transaction_id, position, event_type,
    schema_version, key_id, recorded_at, ciphertext, chain_hash"""


_IN_BINARY_FORM = {"stream_id": "uuid_send", "recorded_at": "timestamptz_send"}


def read_columns(table: str = "") -> str:
    """`EVENT_COLUMNS` as readers select them (no chain hash; the stream id and recorded-at
    time in binary form), each qualified with `table` if given."""
    prefix = f"{table}." if table else ""
    return ", ".join(
        f"{_IN_BINARY_FORM[name]}({prefix}{name})" if name in _IN_BINARY_FORM else prefix + name
        for name in (column.strip() for column in EVENT_COLUMNS.split(","))
        if name != "chain_hash"
    )


READ_COLUMNS = read_columns()

_POSTGRES_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

# The stream id of a row selected as `READ_COLUMNS`, from its binary form: asyncpg's own UUID
# type (a `uuid.UUID`), the one it gives for a uuid column, built from the 16 bytes.
stream_id_of: Callable[[bytes], uuid.UUID] = AsyncpgUUID


def recorded_time(wire: bytes) -> dt.datetime:
    """The recorded-at time of a row selected as `READ_COLUMNS`, from its binary form."""
    try:
        since = dt.timedelta(microseconds=int.from_bytes(wire, "big", signed=True))
        return _POSTGRES_EPOCH + since
    except OverflowError:  # +-infinity, which no append writes
        raise TamperDetected("an event has a recorded-at time out of range") from None


# The data key of each (tenant, stream) among some rows; None: the stream was erased.
StreamKeys = dict[tuple[str, Any], DataKey | None]


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


class StreamHead(NamedTuple):
    version: int
    chain_hash: bytes


def header_of(row: Any) -> bytes:
    """The envelope header of a row selected by column name (as `EVENT_COLUMNS`)."""
    return event_header(
        row["tenant_id"],
        row["stream_id"],
        row["version"],
        row["event_type"],
        row["schema_version"],
        row["key_id"],
        row["recorded_at"],
    )


def open_rows(registry: EventRegistry, rows: list[Any], keys: StreamKeys) -> list[RecordedEvent]:
    """Open and decode rows selected as `READ_COLUMNS`, every one checked.

    Rows are unpacked by position. Consecutive rows usually share a stream (an append of
    several events), an event type and a recorded-at time: the stream's key, the type's
    decoder and the time's datetime are looked up when they change, by cheap equality tests
    instead of hashing each row's UUID. Each event is opened as `crypto.envelope.opener`
    opens it, inline: the key id it names must be its stream's, and its sealed bytes must be
    framed and authenticate under its header.
    """
    decoders: dict[tuple[str, int], Callable[[bytes], tuple[EventMetadata, DomainEvent]]] = {}
    new_position = tuple.__new__
    opened: list[RecordedEvent] = []
    append = opened.append
    last_tenant: Any = None
    last_stream: Any = None
    last_kind: Any = None
    last_schema = -1
    erased = True
    decrypt: Callable[[bytes, bytes, bytes], bytes] | None = None
    stream_key: Any = None
    stream_text = ""
    decode: Callable[[bytes], tuple[EventMetadata, DomainEvent]] | None = None
    version: Any = None
    stream_id: Any = None
    last_wire: Any = None
    at: Any = None
    us = 0
    try:
        for tenant, stream, version, txid, pos, kind, schema, key_id, wire, sealed in rows:
            if wire != last_wire:
                at, last_wire = recorded_time(wire), wire
                us = header_microseconds(at)
            if stream != last_stream or tenant != last_tenant:
                stream_id = stream_id_of(stream)
                data_key = keys[(tenant, stream_id)]
                last_tenant, last_stream = tenant, stream
                erased = data_key is None
                if data_key is not None:
                    decrypt, stream_key = data_key.aead.decryptor, data_key.key_id
                    stream_text = str(stream_id)
            where = new_position(LogPosition, (txid, pos))
            if erased:
                append(RecordedEvent(tenant, stream_id, version, where, at, kind, None, None))
                continue
            if key_id != stream_key:
                raise EnvelopeRejected("names another key")
            if len(sealed) < OVERHEAD or sealed[0] != FORMAT_VERSION:
                raise EnvelopeRejected("fails authentication")
            header = encode_header((LABEL, tenant, stream_text, version, kind, schema, key_id, us))
            try:
                plaintext = decrypt(sealed[1:NONCE_END], sealed[NONCE_END:], header)  # type: ignore[misc]
            except AuthenticationFailed:
                raise EnvelopeRejected("fails authentication") from None
            if kind != last_kind or schema != last_schema:
                decode = decoders.get((kind, schema))
                if decode is None:
                    decode = decoders[(kind, schema)] = registry.decoder(kind, schema)
                last_kind, last_schema = kind, schema
            metadata, event = decode(plaintext)  # type: ignore[misc]
            append(RecordedEvent(tenant, stream_id, version, where, at, kind, event, metadata))
    except EnvelopeRejected as rejected:
        problem = f"event {version} of stream {stream_id} {rejected.problem}"
        raise TamperDetected(problem) from rejected
    return opened
