"""The `organisations` projection: each organisation's profile, teams, partners and workers,
one row per entry, and the queries other parts ask of them.

Organisational facts in plain columns (names of teams, partner organisations and staff;
nothing about a survivor). Each event carries its whole entry, so a row is the last event
that set it: the projection is ``stream_local`` and a rebuild equals the live projection.
Every table has the organisation's stream as ``case_id``, so that quarantine's `forget`
treats these tables like every view's.

`is_partner_in_deployment(conn, organisation_id, partner_id)`: the partner is an active
partner of the organisation, and the partner organisation has a profile in this deployment
(a referral to it can land in its inbox). `partner(...)` gives the partner's row itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import asyncpg

from domain.organisation.events import (
    OrganisationPartnerSet,
    OrganisationProfileSet,
    OrganisationTeamSet,
    OrganisationWorkerSet,
)
from events.store import Connection, RecordedEvent
from projections.base import Tables, WritesInApply
from projections.queries import reads_view

PROFILES = "views.organisation_profiles"
TEAMS = "views.organisation_teams"
PARTNERS = "views.organisation_partners"
WORKERS = "views.organisation_workers"

# table -> (its columns after tenant_id and case_id, the entry's key column or None)
_LAYOUT: dict[str, tuple[tuple[str, ...], str | None]] = {
    PROFILES: (("version", "display_name", "description", "state"), None),
    TEAMS: (("team_id", "name", "active"), "team_id"),
    PARTNERS: (("partner_id", "display_name", "direction", "active"), "partner_id"),
    WORKERS: (("worker_id", "display_name", "team_id", "active"), "worker_id"),
}


def _upsert(table: str, physical: str) -> str:
    columns, key = _LAYOUT[table]
    every = ("tenant_id", "case_id", *columns)
    conflict = "tenant_id" if key is None else f"tenant_id, {key}"
    return f"""INSERT INTO {physical} ({", ".join(every)})
        VALUES ({", ".join(f"${i}" for i in range(1, len(every) + 1))})
        ON CONFLICT ({conflict}) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in every[1:])}"""


def entry_row(recorded: RecordedEvent) -> tuple[str, tuple[Any, ...], tuple[Any, ...]] | None:
    """(table, key, row in `_LAYOUT` order) of an organisation event; None for another event."""
    event, tenant, stream = recorded.event, recorded.tenant_id, recorded.stream_id
    if isinstance(event, OrganisationProfileSet):
        p = event.profile
        return PROFILES, (tenant,), (tenant, stream, recorded.version, p.display_name,
                                     p.description, p.state)  # fmt: skip
    if isinstance(event, OrganisationTeamSet):
        t = event.team
        return TEAMS, (tenant, t.team_id), (tenant, stream, t.team_id, t.name, t.active)
    if isinstance(event, OrganisationPartnerSet):
        q = event.partner
        return PARTNERS, (tenant, q.partner_id), (tenant, stream, q.partner_id, q.display_name,
                                                  q.direction, q.active)  # fmt: skip
    if isinstance(event, OrganisationWorkerSet):
        w = event.worker
        return WORKERS, (tenant, w.worker_id), (tenant, stream, w.worker_id, w.display_name,
                                                w.team_id, w.active)  # fmt: skip
    return None


class OrganisationsProjection(WritesInApply):
    name: ClassVar[str] = "organisations"
    version: ClassVar[int] = 1
    stream_local: ClassVar[bool] = True
    tables: ClassVar[dict[str, str]] = {
        PROFILES: """CREATE TABLE {table} (
            tenant_id     text    NOT NULL PRIMARY KEY,  -- the organisation
            case_id       uuid    NOT NULL,              -- its stream (named as in every view)
            version       integer NOT NULL,
            display_name  text    NOT NULL,
            description   text    NOT NULL,
            state         text)""",
        TEAMS: """CREATE TABLE {table} (
            tenant_id  text    NOT NULL,
            case_id    uuid    NOT NULL,
            team_id    text    NOT NULL,
            name       text    NOT NULL,
            active     boolean NOT NULL,
            PRIMARY KEY (tenant_id, team_id))""",
        PARTNERS: """CREATE TABLE {table} (
            tenant_id     text    NOT NULL,
            case_id       uuid    NOT NULL,
            partner_id    text    NOT NULL,
            display_name  text    NOT NULL,
            direction     text    NOT NULL,
            active        boolean NOT NULL,
            PRIMARY KEY (tenant_id, partner_id))""",
        WORKERS: """CREATE TABLE {table} (
            tenant_id     text    NOT NULL,
            case_id       uuid    NOT NULL,
            worker_id     text    NOT NULL,
            display_name  text    NOT NULL,
            team_id       text    NOT NULL,
            active        boolean NOT NULL,
            PRIMARY KEY (tenant_id, worker_id))""",
    }

    async def apply(self, conn: Connection, batch: Sequence[RecordedEvent], tables: Tables) -> None:
        last: dict[str, dict[tuple[Any, ...], tuple[Any, ...]]] = {}
        for recorded in batch:
            found = entry_row(recorded)
            if found is not None:
                table, key, row = found
                last.setdefault(table, {})[key] = row
        for table, rows in last.items():
            await conn.executemany(_upsert(table, tables.physical[table]), list(rows.values()))


class PartnerRow(NamedTuple):
    organisation_id: str
    partner_id: str
    display_name: str
    direction: str
    active: bool


class WorkerRow(NamedTuple):
    worker_id: str
    display_name: str
    team_id: str
    active: bool


@reads_view
async def partner(
    conn: Connection | asyncpg.Pool, organisation_id: str, partner_id: str
) -> PartnerRow | None:
    """The organisation's partner `partner_id` (active or not), or None."""
    row = await conn.fetchrow(
        f"""SELECT tenant_id, partner_id, display_name, direction, active FROM {PARTNERS}
             WHERE tenant_id = $1 AND partner_id = $2""",
        organisation_id,
        partner_id,
    )
    return None if row is None else PartnerRow(*row)


@reads_view
async def is_partner_in_deployment(
    conn: Connection | asyncpg.Pool, organisation_id: str, partner_id: str
) -> bool:
    """Whether `partner_id` is an active partner of the organisation and has a profile in
    this deployment (an organisation of the deployment, not one outside Haven)."""
    return bool(
        await conn.fetchval(
            f"""SELECT EXISTS (SELECT 1 FROM {PARTNERS} p JOIN {PROFILES} o
                                   ON o.tenant_id = p.partner_id
                                WHERE p.tenant_id = $1 AND p.partner_id = $2 AND p.active)""",
            organisation_id,
            partner_id,
        )
    )


@reads_view
async def workers(
    conn: Connection | asyncpg.Pool, organisation_id: str, *, active_only: bool = True
) -> list[WorkerRow]:
    """The organisation's workers by display name (the active ones, unless `active_only`)."""
    rows = await conn.fetch(
        f"""SELECT worker_id, display_name, team_id, active FROM {WORKERS}
             WHERE tenant_id = $1 AND (active OR NOT $2)
             ORDER BY display_name, worker_id""",
        organisation_id,
        active_only,
    )
    return [WorkerRow(*row) for row in rows]
