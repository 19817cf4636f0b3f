"""The `intake_origins` projection: per case, the quarter of its intake and whether another
agency served the client before (`domain.reporting.unduplicated.served_by_another_agency`).

``views.intake_origins`` holds, per case, the calendar quarter of the intake (a label such as
``2026Q3``, never the day) and one boolean: the intake's `served_by_another_agency`, or true for
a case received by transfer (the sending organisation served the client). Nothing about the
person. `clients_by_organisation` counts it per organisation for the roll-up across
organisations. Erased with every other view (`projections.rebuild.forget_case`); the row comes
from the intake alone, so a rebuild equals the live projection.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import ClassVar, NamedTuple

import asyncpg

from domain.case.events import CaseOpened
from domain.reporting.periods import quarter_index, quarter_label
from domain.reporting.unduplicated import served_by_another_agency
from events.erasure import erased_streams, hold_against_erasure
from events.store import Connection, RecordedEvent
from projections.base import BuffersUntilFlush, Tables, delete_streams
from projections.queries import reads_view

INTAKE_ORIGINS = "views.intake_origins"
_UPSERT = """INSERT INTO {table} (tenant_id, case_id, intake_quarter, served_by_another_agency)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (tenant_id, case_id) DO UPDATE SET intake_quarter = EXCLUDED.intake_quarter,
        served_by_another_agency = EXCLUDED.served_by_another_agency"""

Row = tuple[str, uuid.UUID, str, bool]


class OrganisationClients(NamedTuple):
    organisation: str
    clients: int  # intakes in the quarter
    served_by_another_agency: int  # of `clients`


def origin_row(tenant_id: str, case_id: uuid.UUID, opened: CaseOpened) -> Row:
    return (
        tenant_id,
        case_id,
        quarter_label(quarter_index(opened.intake.intake_on)),
        served_by_another_agency(opened),
    )


class IntakeOriginsProjection(BuffersUntilFlush):
    name: ClassVar[str] = "intake_origins"
    version: ClassVar[int] = 1
    stream_local: ClassVar[bool] = True  # a case's row comes from its own intake alone
    tables: ClassVar[dict[str, str]] = {
        INTAKE_ORIGINS: """CREATE TABLE {table} (
            tenant_id                text    NOT NULL,
            case_id                  uuid    NOT NULL,
            intake_quarter           text    NOT NULL CHECK (intake_quarter ~ '^[0-9]{{4}}Q[1-4]$'),
            served_by_another_agency boolean NOT NULL,
            PRIMARY KEY (tenant_id, case_id));
            CREATE INDEX {plain}_by_quarter ON {table} (intake_quarter, tenant_id)""",
    }

    def __init__(self) -> None:
        self._pending: dict[tuple[str, uuid.UUID], Row] = {}

    async def apply(self, conn: Connection, batch: Sequence[RecordedEvent], tables: Tables) -> None:
        for recorded in batch:
            if isinstance(recorded.event, CaseOpened):
                key = (recorded.tenant_id, recorded.stream_id)
                self._pending[key] = origin_row(*key, recorded.event)

    async def flush(self, conn: Connection, tables: Tables) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        await hold_against_erasure(conn, pending)  # an erasure now waits for this transaction
        erased = await erased_streams(conn, pending)
        await conn.executemany(
            _UPSERT.format(table=tables[INTAKE_ORIGINS]),
            [row for key, row in pending.items() if key not in erased],
        )

    async def forget(
        self, conn: Connection, tables: Tables, keys: Sequence[tuple[str, uuid.UUID]]
    ) -> None:
        for key in keys:
            self._pending.pop(key, None)
        await delete_streams(conn, tables[INTAKE_ORIGINS], keys)


@reads_view
async def clients_by_organisation(
    conn: Connection | asyncpg.Pool, quarter: str
) -> list[OrganisationClients]:
    """Per organisation, the clients whose intake was in `quarter`, and how many of them
    another agency served (true counts: never published as they are)."""
    rows = await conn.fetch(
        f"""SELECT tenant_id, count(*), count(*) FILTER (WHERE served_by_another_agency)
              FROM {INTAKE_ORIGINS} WHERE intake_quarter = $1
             GROUP BY tenant_id ORDER BY tenant_id""",
        quarter,
    )
    return [OrganisationClients(row[0], row[1], row[2]) for row in rows]
