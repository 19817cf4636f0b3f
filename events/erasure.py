"""Erasure everywhere: a lock the projectors take turns on, and a broadcast to every process.

A projector decides "is this case erased?" and then writes the case's rows; an erasure
destroys the key and removes the rows. Unless the two take turns, an erasure that commits
between the projector's check and its write leaves the case in the views. So, in every
transaction:

* an erasure first takes the case's erasure lock exclusively (`hold_for_erasure`, inside
  `PostgresEventStore.shred`), then destroys the key and removes the rows;
* a projector takes the lock shared for every case it is about to write
  (`hold_against_erasure`), then checks which of them are erased, then writes the others.

Whichever comes second waits for the first to commit. An erasure that came first is seen by
the projector's check (a statement after the wait, under READ COMMITTED); a projector that
came first has committed its rows before the erasure removes them. Projectors share the lock
with each other and with appends (which do not take it), so only an erasure ever waits, and
only for the batches writing that case. These are transaction-scoped advisory locks: taken
outside a transaction they would end with the statement.

**Broadcast.** Every process keeps things of a case in memory: its unwrapped data key
(`crypto.keyring`), decrypted states (`services.recent_states`), the projectors' folded
documents. The erasure's transaction sends `NOTIFY haven_erasure` (delivered when it commits),
and each process's `ErasureWatch` drops the case from everything that subscribed to it. A
notification can be missed (the listening connection drops), so the watch drops *everything*
whenever it (re)connects and whenever its connection is lost; and no cached key is trusted
without the database's word: every path that decrypts with a key checks the stream's key is
still there in the statement that reads, or in the same batch (`events.stream_keys`). The memory
bound is therefore "as soon as the notification arrives" (milliseconds; `haven bench store`
measures it), and nothing is ever decrypted after the erasure is visible in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterable

import asyncpg

from events.notification import LISTEN_FAILURES
from events.recorded import Connection

ERASURE_LOCK_CLASS = 1214346857  # pg_advisory_xact_lock(int4, hashtext(tenant || '/' || stream))
ERASURE_CHANNEL = "haven_erasure"  # payload: "<tenant id> <stream id>" (ids only)


async def hold_for_erasure(conn: Connection, tenant_id: str, stream_id: uuid.UUID) -> None:
    """Take the case's erasure lock exclusively, until the caller's transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2 || '/' || $3::uuid::text))",
        ERASURE_LOCK_CLASS,
        tenant_id,
        stream_id,
    )


async def hold_head_at(
    conn: Connection, tenant_id: str, stream_id: uuid.UUID, version: int
) -> bool:
    """Lock the stream's head until the caller's transaction ends (an append to it then waits,
    and finds the stream erased if this transaction erases it); whether the stream is still at
    `version` with its key."""
    found = await conn.fetchval(
        """SELECT version FROM haven.streams
            WHERE tenant_id = $1 AND stream_id = $2 AND wrapped_key IS NOT NULL FOR UPDATE""",
        tenant_id,
        stream_id,
    )
    return found is not None and int(found) == version


async def announce_erasure(conn: Connection, tenant_id: str, stream_id: uuid.UUID) -> None:
    """Tell every process, when the caller's transaction commits (NOTIFY is transactional)."""
    await conn.execute(
        "SELECT pg_notify($1, $2 || ' ' || $3::uuid::text)", ERASURE_CHANNEL, tenant_id, stream_id
    )


async def hold_against_erasure(conn: Connection, cases: Iterable[tuple[str, uuid.UUID]]) -> None:
    """Take the erasure lock of each case shared, until the caller's transaction ends."""
    keys = sorted(set(cases))
    if keys:
        await conn.execute(
            """SELECT pg_advisory_xact_lock_shared($1, hashtext(t || '/' || s::text))
                 FROM unnest($2::text[], $3::uuid[]) AS wanted(t, s)""",
            ERASURE_LOCK_CLASS,
            [k[0] for k in keys],
            [k[1] for k in keys],
        )


async def erased_streams(
    conn: Connection, streams: Iterable[tuple[str, uuid.UUID]]
) -> set[tuple[str, uuid.UUID]]:
    """Which of these streams are erased (their key destroyed). Asked after
    `hold_against_erasure`, an erasure committed before the lock is seen here."""
    keys = list(streams)
    if not keys:
        return set()
    rows = await conn.fetch(
        """SELECT s.tenant_id, s.stream_id FROM haven.streams s
             JOIN unnest($1::text[], $2::uuid[]) AS wanted(tenant_id, stream_id)
                  USING (tenant_id, stream_id)
            WHERE s.wrapped_key IS NULL""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(row[0], row[1]) for row in rows}


Forget = Callable[[str, uuid.UUID], None]


class ErasureWatch:
    """Follows erasures committed by any process and has this process's caches drop them
    (module doc). `run()` until cancelled; `subscribe` before or while it runs."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        *,
        reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 10.0,
    ) -> None:
        self._connect = connect  # a connection of its own, not the pool's
        self._reconnect_delay = reconnect_delay
        self._max_reconnect_delay = max_reconnect_delay
        self._subscribers: list[tuple[Forget, Callable[[], None]]] = []
        self.listening = asyncio.Event()  # set while notifications arrive (for tests and the bench)
        self.received = 0

    def subscribe(self, forget: Forget, forget_all: Callable[[], None]) -> None:
        """`forget(tenant, stream)` on each erasure; `forget_all()` when some may have been
        missed."""
        self._subscribers.append((forget, forget_all))

    async def run(self) -> None:
        delay = self._reconnect_delay
        while True:
            lost = asyncio.Event()
            conn = None
            try:
                async with asyncio.timeout(5):
                    conn = await self._connect()
                conn.add_termination_listener(lambda *_, lost=lost: lost.set())
                await conn.add_listener(ERASURE_CHANNEL, self._on_notify)
                self._forget_all()  # whatever was erased while nobody listened
                self.listening.set()
                delay = self._reconnect_delay
                await lost.wait()
            except LISTEN_FAILURES:
                pass
            finally:
                self.listening.clear()
                self._forget_all()
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(2):
                            await conn.close()
                    if not conn.is_closed():
                        conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_reconnect_delay)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        tenant_id, _, stream = payload.rpartition(" ")
        try:
            stream_id = uuid.UUID(stream)
        except ValueError:
            self._forget_all()
            return
        self.received += 1
        for forget, _ in self._subscribers:
            forget(tenant_id, stream_id)

    def _forget_all(self) -> None:
        for _, forget_all in self._subscribers:
            forget_all()
