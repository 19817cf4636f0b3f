"""The `screenings` projection: one row of codes per screening, and the supervisors' summary.

``views.screenings`` holds, per screening, the month it was screened in (the first day of the
month, never the day), the setting, the result, the instrument id and version, and the case
it belongs to (`linked_case`, so that erasing the case finds and erases its screenings:
`services.screening.erasure`) — codes, a month and ids, never the answers or anything about a
person. ``case_id`` is the screening's own stream id (every view names its stream ``case_id``,
so an erased stream leaves this view as it leaves every other,
`projections.rebuild.forget_case`).

`screening_summary` counts them for one organisation over a range of months: by result, by
setting and by month. A screening's result is the one stored with its event, so a later
version of an instrument's rule never changes what was counted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

import asyncpg
import msgspec

from domain.screening.instrument import RESULTS
from domain.screening.screening import SETTINGS, ScreeningRecorded
from events.erasure import erased_streams, hold_against_erasure
from events.store import Connection, RecordedEvent
from projections.base import BuffersUntilFlush, Tables, delete_streams
from projections.queries import reads_view

SCREENINGS = "views.screenings"
COLUMNS = (
    "tenant_id",
    "case_id",
    "screened_month",
    "setting",
    "result",
    "instrument_id",
    "instrument_version",
    "of_a_case",
    "linked_case",
)
_UPSERT = f"""INSERT INTO {{table}} ({", ".join(COLUMNS)})
    VALUES ({", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))})
    ON CONFLICT (tenant_id, case_id) DO NOTHING"""


def screening_row(
    tenant_id: str, stream_id: uuid.UUID, event: ScreeningRecorded
) -> tuple[Any, ...]:
    """The row of one screening, in `COLUMNS` order."""
    return (
        tenant_id,
        stream_id,
        event.screened_on.replace(day=1),
        event.setting,
        event.result,
        event.instrument_id,
        event.instrument_version,
        event.case_id is not None,
        uuid.UUID(event.case_id) if event.case_id is not None else None,
    )


class ScreeningsProjection(BuffersUntilFlush):
    name: ClassVar[str] = "screenings"
    version: ClassVar[int] = 1
    stream_local: ClassVar[bool] = True  # a screening's row comes from its own event alone
    tables: ClassVar[dict[str, str]] = {
        SCREENINGS: """CREATE TABLE {table} (
            tenant_id          text    NOT NULL,
            case_id            uuid    NOT NULL,  -- the screening's stream id
            screened_month     date    NOT NULL,  -- the first day of the month screened in
            setting            text    NOT NULL,
            result             text    NOT NULL,
            instrument_id      text    NOT NULL,
            instrument_version integer NOT NULL,
            of_a_case          boolean NOT NULL,
            linked_case        uuid,  -- the case it belongs to: found and erased with the case
            PRIMARY KEY (tenant_id, case_id));
            CREATE INDEX {plain}_by_month ON {table} (tenant_id, screened_month);
            CREATE INDEX {plain}_by_case ON {table} (tenant_id, linked_case)
                WHERE linked_case IS NOT NULL""",
    }

    def __init__(self) -> None:
        self._pending: list[tuple[Any, ...]] = []

    async def apply(self, conn: Connection, batch: Sequence[RecordedEvent], tables: Tables) -> None:
        self._pending.extend(
            screening_row(recorded.tenant_id, recorded.stream_id, recorded.event)
            for recorded in batch
            if isinstance(recorded.event, ScreeningRecorded)
        )

    async def flush(self, conn: Connection, tables: Tables) -> None:
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        keys = [(row[0], row[1]) for row in rows]
        await hold_against_erasure(conn, keys)  # an erasure now waits for this transaction
        erased = await erased_streams(conn, keys)
        await conn.executemany(
            _UPSERT.format(table=tables[SCREENINGS]),
            [row for row in rows if (row[0], row[1]) not in erased],
        )

    async def forget(
        self, conn: Connection, tables: Tables, keys: Sequence[tuple[str, uuid.UUID]]
    ) -> None:
        self._pending = [row for row in self._pending if (row[0], row[1]) not in set(keys)]
        await delete_streams(conn, tables[SCREENINGS], keys)


@reads_view
async def screenings_linked_to(
    conn: Connection | asyncpg.Pool, tenant_id: str, case_id: uuid.UUID
) -> list[uuid.UUID]:
    """The projected screenings that belong to the case."""
    rows = await conn.fetch(
        "SELECT case_id FROM views.screenings WHERE tenant_id = $1 AND linked_case = $2",
        tenant_id,
        case_id,
    )
    return [row[0] for row in rows]


class ScreeningSummary(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    by_result: dict[str, int]  # every result code, zeros included
    by_setting: dict[str, int]  # every setting code, zeros included
    by_month: dict[str, int]  # "YYYY-MM", the months with screenings


@reads_view
async def screening_summary(
    conn: Connection | asyncpg.Pool, tenant_id: str, first: dt.date, last: dt.date
) -> ScreeningSummary:
    """The organisation's screenings in the months from `first` to `last` (inclusive)."""
    rows = await conn.fetch(
        """SELECT screened_month, setting, result, count(*) FROM views.screenings
            WHERE tenant_id = $1 AND screened_month >= $2 AND screened_month <= $3
            GROUP BY screened_month, setting, result""",
        tenant_id,
        first.replace(day=1),
        last.replace(day=1),
    )
    by_result = dict.fromkeys(RESULTS, 0)  # every code listed, zeros included
    by_setting = dict.fromkeys(SETTINGS, 0)
    by_month: dict[str, int] = {}
    for month, setting, result, count in rows:
        by_result[result] = by_result.get(result, 0) + count
        by_setting[setting] = by_setting.get(setting, 0) + count
        label = f"{month:%Y-%m}"
        by_month[label] = by_month.get(label, 0) + count
    return ScreeningSummary(
        total=sum(by_result.values()),
        by_result=by_result,
        by_setting=by_setting,
        by_month=dict(sorted(by_month.items())),
    )
