"""The organisation over HTTP: the administrator keeps its profile, teams, partners and
workers under If-Match; case workers and supervisors list the active ones; an assignment
picks a worker of the directory. Every organisation and person here is synthetic."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.api.cases.schemas.examples import OPEN_CASE_EXAMPLE
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from services.identity.claims import ROLES
from services.organisations.command import organisation_stream
from tests.api.conftest import api_client
from tests.api.directory_support import assert_problem
from tests.conftest import empty_log_and_read_models

ORG, OTHER = "org-harbor", "org-lantern"
ANA = {"worker_id": "w-ana", "display_name": "Ana", "team_id": "team-1"}
BO_INACTIVE = {"worker_id": "w-old", "display_name": "Bo", "team_id": "team-1", "active": False}
CANARY = "Canary Street 17, call +1 555 0100 1234"


def bearer(issuer: LocalIssuer, role: str, org: str = ORG, user: str | None = None) -> dict:
    token = issuer.mint(user or f"{role}-1", org, [role], team="team-1")
    return {"Authorization": f"Bearer {token}"}


def at(headers: dict[str, str], version: int) -> dict[str, str]:
    return {**headers, "If-Match": f'"{version}"'}


@pytest.fixture
async def client(make_app: Any, runtime: Runtime):  # noqa: ANN201
    await empty_log_and_read_models(runtime.pool)
    async with api_client(make_app(), lifespan=False) as test_client:
        yield test_client


async def change(
    client: httpx.AsyncClient, admin: dict, path: str, body: dict, version: int | None
) -> int:
    headers = admin if version is None else at(admin, version)
    method = client.put if path == "profile" else client.post
    response = await method(f"/v1/organisation/{path}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answered: int = response.json()["version"]
    assert response.headers["etag"] == f'"{answered}"'
    return answered


async def test_an_administrator_keeps_the_organisation_under_if_match(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    admin = bearer(issuer, "admin")
    profile = {
        "display_name": "Example Harbor Services",
        "description": "Legal aid.",
        "state": "IL",
    }
    assert await change(client, admin, "profile", profile, None) == 1  # the first change
    url = "/v1/organisation/teams"
    team = {"team_id": "team-1", "name": "Intake"}
    assert_problem(await client.post(url, json=team, headers=admin), 428, "precondition-required")
    assert_problem(
        await client.post(url, json=team, headers=at(admin, 7)), 412, "precondition-failed"
    )
    v = await change(client, admin, "teams", team, 1)
    v = await change(client, admin, "workers", ANA, v)
    v = await change(client, admin, "workers", BO_INACTIVE, v)
    lantern = {"partner_id": OTHER, "display_name": "Lantern", "direction": "both"}
    v = await change(client, admin, "partners", lantern, v)
    whole = await client.get("/v1/organisation", headers=admin)
    assert whole.status_code == 200 and whole.headers["etag"] == f'"{v}"' == '"5"'
    assert whole.json()["profile"] == profile
    assert [w["worker_id"] for w in whole.json()["workers"]] == ["w-ana", "w-old"]
    for role in ("caseworker", "supervisor"):
        listed = await client.get("/v1/organisation/workers", headers=bearer(issuer, role))
        assert [w["worker_id"] for w in listed.json()["workers"]] == ["w-ana"]  # active only
        partners = await client.get("/v1/organisation/partners", headers=bearer(issuer, role))
        assert [p["partner_id"] for p in partners.json()["partners"]] == [OTHER]
    # another organisation's administrator sees and changes only their own organisation
    theirs = await client.get("/v1/organisation", headers=bearer(issuer, "admin", OTHER))
    assert theirs.json() == {"organisation_id": OTHER, "version": 0, "profile": None,
                             "teams": [], "partners": [], "workers": []}  # fmt: skip


async def test_rules_are_refused_by_pointer_without_the_value(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    admin = bearer(issuer, "admin")
    refused = [
        ("profile", {"display_name": "Example", "description": CANARY}, "/description"),
        ("profile", {"display_name": "Example", "state": "ZZ"}, "/state"),
        ("profile", {"display_name": "  "}, "/display_name"),
        ("teams", {"team_id": "t\u0000", "name": "Intake"}, "/team_id"),
        ("partners", {"partner_id": ORG, "display_name": "Us", "direction": "both"}, "/partner_id"),
        ("workers", {"worker_id": "w-1", "display_name": "Ana", "team_id": "team-9"}, "/team_id"),
    ]
    for path, body, pointer in refused:
        method = client.put if path == "profile" else client.post
        response = await method(f"/v1/organisation/{path}", json=body, headers=admin)
        if pointer == "/team_id" and path == "teams":
            assert response.status_code in (400, 422), response.text  # litestar or Haven
        else:
            problem = assert_problem(response, 422, "validation-error")
            assert [e["pointer"] for e in problem["errors"]] == [pointer]
        assert "Canary" not in response.text and "555" not in response.text
    # control: the same entries, corrected, are recorded
    assert await change(client, admin, "profile", {"display_name": "Example"}, None) == 1
    assert await runtime.store.stream_version(ORG, organisation_stream(ORG)) == 1
    # a bad direction never reaches the domain either
    bad = {"partner_id": OTHER, "display_name": "L", "direction": "sideways"}
    response = await client.post("/v1/organisation/partners", json=bad, headers=at(admin, 1))
    assert response.status_code in (400, 422)
    assert await runtime.store.stream_version(ORG, organisation_stream(ORG)) == 1


# the routes x roles: ("method path", allowed roles); an allowed change without If-Match on an
# organisation that has a version is 428, a refused one 403, and nothing is appended
ROUTES = {
    "GET /v1/organisation": {"admin"},
    "PUT /v1/organisation/profile": {"admin"},
    "POST /v1/organisation/teams": {"admin"},
    "POST /v1/organisation/partners": {"admin"},
    "POST /v1/organisation/workers": {"admin"},
    "GET /v1/organisation/teams": {"admin", "caseworker", "supervisor"},
    "GET /v1/organisation/partners": {"admin", "caseworker", "supervisor"},
    "GET /v1/organisation/workers": {"admin", "caseworker", "supervisor"},
}
BODIES = {
    "/v1/organisation/profile": {"display_name": "Example"},
    "/v1/organisation/teams": {"team_id": "team-2", "name": "Outreach"},
    "/v1/organisation/partners": {"partner_id": OTHER, "display_name": "L", "direction": "both"},
    "/v1/organisation/workers": {"worker_id": "w-2", "display_name": "Cy", "team_id": "default"},
}


async def test_each_route_answers_each_role_as_the_matrix_says(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    await change(client, bearer(issuer, "admin"), "profile", {"display_name": "Example"}, None)
    wrong = []
    for route, allowed in ROUTES.items():
        method, path = route.split(" ")
        for role in sorted(ROLES):
            response = await client.request(
                method, path, json=BODIES.get(path), headers=bearer(issuer, role)
            )
            want = (200 if method == "GET" else 428) if role in allowed else 403
            if response.status_code != want:
                wrong.append(f"{role} {route}: expected {want}, got {response.status_code}")
    assert wrong == []
    assert await runtime.store.stream_version(ORG, organisation_stream(ORG)) == 1


async def test_an_assignment_picks_an_active_worker_of_the_directory(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    opened = await client.post(
        "/v1/cases", json=OPEN_CASE_EXAMPLE, headers=bearer(issuer, "caseworker")
    )
    assert opened.status_code == 201, opened.text
    case_id, version = opened.json()["case_id"], opened.json()["version"]
    url = f"/v1/cases/{case_id}/assignment"
    supervisor = bearer(issuer, "supervisor")

    async def assign(worker_id: str, at_version: int) -> httpx.Response:
        body = {"worker_id": worker_id, "assigned_on": "2026-02-01"}
        return await client.post(url, json=body, headers=at(supervisor, at_version))

    # control: an organisation without a worker directory takes any worker id
    first = await assign("w-typed", version)
    assert first.status_code == 200, first.text
    version = first.json()["version"]
    admin = bearer(issuer, "admin")
    v = await change(client, admin, "teams", {"team_id": "team-1", "name": "Intake"}, None)
    v = await change(client, admin, "workers", ANA, v)
    await change(client, admin, "workers", BO_INACTIVE, v)
    for unknown in ("w-typed", "w-old", "w-nobody"):
        problem = assert_problem(await assign(unknown, version), 422, "unknown-worker")
        assert unknown not in str(problem)
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == version
    assert (await assign("w-ana", version)).status_code == 200
