"""`GET /v1/cases` (my caseload) and `GET /v1/caseload` (team caseload) over HTTP, answered
from the projection; with the supervisor's field allow-list checked on the JSON itself."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from projections.caseload import my_caseload
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bootstrap import Runtime
from services.demo.organisations import demo_accounts
from services.demo.seeding import demo_use_cases, seed_demo
from services.identity import LocalIssuer
from tests.api.conftest import AppFactory, api_client
from tests.conftest import empty_log_and_read_models
from tests.projections.test_caseload import SUPERVISOR_ALLOW_LIST

ORG = "org-caseload-routes"  # this module's own demo organisation
ACCOUNTS = {role: (user, team) for role, user, team in demo_accounts(ORG)}


async def busiest_worker(runtime: Runtime) -> tuple[str, str]:
    """(worker, team) with the most open cases: the demo assigns cases at random."""
    row = await runtime.pool.fetchrow(
        "SELECT worker_id, team_id FROM views.caseload WHERE tenant_id = $1 AND is_open "
        "GROUP BY worker_id, team_id ORDER BY count(*) DESC, worker_id LIMIT 1",
        ORG,
    )
    return row[0], row[1]


@pytest.fixture(scope="module")
def seeded() -> dict[str, Any]:
    return {}


@pytest.fixture
async def client(
    make_app: AppFactory, runtime: Runtime, seeded: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    if not seeded:  # once per module: a demo organisation and its projection
        await empty_log_and_read_models(runtime.pool)
        await seed_demo(demo_use_cases(runtime.store), cases=30, seed=5, organisations=(ORG,))
        await rebuild(
            runtime.store,
            runtime.pool,
            projection_factories(runtime.keyring, runtime.store)["cases"],
        )
        worker, team = await busiest_worker(runtime)
        ACCOUNTS["caseworker"] = (worker, team)
        ACCOUNTS["supervisor"] = (ACCOUNTS["supervisor"][0], team)
        seeded["done"] = True
    async with api_client(make_app(), lifespan=False) as test_client:
        yield test_client


def as_role(issuer: LocalIssuer, role: str, org: str = ORG) -> dict[str, str]:
    user, team = ACCOUNTS[role]
    return {"Authorization": f"Bearer {issuer.mint(user, org, [role], team)}"}


async def test_a_case_worker_gets_their_open_cases(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    response = await client.get("/v1/cases", headers=as_role(issuer, "caseworker"))
    assert response.status_code == 200
    listed = response.json()["cases"]
    expected = await my_caseload(
        runtime.pool, ORG, ACCOUNTS["caseworker"][0], dt.datetime.now(dt.UTC).date()
    )
    assert listed and [case["case_id"] for case in listed] == [
        str(case.case_id) for case in expected
    ]


async def test_a_supervisor_pages_through_the_team_seeing_only_allow_listed_fields(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    headers = as_role(issuer, "supervisor")
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {
            "limit": "3",
            "sort": "days_open",
            "order": "asc",
            **({"cursor": cursor} if cursor else {}),
        }
        response = await client.get("/v1/caseload", headers=headers, params=params)
        assert response.status_code == 200
        body = response.json()
        seen.extend(body["cases"])
        for case in body["cases"]:
            assert set(case) <= SUPERVISOR_ALLOW_LIST
        for worker in body["workers"]:
            assert set(worker) <= SUPERVISOR_ALLOW_LIST
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == body["total_cases"] > 3
    assert len({case["case_id"] for case in seen}) == len(seen)
    assert [case["days_open"] for case in seen] == sorted(case["days_open"] for case in seen)


@pytest.mark.parametrize("role", ["caseworker", "privacy_officer", "reporter", "admin", "outreach"])
async def test_only_supervisors_get_the_team_caseload(
    client: httpx.AsyncClient, issuer: LocalIssuer, role: str
) -> None:
    response = await client.get("/v1/caseload", headers=as_role(issuer, role))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("role", ["supervisor", "privacy_officer", "reporter", "admin", "outreach"])
async def test_only_case_workers_get_a_caseload_of_their_own(
    client: httpx.AsyncClient, issuer: LocalIssuer, role: str
) -> None:
    assert (await client.get("/v1/cases", headers=as_role(issuer, role))).status_code == 403


async def test_another_organisations_supervisor_sees_none_of_these_cases(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    """Same user and team names, another organisation. Control: the real organisation sees cases."""
    mine = (await client.get("/v1/caseload", headers=as_role(issuer, "supervisor"))).json()
    theirs = (
        await client.get("/v1/caseload", headers=as_role(issuer, "supervisor", org="org-elsewhere"))
    ).json()
    assert mine["total_cases"] > 0
    assert theirs == {"workers": [], "cases": [], "total_cases": 0, "next_cursor": None}


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "WzEsMl0"},
        {"limit": "0"},
        {"limit": "201"},
        {"sort": "worker_id"},
        {"flag": "nope"},
        {"order": "sideways"},
    ],
)
async def test_bad_query_parameters_are_a_validation_error(
    client: httpx.AsyncClient, issuer: LocalIssuer, params: dict[str, str]
) -> None:
    response = await client.get(
        "/v1/caseload", headers=as_role(issuer, "supervisor"), params=params
    )
    assert response.status_code in (400, 422)
    assert response.json()["type"].endswith(("validation-error", "bad-request"))


async def test_fresh_waits_for_a_write_that_has_not_been_projected_yet(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime, listen
) -> None:
    """Read-your-writes: a case opened just now is in `fresh=true` answers once the projector
    runs, never in a stale one. Control: without `fresh`, the same read misses it."""
    import asyncio
    import contextlib

    import msgspec

    from projections.runner import ProjectionRunner
    from services.commands.use_cases import Actor
    from tests.services.test_case_use_cases import opening

    worker, team = ACCOUNTS["caseworker"]
    headers = as_role(issuer, "caseworker")
    before = {
        c["case_id"] for c in (await client.get("/v1/cases", headers=headers)).json()["cases"]
    }
    use_cases = demo_use_cases(runtime.store)
    new_case = "7f0c4a52-3d1e-4c43-9a55-0c1d2e3f4a5b"
    command = msgspec.structs.replace(opening(new_case, ORG, worker), team_id=team)
    await use_cases.open_case(Actor(worker, ORG), command)
    stale = {c["case_id"] for c in (await client.get("/v1/cases", headers=headers)).json()["cases"]}
    assert new_case not in stale and stale == before
    runner = ProjectionRunner(
        runtime.store, listen, projection_factories(runtime.keyring, runtime.store)["cases"]
    )
    task = asyncio.create_task(runner.run())
    try:
        fresh = await client.get("/v1/cases", headers=headers, params={"fresh": "true"})
        assert fresh.status_code == 200
        assert new_case in {c["case_id"] for c in fresh.json()["cases"]}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_erased_case_leaves_every_read_model(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    """DELETE /v1/cases/{id} removes the case from the case view, the caseload and the
    reporting subjects in the same transaction. Control: before, it is in all three."""
    mine = (await client.get("/v1/cases", headers=as_role(issuer, "caseworker"))).json()["cases"]
    case_id = uuid.UUID(mine[-1]["case_id"])

    async def rows_of_case() -> dict[str, int]:
        return {
            table: await runtime.pool.fetchval(
                f"SELECT count(*) FROM {table} WHERE tenant_id = $1 AND case_id = $2", ORG, case_id
            )
            for table in ("views.case_view", "views.caseload", "views.reporting_subjects")
        }

    await rebuild(
        runtime.store,
        runtime.pool,
        projection_factories(runtime.keyring, runtime.store)["federal_inputs"],
    )
    assert await rows_of_case() == {
        "views.case_view": 1,
        "views.caseload": 1,
        "views.reporting_subjects": 1,
    }
    privacy = {"Authorization": f"Bearer {issuer.mint('privacy-1', ORG, ['privacy_officer'])}"}
    assert (await client.delete(f"/v1/cases/{case_id}", headers=privacy)).status_code == 204
    assert await rows_of_case() == {
        "views.case_view": 0,
        "views.caseload": 0,
        "views.reporting_subjects": 0,
    }
    listed = (await client.get("/v1/cases", headers=as_role(issuer, "caseworker"))).json()["cases"]
    assert str(case_id) not in {case["case_id"] for case in listed}
