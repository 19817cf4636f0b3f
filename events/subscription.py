"""Tailing the global log: catch up, then follow live through LISTEN/NOTIFY.

A subscription reads `read_all` from its position in batches until it is caught up, then
waits for a notification on the `haven_events` channel (sent by every append at commit) or
for `poll_interval`, whichever comes first, so a lost notification or a dead listening
connection costs at most one poll interval. When the listening connection dies it falls back
to polling and reconnects, with backoff, in the background of its loop.

When committed events exist beyond the fast horizon for `stall_seconds` — an unrelated long
transaction is holding the oldest xid back — it reads with the precise horizon (see
`events.log_order`), which bounds that hold-up. This is judged from the log itself, not from
notifications, so it holds even when notifications were missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg

from events.log_order import LOG_START, LogPosition
from events.notification import LISTEN_FAILURES, NOTIFY_CHANNEL
from events.store import PostgresEventStore, RecordedEvent


class Subscription:
    def __init__(
        self,
        store: PostgresEventStore,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        after: LogPosition = LOG_START,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        stall_seconds: float = 1.0,
        reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 10.0,
    ) -> None:
        self._store = store
        self._connect = connect  # the listening connection is our own, not the pool's
        self.position = after
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._stall_seconds = stall_seconds
        self._reconnect_delay = reconnect_delay
        self._max_reconnect_delay = max_reconnect_delay
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._next_connect_at = 0.0
        self._backoff = reconnect_delay
        self._closed = False
        self.reconnects = 0

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.is_closed()

    def __aiter__(self) -> AsyncIterator[RecordedEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[RecordedEvent]:
        async for batch in self.batches():
            for recorded in batch:
                self.position = recorded.log_position
                yield recorded

    async def batches(self) -> AsyncIterator[list[RecordedEvent]]:
        """The same events in the batches they were read in (never empty); `position` is the
        last event of the batch once it is yielded. For consumers that apply a batch in one
        transaction (the projectors)."""
        held_since: float | None = None
        try:
            while not self._closed:
                await self._ensure_listener()
                self._wake.clear()
                batch = await self._store.read_all(self.position, self._batch_size)
                held = False
                if len(batch) < self._batch_size:
                    # Caught up with the fast horizon. Committed events beyond it mean an older
                    # transaction is holding it back; after stall_seconds, read past the ones
                    # that are not appending (the precise horizon).
                    after = batch[-1].log_position if batch else self.position
                    held = await self._store.has_events_after(after)
                    if not held:
                        held_since = None
                    else:
                        held_since = held_since or time.monotonic()
                        if time.monotonic() - held_since >= self._stall_seconds:
                            batch += await self._store.read_all(
                                after, self._batch_size - len(batch), precise=True
                            )
                if batch:
                    self.position = batch[-1].log_position
                    yield batch
                if len(batch) < self._batch_size:
                    await self._sleep(held)
        finally:
            await self.close()

    async def _sleep(self, held: bool) -> None:
        timeout = self._poll_interval if self.listening else min(self._poll_interval, self._backoff)
        if held:  # come back in time to honour the stall bound
            timeout = min(timeout, self._stall_seconds / 2)
        # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancellation that
        # arrives as the wait completes, and a projector would then never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    def _on_terminated(self, *_: object) -> None:
        self._wake.set()

    async def _ensure_listener(self) -> None:
        if self.listening or self._closed or time.monotonic() < self._next_connect_at:
            return
        await self._drop_listener()
        try:
            async with asyncio.timeout(5):
                conn = await self._connect()
            try:
                conn.add_termination_listener(self._on_terminated)
                await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            except BaseException:
                conn.terminate()
                raise
        except LISTEN_FAILURES:
            self._next_connect_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, self._max_reconnect_delay)
            return
        if self._next_connect_at:
            self.reconnects += 1
        self._listener = conn
        self._backoff = self._reconnect_delay
        self._next_connect_at = 0.0

    async def _drop_listener(self) -> None:
        conn, self._listener = self._listener, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            if not conn.is_closed():
                await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
            conn.remove_termination_listener(self._on_terminated)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await conn.close()
        if not conn.is_closed():
            conn.terminate()
        self._next_connect_at = max(self._next_connect_at, time.monotonic() + self._reconnect_delay)

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        await self._drop_listener()
