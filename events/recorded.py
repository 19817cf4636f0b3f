"""Events as the store records them: the columns of an event's row, and the `RecordedEvent`
a reader gets back from one.

Every reader selects `EVENT_COLUMNS` and hands the rows to `open_rows`, the hot path of
reading: it opens each row's sealed event and decodes the plaintext.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import asyncpg
import msgspec

from crypto.aead import FORMAT_VERSION, NONCE_END, OVERHEAD, AuthenticationFailed
from crypto.envelope import LABEL as HEADER_LABEL
from crypto.envelope import encode_header, event_header
from crypto.errors import DecryptionError
from crypto.keyring import DataKey
from domain.event import DomainEvent, EventMetadata
from events.errors import TamperDetected
from events.log_order import LogPosition
from events.registry import EventRegistry

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ONE_MICROSECOND = dt.timedelta(microseconds=1)

EVENT_COLUMNS = """tenant_id, stream_id, version, transaction_id, position, event_type,
    schema_version, key_id, recorded_at, ciphertext, chain_hash"""

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


def to_microseconds(moment: dt.datetime) -> int:
    return (moment - EPOCH) // ONE_MICROSECOND


def header_of(row: Any) -> bytes:
    """The envelope header of a row selected by column name (as `EVENT_COLUMNS`)."""
    return event_header(
        row["tenant_id"],
        str(row["stream_id"]),
        row["version"],
        row["event_type"],
        row["schema_version"],
        row["key_id"],
        to_microseconds(row["recorded_at"]),
    )


def open_rows(
    registry: EventRegistry,
    rows: list[Any],
    keys: StreamKeys,
    headers: list[bytes] | None = None,
) -> list[RecordedEvent]:
    """Decrypt and decode rows selected as `EVENT_COLUMNS`, every one checked; `headers`,
    when given, are the rows' envelope headers, built already.

    Rows are unpacked by position. Consecutive rows usually share a stream (an append of
    several events) and a timestamp (one append): the stream's key, name and decryptor and
    the append's microseconds are worked out when they change, by cheap equality tests
    instead of hashing each row's UUID and datetime.
    """
    decoders: dict[tuple[str, int], Callable[[bytes], tuple[EventMetadata, DomainEvent]]] = {}
    new_position = tuple.__new__
    encode = encode_header
    opened: list[RecordedEvent] = []
    append = opened.append
    last_tenant: Any = None
    last_stream: Any = None
    last_at: Any = None
    last_kind: Any = None
    last_schema = -1
    name = expected_key = ""
    us = 0
    decrypt: Callable[[bytes, bytes, bytes], bytes] | None = None
    decode: Callable[[bytes], tuple[EventMetadata, DomainEvent]] | None = None
    version: Any = None
    stream_id: Any = None
    try:
        for index, row in enumerate(rows):
            tenant, stream_id, version, txid, pos, kind, schema, key_id, at, sealed, _ = row
            if stream_id != last_stream or tenant != last_tenant:
                data_key = keys[(tenant, stream_id)]
                last_tenant, last_stream = tenant, stream_id
                if data_key is None:
                    decrypt = None
                else:
                    expected_key, decrypt = data_key.key_id, data_key.aead.decryptor
                    name = str(stream_id)
            where = new_position(LogPosition, (txid, pos))
            if decrypt is None:
                append(RecordedEvent(tenant, stream_id, version, where, at, kind, None, None))
                continue
            if key_id != expected_key:
                raise TamperDetected(f"event {version} of stream {stream_id} names another key")
            if headers is not None:
                header = headers[index]
            else:
                if at != last_at:
                    us = (at - EPOCH) // ONE_MICROSECOND
                    last_at = at
                header = encode((HEADER_LABEL, tenant, name, version, kind, schema, key_id, us))
            if len(sealed) < OVERHEAD or sealed[0] != FORMAT_VERSION:
                raise AuthenticationFailed
            plaintext = decrypt(sealed[1:NONCE_END], sealed[NONCE_END:], header)
            if kind != last_kind or schema != last_schema:
                decode = decoders.get((kind, schema))
                if decode is None:
                    decode = decoders[(kind, schema)] = registry.decoder(kind, schema)
                last_kind, last_schema = kind, schema
            metadata, event = decode(plaintext)  # type: ignore[misc]
            append(RecordedEvent(tenant, stream_id, version, where, at, kind, event, metadata))
    except AuthenticationFailed:
        error = DecryptionError()
        problem = f"event {version} of stream {stream_id} fails authentication"
        raise TamperDetected(problem) from error
    return opened
