"""The PostgreSQL event store: sealed, hash-chained, optimistically concurrent.

`PostgresEventStore` is the one object the rest of Haven holds. It composes the parts, each
in its own module: appending (`events.append`), reading (`events.log_reading`), waking
subscribers (`events.notification`); and it erases a stream's key (`shred`). Appends join
the caller's unit of work when given its connection (`transaction`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Sequence

import asyncpg

from crypto.keyring import Keyring
from domain.event import DomainEvent, EventMetadata
from events.append import Appender, AppendResult, utc_now
from events.committer import DEFAULT_LANES, Committer
from events.erasure import announce_erasure, hold_for_erasure
from events.errors import StreamNotFound
from events.log_order import LOG_START, LogPosition
from events.log_reading import LogReader
from events.notification import Announcer
from events.recorded import Connection, RecordedEvent
from events.registry import EventRegistry

__all__ = ["AppendResult", "Connection", "PostgresEventStore", "RecordedEvent", "utc_now"]


class PostgresEventStore:
    def __init__(
        self,
        pool: asyncpg.Pool,
        keyring: Keyring,
        registry: EventRegistry,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        head_cache_size: int = 100_000,
        commit_lanes: int = DEFAULT_LANES,
    ) -> None:
        self._pool = pool
        self._keyring = keyring
        self._announcer = Announcer(pool)
        self._committer = Committer(pool, lanes=commit_lanes)
        self._appender = Appender(
            pool,
            keyring,
            registry,
            clock=clock,
            head_cache_size=head_cache_size,
            announce=self._announcer.announce,
            committer=self._committer,
        )
        self._log = LogReader(pool, keyring, registry)

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
        and must be that transaction's first write. Without, it commits on its own, sharing
        its commit with concurrent appends (`events.committer`). Raises `ConcurrencyConflict`
        when the stream has moved on or already exists.
        """
        return await self._appender.append(
            tenant_id, stream_id, expected_version, events, metadata, connection, _trust_cache
        )

    def announce(self) -> None:
        """Wake subscribers (NOTIFY) soon, outside the appending transaction.

        Call this after committing a transaction that appended through `connection=`;
        `transaction()` does it for you.
        """
        self._announcer.announce()

    async def close(self) -> None:
        await self._committer.close()
        await self._announcer.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A unit of work: a connection in a transaction; subscribers are woken after commit."""
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                yield conn
        self.announce()

    async def shred(
        self, tenant_id: str, stream_id: uuid.UUID, *, connection: Connection | None = None
    ) -> None:
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
                "SELECT 1 FROM haven.streams WHERE tenant_id = $1 AND stream_id = $2",
                tenant_id,
                stream_id,
            )
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
        head, events = await self._log.read_stream(tenant_id, stream_id, connection)
        self._appender.remember(tenant_id, str(stream_id), head)
        return events

    async def stream_version(self, tenant_id: str, stream_id: uuid.UUID) -> int:
        """The stream's current version, 0 when it does not exist."""
        return await self._log.stream_version(tenant_id, stream_id)

    # -- reading the global log ------------------------------------------------------

    async def read_all(
        self, after: LogPosition = LOG_START, limit: int = 1000, *, precise: bool = False
    ) -> list[RecordedEvent]:
        """Up to `limit` events after `after`, in log order (see `events.log_order`).

        Events of erased streams come with `event=None`. `precise=True` computes the horizon
        from the append lock instead of the oldest running transaction (slower; used by
        subscribers held back by an unrelated long transaction).
        """
        return await self._log.read_all(after, limit, precise)

    def read_all_batches(
        self, after: LogPosition = LOG_START, batch_size: int = 1000
    ) -> AsyncIterator[list[RecordedEvent]]:
        """The log from `after` up to the current horizon, in batches — for catching up. The
        next batch is fetched while this one is decrypted."""
        return self._log.read_all_batches(after, batch_size)

    def read_stream_range_batches(
        self,
        tenant_id: str,
        first: uuid.UUID,
        end: uuid.UUID | None,
        below: int,
        batch_size: int = 1000,
    ) -> AsyncIterator[list[RecordedEvent]]:
        """Every event of the tenant's streams with ids in [first, end) (no upper bound when
        `end` is None) recorded by transactions below `below` (an xid8 that every running
        transaction is above, such as an earlier `log_horizon()`), in stream and version
        order, in batches, the next one fetched while this one is decrypted. Erased streams'
        events come with `event=None`."""
        return self._log.read_stream_range_batches(tenant_id, first, end, below, batch_size)

    async def log_horizon(self) -> int:
        """The oldest running transaction's xid (xid8): every transaction below it has ended,
        so the events below it will never change (`read_stream_range_batches`), and the log
        from `LogPosition(horizon, 0)` on holds everything else."""
        return await self._log.log_horizon()

    async def last_position_below(self, horizon: int) -> LogPosition:
        """The log position of the latest event below `horizon` (`LOG_START` if none)."""
        return await self._log.last_position_below(horizon)

    async def tenants(self) -> list[str]:
        """Every tenant that has a stream."""
        return await self._log.tenants()

    async def has_events_after(self, after: LogPosition) -> bool:
        """Whether any committed event lies beyond `after`, whatever the horizon says."""
        return await self._log.has_events_after(after)
