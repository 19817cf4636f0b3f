"""Waking subscribers after appends: one coalesced NOTIFY on `NOTIFY_CHANNEL`, sent outside
the appending transactions.

NOTIFY inside an append would hold PostgreSQL's notification-queue lock through every
commit, serialising all writers. Notifications are only hints (subscribers also poll), so
appends that commit close together share one.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

NOTIFY_CHANNEL = "haven_events"
# What opening a listening connection fails with while the database is away: refused,
# unreachable or timed out, the server starting or shutting down, the connection broken
# mid-way, or no host of a multi-host URL read-write (a switchover, or a failover whose old
# primary still answers: asyncpg's `TargetServerAttributeNotMatched`, an `InternalClientError`,
# neither an `OSError` nor a `PostgresError`). Whoever listens tries again, with backoff.
LISTEN_FAILURES = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
_NOTIFY_SQL = "SELECT pg_notify($1, '')"
_NOTIFY_GAP = 0.005  # seconds: at most ~200 notifications a second, the first one at once


class Announcer:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def announce(self) -> None:
        """Send a notification soon; the task that sends them starts on first use."""
        self._wanted.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await self._wanted.wait()
            try:
                # One connection for a busy spell: no pool round trip (and its reset query)
                # per notification while appends keep coming.
                async with self._pool.acquire() as conn:
                    while self._wanted.is_set():
                        self._wanted.clear()
                        await conn.execute(_NOTIFY_SQL, NOTIFY_CHANNEL)
                        # Appends that commit meanwhile share the next notification: each one
                        # is a commit of its own (an XID and a WAL flush), on the appenders'
                        # server.
                        await asyncio.sleep(_NOTIFY_GAP)
            # AttributeError: asyncpg's answer on a connection its pool terminated meanwhile
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, AttributeError):
                await asyncio.sleep(0.1)  # subscribers fall back to polling meanwhile

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
