"""The statements that write appends: one append alone, or several callers' appends at once.

An append reaches this module sealed (`SealedAppend`): its events encrypted and chained, its
new head computed. `write_one` writes it in one statement; `write_many` writes several
appends to distinct streams in one statement, so one transaction and one commit (the event
store's group commit, `events.committer`). Both return the rows written (version, position,
transaction id) per append, or none for an append whose stream was not where it expected —
the caller decides whether that is a conflict.

`haven.enter_append` runs first in either (an initplan over a materialised CTE: before any
row is written, so before the transaction has an xid) and takes the append lock. Alone, an
append is its transaction's first write; sharing a transaction, it is not, so it moves a
head only when that head's last writer (`head_xid`) is not after its own transaction: a head
moved meanwhile by a later transaction refuses it, and the caller writes it again alone
(`events.committer`). Either way each stream's versions stay in log order.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from events.recorded import Connection


@dataclass(frozen=True, slots=True)
class SealedAppend:
    """One caller's append, sealed and chained, ready to write.

    A new stream (`expected_version` 0) carries its wrapped data key (`kek_id`, `wrapped_key`);
    an existing one carries the head hash it builds on (`previous_hash`).
    """

    tenant_id: str
    stream_id: uuid.UUID
    expected_version: int
    key_id: str
    recorded_at: dt.datetime
    event_types: Sequence[str]
    schema_versions: Sequence[int]
    ciphertexts: Sequence[bytes]
    chain_hashes: Sequence[bytes]
    previous_hash: bytes | None = None
    kek_id: str | None = None
    wrapped_key: bytes | None = None

    @property
    def creates(self) -> bool:
        return self.expected_version == 0

    @property
    def head_hash(self) -> bytes:
        return self.chain_hashes[-1]


# -- one append ----------------------------------------------------------------------------

# The head row's update is the optimistic-concurrency check — version, chain head and key must
# all match — and events are inserted only if it succeeded: no rows back, no append.
_MANY_ROWS = """
SELECT $1, $2, $3 + i, ($5::text[])[i], ($6::smallint[])[i], $4, $7,
       ($8::bytea[])[i], ($9::bytea[])[i]
  FROM generate_subscripts($8::bytea[], 1) AS i"""
# One event (the common case) binds plain values: cheaper to encode than one-element arrays.
_ONE_ROW = "SELECT $1, $2, $3 + 1, $5::text, $6::smallint, $4, $7, $8::bytea, $9::bytea"

_MOVE_HEAD = """
    UPDATE haven.streams s SET version = $3 + {count}, head_hash = $10,
                               head_xid = pg_current_xact_id()
     WHERE s.tenant_id = $1 AND s.stream_id = $2 AND s.version = $3 AND s.head_hash = $11
       AND s.key_id = $4 AND s.wrapped_key IS NOT NULL AND (SELECT entered FROM guard)"""
_CREATE_HEAD = """
    INSERT INTO haven.streams (tenant_id, stream_id, version, head_hash, key_id, kek_id,
                               wrapped_key, head_xid)
    SELECT $1, $2, {count}, $10, $4, $11, $12, pg_current_xact_id()
     WHERE (SELECT entered FROM guard)
    ON CONFLICT DO NOTHING"""


def _one_sql(create: bool, single: bool) -> str:
    count = "1" if single else "cardinality($8::bytea[])"
    head = (_CREATE_HEAD if create else _MOVE_HEAD).format(count=count)
    return f"""
WITH guard AS MATERIALIZED (SELECT haven.enter_append({"0" if create else "$3"}) AS entered),
head AS ({head}
    RETURNING 1)
INSERT INTO haven.events AS e (tenant_id, stream_id, version, event_type, schema_version, key_id,
                               recorded_at, ciphertext, chain_hash)
{_ONE_ROW if single else _MANY_ROWS}
 WHERE EXISTS (SELECT 1 FROM head)
RETURNING e.version, e.position, e.transaction_id"""


_ONE_SQL = {
    (create, single): _one_sql(create, single)
    for create in (False, True)
    for single in (False, True)
}


async def write_one(executor: Connection | asyncpg.Pool, append: SealedAppend) -> list[Any]:
    """Write one append in one statement (in the executor's transaction, if it has one).

    Returns its rows in version order, or none when the stream was not where it expected.
    """
    single = len(append.ciphertexts) == 1
    columns = (
        (
            append.event_types[0],
            append.schema_versions[0],
            append.recorded_at,
            append.ciphertexts[0],
            append.chain_hashes[0],
        )
        if single
        else (
            list(append.event_types),
            list(append.schema_versions),
            append.recorded_at,
            list(append.ciphertexts),
            list(append.chain_hashes),
        )
    )
    args: tuple[Any, ...] = (
        append.tenant_id,
        append.stream_id,
        append.expected_version,
        append.key_id,
        *columns,
        append.head_hash,
    )
    if append.creates:
        args = (*args, append.kek_id, append.wrapped_key)
    else:
        args = (*args, append.previous_hash)
    rows = await executor.fetch(_ONE_SQL[(append.creates, single)], *args)
    return sorted(rows, key=lambda row: row[0]) if len(rows) > 1 else rows


# -- several appends, one statement ---------------------------------------------------------

# Appends are numbered n = 1..N (WITH ORDINALITY); events carry their append's n and their
# offset k = 1.. within it. `me` takes the append lock (`guard`), then the transaction's id,
# before any row is written; every head check reads it from there. Heads move (or are
# created) first; events are inserted, in (n, k) order so positions follow versions, only
# for the appends whose head moved.
_MANY_SQL = """
WITH guard AS MATERIALIZED (SELECT haven.enter_append(0) AS entered),
me AS MATERIALIZED (SELECT pg_current_xact_id() AS xid FROM guard WHERE entered),
item AS (
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::int[], $4::int[], $5::text[],
                         $6::timestamptz[], $7::bytea[], $8::bytea[], $9::text[], $10::bytea[])
           WITH ORDINALITY AS t(tenant_id, stream_id, expected, count, key_id, recorded_at,
                                head_hash, previous_hash, kek_id, wrapped_key, n)
),
moved AS (
    UPDATE haven.streams s SET version = i.expected + i.count, head_hash = i.head_hash,
                               head_xid = (SELECT xid FROM me)
      FROM item i
     WHERE i.expected > 0 AND s.tenant_id = i.tenant_id AND s.stream_id = i.stream_id
       AND s.version = i.expected AND s.head_hash = i.previous_hash AND s.key_id = i.key_id
       AND s.wrapped_key IS NOT NULL AND s.head_xid <= (SELECT xid FROM me)
    RETURNING i.n
),
created AS (
    INSERT INTO haven.streams (tenant_id, stream_id, version, head_hash, key_id, kek_id,
                               wrapped_key, head_xid)
    SELECT tenant_id, stream_id, count, head_hash, key_id, kek_id, wrapped_key,
           (SELECT xid FROM me)
      FROM item
     WHERE expected = 0 AND EXISTS (SELECT 1 FROM me)
    ON CONFLICT DO NOTHING
    RETURNING tenant_id, stream_id
),
written AS (
    SELECT n FROM moved
    UNION ALL
    SELECT i.n FROM created c JOIN item i USING (tenant_id, stream_id)
)
INSERT INTO haven.events AS e (tenant_id, stream_id, version, event_type, schema_version, key_id,
                               recorded_at, ciphertext, chain_hash)
SELECT i.tenant_id, i.stream_id, i.expected + ev.k, ev.event_type, ev.schema_version, i.key_id,
       i.recorded_at, ev.ciphertext, ev.chain_hash
  FROM unnest($11::bigint[], $12::int[], $13::text[], $14::smallint[], $15::bytea[],
              $16::bytea[]) AS ev(n, k, event_type, schema_version, ciphertext, chain_hash)
  JOIN item i ON i.n = ev.n
 WHERE ev.n IN (SELECT n FROM written)
 ORDER BY ev.n, ev.k
RETURNING e.tenant_id, e.stream_id, e.version, e.position, e.transaction_id"""


async def write_many(
    executor: Connection | asyncpg.Pool, appends: Sequence[SealedAppend]
) -> list[list[Any]]:
    """Write appends to distinct streams in one statement: all or nothing if it fails.

    Returns each append's rows (version, position, transaction id) in version order, none
    for an append whose stream was not where it expected or whose head a later transaction
    moved.
    """
    heads: list[list[Any]] = [[] for _ in range(10)]
    events: list[list[Any]] = [[] for _ in range(6)]
    for n, append in enumerate(appends, start=1):
        for column, value in zip(
            heads,
            (
                append.tenant_id,
                append.stream_id,
                append.expected_version,
                len(append.ciphertexts),
                append.key_id,
                append.recorded_at,
                append.head_hash,
                append.previous_hash,
                append.kek_id,
                append.wrapped_key,
            ),
            strict=True,
        ):
            column.append(value)
        for k, event in enumerate(
            zip(
                append.event_types,
                append.schema_versions,
                append.ciphertexts,
                append.chain_hashes,
                strict=True,
            ),
            start=1,
        ):
            for column, value in zip(events, (n, k, *event), strict=True):
                column.append(value)
    rows = await executor.fetch(_MANY_SQL, *heads, *events)
    by_stream: dict[tuple[str, uuid.UUID], list[Any]] = {}
    for row in rows:
        by_stream.setdefault((row[0], row[1]), []).append(row[2:])
    written = []
    for append in appends:
        mine = by_stream.get((append.tenant_id, append.stream_id), [])
        written.append(sorted(mine, key=lambda row: row[0]) if len(mine) > 1 else mine)
    return written
