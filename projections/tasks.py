"""The `tasks` projection: what workers did with their follow-up tasks, and the task queries.

``views.tasks`` holds one row per task a worker acted on: its id, case, kind, and the day it
was completed (and by whom) or the day it is snoozed until (and by whom) — ids, codes and
days, nothing about a survivor. Its rows come from the task events of each case's task
stream (`domain.tasks.actions`; the stream column is ``stream_id``, the case's id is
``case_id`` so that erasing the case forgets its rows). A completion is kept once made; a
later snooze replaces an earlier one. A task's row depends on its stream alone, so a rebuild,
split by stream or not, equals the live projection.

Which tasks exist is not stored: like the caseload's ages, the tasks are computed at query
time (`TASKS_SQL`) from ``views.caseload`` (the open cases' referral, contact, consent and
immigration dates), the organisation's follow-up rules and today, then joined with
``views.tasks`` for their status. So a rule changed or a day passing applies at once, and the
rule is `domain.tasks.due` written in SQL (a test holds the two equal).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

import asyncpg
import msgspec

from domain.tasks.actions import TaskCompleted, TaskSnoozed
from domain.tasks.due import REASONS, TaskStatus
from domain.tasks.rules import FollowUpKind, FollowUpRules
from events.store import Connection, RecordedEvent
from projections.base import Tables, WritesInApply
from projections.queries import reads_view

TASKS = "views.tasks"
TASK_COLUMNS = (
    "tenant_id",
    "case_id",
    "stream_id",
    "task_id",
    "kind",
    "completed_on",
    "completed_by",
    "snoozed_until",
    "snoozed_by",
)
_UPSERT = f"""INSERT INTO {{table}} AS t ({", ".join(TASK_COLUMNS)})
    VALUES ({", ".join(f"${i}" for i in range(1, len(TASK_COLUMNS) + 1))})
    ON CONFLICT (tenant_id, task_id) DO UPDATE SET
        completed_on = COALESCE(t.completed_on, EXCLUDED.completed_on),
        completed_by = COALESCE(t.completed_by, EXCLUDED.completed_by),
        snoozed_until = COALESCE(EXCLUDED.snoozed_until, t.snoozed_until),
        snoozed_by = COALESCE(EXCLUDED.snoozed_by, t.snoozed_by)"""
_OWN_EVENTS = (TaskCompleted, TaskSnoozed)


def fold_task_rows(events: Sequence[RecordedEvent]) -> dict[tuple[str, str], list[Any]]:
    """(tenant, task id) -> the row its events call for, in `TASK_COLUMNS` order."""
    rows: dict[tuple[str, str], list[Any]] = {}
    for recorded in events:
        event = recorded.event
        if not isinstance(event, _OWN_EVENTS):
            continue
        key = (recorded.tenant_id, event.task_id)
        row = rows.setdefault(
            key,
            [
                recorded.tenant_id,
                uuid.UUID(event.case_id),
                recorded.stream_id,
                uuid.UUID(event.task_id),
                str(event.kind),
                None,
                None,
                None,
                None,
            ],
        )
        if isinstance(event, TaskCompleted):
            if row[5] is None:
                row[5], row[6] = event.completed_on, event.completed_by
        else:
            row[7], row[8] = event.snoozed_until, event.snoozed_by
    return rows


class TasksProjection(WritesInApply):
    name: ClassVar[str] = "tasks"
    version: ClassVar[int] = 1
    stream_local: ClassVar[bool] = True  # a task's actions are all on its case's task stream
    tables: ClassVar[dict[str, str]] = {
        TASKS: """CREATE TABLE {table} (
            tenant_id     text  NOT NULL,  -- the organisation
            case_id       uuid  NOT NULL,  -- the task's case
            stream_id     uuid  NOT NULL,  -- the case's task stream
            task_id       uuid  NOT NULL,
            kind          text  NOT NULL,
            completed_on  date,
            completed_by  text,
            snoozed_until date,
            snoozed_by    text,
            PRIMARY KEY (tenant_id, task_id));
            CREATE INDEX {plain}_by_case ON {table} (tenant_id, case_id);
            CREATE INDEX {plain}_by_stream ON {table} (tenant_id, stream_id)""",
    }

    async def apply(self, conn: Connection, batch: Sequence[RecordedEvent], tables: Tables) -> None:
        rows = fold_task_rows(batch)
        if rows:
            await conn.executemany(_UPSERT.format(table=tables[TASKS]), list(rows.values()))

    async def forget(
        self, conn: Connection, tables: Tables, keys: Sequence[tuple[str, object]]
    ) -> None:
        """A quarantined task stream's rows, or a case's (`keys` name either)."""
        await conn.execute(
            f"""DELETE FROM {tables[TASKS]} WHERE (tenant_id, stream_id) IN
                    (SELECT * FROM unnest($1::text[], $2::uuid[]))
                 OR (tenant_id, case_id) IN (SELECT * FROM unnest($1::text[], $2::uuid[]))""",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )


# -- queries ------------------------------------------------------------------------------

# $1 tenant, $2 today, $3 the enabled rules' kinds, $4 their days; {where}: more conditions on
# the open cases. `domain.tasks.due` in SQL: one condition per (case, kind, anchor day).
TASKS_SQL = """
    WITH rules AS (SELECT * FROM unnest($3::text[], $4::int[]) AS r(kind, days)),
         open_cases AS (
            SELECT case_id, worker_id, team_id, waiting_referrals_since, last_contact_on,
                   consent_expiries, immigration_expiries
              FROM views.caseload
             WHERE tenant_id = $1 AND is_open AND worker_id IS NOT NULL {where}),
         conditions AS (
            SELECT DISTINCT case_id, worker_id, team_id, kind, anchor_on FROM (
                SELECT case_id, worker_id, team_id, 'referral_overdue' AS kind,
                       unnest(waiting_referrals_since) AS anchor_on FROM open_cases
                UNION ALL
                SELECT case_id, worker_id, team_id, 'no_contact', last_contact_on
                  FROM open_cases WHERE last_contact_on IS NOT NULL
                UNION ALL
                SELECT case_id, worker_id, team_id, 'consent_expiring', unnest(consent_expiries)
                  FROM open_cases
                UNION ALL
                SELECT case_id, worker_id, team_id, 'immigration_deadline',
                       unnest(immigration_expiries) FROM open_cases) c),
         timed AS (
            SELECT c.*,
                   md5(c.case_id::text || '/' || c.kind || '/' || to_char(c.anchor_on, 'YYYY-MM-DD'))::uuid
                       AS task_id,
                   CASE WHEN c.kind IN ('referral_overdue', 'no_contact')
                        THEN c.anchor_on + r.days + 1 ELSE c.anchor_on - r.days END AS due_on
              FROM conditions c JOIN rules r USING (kind)
             WHERE c.kind IN ('referral_overdue', 'no_contact') OR c.anchor_on >= $2::date)
    SELECT t.task_id, t.case_id, t.kind, t.due_on, t.worker_id, t.team_id,
           CASE WHEN a.completed_on IS NOT NULL THEN 'done'
                WHEN a.snoozed_until > $2::date THEN 'snoozed'
                WHEN t.due_on < $2::date THEN 'overdue'
                ELSE 'due' END AS status,
           a.snoozed_until
      FROM timed t LEFT JOIN views.tasks a ON a.tenant_id = $1 AND a.task_id = t.task_id
     WHERE t.due_on <= $2::date"""  # noqa: E501


class ListedTask(msgspec.Struct, frozen=True, kw_only=True):
    """A task as its worker and the API see it: ids, a kind, days and codes only."""

    task_id: uuid.UUID
    case_id: uuid.UUID
    kind: FollowUpKind
    reason: str
    due_on: dt.date
    status: TaskStatus
    worker_id: str
    team_id: str | None
    snoozed_until: dt.date | None = None


class WorkerOverdue(msgspec.Struct, frozen=True, kw_only=True):
    worker_id: str
    overdue: int
    due: int


def _rule_arguments(rules: FollowUpRules) -> tuple[list[str], list[int]]:
    enabled = [rule for rule in rules.rules if rule.enabled]
    return [str(rule.kind) for rule in enabled], [rule.days for rule in enabled]


def _listed(row: Any) -> ListedTask:
    kind = FollowUpKind(row["kind"])
    return ListedTask(
        task_id=row["task_id"],
        case_id=row["case_id"],
        kind=kind,
        reason=REASONS[kind],
        due_on=row["due_on"],
        status=TaskStatus(row["status"]),
        worker_id=row["worker_id"],
        team_id=row["team_id"],
        snoozed_until=row["snoozed_until"] if row["status"] == "snoozed" else None,
    )


@reads_view
async def worker_tasks(
    conn: Connection | asyncpg.Pool,
    tenant_id: str,
    worker_id: str,
    today: dt.date,
    rules: FollowUpRules,
    *,
    include_all: bool = False,
) -> list[ListedTask]:
    """The worker's tasks due or overdue on `today` (`include_all`: done and snoozed ones
    too), oldest due first."""
    kinds, days = _rule_arguments(rules)
    status = "" if include_all else "WHERE status IN ('due', 'overdue')"
    rows = await conn.fetch(
        f"""SELECT * FROM ({TASKS_SQL.format(where="AND worker_id = $5")}) listed {status}
             ORDER BY due_on, task_id""",
        tenant_id,
        today,
        kinds,
        days,
        worker_id,
    )
    return [_listed(row) for row in rows]


@reads_view
async def find_task(
    conn: Connection | asyncpg.Pool,
    tenant_id: str,
    task_id: uuid.UUID,
    today: dt.date,
    rules: FollowUpRules,
    *,
    worker_id: str | None = None,
) -> ListedTask | None:
    """The organisation's task with this id on `today`, whatever its status, whoever's it is
    (`worker_id`: only among that worker's cases); None: no such task."""
    kinds, days = _rule_arguments(rules)
    where = "AND worker_id = $6" if worker_id is not None else "AND $6::text IS NULL"
    row = await conn.fetchrow(
        f"SELECT * FROM ({TASKS_SQL.format(where=where)}) listed WHERE task_id = $5",
        tenant_id,
        today,
        kinds,
        days,
        task_id,
        worker_id,
    )
    return _listed(row) if row is not None else None


@reads_view
async def team_overdue(
    conn: Connection | asyncpg.Pool,
    tenant_id: str,
    team_id: str,
    today: dt.date,
    rules: FollowUpRules,
) -> list[WorkerOverdue]:
    """Per worker of the team with open cases: how many tasks are overdue and due today."""
    kinds, days = _rule_arguments(rules)
    rows = await conn.fetch(
        f"""WITH listed AS ({TASKS_SQL.format(where="AND team_id = $5")}),
                 workers AS (SELECT DISTINCT worker_id FROM views.caseload
                              WHERE tenant_id = $1 AND team_id = $5 AND is_open
                                AND worker_id IS NOT NULL)
            SELECT w.worker_id,
                   count(l.task_id) FILTER (WHERE l.status = 'overdue')::int AS overdue,
                   count(l.task_id) FILTER (WHERE l.status = 'due')::int AS due
              FROM workers w LEFT JOIN listed l USING (worker_id)
             GROUP BY w.worker_id ORDER BY w.worker_id""",
        tenant_id,
        today,
        kinds,
        days,
        team_id,
    )
    return [
        WorkerOverdue(worker_id=r["worker_id"], overdue=r["overdue"], due=r["due"]) for r in rows
    ]
