"""Quarantine: a stream whose event a projection cannot apply is set aside, and the log goes on.

An event that breaks a projection (text a column refuses, a value an index cannot hold, a bug
that one event's shape triggers) would otherwise stop that projection for every organisation:
each retry fails on the same batch. So when a batch fails with an error that points at its
data (`POISON`), the runner applies it again one event per transaction; the event that still
fails is recorded in ``haven.projection_quarantine`` (stream, position, event type and the
error's class: never content or message), the stream's rows leave the projection's tables
(`Projection.forget`), the checkpoint moves past it, and every later event of that stream is
passed over by that projection. The case itself is unharmed: the API reads a case whose view
is missing from its stream.

Errors that say nothing about the event (a lost connection, a fence, a deadlock, a key
provider that does not answer) are not poison: the batch is retried as before.

An administrator sees the quarantine in `haven projections status`, `/ready` and `/metrics`;
once the cause is mended (a new release of the projection), `haven projections rebuild
--retry-quarantined` empties the projection's quarantine and rebuilds it, so the set-aside
streams are tried again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import asyncpg
import msgspec

from events.store import Connection, RecordedEvent
from projections.base import Projection, Tables, live_events

# Errors raised by applying an event that point at the event's data.
POISON: tuple[type[BaseException], ...] = (
    asyncpg.DataError,  # SQLSTATE class 22: a NUL in text, a value out of range...
    asyncpg.IntegrityConstraintViolationError,  # class 23
    asyncpg.ProgramLimitExceededError,  # class 54: an index row too large
    msgspec.MsgspecError,
    ValueError,
    TypeError,
    LookupError,
    AttributeError,
    ArithmeticError,
)


class Quarantined(NamedTuple):
    projection: str
    tenant_id: str
    stream_id: str
    version: int
    event_type: str
    error_class: str
    quarantined_at: str


async def streams(conn: Connection | asyncpg.Pool, projection: str) -> set[tuple[str, object]]:
    """The streams `projection` passes over."""
    rows = await conn.fetch(
        "SELECT tenant_id, stream_id FROM haven.projection_quarantine WHERE projection = $1",
        projection,
    )
    return {(row[0], row[1]) for row in rows}


def admitted(
    batch: Sequence[RecordedEvent], quarantined: set[tuple[str, object]]
) -> Sequence[RecordedEvent]:
    """The events of `batch` whose streams are not quarantined."""
    if not quarantined:
        return batch
    return [r for r in batch if (r.tenant_id, r.stream_id) not in quarantined]


async def apply_carefully(
    conn: Connection,
    projection: Projection,
    batch: Sequence[RecordedEvent],
    tables: Tables,
    quarantined: set[tuple[str, object]],
) -> None:
    """Apply and flush `batch`, passing over quarantined streams, in a transaction of its own
    (a savepoint inside the caller's); when that fails with `POISON`, one event per savepoint,
    quarantining the stream of each event that still fails (module doc). `quarantined` grows
    with them; the caller's transaction decides whether any of it commits."""
    events = admitted(live_events(batch), quarantined)
    if not events:
        return
    try:
        async with conn.transaction():
            await projection.apply(conn, events, tables)
            await projection.flush(conn, tables)
        return
    except POISON:
        projection.reset()  # its cache may hold what was rolled back
    for recorded in events:
        key = (recorded.tenant_id, recorded.stream_id)
        if key in quarantined:
            continue
        try:
            async with conn.transaction():
                await projection.apply(conn, [recorded], tables)
                await projection.flush(conn, tables)
        except POISON as error:
            projection.reset()
            async with conn.transaction():
                await record(conn, projection.name, recorded, error)
                await projection.forget(conn, tables, [key])
            quarantined.add(key)


async def record(
    conn: Connection, projection: str, recorded: RecordedEvent, error: BaseException
) -> None:
    await conn.execute(
        """INSERT INTO haven.projection_quarantine
               (projection, tenant_id, stream_id, transaction_id, position, version, event_type,
                error_class)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING""",
        projection,
        recorded.tenant_id,
        recorded.stream_id,
        *recorded.log_position,
        recorded.version,
        recorded.event_type,
        type(error).__name__,
    )


async def release(conn: Connection, projection: str) -> int:
    """Empty the projection's quarantine (before a rebuild tries the streams again)."""
    status = await conn.execute(
        "DELETE FROM haven.projection_quarantine WHERE projection = $1", projection
    )
    return int(status.split()[-1])


async def listing(pool: asyncpg.Pool) -> list[Quarantined]:
    rows = await pool.fetch(
        """SELECT projection, tenant_id, stream_id::text, version, event_type, error_class,
                  to_char(quarantined_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
             FROM haven.projection_quarantine
            ORDER BY quarantined_at, projection, tenant_id, stream_id"""
    )
    return [Quarantined(*row) for row in rows]


async def counts(pool: asyncpg.Pool) -> Mapping[str, int]:
    """Quarantined streams per projection (only projections with any)."""
    rows = await pool.fetch(
        "SELECT projection, count(*) FROM haven.projection_quarantine GROUP BY projection"
    )
    return {name: int(count) for name, count in rows}
