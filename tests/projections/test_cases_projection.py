"""The `cases` projection: the views equal a fold of every stream, built by a rebuild or live.

All data is the demo generator's (synthetic).
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

import projections.cases
from domain.case.state import fold
from events.errors import TamperDetected
from events.store import PostgresEventStore
from projections import checkpoints
from projections.base import tables_of
from projections.case_view import read_case_document
from projections.cases import CASELOAD_COLUMNS, caseload_row
from projections.rebuild import rebuild
from services.demo.seeding import demo_use_cases, seed_demo
from tests.projections.live_support import live_runner, projected_to_head


async def expected_views(store: PostgresEventStore) -> dict[tuple[str, uuid.UUID], tuple]:
    """What the caseload must hold: computed from each stream, read and folded afresh."""
    streams = await store.pool.fetch(
        "SELECT tenant_id, stream_id FROM haven.streams WHERE wrapped_key IS NOT NULL"
    )
    expected = {}
    for tenant_id, stream_id in streams:
        events = await store.read_stream(tenant_id, stream_id)
        state = fold((r.version, r.event) for r in events)
        expected[(tenant_id, stream_id)] = caseload_row(tenant_id, stream_id, state)
    return expected


async def projected_caseload(pool: asyncpg.Pool) -> dict[tuple[str, uuid.UUID], tuple]:
    rows = await pool.fetch(f"SELECT {', '.join(CASELOAD_COLUMNS)} FROM views.caseload")
    return {(row[0], row[1]): tuple(row) for row in rows}


async def assert_views_match_the_log(store: PostgresEventStore) -> None:
    expected = await expected_views(store)
    assert await projected_caseload(store.pool) == expected
    for tenant_id, case_id in expected:
        document = await read_case_document(store.pool, store._keyring, tenant_id, case_id)
        events = await store.read_stream(tenant_id, case_id)
        assert document is not None
        assert document.state == fold((r.version, r.event) for r in events)
        assert [entry.version for entry in document.timeline] == [r.version for r in events]


async def test_a_rebuild_projects_every_case_of_the_log(case_store, factories) -> None:
    await seed_demo(demo_use_cases(case_store), cases=12)
    built = await rebuild(case_store, case_store.pool, factories["cases"])
    assert built.generation == 1
    await assert_views_match_the_log(case_store)
    assert await checkpoints.load(case_store.pool, "cases") == built


async def test_a_second_rebuild_swaps_in_a_new_generation_and_drops_the_old(
    case_store, factories
) -> None:
    await seed_demo(demo_use_cases(case_store), cases=4)
    await rebuild(case_store, case_store.pool, factories["cases"])
    second = await rebuild(case_store, case_store.pool, factories["cases"])
    assert second.generation == 2
    tables = {
        r[0]
        for r in await case_store.pool.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'views'"
        )
    }
    assert tables == {"case_view_g2", "caseload_g2"}
    await assert_views_match_the_log(case_store)


async def test_the_runner_follows_the_log_live(case_store, factories, listen) -> None:
    await seed_demo(demo_use_cases(case_store), cases=3, seed=1)
    async with live_runner(case_store, listen, factories["cases"]):
        await seed_demo(demo_use_cases(case_store), cases=6, seed=2)
        assert await projected_to_head(case_store, "cases")
        await assert_views_match_the_log(case_store)


async def test_a_view_row_moved_to_another_case_does_not_open(case_store, factories) -> None:
    """Attack: copy one case's sealed view over another's (same tenant). Control: unmoved opens."""
    await seed_demo(demo_use_cases(case_store), cases=4, seed=3)
    await rebuild(case_store, case_store.pool, factories["cases"])
    rows = await case_store.pool.fetch(
        "SELECT tenant_id, case_id, version, sealed FROM views.case_view "
        "ORDER BY tenant_id, case_id"
    )
    victim, source = next((a, b) for a in rows for b in rows if a[0] == b[0] and a[1] != b[1])
    assert (
        await read_case_document(case_store.pool, case_store._keyring, victim[0], victim[1])
        is not None
    )
    await case_store.pool.execute(
        "UPDATE views.case_view SET sealed = $3, version = $4 "
        "WHERE tenant_id = $1 AND case_id = $2",
        victim[0],
        victim[1],
        source[3],
        source[2],
    )
    try:
        await read_case_document(case_store.pool, case_store._keyring, victim[0], victim[1])
    except TamperDetected:
        return
    raise AssertionError("a moved view row opened")


async def _apply_the_log_counting_turns_of_another_task(case_store, factories) -> tuple[int, int]:  # noqa: ANN001
    """Fold the whole log into a fresh `cases` projection; (cases folded, turns another task
    of the same event loop got meanwhile)."""
    built = await rebuild(case_store, case_store.pool, factories["cases"])
    events = [e for batch in [b async for b in case_store.read_all_batches()] for e in batch]
    projection = factories["cases"]()
    turns = 0

    async def other_task() -> None:  # a request, say, waiting on the same loop
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    async with case_store.pool.acquire() as conn:
        other = asyncio.create_task(other_task())
        await asyncio.sleep(0)
        turns = 0
        try:
            await projection.apply(conn, events, tables_of(projection, built.generation))
        finally:
            other.cancel()
    return len({(e.tenant_id, e.stream_id) for e in events}), turns


async def test_folding_a_batch_lets_other_tasks_of_the_loop_run_between_its_cases(
    case_store, factories, monkeypatch
) -> None:  # noqa: ANN001
    await seed_demo(demo_use_cases(case_store), cases=20)
    cases, turns = await _apply_the_log_counting_turns_of_another_task(case_store, factories)
    assert turns >= cases >= 20  # the demo may open a few more (transfers)
    # control: without the pause between cases the other task waits for the whole batch
    monkeypatch.setattr(projections.cases, "let_others_run", _no_pause)
    cases, turns = await _apply_the_log_counting_turns_of_another_task(case_store, factories)
    assert turns < 5 < cases


async def _no_pause() -> None:
    return None
