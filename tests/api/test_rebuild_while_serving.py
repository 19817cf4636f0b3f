"""A rebuild while the API serves caseload reads: no reader ever sees a half-built view.

Readers hammer `GET /v1/caseload` while `projections.rebuild` builds the next generation in
many small transactions and swaps it in. Every answer must show the whole team. Control: the
naive rebuild — empty the live table and refill it in place, batch by batch — is seen half
built by the same readers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx

from events.log_order import LOG_START
from projections.base import live_events, tables_of
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bootstrap import Runtime
from services.demo.organisations import demo_accounts
from services.demo.seeding import demo_use_cases, seed_demo
from services.identity import LocalIssuer
from tests.api.conftest import AppFactory, api_client
from tests.conftest import empty_log_and_read_models

ORG = "org-rebuild-serving"  # this module's own demo organisation


async def read_totals_while(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    work: Callable[[], Awaitable[None]],
    readers: int = 4,
) -> list[int]:
    """Every total_cases the readers saw while `work` ran (and while it had not yet finished)."""
    seen: list[int] = []
    done = asyncio.Event()

    async def reader() -> None:
        while not done.is_set():
            response = await client.get("/v1/caseload", headers=headers, params={"limit": "1"})
            assert response.status_code == 200, response.text
            seen.append(response.json()["total_cases"])
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(reader()) for _ in range(readers)]
    try:
        await work()
    finally:
        done.set()
        await asyncio.gather(*tasks)
    return seen


async def naive_rebuild_in_place(runtime: Runtime) -> None:
    """Truncate the live generation and refill it batch by batch, committing each batch."""
    projection = projection_factories(runtime.keyring, runtime.store)["cases"]()
    generation = await runtime.pool.fetchval(
        "SELECT generation FROM haven.projection_checkpoints WHERE name = 'cases'"
    )
    tables = tables_of(projection, generation)
    async with runtime.pool.acquire() as conn:
        await conn.execute(
            f"DELETE FROM {tables['views.caseload']}; DELETE FROM {tables['views.case_view']}"
        )
    async for batch in runtime.store.read_all_batches(LOG_START, 25):
        async with runtime.pool.acquire() as conn, conn.transaction():
            await projection.apply(conn, live_events(batch), tables)
            await projection.flush(conn, tables)
        await asyncio.sleep(0.01)


async def test_readers_never_see_a_half_built_view_during_a_rebuild(
    make_app: AppFactory, runtime: Runtime, issuer: LocalIssuer
) -> None:
    await empty_log_and_read_models(
        runtime.pool
    )  # the whole log is rebuilt: no other file's events
    await seed_demo(demo_use_cases(runtime.store), cases=30, seed=9, organisations=(ORG,))
    make = projection_factories(runtime.keyring, runtime.store)["cases"]
    await rebuild(runtime.store, runtime.pool, make)
    team = await runtime.pool.fetchval(
        "SELECT team_id FROM views.caseload WHERE tenant_id = $1 AND is_open GROUP BY team_id "
        "ORDER BY count(*) DESC LIMIT 1",
        ORG,
    )
    supervisor = next(user for role, user, _ in demo_accounts(ORG) if role == "supervisor")
    headers = {"Authorization": f"Bearer {issuer.mint(supervisor, ORG, ['supervisor'], team)}"}
    async with api_client(make_app(), lifespan=False) as client:
        full = (await client.get("/v1/caseload", headers=headers)).json()["total_cases"]
        assert full > 1

        async def slow_rebuild() -> None:
            await rebuild(runtime.store, runtime.pool, make, batch_size=25, progress=lambda n: None)

        seen = await read_totals_while(client, headers, slow_rebuild)
        assert len(seen) > 10
        assert set(seen) == {full}

        control = await read_totals_while(client, headers, lambda: naive_rebuild_in_place(runtime))
        assert min(control) < full  # the naive way is seen half built
        assert (await client.get("/v1/caseload", headers=headers)).json()["total_cases"] == full
