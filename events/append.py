"""Appending to a stream: seal each event, link it into the stream's hash chain, and write
them all at once, only if the stream is still where the writer found it.

Each event is msgspec-encoded with its metadata and sealed with the stream's data key, its
envelope header (`crypto.envelope`) as associated data. The write (`events.append_statements`)
takes the append lock, moves the stream head and inserts the rows atomically: in the caller's
transaction if one is given, otherwise through the group commit (`events.committer`), which
shares one statement and one commit among concurrent callers. Heads this process has seen are
remembered, so an append usually needs no read first.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, NoReturn

import asyncpg

from crypto.chain import GENESIS, next_link
from crypto.envelope import event_header
from crypto.keyring import DataKey, Keyring
from domain.event import DomainEvent, EventMetadata
from events.append_statements import SealedAppend, write_one
from events.committer import Committer
from events.errors import AppendOrderError, ConcurrencyConflict, StreamErased
from events.log_order import LogPosition
from events.recorded import Connection, StreamHead
from events.registry import EventRegistry
from events.stream_keys import unwrap_stream_key


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AppendResult(NamedTuple):
    version: int
    positions: list[LogPosition]


_STREAM_SQL = """
SELECT version, head_hash, key_id, kek_id, wrapped_key FROM haven.streams
 WHERE tenant_id = $1 AND stream_id = $2"""


class Appender:
    def __init__(
        self,
        pool: asyncpg.Pool,
        keyring: Keyring,
        registry: EventRegistry,
        *,
        clock: Callable[[], dt.datetime],
        head_cache_size: int,
        announce: Callable[[], None],
        committer: Committer,
    ) -> None:
        self._pool = pool
        self._committer = committer
        self._keyring = keyring
        self._registry = registry
        self._clock = clock
        self._announce = announce
        # Stream heads this process has seen (read or written): an append extends the chain
        # from here without reading the head first. A stale entry only costs a conflict.
        # A dict in least-recently-written order (cheaper than an LRUCache on every append).
        self._heads: dict[tuple[str, str], StreamHead] = {}
        self._head_cache_size = head_cache_size

    def remember(self, tenant_id: str, stream: str, head: StreamHead) -> None:
        """Remember the stream's head as the most recently used."""
        heads = self._heads
        heads.pop((tenant_id, stream), None)  # (re)inserted last: the most recently used
        heads[(tenant_id, stream)] = head
        if len(heads) > self._head_cache_size:
            del heads[next(iter(heads))]  # the least recently used

    async def append(
        self,
        tenant_id: str,
        stream_id: uuid.UUID,
        expected_version: int,
        events: Sequence[DomainEvent],
        metadata: EventMetadata,
        connection: Connection | None,
        trust_cache: bool,
    ) -> AppendResult:
        if not events:
            raise ValueError("append needs at least one event")
        if expected_version < 0:
            raise ValueError("expected_version must be >= 0")
        stream = str(stream_id)
        wrapped = None
        if expected_version == 0:
            data_key, wrapped = self._keyring.create(tenant_id, stream)
            head, known = StreamHead(0, GENESIS), False
        else:
            head, data_key, known = await self._head(
                connection, tenant_id, stream_id, stream, expected_version, trust_cache
            )
        now = self._clock()
        key_id = data_key.key_id
        types, versions, ciphertexts, links = [], [], [], []
        link = head.chain_hash
        for version, event in enumerate(events, start=expected_version + 1):
            tag, schema_version, plaintext = self._registry.encode(event, metadata)
            header = event_header(tenant_id, stream, version, tag, schema_version, key_id, now)
            ciphertext = data_key.aead.seal(plaintext, header)
            link = next_link(link, header, ciphertext)
            types.append(tag)
            versions.append(schema_version)
            ciphertexts.append(ciphertext)
            links.append(link)
        sealed = SealedAppend(
            tenant_id,
            stream_id,
            expected_version,
            key_id,
            now,
            types,
            versions,
            ciphertexts,
            links,
            previous_hash=None if wrapped else head.chain_hash,
            kek_id=wrapped.kek_id if wrapped else None,
            wrapped_key=wrapped.wrapped if wrapped else None,
        )
        try:
            if connection is None:
                rows = await self._committer.write(sealed)
            else:
                rows = await write_one(connection, sealed)
        except asyncpg.UniqueViolationError as error:
            raise ConcurrencyConflict(stream, expected_version) from error
        except asyncpg.PostgresError as error:
            if error.sqlstate == "HV001":
                raise AppendOrderError(str(error)) from error
            raise
        if not rows:
            self._heads.pop((tenant_id, stream), None)
            if trust_cache and expected_version > 0:
                # Our remembered head may be stale (an append whose transaction rolled back):
                # try once more from the stored head before calling it a conflict.
                return await self.append(
                    tenant_id, stream_id, expected_version, events, metadata, connection, False
                )
            await self._explain_refusal(
                connection or self._pool, tenant_id, stream_id, expected_version
            )
        self.remember(tenant_id, stream, StreamHead(expected_version + len(events), link))
        if not known:  # a key that came from the keyring's cache is there already
            self._keyring.remember(tenant_id, stream, data_key)
        if connection is None:
            self._announce()
        return AppendResult(rows[-1][0], [LogPosition(row[2], row[1]) for row in rows])

    async def _head(
        self,
        connection: Connection | None,
        tenant_id: str,
        stream_id: uuid.UUID,
        stream: str,
        expected_version: int,
        trust_cache: bool,
    ) -> tuple[StreamHead, DataKey, bool]:
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
        data_key = unwrap_stream_key(
            self._keyring, tenant_id, stream, row["key_id"], row["kek_id"], row["wrapped_key"]
        )
        return StreamHead(row["version"], row["head_hash"]), data_key, False

    async def _explain_refusal(
        self, executor: Any, tenant_id: str, stream_id: uuid.UUID, expected: int
    ) -> NoReturn:
        row = await executor.fetchrow(_STREAM_SQL, tenant_id, stream_id)
        if row is not None and row["wrapped_key"] is None:
            self._keyring.forget(tenant_id, str(stream_id))
            raise StreamErased(str(stream_id))
        raise ConcurrencyConflict(str(stream_id), expected)
