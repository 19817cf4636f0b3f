"""Caseload queries over ``views.caseload`` (filled by `projections.cases`).

* `my_caseload`: a case worker's open cases with their next actions — referrals waiting for
  an answer, the next consent expiry, the next immigration deadline, days since last contact.
* `team_caseload`: a supervisor's team, per case and per worker, as counts, ages and flags
  only (`SUPERVISOR_CASE_FIELDS`, `SUPERVISOR_WORKER_FIELDS`: tested against an allow-list).
  No immigration date reaches a supervisor: "immigration details only for roles that need
  them". Filtering by worker and flag, sorting by any count or age, keyset paging.

Ages are computed at query time from stored dates and `today`, so the view never goes stale
as days pass. The flags' thresholds are the organisation's follow-up rules
(`domain.tasks.rules`, `DEFAULT_RULES` when it has set none); a rule switched off stops its
tasks, not its flag.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

import asyncpg
import msgspec

from domain.tasks.rules import DEFAULT_RULES, FollowUpKind, FollowUpRules
from events.store import Connection
from projections.queries import reads_view

# the defaults of the organisation's follow-up rules
OVERDUE_REFERRAL_DAYS = DEFAULT_RULES.days(FollowUpKind.REFERRAL_OVERDUE)
NO_CONTACT_DAYS = DEFAULT_RULES.days(FollowUpKind.NO_CONTACT)
EXPIRY_WARNING_DAYS = DEFAULT_RULES.days(FollowUpKind.CONSENT_EXPIRING)

Flag = Literal[
    "no-recent-contact",
    "referral-overdue",
    "consent-expiring",
    "no-safety-plan",
    "status-undetermined",
]
FLAGS: tuple[str, ...] = Flag.__args__  # type: ignore[attr-defined]
SortKey = Literal[
    "days_since_contact", "overdue_referrals", "days_open", "services_this_month", "flags"
]
SORT_KEYS: tuple[str, ...] = SortKey.__args__  # type: ignore[attr-defined]


class TeamCase(msgspec.Struct, frozen=True, kw_only=True):
    """One case as a supervisor sees it: counts, ages and flags, and its version (what a
    reassignment names as If-Match)."""

    case_id: uuid.UUID
    worker_id: str | None
    version: int
    days_open: int
    days_since_contact: int
    referrals_waiting: int
    overdue_referrals: int
    services_this_month: int
    flags: list[str]


class WorkerSummary(msgspec.Struct, frozen=True, kw_only=True):
    worker_id: str | None
    open_cases: int
    overdue_referrals: int
    services_this_month: int
    most_days_since_contact: int
    flagged_cases: int


class TeamCaseload(msgspec.Struct, frozen=True, kw_only=True):
    workers: list[WorkerSummary]
    cases: list[TeamCase]
    total_cases: int  # after filters
    next_cursor: tuple[int, uuid.UUID] | None = None


class MyCase(msgspec.Struct, frozen=True, kw_only=True):
    """One of a case worker's open cases, with what needs doing next."""

    case_id: uuid.UUID
    version: int
    days_open: int
    days_since_contact: int
    referrals_waiting: int
    oldest_referral_waiting_days: int | None
    next_consent_expiry: dt.date | None
    next_immigration_deadline: dt.date | None
    services_this_month: int
    flags: list[str]


SUPERVISOR_CASE_FIELDS = frozenset(TeamCase.__struct_fields__)
SUPERVISOR_WORKER_FIELDS = frozenset(WorkerSummary.__struct_fields__)

# The computed columns of one open case; $3 is today. Only these leave the table for a team.
# {overdue_days}, {no_contact_days}, {expiry_days}: the rules' days (validated whole numbers).
_FIGURES = """
    SELECT case_id, worker_id, version,
           COALESCE($3::date - enrolled_on, 0) AS days_open,
           COALESCE($3::date - last_contact_on, 0) AS days_since_contact,
           cardinality(waiting_referrals_since) AS referrals_waiting,
           (SELECT count(*) FROM unnest(waiting_referrals_since) d
             WHERE d < $3::date - {overdue_days})::int AS overdue_referrals,
           CASE WHEN services_month = date_trunc('month', $3::date)::date
                THEN services_in_month ELSE 0 END AS services_this_month,
           (SELECT min(d) FROM unnest(consent_expiries) d WHERE d >= $3::date)
               AS next_consent_expiry,
           has_safe_contact_plan, has_victim_status
      FROM views.caseload
     WHERE tenant_id = $1 AND is_open"""

_FLAGGED = """
    SELECT f.*, array_remove(ARRAY[
               CASE WHEN days_since_contact > {no_contact_days} THEN 'no-recent-contact' END,
               CASE WHEN overdue_referrals > 0 THEN 'referral-overdue' END,
               CASE WHEN next_consent_expiry <= $3::date + {expiry_days}
                    THEN 'consent-expiring' END,
               CASE WHEN NOT has_safe_contact_plan THEN 'no-safety-plan' END,
               CASE WHEN NOT has_victim_status THEN 'status-undetermined' END], NULL) AS flags
      FROM figures f"""


def _thresholds(rules: FollowUpRules) -> dict[str, int]:
    return {
        "overdue_days": int(rules.days(FollowUpKind.REFERRAL_OVERDUE)),
        "no_contact_days": int(rules.days(FollowUpKind.NO_CONTACT)),
        "expiry_days": int(rules.days(FollowUpKind.CONSENT_EXPIRING)),
    }


@reads_view
async def team_caseload(
    conn: Connection | asyncpg.Pool,
    tenant_id: str,
    team_id: str,
    today: dt.date,
    *,
    worker_id: str | None = None,
    flag: str | None = None,
    sort: str = "days_since_contact",
    descending: bool = True,
    limit: int = 50,
    after: tuple[int, uuid.UUID] | None = None,
    rules: FollowUpRules = DEFAULT_RULES,
) -> TeamCaseload:
    """A page of the team's open cases (sorted by `sort`, then case id), the number of cases
    that match the filters, and a summary per worker over the whole team."""
    if sort not in SORT_KEYS:
        raise ValueError("unknown sort key")
    if flag is not None and flag not in FLAGS:
        raise ValueError("unknown flag")
    key = "cardinality(flags)" if sort == "flags" else sort
    direction, beyond = ("DESC", "<") if descending else ("ASC", ">")
    figures, flags = _FIGURES.format(**_thresholds(rules)), _FLAGGED.format(**_thresholds(rules))
    query = f"""
        WITH figures AS ({figures} AND team_id = $2),
             flagged AS ({flags}),
             chosen AS (SELECT * FROM flagged WHERE ($4::text IS NULL OR worker_id = $4)
                                                AND ($5::text IS NULL OR $5 = ANY(flags)))
        SELECT (SELECT count(*) FROM chosen) AS total,
               (SELECT COALESCE(json_agg(w ORDER BY w.worker_id), '[]') FROM (
                    SELECT worker_id, count(*) AS open_cases,
                           sum(overdue_referrals) AS overdue_referrals,
                           sum(services_this_month) AS services_this_month,
                           max(days_since_contact) AS most_days_since_contact,
                           count(*) FILTER (WHERE cardinality(flags) > 0) AS flagged_cases
                      FROM flagged GROUP BY worker_id) w) AS workers,
               (SELECT COALESCE(json_agg(p), '[]') FROM (
                    SELECT case_id, worker_id, version, days_open, days_since_contact,
                           referrals_waiting,
                           overdue_referrals, services_this_month, flags, {key} AS sort_value
                      FROM chosen
                     WHERE $6::int IS NULL OR ({key}, case_id) {beyond} ($6::int, $7::uuid)
                     ORDER BY {key} {direction}, case_id {direction}
                     LIMIT $8) p) AS page"""
    row: Any = await conn.fetchrow(
        query,
        tenant_id,
        team_id,
        today,
        worker_id,
        flag,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    page = msgspec.json.decode(row["page"])
    cases = [
        msgspec.convert({k: v for k, v in item.items() if k != "sort_value"}, TeamCase)
        for item in page
    ]
    next_cursor = (page[-1]["sort_value"], cases[-1].case_id) if len(page) == limit else None
    return TeamCaseload(
        workers=msgspec.json.decode(row["workers"], type=list[WorkerSummary]),
        cases=cases,
        total_cases=row["total"],
        next_cursor=next_cursor,
    )


@reads_view
async def my_caseload(
    conn: Connection | asyncpg.Pool,
    tenant_id: str,
    worker_id: str,
    today: dt.date,
    rules: FollowUpRules = DEFAULT_RULES,
) -> list[MyCase]:
    """The worker's open cases, those needing attention first (most flags, then longest
    without contact)."""
    rows = await conn.fetch(
        f"""
        WITH figures AS ({_FIGURES.format(**_thresholds(rules))} AND worker_id = $2),
             flagged AS ({_FLAGGED.format(**_thresholds(rules))})
        SELECT f.*, c.oldest_waiting_referral_on, c.immigration_expiries
          FROM flagged f JOIN views.caseload c ON c.tenant_id = $1 AND c.case_id = f.case_id
         ORDER BY cardinality(f.flags) DESC, f.days_since_contact DESC, f.case_id""",
        tenant_id,
        worker_id,
        today,
    )
    return [
        MyCase(
            case_id=row["case_id"],
            version=row["version"],
            days_open=row["days_open"],
            days_since_contact=row["days_since_contact"],
            referrals_waiting=row["referrals_waiting"],
            oldest_referral_waiting_days=(today - row["oldest_waiting_referral_on"]).days
            if row["oldest_waiting_referral_on"]
            else None,
            next_consent_expiry=row["next_consent_expiry"],
            next_immigration_deadline=next(
                (d for d in row["immigration_expiries"] if d >= today), None
            ),
            services_this_month=row["services_this_month"],
            flags=list(row["flags"]),
        )
        for row in rows
    ]
