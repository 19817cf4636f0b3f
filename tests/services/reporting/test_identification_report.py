"""A federal release over demo data with screenings and activities: the funnel is suppressed
and audited like every table about people, a late screening revises the quarter, and the
activity measures are published as counted. All data is synthetic."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from domain.event import EventMetadata
from domain.outreach.activity import Activity, AreaServed, AudienceGroup
from domain.outreach.state import record as record_activity
from domain.reporting.activity_measures import ACTIVITY_TABLES
from domain.screening.screening import Indicator, RecordScreening, record_screening
from events.store import PostgresEventStore
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.reporting.job import FederalReportJob
from services.screening.instruments import instrument_catalog
from tests.services.reporting.conftest import SOLVER, reset_reporting, seeded_demo
from tests.services.reporting.releases import empty_ledger
from tests.services.reporting.support import audit_whole_ledger, counts_of
from tests.tiers import FULL, scaled

pytestmark = pytest.mark.slow

PERIOD = "2025Q4"  # the fiscal year's first quarter: its tables alone, no year to date
CLOCK = dt.datetime(2026, 10, 15, 12, tzinfo=dt.UTC)
K = 11


async def _screen(
    store: PostgresEventStore, org: str, case_id: uuid.UUID | None, draw: random.Random
) -> None:
    """One screening, through the domain's decision, appended as the use case appends it."""
    (instrument,) = instrument_catalog().available(org)
    items = [item.id for item in instrument.items]
    screening_id = uuid.uuid4()
    event = record_screening(
        RecordScreening(
            screening_id=str(screening_id),
            organisation_id=org,
            screened_by="outreach-1",
            instrument_id=instrument.id,
            instrument_version=instrument.version,
            screened_on=dt.date(2025, draw.randint(10, 12), draw.randint(1, 28)),
            setting="outreach" if case_id is None else "shelter_intake",
            indicators=tuple(
                Indicator(item=item, answer=draw.choice(("yes", "no")))
                for item in draw.sample(items, draw.randint(0, 5))
            ),
            minor="no",
            case_id=None if case_id is None else str(case_id),
        ),
        instrument,
        CLOCK,
    )
    await store.append(org, screening_id, 0, [event], EventMetadata(actor_id="outreach-1"))


async def _train(store: PostgresEventStore, org: str, sector: str, people: int) -> None:
    activity = Activity(
        held_on=dt.date(2025, 11, 12),
        kind="training",
        audience=(AudienceGroup(sector=sector, participants=people),),
        hours=2.5,
        languages=("en",),
        delivery="in_person",
        area=AreaServed(state="TX"),
        topic="Recognising indicators of labour trafficking",
    )
    activity_id = uuid.uuid4()
    events = record_activity(str(activity_id), org, activity, CLOCK.date())
    await store.append(org, activity_id, 0, events, EventMetadata(actor_id="trainer-1"))


async def _served_cases(pool: asyncpg.Pool) -> list[tuple[str, uuid.UUID]]:
    rows = await pool.fetch(
        """SELECT m.tenant_id, m.case_id FROM views.reporting_subjects m
             JOIN reporting.federal_inputs f USING (subject)
            WHERE f.quarter = $1 ORDER BY 1, 2""",
        PERIOD,
    )
    return [(r[0], r[1]) for r in rows]


@pytest.fixture(scope="module")
async def screened(pool: asyncpg.Pool, key_file) -> AsyncIterator[tuple[PostgresEventStore, Any]]:
    """Demo cases with screenings (of served clients and standing alone) and trainings of
    2026Q3, the read models built."""
    async with seeded_demo(pool, key_file, cases=scaled(default=400, full=900), seed=7) as store:
        draw = random.Random(7)
        cases = await _served_cases(pool)
        for org, case_id in draw.sample(cases, scaled(default=60, full=200)):
            await _screen(store, org, case_id, draw)
        for org in sorted({org for org, _ in cases}):
            for _ in range(scaled(default=40, full=120)):
                await _screen(store, org, None, draw)
            await _train(store, org, "law_enforcement", 3)  # a count below k
        factories = projection_factories(Keyring(FileKeyProvider(key_file)), store)
        yield store, factories


async def _rebuild(store: PostgresEventStore, pool: asyncpg.Pool, factories: Any) -> None:
    for name in ("screenings", "activities"):
        await rebuild(store, pool, factories[name])


def _table(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in document["tables"] if t["name"] == name)


def _small(document: dict[str, Any], names: set[str]) -> list[int]:
    return [
        c["count"]
        for t in document["tables"]
        if t["name"] in names
        for c in t["cells"]
        if c["count"] is not None and 0 < c["count"] < K
    ]


async def test_a_release_holds_the_funnel_suppressed_and_audited_and_a_late_screening_revises_it(
    screened: tuple[PostgresEventStore, Any], pool: asyncpg.Pool, reporting_url: str
) -> None:
    store, factories = screened
    await _rebuild(store, pool, factories)
    await reset_reporting(pool)
    await empty_ledger(pool)
    job = FederalReportJob(reporting_url, solver=SOLVER)
    org = (await _served_cases(pool))[0][0]
    rolled_up = await job.run(PERIOD)
    of_org = await job.run(PERIOD, org)
    funnel_tables = {"tims_screening_results", "identification_funnel"}
    for document in (rolled_up, of_org):
        names = [t["name"] for t in document["tables"]]
        assert funnel_tables <= set(names) and {t.name for t in ACTIVITY_TABLES} <= set(names)
        assert _small(document, funnel_tables) == []
    funnel = {
        c["dims"]["funnel_stage"]: c for c in _table(rolled_up, "identification_funnel")["cells"]
    }
    assert list(funnel) == [
        "screened",
        "indicators_present",
        "strong_or_confirmed",
        "became_client",
        "received_services",
        "total",
    ]
    assert funnel["screened"]["count"] == funnel["total"]["count"]
    screened_total = await pool.fetchval(
        "SELECT count(*) FROM views.screenings "
        "WHERE screened_month BETWEEN '2025-10-01' AND '2025-12-01'"
    )
    assert funnel["screened"]["count"] in (None, screened_total)
    assert funnel["became_client"]["status"] in ("published", "suppressed")
    # not about people: a training of three police officers is published as counted
    trained = {
        tuple(c["dims"].values()): c for c in _table(of_org, "tims_trainings_by_sector")["cells"]
    }
    assert trained[("law_enforcement", "people_trained")] == {
        "dims": {"sector": "law_enforcement", "measure": "people_trained"},
        "count": 3,
        "status": "published",
    }
    assert rolled_up["certificate"]["not_suppressed"]["tables"] == [t.name for t in ACTIVITY_TABLES]
    assert await job.run(PERIOD) == rolled_up  # nothing changed: the release as stored

    # late data of the released quarter: screenings and a training recorded afterwards
    draw = random.Random(11)
    for _ in range(4):
        await _screen(store, org, None, draw)
    await _train(store, org, "health_care", 2)
    await _rebuild(store, pool, factories)
    revised = await job.run(PERIOD)
    assert revised["certificate"]["revision"] == 1
    assert _small(revised, funnel_tables) == []
    before = funnel["screened"]["count"]
    after = {
        c["dims"]["funnel_stage"]: c for c in _table(revised, "identification_funnel")["cells"]
    }
    if before is not None and after["screened"]["count"] is not None:
        assert not 0 < after["screened"]["count"] - before < K  # the late screenings stay hidden
    late = {
        tuple(c["dims"].values()): c["count"]
        for c in _table(revised, "tims_trainings_by_sector")["cells"]
    }
    assert late[("health_care", "people_trained")] == 2
    if FULL:  # a late activity alone revises the quarter, its numbers about people unchanged
        await _train(store, org, "education", 7)
        await _rebuild(store, pool, factories)
        again = await job.run(PERIOD)
        assert again["certificate"]["revision"] == 2
        assert list(counts_of(again)) == list(counts_of(revised))
        assert _table(again, "tims_trainings_by_sector") != _table(
            revised, "tims_trainings_by_sector"
        )
    assert await audit_whole_ledger(pool) == []  # every release above, from scratch


async def test_the_reporting_role_gets_screening_and_activity_counts_and_no_row(
    screened: tuple[PostgresEventStore, Any], pool: asyncpg.Pool, reporting_url: str
) -> None:
    store, factories = screened
    await _rebuild(store, pool, factories)
    await pool.execute(
        "REVOKE EXECUTE ON FUNCTION reporting_ledger.activity_counts(text[]) FROM haven_reporting"
    )
    await reset_reporting(pool)  # re-applies the role's grants, these included
    conn = await asyncpg.connect(reporting_url)
    try:
        for view in ("views.screenings", "views.activities", "views.reporting_subjects"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"SELECT * FROM {view} LIMIT 1")
        counted = await conn.fetch(
            "SELECT * FROM reporting_ledger.identification_counts($1::text[])", [PERIOD]
        )
        activities = await conn.fetch(
            "SELECT * FROM reporting_ledger.activity_counts($1::text[])", [PERIOD]
        )
    finally:
        await conn.close()
    assert set(counted[0].keys()) == {"organisation", "quarter", "result", "outcome", "screenings"}
    assert sum(r["screenings"] for r in counted) == await pool.fetchval(
        "SELECT count(*) FROM views.screenings "
        "WHERE screened_month BETWEEN '2025-10-01' AND '2025-12-01'"
    )
    assert {r["outcome"] for r in counted} <= {"not_client", "withheld", "client", "client_served"}
    assert "client" in {r["outcome"] for r in counted} or "client_served" in {
        r["outcome"] for r in counted
    }
    assert set(activities[0].keys()) == {
        "organisation",
        "quarter",
        "kind",
        "sector",
        "activities",
        "participants",
        "hours",
    }
