"""Commands never need a second pool connection while their transaction holds one.

Found by `haven bench http`: with as many commands in flight as the pool had connections,
each held its transaction's connection and waited for another to read the case — forever.
Here the pool has two connections and eight commands run at once; every one must answer.
Control: the old way (the use case reading the case again, through the pool, inside the unit
of work) hangs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from crypto.keyring import Keyring
from events.catalog import haven_registry
from events.store import PostgresEventStore, utc_now
from services.bootstrap import Runtime
from services.commands import unit_of_work
from services.commands.use_cases import CaseUseCases
from tests.api.conftest import AppFactory, People, api_client
from tests.api.test_case_routes import open_case, service

IN_FLIGHT = 8
HANG_GUARD_SECONDS = (
    60  # not a speed limit: a deadlock never ends, a sound run ends in well under this
)
CONTROL_WAIT_SECONDS = 5


@pytest.fixture
async def small_runtime(database_url: str, keyring: Keyring) -> AsyncIterator[Runtime]:
    async with asyncpg.create_pool(database_url, min_size=2, max_size=2) as pool:
        store = PostgresEventStore(pool, keyring, haven_registry())
        yield Runtime(pool, keyring, store)
        await store.close()


async def commands_at_once(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> list[httpx.Response]:
    case_ids = [await open_case(client, headers) for _ in range(IN_FLIGHT)]

    async def command(case_id: str) -> httpx.Response:
        return await client.post(
            f"/v1/cases/{case_id}/services",
            json=service(f"svc-{uuid.uuid4().hex[:8]}"),
            headers={**headers, "If-Match": '"1"'},
        )

    return await asyncio.gather(*(command(case_id) for case_id in case_ids))


async def test_more_commands_in_flight_than_pool_connections_all_complete(
    make_app: AppFactory, small_runtime: Runtime, people: People
) -> None:
    async with api_client(make_app(runtime=small_runtime), lifespan=False) as client:
        answers = await asyncio.wait_for(
            commands_at_once(client, people.worker), HANG_GUARD_SECONDS
        )
    assert [answer.status_code for answer in answers] == [200] * IN_FLIGHT
    assert {answer.json()["version"] for answer in answers} == {2}


async def test_control_reading_through_the_pool_inside_the_unit_of_work_deadlocks(
    make_app: AppFactory, small_runtime: Runtime, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def read_through_the_pool(self: Any, tenant_id: str, stream_id: uuid.UUID) -> Any:
        return await self._store.read_stream(tenant_id, stream_id)

    class ReadingAgain(CaseUseCases):  # as before: the use case read the case again
        def __init__(self, store: Any, **options: Any) -> None:
            super().__init__(store, clock=options.get("clock", utc_now))

    monkeypatch.setattr(unit_of_work.UnitOfWorkStore, "read_stream", read_through_the_pool)
    monkeypatch.setattr(unit_of_work, "CaseUseCases", ReadingAgain)
    async with api_client(make_app(runtime=small_runtime), lifespan=False) as client:
        case_ids = [await open_case(client, people.worker) for _ in range(IN_FLIGHT)]

        async def command(case_id: str) -> httpx.Response:
            return await client.post(
                f"/v1/cases/{case_id}/services",
                json=service("svc-control"),
                headers={**people.worker, "If-Match": '"1"'},
            )

        pending = [asyncio.create_task(command(case_id)) for case_id in case_ids]
        _, stuck = await asyncio.wait(pending, timeout=CONTROL_WAIT_SECONDS)
        assert stuck, "the naive adapter was expected to deadlock"
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)
        small_runtime.pool.terminate()
