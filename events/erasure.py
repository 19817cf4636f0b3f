"""Erasure against the projectors: a lock that makes them take turns, per case.

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
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection = asyncpg.Connection | PoolConnectionProxy  # as `events.store.Connection` (which imports this)

ERASURE_LOCK_CLASS = 1214346857  # pg_advisory_xact_lock(int4, hashtext(tenant || '/' || stream))


async def hold_for_erasure(conn: Connection, tenant_id: str, stream_id: uuid.UUID) -> None:
    """Take the case's erasure lock exclusively, until the caller's transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2 || '/' || $3::uuid::text))",
                       ERASURE_LOCK_CLASS, tenant_id, stream_id)


async def hold_against_erasure(conn: Connection, cases: Iterable[tuple[str, uuid.UUID]]) -> None:
    """Take the erasure lock of each case shared, until the caller's transaction ends."""
    keys = sorted(set(cases))
    if keys:
        await conn.execute(
            """SELECT pg_advisory_xact_lock_shared($1, hashtext(t || '/' || s::text))
                 FROM unnest($2::text[], $3::uuid[]) AS wanted(t, s)""",
            ERASURE_LOCK_CLASS, [k[0] for k in keys], [k[1] for k in keys])
