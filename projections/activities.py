"""The `activities` projection: one row per activity that stands (recorded, not withdrawn).

``views.activities`` holds each activity's coded facts as of its latest event — the day, the
kind, the delivery, the hours, the participants in all and per sector, the languages and the
area's state and county codes — and no free text (the topic stays in the sealed stream; a
single activity is read from there, `services.outreach.reads`). A recording or a correction
carries the whole record, so the row is written from the last event alone; a withdrawal
deletes it. The column ``case_id`` is the activity's stream id: the stream column every
view has, by which erasure and quarantine find a stream's rows (`projections.base`).

The organisation's list (`activity_page`) and the supervisor's summary (`activity_summary`,
the rule of `domain.outreach.summary` in SQL) are queries over it. What a row holds depends
on its stream alone, so a rebuild, split by stream or not, equals the live projection.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

import asyncpg
import msgspec

from domain.outreach.events import ActivityCorrected, ActivityRecorded, ActivityWithdrawn
from events.store import Connection, RecordedEvent
from projections.base import Tables, WritesInApply
from projections.queries import reads_view

ACTIVITIES = "views.activities"
ACTIVITY_COLUMNS = (
    "tenant_id",
    "case_id",
    "version",
    "held_on",
    "kind",
    "delivery",
    "hours",
    "participants",
    "sectors",
    "sector_participants",
    "languages",
    "state",
    "counties",
)
_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, len(ACTIVITY_COLUMNS) + 1))
_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in ACTIVITY_COLUMNS[2:])
_UPSERT = f"""INSERT INTO {{table}} ({", ".join(ACTIVITY_COLUMNS)}) VALUES ({_PLACEHOLDERS})
    ON CONFLICT (tenant_id, case_id) DO UPDATE SET {_UPDATES}"""


def activity_row(recorded: RecordedEvent) -> tuple[Any, ...] | None:
    """The row an activity's latest event leaves (None: it leaves none, a withdrawal)."""
    event = recorded.event
    if not isinstance(event, ActivityRecorded | ActivityCorrected):
        return None
    activity = event.activity
    return (
        recorded.tenant_id,
        recorded.stream_id,
        recorded.version,
        activity.held_on,
        activity.kind,
        activity.delivery,
        activity.hours,
        activity.participants,
        [group.sector for group in activity.audience],
        [group.participants for group in activity.audience],
        list(activity.languages),
        activity.area.state,
        list(activity.area.counties),
    )


_OWN_EVENTS = (ActivityRecorded, ActivityCorrected, ActivityWithdrawn)


class ActivitiesProjection(WritesInApply):
    name: ClassVar[str] = "activities"
    version: ClassVar[int] = 1
    stream_local: ClassVar[bool] = True  # an activity's row depends on its stream alone
    tables: ClassVar[dict[str, str]] = {
        ACTIVITIES: """CREATE TABLE {table} (
            tenant_id           text          NOT NULL,  -- the organisation
            case_id             uuid          NOT NULL,  -- the activity's stream id
            version             integer       NOT NULL,
            held_on             date          NOT NULL,
            kind                text          NOT NULL,
            delivery            text          NOT NULL,
            hours               numeric(8,2)  NOT NULL,
            participants        integer       NOT NULL,
            sectors             text[]        NOT NULL,
            sector_participants integer[]     NOT NULL,  -- in the order of sectors
            languages           text[]        NOT NULL,
            state               text          NOT NULL,
            counties            text[]        NOT NULL,
            PRIMARY KEY (tenant_id, case_id));
            CREATE INDEX {plain}_by_day ON {table} (tenant_id, held_on, case_id)""",
    }

    async def apply(self, conn: Connection, batch: Sequence[RecordedEvent], tables: Tables) -> None:
        latest: dict[tuple[str, uuid.UUID], RecordedEvent] = {}
        for recorded in batch:
            if isinstance(recorded.event, _OWN_EVENTS):
                latest[(recorded.tenant_id, recorded.stream_id)] = recorded
        if not latest:
            return
        rows = [row for r in latest.values() if (row := activity_row(r)) is not None]
        gone = [key for key, r in latest.items() if activity_row(r) is None]
        if rows:
            await conn.executemany(_UPSERT.format(table=tables[ACTIVITIES]), rows)
        if gone:
            await self.forget(conn, tables, gone)


# -- queries ------------------------------------------------------------------------------


class ActivityListed(msgspec.Struct, frozen=True, kw_only=True):
    activity_id: str
    version: int
    held_on: dt.date
    kind: str
    delivery: str
    hours: float
    participants: int
    sectors: list[str]
    languages: list[str]
    state: str
    counties: list[str]


class ActivityPage(msgspec.Struct, frozen=True, kw_only=True):
    activities: list[ActivityListed]
    next_cursor: tuple[dt.date, uuid.UUID] | None = None


@reads_view
async def activity_page(
    conn: Connection | asyncpg.Pool,
    organisation_id: str,
    *,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    kind: str | None = None,
    sector: str | None = None,
    limit: int = 50,
    after: tuple[dt.date, uuid.UUID] | None = None,
) -> ActivityPage:
    """The organisation's activities, latest day first (then by id), one page."""
    rows = await conn.fetch(
        """SELECT case_id, version, held_on, kind, delivery, hours, participants, sectors,
                  languages, state, counties
             FROM views.activities
            WHERE tenant_id = $1
              AND ($2::date IS NULL OR held_on >= $2) AND ($3::date IS NULL OR held_on <= $3)
              AND ($4::text IS NULL OR kind = $4) AND ($5::text IS NULL OR $5 = ANY (sectors))
              AND ($6::date IS NULL OR (held_on, case_id) < ($6, $7::uuid))
            ORDER BY held_on DESC, case_id DESC LIMIT $8""",
        organisation_id,
        first_day,
        last_day,
        kind,
        sector,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    listed = [
        ActivityListed(
            activity_id=str(r[0]),
            version=r[1],
            held_on=r[2],
            kind=r[3],
            delivery=r[4],
            hours=float(r[5]),
            participants=r[6],
            sectors=list(r[7]),
            languages=list(r[8]),
            state=r[9],
            counties=list(r[10]),
        )
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    last = listed[-1] if listed else None
    return ActivityPage(
        activities=listed,
        next_cursor=(last.held_on, uuid.UUID(last.activity_id)) if more and last else None,
    )


class SummaryRow(msgspec.Struct, frozen=True, kw_only=True):
    month: str  # "2026-03"
    kind: str
    sector: str | None = None  # None: every sector of the month and kind
    activities: int
    participants: int
    hours: float


class ActivitySummary(msgspec.Struct, frozen=True, kw_only=True):
    activities: int
    participants: int
    hours: float
    by_month_and_kind: list[SummaryRow]
    by_month_kind_and_sector: list[SummaryRow]


_BY_MONTH = """
SELECT to_char(held_on, 'YYYY-MM'), kind, count(*), sum(participants), sum(hours)
  FROM views.activities
 WHERE tenant_id = $1 AND held_on BETWEEN $2 AND $3
 GROUP BY 1, 2 ORDER BY 1, 2"""
_BY_SECTOR = """
SELECT to_char(a.held_on, 'YYYY-MM'), a.kind, s.sector, count(*), sum(s.participants), sum(a.hours)
  FROM views.activities a, unnest(a.sectors, a.sector_participants) AS s(sector, participants)
 WHERE a.tenant_id = $1 AND a.held_on BETWEEN $2 AND $3
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""


@reads_view
async def activity_summary(
    conn: Connection | asyncpg.Pool, organisation_id: str, first_day: dt.date, last_day: dt.date
) -> ActivitySummary:
    """Activities, participants and hours from `first_day` to `last_day` (both included), by
    month and kind, and by month, kind and sector: an activity that reached several sectors
    counts once in each of their rows (with its hours), and once in its month's."""
    months = [
        SummaryRow(month=r[0], kind=r[1], activities=r[2], participants=r[3], hours=float(r[4]))
        for r in await conn.fetch(_BY_MONTH, organisation_id, first_day, last_day)
    ]
    sectors = [
        SummaryRow(
            month=r[0],
            kind=r[1],
            sector=r[2],
            activities=r[3],
            participants=r[4],
            hours=float(r[5]),
        )
        for r in await conn.fetch(_BY_SECTOR, organisation_id, first_day, last_day)
    ]
    return ActivitySummary(
        activities=sum(m.activities for m in months),
        participants=sum(m.participants for m in months),
        hours=sum(m.hours for m in months),
        by_month_and_kind=months,
        by_month_kind_and_sector=sectors,
    )
