"""What a projection is: a name, a version, its tables, and `apply(conn, batch, tables)`.

A projection owns its tables' DDL. They are created one *generation* at a time: the table
``views.caseload`` of generation 3 is ``views.caseload_g3``, and readers query the stable
view ``views.caseload`` (``SELECT * FROM views.caseload_g3``). A rebuild fills generation 4
while readers keep seeing 3; the swap replaces the views in one transaction
(`projections.rebuild`).

`apply` and then `flush` run inside the runner's transaction, after the checkpoint fence and
before the checkpoint moves, and must write only to the tables they are given. `apply` may
defer its writes to `flush` (a rebuild calls `flush` only every few thousand cases, so a
case touched by many batches is written once). A projection may keep an
in-memory cache of what it wrote; the runner calls `reset()` whenever a transaction did not
commit (or another process moved the checkpoint), so a cache never outlives the truth.

Every table carries ``tenant_id`` and ``case_id`` (or, for de-identified tables, declares
`erasable = False` and handles erasure itself), so that an erased case can be forgotten by
`forget_case` across every view.

A projection may declare ``stream_local = True`` when what it writes for a stream depends on
that stream's events alone: its rebuild may then be split by stream across processes
(`projections.partitioned`). Without it, a rebuild reads the log in order.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple, Protocol

from events.store import Connection, RecordedEvent


class Tables(NamedTuple):
    """The physical names of one generation of a projection's tables."""

    generation: int
    physical: Mapping[str, str]  # logical "schema.table" -> "schema.table_gN"

    def __getitem__(self, logical: str) -> str:  # type: ignore[override]
        return self.physical[logical]


class Projection(Protocol):
    name: ClassVar[str]
    version: ClassVar[int]
    # logical "schema.table" -> DDL with {table} (qualified physical name) and {plain}
    # (unqualified physical name, for index names)
    tables: ClassVar[Mapping[str, str]]

    async def apply(
        self, conn: Connection, batch: Sequence[RecordedEvent], tables: Tables
    ) -> None: ...

    async def flush(self, conn: Connection, tables: Tables) -> None:
        """Write whatever `apply` deferred (a projection that writes in `apply` does nothing)."""

    @property
    def pending(self) -> int:
        """How much `apply` has deferred (the rebuild flushes when it grows large)."""

    def reset(self) -> None: ...

    async def forget(
        self, conn: Connection, tables: Tables, keys: Sequence[tuple[str, object]]
    ) -> None:
        """Remove these streams' rows from `tables` and from any cache (a quarantined stream)."""

    def drop_cached(self, key: tuple[str, object] | None) -> None:
        """Drop a case (None: every case) from the in-memory cache of what was written: it was
        erased in another process (`events.erasure.ErasureWatch`). Called between awaits, even
        while a batch is applied."""


class WritesInApply:
    """The rest of `Projection` for one that writes its rows in `apply` and caches nothing: it
    forgets a stream by deleting its rows from each of its tables."""

    tables: ClassVar[Mapping[str, str]]

    async def flush(self, conn: Connection, tables: Tables) -> None:
        """Rows are written in `apply`."""

    @property
    def pending(self) -> int:
        return 0

    def reset(self) -> None:
        """Nothing is cached."""

    def drop_cached(self, key: tuple[str, object] | None) -> None:
        """Nothing is cached."""

    async def forget(
        self, conn: Connection, tables: Tables, keys: Sequence[tuple[str, object]]
    ) -> None:
        for logical in self.tables:
            await delete_streams(conn, tables[logical], keys)


class BuffersUntilFlush:
    """The bookkeeping of a `Projection` that gathers rows in `apply` and writes them in
    `flush`: `_pending` (a list or a dict) holds them until then, and nothing outlives a
    flush."""

    _pending: list[Any] | dict[Any, Any]

    @property
    def pending(self) -> int:
        return len(self._pending)

    def reset(self) -> None:
        self._pending.clear()

    def drop_cached(self, key: tuple[str, object] | None) -> None:
        """Nothing is cached beyond the rows waiting for `flush`."""


async def delete_streams(conn: Connection, table: str, keys: Sequence[tuple[str, object]]) -> None:
    """Delete the rows of these streams (`tenant_id`, `case_id`) from a physical table."""
    await conn.execute(
        f"""DELETE FROM {table} WHERE (tenant_id, case_id) IN
            (SELECT * FROM unnest($1::text[], $2::uuid[]))""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )


def fingerprint(projection: type[Projection] | Projection) -> str:
    """Changes whenever the projection's name, version or table definitions change: a
    projection whose stored fingerprint differs is rebuilt before it runs."""
    digest = hashlib.sha256(f"{projection.name}\n{projection.version}".encode())
    for logical in sorted(projection.tables):
        digest.update(f"\n{logical}\n{projection.tables[logical]}".encode())
    return digest.hexdigest()[:32]


def tables_of(projection: type[Projection] | Projection, generation: int) -> Tables:
    return Tables(
        generation, {logical: f"{logical}_g{generation}" for logical in projection.tables}
    )


def create_statements(projection: type[Projection] | Projection, tables: Tables) -> list[str]:
    statements = []
    for logical, ddl in projection.tables.items():
        physical = tables[logical]
        statements.append(f"DROP TABLE IF EXISTS {physical}")  # left over by a crashed rebuild
        statements.append(ddl.format(table=physical, plain=physical.split(".", 1)[1]))
    return statements


def view_statements(projection: type[Projection] | Projection, tables: Tables) -> list[str]:
    """Point every stable view at this generation (DROP + CREATE: columns may have changed)."""
    statements = []
    for logical in projection.tables:
        statements.append(f"DROP VIEW IF EXISTS {logical}")
        statements.append(f"CREATE VIEW {logical} AS SELECT * FROM {tables[logical]}")
    return statements


def drop_statements(tables: Tables) -> list[str]:
    return [f"DROP TABLE IF EXISTS {physical}" for physical in tables.physical.values()]


async def execute_all(conn: Connection, statements: Sequence[str]) -> None:
    for statement in statements:
        await conn.execute(statement)


FLUSH_AT = 5000  # cases a bulk pass folds in memory before it writes them


async def bulk_apply(
    conn: Connection, projection: Projection, batch: Sequence[RecordedEvent], tables: Tables
) -> None:
    """One batch of a rebuild's bulk pass: apply it, and write what `apply` deferred once it
    reaches `FLUSH_AT` cases (in a transaction of its own: the new generation is not live)."""
    await projection.apply(conn, live_events(batch), tables)
    if projection.pending >= FLUSH_AT:
        async with conn.transaction():
            await projection.flush(conn, tables)


def live_events(batch: Sequence[RecordedEvent]) -> Sequence[RecordedEvent]:
    """Events of erased (crypto-shredded) streams arrive without content: nothing to apply."""
    return (
        batch
        if all(recorded.event is not None for recorded in batch)
        else [recorded for recorded in batch if recorded.event is not None]
    )


async def let_others_run() -> None:
    """Yield to the event loop between cases of a batch: under `haven serve` the projectors
    share it with the API, and folding or sealing a batch of long cases would otherwise hold
    every request for the whole batch (the HTTP bench's p99)."""
    await asyncio.sleep(0)
