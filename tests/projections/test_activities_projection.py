"""The `activities` projection: a rebuild and the live runner both equal the rows computed
from each activity's stream; a correction replaces a row, a withdrawal removes it and leaves
the summary, and case streams beside them change nothing. All data is synthetic."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec

from domain.event import EventMetadata
from domain.outreach.activity import Activity, AreaServed, AudienceGroup
from domain.outreach.state import correct, fold_activity, record, withdraw
from domain.outreach.summary import summarise
from events.store import PostgresEventStore
from projections import checkpoints
from projections.activities import (
    ACTIVITY_COLUMNS,
    activity_page,
    activity_row,
    activity_summary,
)
from projections.rebuild import rebuild
from services.demo.seeding import demo_use_cases, seed_demo
from tests.projections.live_support import live_runner, projected_to_head

TODAY = dt.date(2026, 6, 30)
ORGS = ("org-harbor", "org-lantern")


def sample(n: int) -> Activity:
    return Activity(
        held_on=dt.date(2026, 1 + n % 6, 1 + n % 27),
        kind=("training", "outreach_event", "technical_assistance", "public_awareness")[n % 4],
        audience=(
            AudienceGroup(sector="law_enforcement", participants=10 + n),
            *((AudienceGroup(sector="health_care", participants=n),) if n % 2 else ()),
        ),
        hours=1 + (n % 8) / 4,
        languages=("en",) if n % 3 else ("en", "es"),
        delivery="remote" if n % 5 == 0 else "in_person",
        area=AreaServed(state="TX", counties=("48201",) if n % 2 else ()),
        topic=f"Synthetic topic {n}",
    )


async def record_activities(store: PostgresEventStore, count: int, seed: int) -> None:
    """`count` activities across two organisations; every third corrected, every fifth
    withdrawn."""
    for n in range(seed, seed + count):
        org = ORGS[n % 2]
        stream = uuid.uuid4()
        meta = EventMetadata(actor_id="outreach-1")
        events = record(str(stream), org, sample(n), TODAY)
        await store.append(org, stream, 0, events, meta)
        state = fold_activity(enumerate(events, start=1))
        if n % 3 == 0:
            later = correct(state, msgspec.structs.replace(sample(n + 1), topic="Corrected"), TODAY)
            await store.append(org, stream, state.version, later, meta)
            events += later
            state = fold_activity(enumerate(events, start=1))
        if n % 5 == 0:
            await store.append(org, stream, state.version, withdraw(state, "duplicate"), meta)


async def expected_rows(store: PostgresEventStore) -> dict[tuple[str, uuid.UUID], tuple]:
    """The rows the log calls for: each activity's stream read and folded afresh."""
    expected = {}
    for tenant_id, stream_id in await store.pool.fetch(
        "SELECT tenant_id, stream_id FROM haven.streams WHERE wrapped_key IS NOT NULL"
    ):
        events = await store.read_stream(tenant_id, stream_id)
        state = fold_activity((r.version, r.event) for r in events)
        if not state.exists or state.withdrawn is not None:
            continue
        row = activity_row(events[-1])  # a standing activity's last event: its (corrected) record
        assert row is not None
        expected[(tenant_id, stream_id)] = row
    return expected


async def projected_rows(pool: asyncpg.Pool) -> dict[tuple[str, uuid.UUID], tuple]:
    rows = await pool.fetch(f"SELECT {', '.join(ACTIVITY_COLUMNS)} FROM views.activities")
    out = {}
    for row in rows:
        values = list(row)
        values[6] = float(values[6])  # numeric hours
        out[(row[0], row[1])] = tuple(values)
    return out


async def assert_rows_match_the_log(store: PostgresEventStore) -> None:
    expected = await expected_rows(store)
    assert expected, "the log holds standing activities"
    assert await projected_rows(store.pool) == expected


async def test_a_rebuild_projects_every_standing_activity(case_store, factories) -> None:
    await seed_demo(demo_use_cases(case_store), cases=4)  # case streams beside the activities
    await record_activities(case_store, 20, seed=0)
    built = await rebuild(case_store, case_store.pool, factories["activities"])
    assert built.generation == 1
    await assert_rows_match_the_log(case_store)
    assert await checkpoints.load(case_store.pool, "activities") == built


async def test_a_rebuild_split_by_stream_across_processes_equals_the_log(
    case_store, factories, partitioning
) -> None:
    await seed_demo(demo_use_cases(case_store), cases=3, seed=7)
    await record_activities(case_store, 24, seed=50)
    await rebuild(case_store, case_store.pool, factories["activities"], partitioning=partitioning)
    await assert_rows_match_the_log(case_store)


async def test_the_runner_follows_the_log_live_and_equals_a_rebuild(
    case_store, factories, listen
) -> None:
    await record_activities(case_store, 6, seed=100)
    async with live_runner(case_store, listen, factories["activities"]):
        await seed_demo(demo_use_cases(case_store), cases=2, seed=5)
        await record_activities(case_store, 15, seed=200)
        assert await projected_to_head(case_store, "activities")
        await assert_rows_match_the_log(case_store)
        live = await projected_rows(case_store.pool)
    await rebuild(case_store, case_store.pool, factories["activities"])
    assert await projected_rows(case_store.pool) == live


async def test_a_withdrawn_activity_leaves_the_list_and_the_summary(case_store, factories) -> None:
    org, stream, meta = "org-harbor", uuid.uuid4(), EventMetadata(actor_id="outreach-1")
    activity = sample(1)  # law enforcement 11, health care 1, 1.25 hours, in January
    events = record(str(stream), org, activity, TODAY)
    await case_store.append(org, stream, 0, events, meta)
    await rebuild(case_store, case_store.pool, factories["activities"])
    year = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    summary = await activity_summary(case_store.pool, org, *year)
    assert (summary.activities, summary.participants, summary.hours) == (1, 12, 1.25)
    assert [(r.sector, r.participants) for r in summary.by_month_kind_and_sector] == [
        ("health_care", 1),
        ("law_enforcement", 11),
    ]
    page = await activity_page(case_store.pool, org)
    assert [a.activity_id for a in page.activities] == [str(stream)]
    state = fold_activity(enumerate(events, start=1))
    await case_store.append(org, stream, 1, withdraw(state, "entered_in_error"), meta)
    await rebuild(case_store, case_store.pool, factories["activities"])
    summary = await activity_summary(case_store.pool, org, *year)
    assert (summary.activities, summary.participants, summary.by_month_and_kind) == (0, 0, [])
    assert (await activity_page(case_store.pool, org)).activities == []
    # control: the other organisation sees nothing of it at any point
    assert (await activity_summary(case_store.pool, "org-lantern", *year)).activities == 0


async def test_the_list_pages_and_filters(case_store, factories) -> None:
    await record_activities(case_store, 30, seed=300)
    await rebuild(case_store, case_store.pool, factories["activities"])
    org = ORGS[0]
    everything = [a for a in (await activity_page(case_store.pool, org, limit=500)).activities]
    seen, after = [], None
    while True:
        page = await activity_page(case_store.pool, org, limit=4, after=after)
        seen += page.activities
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert seen == everything and len(everything) > 4
    assert [a.held_on for a in everything] == sorted((a.held_on for a in everything), reverse=True)
    trainings = (await activity_page(case_store.pool, org, kind="training", limit=500)).activities
    assert trainings and all(a.kind == "training" for a in trainings)
    health = (await activity_page(case_store.pool, org, sector="health_care", limit=500)).activities
    assert health and all("health_care" in a.sectors for a in health)
    march = (
        await activity_page(
            case_store.pool,
            org,
            first_day=dt.date(2026, 3, 1),
            last_day=dt.date(2026, 3, 31),
            limit=500,
        )
    ).activities
    assert all(a.held_on.month == 3 for a in march)


async def test_the_summary_query_equals_the_pure_summary_of_the_log(case_store, factories) -> None:
    await record_activities(case_store, 40, seed=500)
    await rebuild(case_store, case_store.pool, factories["activities"])
    for org in ORGS:
        states = []
        for (stream_id,) in await case_store.pool.fetch(
            "SELECT stream_id FROM haven.streams WHERE tenant_id = $1", org
        ):
            events = await case_store.read_stream(org, stream_id)
            states.append(fold_activity((r.version, r.event) for r in events))
        for first, last in (
            (dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
            (dt.date(2026, 2, 10), dt.date(2026, 4, 20)),
        ):
            pure = summarise(states, first, last)
            queried = await activity_summary(case_store.pool, org, first, last)
            assert (queried.activities, queried.participants, queried.hours) == tuple(pure.total)
            assert {
                (r.month, r.kind): (r.activities, r.participants, r.hours)
                for r in queried.by_month_and_kind
            } == {key: tuple(cell) for key, cell in pure.by_month_and_kind.items()}
            assert {
                (r.month, r.kind, r.sector): (r.activities, r.participants, r.hours)
                for r in queried.by_month_kind_and_sector
            } == {key: tuple(cell) for key, cell in pure.by_month_kind_and_sector.items()}
