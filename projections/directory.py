"""The `directory` projection: one row per listed service, for search across organisations.

The rows are organisational, public facts in plain columns: the search facets
(`domain.directory.search.facets`) and the public record as JSON (`public_record`: a
confidential location never has an address, coordinates or directions here — Haven accepts
none, and none would be written). A withdrawn service has no row. Each listing event carries
the whole record, so a row depends on its stream's last event alone (``stream_local``), and a
rebuild equals the live projection.

The stream column is named ``case_id`` like every view's, so that the rebuild's purge of
erased streams and `forget_case` treat this view like the others (a listing is never erased
as a case is: no case route names one).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import asyncpg
import msgspec

from domain.directory.areas import county_state
from domain.directory.events import DirectoryServiceListed, DirectoryServiceWithdrawn
from domain.directory.hsds import ServiceRecord
from domain.directory.rules import public_record
from domain.directory.search import Query, facets, primary_language
from events.store import Connection, RecordedEvent
from projections.base import Tables, WritesInApply
from projections.queries import reads_view

DIRECTORY = "views.directory_services"
COLUMNS = (
    "tenant_id",
    "case_id",
    "version",
    "source_id",
    "name",
    "organization_name",
    "categories",
    "states",
    "statewide",
    "counties",
    "languages",
    "minimum_age",
    "maximum_age",
    "genders",
    "trafficking_types",
    "record",
)
_UPSERT = f"""INSERT INTO {{table}} ({", ".join(COLUMNS)})
    VALUES ({", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))})
    ON CONFLICT (tenant_id, case_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[2:])}"""
_ENCODE = msgspec.json.Encoder().encode
_DECODE = msgspec.json.Decoder(ServiceRecord).decode


def directory_row(
    tenant_id: str, stream_id: uuid.UUID, version: int, event: DirectoryServiceListed
) -> tuple[Any, ...]:
    """The row of a listed service, in `COLUMNS` order."""
    record = public_record(event.record)
    found = facets(record.service)
    return (
        tenant_id,
        stream_id,
        version,
        event.source_id,
        record.service.name,
        record.organization.name,
        list(found.categories),
        list(found.states),
        list(found.statewide),
        list(found.counties),
        list(found.languages),
        found.minimum_age,
        found.maximum_age,
        list(found.genders),
        list(found.trafficking_types),
        _ENCODE(record).decode(),
    )


class DirectoryProjection(WritesInApply):
    name: ClassVar[str] = "directory"
    version: ClassVar[int] = 1
    stream_local: ClassVar[bool] = True
    tables: ClassVar[dict[str, str]] = {
        DIRECTORY: """CREATE TABLE {table} (
            tenant_id          text    NOT NULL,  -- the organisation that lists the service
            case_id            uuid    NOT NULL,  -- the listing's stream (named as in every view)
            version            integer NOT NULL,
            source_id          text,              -- its HSDS id in the document it was imported from
            name               text    COLLATE "C" NOT NULL,
            organization_name  text    NOT NULL,
            categories         text[]  NOT NULL,
            states             text[]  NOT NULL,
            statewide          text[]  NOT NULL,
            counties           text[]  NOT NULL,
            languages          text[]  NOT NULL,
            minimum_age        integer,
            maximum_age        integer,
            genders            text[]  NOT NULL,
            trafficking_types  text[]  NOT NULL,
            record             json    NOT NULL,  -- public HSDS record: never a confidential location's address
            PRIMARY KEY (tenant_id, case_id));
            CREATE INDEX {plain}_by_name ON {table} (name, case_id)""",  # noqa: E501 (DDL: its text is fingerprinted)
    }

    async def apply(self, conn: Connection, batch: Sequence[RecordedEvent], tables: Tables) -> None:
        last: dict[tuple[str, uuid.UUID], RecordedEvent] = {}
        for recorded in batch:
            if isinstance(recorded.event, (DirectoryServiceListed, DirectoryServiceWithdrawn)):
                last[(recorded.tenant_id, recorded.stream_id)] = recorded
        if not last:
            return
        table = tables[DIRECTORY]
        rows, gone = [], []
        for (tenant_id, stream_id), recorded in last.items():
            if isinstance(recorded.event, DirectoryServiceListed):
                rows.append(directory_row(tenant_id, stream_id, recorded.version, recorded.event))
            else:
                gone.append((tenant_id, stream_id))
        if gone:
            await self.forget(conn, tables, gone)
        if rows:
            await conn.executemany(_UPSERT.format(table=table), rows)


class ListedService(NamedTuple):
    service_id: uuid.UUID
    listed_by: str
    version: int
    source_id: str | None
    record: ServiceRecord


_SELECTED = "case_id, tenant_id, version, source_id, record"


def _listed(row: Any) -> ListedService:
    return ListedService(row[0], row[1], row[2], row[3], _DECODE(row[4]))


@reads_view
async def search_services(
    conn: Connection | asyncpg.Pool,
    query: Query,
    *,
    limit: int,
    after: tuple[str, uuid.UUID] | None = None,
) -> list[ListedService]:
    """Services answering `query` (`domain.directory.search.matches`), by name then id,
    after the (name, id) of the last one of the previous page."""
    rows = await conn.fetch(
        f"""SELECT {_SELECTED} FROM {DIRECTORY}
             WHERE ($1::text IS NULL OR $1 = ANY(categories))
               AND ($2::text IS NULL OR $2 = ANY(states))
               AND ($3::text IS NULL OR $3 = ANY(counties) OR $4 = ANY(statewide))
               AND ($5::text IS NULL OR $5 = ANY(languages))
               AND ($6::integer IS NULL OR ((minimum_age IS NULL OR minimum_age <= $6)
                                            AND (maximum_age IS NULL OR $6 <= maximum_age)))
               AND ($7::text IS NULL OR cardinality(genders) = 0 OR $7 = ANY(genders))
               AND ($8::text IS NULL OR cardinality(trafficking_types) = 0
                    OR $8 = ANY(trafficking_types))
               AND ($9::text IS NULL OR (name, case_id) > ($9 COLLATE "C", $10::uuid))
             ORDER BY name, case_id LIMIT $11""",
        query.category,
        query.state,
        query.county,
        county_state(query.county) if query.county else None,
        primary_language(query.language) if query.language else None,
        query.age,
        query.gender,
        query.trafficking_type,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_listed(row) for row in rows]


@reads_view
async def listed_service(
    conn: Connection | asyncpg.Pool, service_id: uuid.UUID
) -> ListedService | None:
    row = await conn.fetchrow(f"SELECT {_SELECTED} FROM {DIRECTORY} WHERE case_id = $1", service_id)
    return None if row is None else _listed(row)


@reads_view
async def listed_services(
    conn: Connection | asyncpg.Pool, listed_by: str | None, *, limit: int
) -> list[ListedService]:
    """Every listed service (of one organisation, or all), by organisation, name and id."""
    rows = await conn.fetch(
        f"""SELECT {_SELECTED} FROM {DIRECTORY} WHERE ($1::text IS NULL OR tenant_id = $1)
             ORDER BY tenant_id, name, case_id LIMIT $2""",
        listed_by,
        limit,
    )
    return [_listed(row) for row in rows]
