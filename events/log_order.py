"""Reading the global log in an order that never skips a late commit.

Why not `ORDER BY position`: positions come from a sequence when a row is inserted, not when
its transaction commits. If T1 takes position 10 and T2 position 11, and T2 commits first, a
reader that has seen 11 and moved its checkpoint past it would never see 10.

What we do: every event row records the id of the transaction that wrote it (`xid8`,
`pg_current_xact_id()`), and the log is read in `(transaction_id, position)` order, only up
to a *horizon*: a transaction id below which every transaction has finished. No event can
ever appear below the horizon again, so a checkpoint `(transaction_id, position)` is exact:
nothing below it is missed later, nothing is delivered twice.

The horizon, fast path: `pg_snapshot_xmin(pg_current_snapshot())`, the oldest transaction
still running — evaluated in the same statement as the read, so every transaction below it
is visible to that read.

The bound, slow path: xmin is held back by *any* running transaction with an xid, including
one that never appends (a long report, a migration, a forgotten psql session). So appenders
announce themselves: `haven.enter_append` takes a shared advisory lock (shared, so appenders
never wait for each other) before its transaction has an xid. When the fast horizon has not
moved for `stall_seconds`, a subscriber computes the precise horizon instead: the smallest
xid among transactions holding that lock (a holder without an xid yet will get one at or
above the snapshot's xmax), capped by xmax. Transactions that hold no lock write no events,
so they can hold subscribers back for at most `stall_seconds` (1 s by default). Advisory
locks belong to a database: appenders of other databases on the same server (xids are
server-wide, so they do hold the fast horizon) are not counted in the precise one.

`pg_stat_activity` shows another session's xid only to the same role or to members of
`pg_read_all_stats`: subscribers must connect as the role that appends, or be granted that.

The precise horizon is computed in its own statement *before* the read, so the read's later
snapshot sees every appender below the horizon as finished. The append function refuses to
append to an existing stream after its transaction has already written (it could then carry
an xid older than the version it builds on), so per-stream order matches log order.

Alternatives rejected: a table lock or a single-row counter serialises all writers; a
high-water mark with gap timeouts skips an event whose transaction is merely slow.
"""

from __future__ import annotations

from typing import NamedTuple

APPEND_LOCK = (1214346853, 1)  # ('Have', 1): pg_advisory_xact_lock_shared(int4, int4)


class LogPosition(NamedTuple):
    """A point in the global log. Compares in log order."""

    transaction_id: int
    position: int


LOG_START = LogPosition(0, 0)

# Precise horizon. pg_stat_activity.backend_xid is a 32-bit xid: widen it against the
# snapshot's 64-bit xmax (it lies within 2^31 of it; an xid assigned after the snapshot is
# at or above xmax, and LEAST() then ignores it).
PRECISE_HORIZON_SQL = f"""
WITH snap AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::numeric AS xmax),
appenders AS (
    SELECT a.backend_xid::text::numeric AS xid32
      FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.classid = {APPEND_LOCK[0]} AND l.objid = {APPEND_LOCK[1]} AND l.objsubid = 2
       AND a.backend_xid IS NOT NULL
)
SELECT LEAST(
    snap.xmax,
    (SELECT min(snap.xmax - mod(mod(snap.xmax, 4294967296) - xid32 + 4294967296, 4294967296))
       FROM appenders
      WHERE mod(mod(snap.xmax, 4294967296) - xid32 + 4294967296, 4294967296)
            BETWEEN 1 AND 2147483647)
)::bigint AS horizon
FROM snap
"""
