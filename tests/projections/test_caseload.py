"""Caseload queries: what a case worker and a supervisor see, computed from the projection.

Expected values are computed independently, in Python, from each stream's folded state.
"""

from __future__ import annotations

import uuid

import pytest

from domain.case.lifecycles import REFERRAL_AWAITING_ANSWER
from domain.case.state import CaseState, fold
from events.store import PostgresEventStore
from projections.caseload import (
    EXPIRY_WARNING_DAYS,
    NO_CONTACT_DAYS,
    OVERDUE_REFERRAL_DAYS,
    SUPERVISOR_CASE_FIELDS,
    SUPERVISOR_WORKER_FIELDS,
    MyCase,
    my_caseload,
    team_caseload,
)
from projections.rebuild import rebuild
from services.demo.plan import DEMO_TODAY
from services.demo.seeding import demo_use_cases, seed_demo

TENANT = "org-harbor"
TODAY = DEMO_TODAY

# What a supervisor may see of a case and of a worker: counts, ages, flags, and the ids needed
# to assign or break the glass. Adding anything here needs a privacy review.
SUPERVISOR_ALLOW_LIST = frozenset(
    {
        "case_id",
        "worker_id",
        "version",
        "days_open",
        "days_since_contact",
        "referrals_waiting",
        "overdue_referrals",
        "services_this_month",
        "flags",
        "open_cases",
        "most_days_since_contact",
        "flagged_cases",
    }
)


def expected_flags(state: CaseState) -> list[str]:
    waiting = [
        r.last_changed_on for r in state.referrals.values() if r.status in REFERRAL_AWAITING_ANSWER
    ]
    expiries = [
        c.granted.expires_on
        for c in state.consents.values()
        if c.revoked is None and c.granted.expires_on >= TODAY
    ]
    flags = []
    if (TODAY - state.last_activity_on).days > NO_CONTACT_DAYS:
        flags.append("no-recent-contact")
    if any((TODAY - d).days > OVERDUE_REFERRAL_DAYS for d in waiting):
        flags.append("referral-overdue")
    if expiries and (min(expiries) - TODAY).days <= EXPIRY_WARNING_DAYS:
        flags.append("consent-expiring")
    if state.contact is None or not state.contact.channels:
        flags.append("no-safety-plan")
    if state.victim_status is None:
        flags.append("status-undetermined")
    return flags


async def open_states(store: PostgresEventStore) -> dict[uuid.UUID, CaseState]:
    states = {}
    for (stream_id,) in await store.pool.fetch(
        "SELECT stream_id FROM haven.streams WHERE tenant_id = $1 AND wrapped_key IS NOT NULL",
        TENANT,
    ):
        state = fold((r.version, r.event) for r in await store.read_stream(TENANT, stream_id))
        if state.closure is None and state.transfer is None:
            states[stream_id] = state
    return states


@pytest.fixture
async def projected(case_store, factories) -> dict[uuid.UUID, CaseState]:
    await seed_demo(demo_use_cases(case_store), cases=40, seed=11)
    await rebuild(case_store, case_store.pool, factories["cases"])
    return await open_states(case_store)


async def test_my_caseload_lists_the_workers_open_cases_with_next_actions(
    case_store, projected
) -> None:
    worker = max(
        {s.worker_id for s in projected.values()},
        key=lambda w: sum(s.worker_id == w for s in projected.values()),
    )
    mine = await my_caseload(case_store.pool, TENANT, worker, TODAY)
    expected = {case_id: state for case_id, state in projected.items() if state.worker_id == worker}
    assert {case.case_id for case in mine} == set(expected)
    for case in mine:
        state = expected[case.case_id]
        assert case.version == state.version
        assert case.days_since_contact == (TODAY - state.last_activity_on).days
        assert case.referrals_waiting == sum(
            r.status in REFERRAL_AWAITING_ANSWER for r in state.referrals.values()
        )
        assert case.services_this_month == sum(
            s.delivered_on.replace(day=1) == TODAY.replace(day=1) for s in state.services
        )
        assert case.flags == expected_flags(state)
        deadlines = sorted(
            m.expires_on
            for m in state.milestones.values()
            if m.expires_on and m.expires_on >= TODAY
        )
        assert case.next_immigration_deadline == (deadlines[0] if deadlines else None)


def biggest_team(states: dict[uuid.UUID, CaseState]) -> str:
    teams = [s.team_id for s in states.values()]
    return max(set(teams), key=teams.count)


async def test_team_caseload_pages_through_every_open_case_once_in_order(
    case_store, projected
) -> None:
    team = biggest_team(projected)
    expected = {case_id for case_id, state in projected.items() if state.team_id == team}
    seen, after, pages = [], None, 0
    while True:
        page = await team_caseload(
            case_store.pool, TENANT, team, TODAY, limit=2, after=after, sort="days_since_contact"
        )
        seen.extend(page.cases)
        pages += 1
        assert page.total_cases == len(expected)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert [c.case_id for c in seen] and len(seen) == len({c.case_id for c in seen})
    assert {c.case_id for c in seen} == expected
    keys = [(c.days_since_contact, c.case_id) for c in seen]
    assert keys == sorted(keys, reverse=True)
    assert pages >= 2
    for case in seen:
        assert case.flags == expected_flags(projected[case.case_id])
    summary = page.workers
    assert sum(w.open_cases for w in summary) == len(expected)
    assert sum(w.overdue_referrals for w in summary) == sum(c.overdue_referrals for c in seen)


async def test_team_caseload_filters_by_worker_and_flag(case_store, projected) -> None:
    team = biggest_team(projected)
    in_team = {case_id: s for case_id, s in projected.items() if s.team_id == team}
    worker = next(iter(in_team.values())).worker_id
    by_worker = await team_caseload(
        case_store.pool, TENANT, team, TODAY, worker_id=worker, limit=1000
    )
    assert {c.case_id for c in by_worker.cases} == {
        i for i, s in in_team.items() if s.worker_id == worker
    }
    flag = (
        "no-safety-plan"
        if any("no-safety-plan" in expected_flags(s) for s in in_team.values())
        else "no-recent-contact"
    )
    flagged = await team_caseload(
        case_store.pool, TENANT, team, TODAY, flag=flag, limit=1000, descending=False
    )
    assert {c.case_id for c in flagged.cases} == {
        i for i, s in in_team.items() if flag in expected_flags(s)
    }


async def test_another_organisations_team_sees_nothing(case_store, projected) -> None:
    team = next(iter(projected.values())).team_id
    other = await team_caseload(case_store.pool, "org-lantern", team, TODAY)
    assert other.cases == [] and other.workers == [] and other.total_cases == 0


def test_a_supervisor_is_shown_only_allow_listed_fields() -> None:
    """Every field of the supervisor's caseload is on the allow-list. Control: the case
    worker's own caseload carries an immigration deadline and is refused by the same check."""
    assert SUPERVISOR_CASE_FIELDS | SUPERVISOR_WORKER_FIELDS <= SUPERVISOR_ALLOW_LIST
    assert not frozenset(MyCase.__struct_fields__) <= SUPERVISOR_ALLOW_LIST


async def test_the_caseload_table_holds_no_identifying_column(case_store, projected) -> None:
    """The columns of views.caseload, listed from the database, are all operational: no
    name, narrative, location, demographic or immigration detail beyond expiry dates."""
    columns = {
        r[0]
        for r in await case_store.pool.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'views' AND table_name = 'caseload'"
        )
    }
    operational = {
        "tenant_id",
        "case_id",
        "version",
        "worker_id",
        "team_id",
        "is_open",
        "enrolled_on",
        "closed_on",
        "last_contact_on",
        "waiting_referrals_since",
        "oldest_waiting_referral_on",
        "consent_expiries",
        "immigration_expiries",
        "services_month",
        "services_in_month",
        "has_safe_contact_plan",
        "has_victim_status",
        # a transfer asked and not yet answered: ids and a date
        "transfer_id",
        "transfer_recipient",
        "transfer_requested_on",
        "transfer_worker_id",
        "transfer_team_id",
    }
    assert columns == operational
    view_columns = {
        r[0]
        for r in await case_store.pool.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'views' AND table_name = 'case_view'"
        )
    }
    assert view_columns == {"tenant_id", "case_id", "version", "key_id", "sealed"}


async def test_unknown_sort_keys_and_flags_are_refused(case_store) -> None:
    """Sort keys and flags reach the SQL text only from fixed lists."""
    with pytest.raises(ValueError):
        await team_caseload(case_store.pool, TENANT, "team", TODAY, sort="worker_id; DROP TABLE x")
    with pytest.raises(ValueError):
        await team_caseload(case_store.pool, TENANT, "team", TODAY, flag="anything")
