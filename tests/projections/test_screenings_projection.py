"""The `screenings` projection: its rows equal the screenings of the log, built by a rebuild
or followed live, and an erased screening leaves it. Screenings and cases are synthetic."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from domain.event import EventMetadata
from domain.screening.screening import (
    SETTINGS,
    Indicator,
    RecordScreening,
    ScreeningRecorded,
    record_screening,
)
from events.store import PostgresEventStore
from projections import checkpoints
from projections.rebuild import rebuild
from projections.screenings import COLUMNS, screening_row, screening_summary
from services.demo.seeding import demo_use_cases, seed_demo
from services.screening.instruments import instrument_catalog
from tests.projections.live_support import live_runner, projected_to_head

ORGS = ("org-harbor", "org-lantern")
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


async def record_screenings(store: PostgresEventStore, count: int, seed: int) -> list[uuid.UUID]:
    """`count` synthetic screenings across both organisations (answers drawn from `seed`)."""
    draw = random.Random(seed)
    (instrument,) = instrument_catalog().available("org-harbor")
    items = [item.id for item in instrument.items]
    recorded = []
    for _ in range(count):
        org, screening_id = draw.choice(ORGS), uuid.uuid4()
        event = record_screening(
            RecordScreening(
                screening_id=str(screening_id),
                organisation_id=org,
                screened_by="outreach-1",
                instrument_id=instrument.id,
                instrument_version=instrument.version,
                screened_on=dt.date(2026, draw.randint(1, 5), draw.randint(1, 28)),
                setting=draw.choice(SETTINGS),
                indicators=tuple(
                    Indicator(item=item, answer=draw.choice(("yes", "no", "unknown")))
                    for item in draw.sample(items, draw.randint(0, 6))
                ),
                minor=draw.choice(("yes", "no", "unknown")),
            ),
            instrument,
            NOW,
        )
        await store.append(org, screening_id, 0, [event], EventMetadata(actor_id="outreach-1"))
        recorded.append(screening_id)
    return recorded


async def expected_rows(store: PostgresEventStore) -> dict[tuple[str, uuid.UUID], tuple]:
    """The rows the view must hold: each live screening stream, read afresh."""
    streams = await store.pool.fetch(
        "SELECT tenant_id, stream_id FROM haven.streams WHERE wrapped_key IS NOT NULL"
    )
    expected = {}
    for tenant_id, stream_id in streams:
        (first, *_) = await store.read_stream(tenant_id, stream_id)
        if isinstance(first.event, ScreeningRecorded):
            expected[(tenant_id, stream_id)] = screening_row(tenant_id, stream_id, first.event)
    return expected


async def projected_rows(store: PostgresEventStore) -> dict[tuple[str, uuid.UUID], tuple]:
    rows = await store.pool.fetch(f"SELECT {', '.join(COLUMNS)} FROM views.screenings")
    return {(row[0], row[1]): tuple(row) for row in rows}


async def test_a_rebuild_holds_exactly_the_screenings_of_the_log(case_store, factories) -> None:
    await seed_demo(demo_use_cases(case_store), cases=3)  # case streams: not screenings
    await record_screenings(case_store, 25, seed=1)
    built = await rebuild(case_store, case_store.pool, factories["screenings"])
    expected = await expected_rows(case_store)
    assert len(expected) == 25
    assert await projected_rows(case_store) == expected
    assert await checkpoints.load(case_store.pool, "screenings") == built


async def test_the_live_runner_builds_what_a_rebuild_builds(case_store, factories, listen) -> None:
    await record_screenings(case_store, 5, seed=2)
    async with live_runner(case_store, listen, factories["screenings"]):
        await record_screenings(case_store, 12, seed=3)
        await seed_demo(demo_use_cases(case_store), cases=2, seed=4)
        assert await projected_to_head(case_store, "screenings")
        live = await projected_rows(case_store)
    assert live == await expected_rows(case_store)
    await rebuild(case_store, case_store.pool, factories["screenings"])
    assert await projected_rows(case_store) == live


async def test_an_erased_screening_leaves_the_view_and_the_summary(case_store, factories) -> None:
    screenings = await record_screenings(case_store, 6, seed=5)
    await rebuild(case_store, case_store.pool, factories["screenings"])
    tenant = await case_store.pool.fetchval(
        "SELECT tenant_id FROM haven.streams WHERE stream_id = $1", screenings[0]
    )
    before = await screening_summary(
        case_store.pool, tenant, dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    )
    await case_store.shred(tenant, screenings[0])
    await rebuild(case_store, case_store.pool, factories["screenings"])
    rows = await projected_rows(case_store)
    assert (tenant, screenings[0]) not in rows
    assert rows == await expected_rows(case_store)
    after = await screening_summary(
        case_store.pool, tenant, dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    )
    assert after.total == before.total - 1


async def test_the_view_holds_codes_a_month_and_a_flag_only(case_store, factories) -> None:
    await record_screenings(case_store, 4, seed=6)
    await rebuild(case_store, case_store.pool, factories["screenings"])
    columns = {
        row[0]
        for row in await case_store.pool.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'views' AND table_name = 'screenings'"
        )
    }
    assert columns == set(COLUMNS)
    days = {
        row[0].day
        for row in await case_store.pool.fetch("SELECT screened_month FROM views.screenings")
    }
    assert days == {1}  # the month, never the day
