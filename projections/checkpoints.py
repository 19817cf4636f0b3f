"""Checkpoints: where each projection stands in the global log, fenced in every transaction.

The row of a projection in ``haven.projection_checkpoints`` is read ``FOR UPDATE`` at the
start of every transaction that applies events, and compared with what the applier believes
(generation and position). Only if they match does it apply the batch and move the row — all
in one transaction. Hence:

* a crash anywhere loses or repeats nothing: the view and its checkpoint commit together;
* two workers can never both apply a batch: the second finds the row moved and is `Fenced`
  (it then reloads the checkpoint and goes on from there);
* a rebuild swaps generations by moving the same row, which fences the running projector off
  the old generation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import NamedTuple

import asyncpg

from events.log_order import LOG_START, LogPosition
from events.store import Connection


class Fenced(Exception):
    """Another process moved this projection's checkpoint: stop, reload, go on from there."""


class Checkpoint(NamedTuple):
    generation: int
    fingerprint: str
    position: LogPosition


async def load(conn: Connection | asyncpg.Pool, name: str) -> Checkpoint | None:
    row = await conn.fetchrow(
        "SELECT generation, fingerprint, transaction_id, position "
        "FROM haven.projection_checkpoints WHERE name = $1",
        name,
    )
    return None if row is None else Checkpoint(row[0], row[1], LogPosition(row[2], row[3]))


async def lock(conn: Connection, name: str) -> Checkpoint | None:
    """The checkpoint, locked until the end of the caller's transaction."""
    row = await conn.fetchrow(
        "SELECT generation, fingerprint, transaction_id, position "
        "FROM haven.projection_checkpoints WHERE name = $1 FOR UPDATE",
        name,
    )
    return None if row is None else Checkpoint(row[0], row[1], LogPosition(row[2], row[3]))


async def fence(conn: Connection, name: str, expected: Checkpoint) -> None:
    """Lock the checkpoint; `Fenced` unless it is still exactly `expected`."""
    if await lock(conn, name) != expected:
        raise Fenced(name)


async def advance(conn: Connection, name: str, position: LogPosition) -> None:
    await conn.execute(
        "UPDATE haven.projection_checkpoints "
        "SET transaction_id = $2, position = $3, updated_at = now() WHERE name = $1",
        name,
        position.transaction_id,
        position.position,
    )


async def install(conn: Connection, name: str, checkpoint: Checkpoint) -> None:
    """Point the projection at a (new) generation, at the position it was built to."""
    await conn.execute(
        """INSERT INTO haven.projection_checkpoints
                  (name, generation, fingerprint, transaction_id, position)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (name) DO UPDATE
              SET generation = EXCLUDED.generation, fingerprint = EXCLUDED.fingerprint,
                  transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position,
                  updated_at = now()""",
        name,
        checkpoint.generation,
        checkpoint.fingerprint,
        *checkpoint.position,
    )


async def log_head(pool: asyncpg.Pool) -> LogPosition:
    """The last event committed and visible now (LOG_START for an empty log). Waiting for it
    gives read-your-writes to anyone whose write committed before this call."""
    row = await pool.fetchrow(
        "SELECT transaction_id, position FROM haven.events "
        "ORDER BY transaction_id DESC, position DESC LIMIT 1"
    )
    return LOG_START if row is None else LogPosition(row[0], row[1])


async def wait_until_projected(
    pool: asyncpg.Pool, names: list[str], position: LogPosition, *, timeout: float = 5.0
) -> bool:
    """Read-your-writes: wait until every named projection has applied the log up to and
    including `position` (e.g. an append's position). False on timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        rows = await pool.fetch(
            "SELECT transaction_id, position FROM haven.projection_checkpoints "
            "WHERE name = ANY($1::text[])",
            names,
        )
        if len(rows) == len(set(names)) and all(LogPosition(r[0], r[1]) >= position for r in rows):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)


class Lag(NamedTuple):
    events: int  # committed events after the checkpoint (counted up to LAG_COUNT_LIMIT)
    seconds: float  # age of the oldest of them; 0 when caught up


LAG_COUNT_LIMIT = 1_000_000  # counting beyond this tells an operator nothing more


async def lag(pool: asyncpg.Pool) -> Mapping[str, Lag]:
    """How far behind the log each projection is, by events and by seconds."""
    rows = await pool.fetch(
        f"""SELECT c.name, behind.events,
                   COALESCE(EXTRACT(EPOCH FROM now() - behind.oldest), 0)::float8
              FROM haven.projection_checkpoints c
             CROSS JOIN LATERAL (
                 SELECT count(*) AS events, min(recorded_at) AS oldest
                   FROM (SELECT e.recorded_at FROM haven.events e
                          WHERE (e.transaction_id, e.position) > (c.transaction_id, c.position)
                          LIMIT {LAG_COUNT_LIMIT}) newer) behind"""
    )
    return {name: Lag(events, max(seconds, 0.0)) for name, events, seconds in rows}
