"""Tokens without a ``team`` claim, over HTTP: their holders are on the organisation's
default team, ``default`` (`services.identity.claims.DEFAULT_TEAM`).

Every team-less token here is minted the way ``haven token`` mints one without ``--team``
(`LocalIssuer.mint` with no team: the token carries no ``team`` claim at all). Each test has
an organisation of its own, so its ``default`` team holds only the cases it opens. Controls:
a supervisor of another team does not see or reassign the case, and without the
organisation's team access a team-less colleague is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import msgspec
import pytest

from events.access_log import access_log
from projections.catalog import projection_factories
from projections.runner import ProjectionRunner
from services.api.cases.schemas.examples import (
    ASSIGN_CASE_EXAMPLE,
    SET_GOAL_EXAMPLE,
)
from services.bootstrap import Runtime
from services.identity import DEFAULT_TEAM, LocalIssuer
from services.settings import Settings
from tests.api.conftest import AppFactory, api_client
from tests.api.test_case_routes import assert_problem, intake_body, open_case, with_headers
from tests.conftest import empty_log_and_read_models


@pytest.fixture
def org() -> str:
    return f"org-teamless-{uuid.uuid4().hex[:12]}"


class Tokens:
    """Authorization headers of one organisation's staff; `team=None` is a team-less token."""

    def __init__(self, issuer: LocalIssuer, org: str) -> None:
        self._issuer = issuer
        self._org = org

    def raw(self, user: str, role: str, team: str | None = None) -> str:
        return self._issuer.mint(user, self._org, [role], team)  # as `haven token` does

    def __call__(self, user: str, role: str, team: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.raw(user, role, team)}"}


@pytest.fixture
def tokens(issuer: LocalIssuer, org: str) -> Tokens:
    return Tokens(issuer, org)


def at(headers: dict[str, str], version: int) -> dict[str, str]:
    return with_headers(headers, if_match=f'"{version}"')


@pytest.fixture
async def projected(runtime: Runtime, listen: Any) -> AsyncIterator[None]:
    """The cases projection kept up to date while the test runs, so `fresh=true` reads see
    every write made before them (the caseload routes read the projection). It starts from an
    empty log: an earlier test of this worker may have left events of the store's own tests,
    which the application's registry does not know."""
    await empty_log_and_read_models(runtime.pool)
    runner = ProjectionRunner(
        runtime.store, listen, projection_factories(runtime.keyring, runtime.store)["cases"]
    )
    task = asyncio.create_task(runner.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_a_team_less_token_carries_no_team_claim(tokens: Tokens) -> None:
    """The premise of this module: these tokens are team-less, not tokens of team "default"."""
    claims = jwt.decode(tokens.raw("worker-1", "caseworker"), options={"verify_signature": False})
    assert "team" not in claims
    assert (
        jwt.decode(
            tokens.raw("worker-1", "caseworker", "team-b"),  # control
            options={"verify_signature": False},
        )["team"]
        == "team-b"
    )


async def test_whoami_reports_the_default_team(
    cases: httpx.AsyncClient, tokens: Tokens, org: str
) -> None:
    for role in ("caseworker", "supervisor", "reporter"):
        response = await cases.get("/v1/whoami", headers=tokens("user-1", role))
        assert response.status_code == 200
        assert response.json() == {
            "user_id": "user-1",
            "organisation_id": org,
            "roles": [role],
            "team": "default",
        }
    assert DEFAULT_TEAM == "default"
    named = await cases.get(
        "/v1/whoami", headers=tokens("user-1", "caseworker", "team-b")
    )  # control
    assert named.json()["team"] == "team-b"


async def test_a_team_less_case_worker_opens_reads_and_lists_a_case(
    cases: httpx.AsyncClient, tokens: Tokens, runtime: Runtime, org: str, projected: None
) -> None:
    worker = tokens("worker-1", "caseworker")
    opened = await cases.post("/v1/cases", json=intake_body(), headers=worker)
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    read = await cases.get(f"/v1/cases/{case_id}", headers=worker)
    assert read.status_code == 200
    assert (read.json()["worker_id"], read.json()["team_id"]) == ("worker-1", "default")
    assert "immigration" in read.json()  # the assigned worker's full view
    assert [
        (r.actor_id, r.part, r.basis)
        for r in await access_log(runtime.pool, org, uuid.UUID(case_id))
    ] == [("worker-1", "full", "assignment")]
    mine = await cases.get("/v1/cases", headers=worker, params={"fresh": "true"})
    assert mine.status_code == 200
    assert [case["case_id"] for case in mine.json()["cases"]] == [case_id]
    # control: another team-less case worker's caseload does not list it
    theirs = await cases.get(
        "/v1/cases", headers=tokens("worker-2", "caseworker"), params={"fresh": "true"}
    )
    assert theirs.status_code == 200 and theirs.json()["cases"] == []


async def test_a_team_less_supervisor_supervises_the_default_team(
    cases: httpx.AsyncClient, tokens: Tokens, runtime: Runtime, org: str, projected: None
) -> None:
    case_id = await open_case(cases, tokens("worker-1", "caseworker"))
    supervisor = tokens("supervisor-1", "supervisor")
    other_team = tokens("supervisor-2", "supervisor", "team-b")

    caseload = await cases.get("/v1/caseload", headers=supervisor, params={"fresh": "true"})
    assert caseload.status_code == 200, caseload.text
    body = caseload.json()
    assert [case["case_id"] for case in body["cases"]] == [case_id] and body["total_cases"] == 1
    assert [worker["worker_id"] for worker in body["workers"]] == ["worker-1"]
    # a token whose team is "default" is on the same team
    named_default = await cases.get(
        "/v1/caseload",
        headers=tokens("supervisor-3", "supervisor", "default"),
        params={"fresh": "true"},
    )
    assert named_default.json() == body
    # control: the team rule still bites for a supervisor of another team
    elsewhere = await cases.get("/v1/caseload", headers=other_team, params={"fresh": "true"})
    assert elsewhere.status_code == 200
    assert elsewhere.json() == {"workers": [], "cases": [], "total_cases": 0, "next_cursor": None}

    url = f"/v1/cases/{case_id}/assignment"
    body_to_worker_2 = {**ASSIGN_CASE_EXAMPLE, "worker_id": "worker-2"}
    assert_problem(
        await cases.post(url, json=body_to_worker_2, headers=at(other_team, 1)), 403, "forbidden"
    )
    assert_problem(
        await cases.post(
            url, json={**body_to_worker_2, "team_id": "team-b"}, headers=at(supervisor, 1)
        ),
        403,
        "forbidden",
    )  # within their own team only
    assert await runtime.store.stream_version(org, uuid.UUID(case_id)) == 1
    moved = await cases.post(url, json=body_to_worker_2, headers=at(supervisor, 1))
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"case_id": case_id, "version": 2}

    new_worker = tokens("worker-2", "caseworker")
    read = await cases.get(f"/v1/cases/{case_id}", headers=new_worker)
    assert read.status_code == 200
    assert (read.json()["worker_id"], read.json()["team_id"]) == ("worker-2", "default")
    assert_problem(
        await cases.get(f"/v1/cases/{case_id}", headers=tokens("worker-1", "caseworker")),
        403,
        "forbidden",
    )  # no longer assigned, and no team access
    listed = await cases.get("/v1/cases", headers=new_worker, params={"fresh": "true"})
    assert [case["case_id"] for case in listed.json()["cases"]] == [case_id]


@pytest.mark.parametrize("enabled", [True, False], ids=["team-access", "no-team-access"])
async def test_team_access_makes_team_less_case_workers_one_team(
    make_app: AppFactory,
    settings: Settings,
    tokens: Tokens,
    runtime: Runtime,
    org: str,
    enabled: bool,
) -> None:
    listed = frozenset({org}) if enabled else frozenset({"org-example-other"})
    app = make_app(settings=msgspec.structs.replace(settings, team_access=listed))
    async with api_client(app, lifespan=False) as client:
        case_id = await open_case(client, tokens("worker-1", "caseworker"))
        colleague = tokens("worker-2", "caseworker")
        read = await client.get(f"/v1/cases/{case_id}", headers=colleague)
        command = await client.post(
            f"/v1/cases/{case_id}/goals", json=SET_GOAL_EXAMPLE, headers=at(colleague, 1)
        )
        # a case worker whose token names team "default" is on the same team
        named_default = await client.get(
            f"/v1/cases/{case_id}", headers=tokens("worker-3", "caseworker", "default")
        )
        # never across teams, whatever the setting
        assert_problem(
            await client.get(
                f"/v1/cases/{case_id}", headers=tokens("worker-4", "caseworker", "team-b")
            ),
            403,
            "forbidden",
        )
    if enabled:
        assert read.status_code == 200, read.text
        assert (
            "immigration" not in read.json()
        )  # team access does not extend to immigration details
        assert command.status_code == 200, command.text
        assert named_default.status_code == 200
        assert [
            (r.actor_id, r.part, r.basis)
            for r in await access_log(runtime.pool, org, uuid.UUID(case_id))
        ] == [("worker-3", "summary", "team"), ("worker-2", "summary", "team")]
        assert await runtime.store.stream_version(org, uuid.UUID(case_id)) == 2
    else:
        for response in (read, command, named_default):
            assert_problem(response, 403, "forbidden")
        assert await access_log(runtime.pool, org, uuid.UUID(case_id)) == []
        assert await runtime.store.stream_version(org, uuid.UUID(case_id)) == 1
