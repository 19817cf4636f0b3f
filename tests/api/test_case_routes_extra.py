"""The further case routes over the real app, event store and PostgreSQL: outcomes,
immigration, assignment, reopening, break-the-glass, history, access log and erasure
(`services/api/cases/`). Every value is synthetic; `CANARY` marks case content.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from events.access_log import access_log, active_grant
from events.verify import verify_store
from services.api.cases.schemas.examples import (
    ASSESS_OUTCOME_EXAMPLE,
    ASSIGN_CASE_EXAMPLE,
    BREAK_GLASS_EXAMPLE,
    CLOSE_CASE_EXAMPLE,
    IMMIGRATION_STEP_EXAMPLE,
    REOPEN_CASE_EXAMPLE,
)
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from tests.api.conftest import ORG, OTHER_ORG, TEAM, access_records_refused
from tests.api.test_case_routes import (
    CANARY,
    assert_problem,
    open_case,
    with_headers,
)


class People:
    def __init__(self, issuer: LocalIssuer) -> None:
        def mint(
            user: str, roles: list[str], org: str = ORG, team: str | None = TEAM
        ) -> dict[str, str]:
            return {"Authorization": f"Bearer {issuer.mint(user, org, roles, team=team)}"}

        self.worker = mint("worker-1", ["caseworker"])
        self.colleague = mint("worker-2", ["caseworker"])
        self.supervisor = mint("supervisor-1", ["supervisor"])
        self.other_supervisor = mint("supervisor-2", ["supervisor"], team="team-south")
        self.stranger_supervisor = mint("supervisor-9", ["supervisor"], org=OTHER_ORG)
        self.privacy = mint("privacy-1", ["privacy_officer"], team=None)
        self.stranger_privacy = mint("privacy-9", ["privacy_officer"], org=OTHER_ORG, team=None)
        self.reporter = mint("reporter-1", ["reporter"])


@pytest.fixture
def people(issuer: LocalIssuer) -> People:
    return People(issuer)


def at(headers: dict[str, str], version: int, **extra: str) -> dict[str, str]:
    return with_headers(headers, if_match=f'"{version}"', **extra)


async def break_glass(
    client: httpx.AsyncClient, case_id: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        f"/v1/cases/{case_id}/break-glass", json=BREAK_GLASS_EXAMPLE, headers=headers
    )


def records(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [(r.actor_id, r.role, r.part, r.basis) for r in rows]


# -- outcomes, immigration, reopening -------------------------------------------------------------


async def test_an_outcome_assessment_is_recorded_once_per_key_and_trends_are_shown(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    url = f"/v1/cases/{case_id}/outcomes"
    assert_problem(
        await cases.post(url, json=ASSESS_OUTCOME_EXAMPLE, headers=people.worker),
        428,
        "precondition-required",
    )
    headers = at(people.worker, 1, idempotency_key="outcome-1")
    first = await cases.post(url, json=ASSESS_OUTCOME_EXAMPLE, headers=headers)
    second = await cases.post(url, json=ASSESS_OUTCOME_EXAMPLE, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == {"case_id": case_id, "version": 2} and first.content == second.content
    assert first.headers["etag"] == '"2"'
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == 2
    view = (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).json()
    assert view["outcomes"] == [
        {
            "assessment_id": "outcome-0001",
            "assessed_on": "2026-02-20",
            "scores": {"housing_stability": 3, "safety": 4},
        }
    ]
    bad = {**ASSESS_OUTCOME_EXAMPLE, "assessment_id": "outcome-0002", "scores": {"safety": 9}}
    assert_problem(
        await cases.post(url, json=bad, headers=at(people.worker, 2)), 422, "invalid-value"
    )
    assert_problem(
        await cases.post(
            url, json={**ASSESS_OUTCOME_EXAMPLE, "x": 1}, headers=at(people.worker, 2)
        ),
        422,
        "validation-error",
    )
    for refused in (people.colleague, people.supervisor, people.privacy):
        assert_problem(
            await cases.post(url, json=ASSESS_OUTCOME_EXAMPLE, headers=at(refused, 2)),
            403,
            "forbidden",
        )
    assert_problem(
        await cases.post(
            url, json=ASSESS_OUTCOME_EXAMPLE, headers=at(people.stranger_supervisor, 2)
        ),
        403,
        "forbidden",
    )  # supervisors have no rule for content commands: 403 whatever the id
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == 2
    later = {**ASSESS_OUTCOME_EXAMPLE, "assessment_id": "outcome-0002", "assessed_on": "2026-03-02"}
    later["scores"] = {"safety": 2, "housing_stability": 3, "income_employment": 2}
    assert (await cases.post(url, json=later, headers=at(people.worker, 2))).status_code == 200
    view = (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).json()
    assert view["outcome_trends"] == [
        {"domain": "housing_stability", "first_score": 3, "first_on": "2026-02-20",
         "latest_score": 3, "latest_on": "2026-03-02", "assessments": 2, "trend": "same"},
        {"domain": "income_employment", "first_score": 2, "first_on": "2026-03-02",
         "latest_score": 2, "latest_on": "2026-03-02", "assessments": 1, "trend": None},
        {"domain": "safety", "first_score": 4, "first_on": "2026-02-20",
         "latest_score": 2, "latest_on": "2026-03-02", "assessments": 2, "trend": "worse"},
    ]  # fmt: skip


async def test_immigration_steps_are_for_the_assigned_worker_only(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    url = f"/v1/cases/{case_id}/immigration"
    for refused in (people.colleague, people.supervisor, people.privacy):
        assert_problem(
            await cases.post(url, json=IMMIGRATION_STEP_EXAMPLE, headers=at(refused, 1)),
            403,
            "forbidden",
        )
    assert_problem(
        await cases.post(
            f"/v1/cases/{uuid.uuid4()}/immigration",
            json=IMMIGRATION_STEP_EXAMPLE,
            headers=at(people.worker, 1),
        ),
        404,
        "not-found",
    )
    accepted = await cases.post(url, json=IMMIGRATION_STEP_EXAMPLE, headers=at(people.worker, 1))
    assert accepted.status_code == 200 and accepted.headers["etag"] == '"2"'
    assert_problem(
        await cases.post(url, json=IMMIGRATION_STEP_EXAMPLE, headers=at(people.worker, 1)),
        412,
        "precondition-failed",
    )
    backwards = {**IMMIGRATION_STEP_EXAMPLE, "step": "expired"}
    assert_problem(
        await cases.post(url, json=backwards, headers=at(people.worker, 2)),
        409,
        "illegal-immigration-transition",
    )
    view = (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).json()
    assert [(m["milestone_id"], m["step"]) for m in view["immigration"]] == [
        ("milestone-0001", "requested")
    ]
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == 2


async def test_a_closed_case_is_reopened_by_its_worker(
    cases: httpx.AsyncClient, people: People
) -> None:
    case_id = await open_case(cases, people.worker)
    url = f"/v1/cases/{case_id}/reopening"
    assert_problem(
        await cases.post(url, json=REOPEN_CASE_EXAMPLE, headers=at(people.worker, 1)),
        409,
        "case-not-closed",
    )
    closed = await cases.post(
        f"/v1/cases/{case_id}/closure", json=CLOSE_CASE_EXAMPLE, headers=at(people.worker, 1)
    )
    assert closed.status_code == 200
    for refused in (people.colleague, people.supervisor):
        assert_problem(
            await cases.post(url, json=REOPEN_CASE_EXAMPLE, headers=at(refused, 2)),
            403,
            "forbidden",
        )
    early = {**REOPEN_CASE_EXAMPLE, "reopened_on": "2026-03-01"}  # before the closure
    assert_problem(
        await cases.post(url, json=early, headers=at(people.worker, 2)), 422, "date-out-of-order"
    )
    headers = at(people.worker, 2, idempotency_key="reopen-1")
    reopened = await cases.post(url, json=REOPEN_CASE_EXAMPLE, headers=headers)
    assert reopened.status_code == 200 and reopened.json()["version"] == 3
    assert (
        await cases.post(url, json=REOPEN_CASE_EXAMPLE, headers=headers)
    ).content == reopened.content
    service = {
        "service_id": "service-after",
        "category": "case_management",
        "delivered_on": "2026-03-11",
    }
    assert (
        await cases.post(
            f"/v1/cases/{case_id}/services", json=service, headers=at(people.worker, 3)
        )
    ).status_code == 200


# -- assignment -----------------------------------------------------------------------------------


async def test_the_supervisor_reassigns_within_the_team(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    url = f"/v1/cases/{case_id}/assignment"
    body = {**ASSIGN_CASE_EXAMPLE, "worker_id": "worker-2"}
    for refused in (people.worker, people.other_supervisor, people.privacy):
        assert_problem(await cases.post(url, json=body, headers=at(refused, 1)), 403, "forbidden")
    assert_problem(
        await cases.post(url, json=body, headers=at(people.stranger_supervisor, 1)),
        404,
        "not-found",
    )
    # another team is refused before the preconditions, and nothing is appended
    elsewhere = {**body, "team_id": "team-south"}
    refused = assert_problem(
        await cases.post(url, json=elsewhere, headers=people.supervisor), 403, "forbidden"
    )
    assert refused["detail"] == "a supervisor assigns within their own team"
    assert_problem(
        await cases.post(url, json=body, headers=people.supervisor), 428, "precondition-required"
    )
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == 1
    accepted = await cases.post(
        url, json={**body, "team_id": TEAM}, headers=at(people.supervisor, 1)
    )
    assert accepted.status_code == 200 and accepted.json() == {"case_id": case_id, "version": 2}
    assert_problem(
        await cases.post(url, json=body, headers=at(people.supervisor, 2)), 409, "already-assigned"
    )
    # the new worker reads it (assignment), the former worker no longer does
    view = await cases.get(f"/v1/cases/{case_id}", headers=people.colleague)
    assert view.status_code == 200
    assert view.json()["worker_id"] == "worker-2" and view.json()["team_id"] == TEAM
    assert_problem(await cases.get(f"/v1/cases/{case_id}", headers=people.worker), 403, "forbidden")


# -- break-the-glass -------------------------------------------------------------------------------


async def test_break_the_glass_opens_the_case_to_its_teams_supervisor(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    assert_problem(
        await cases.get(f"/v1/cases/{case_id}", headers=people.supervisor), 403, "forbidden"
    )
    before = dt.datetime.now(dt.UTC)
    response = await break_glass(cases, case_id, people.supervisor)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"grant_id", "expires_at"}
    expires_at = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(minutes=29) < expires_at - before <= dt.timedelta(minutes=31)
    assert (
        await access_log(runtime.pool, ORG, uuid.UUID(case_id)) == []
    )  # the grant is audited by itself

    read = await cases.get(f"/v1/cases/{case_id}", headers=people.supervisor)
    assert read.status_code == 200 and "immigration" not in read.json()
    rows = await access_log(runtime.pool, ORG, uuid.UUID(case_id))
    assert [(r.actor_id, r.part, r.basis, str(r.grant_id)) for r in rows] == [
        ("supervisor-1", "summary", "break-glass", body["grant_id"])
    ]
    # valid until it expires, not after
    grant = await active_grant(runtime.pool, ORG, uuid.UUID(case_id), "supervisor-1", expires_at)
    assert grant is None
    assert (
        await active_grant(
            runtime.pool,
            ORG,
            uuid.UUID(case_id),
            "supervisor-1",
            expires_at - dt.timedelta(seconds=1),
        )
    ) is not None


async def test_break_the_glass_refusals(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    for refused in (people.worker, people.other_supervisor, people.privacy, people.reporter):
        assert_problem(await break_glass(cases, case_id, refused), 403, "forbidden")
    assert_problem(await break_glass(cases, case_id, people.stranger_supervisor), 404, "not-found")
    assert_problem(await break_glass(cases, str(uuid.uuid4()), people.supervisor), 404, "not-found")
    url = f"/v1/cases/{case_id}/break-glass"
    for bad in (
        {"reason": "", "minutes": 30},
        {"reason": "   ", "minutes": 30},
        {"reason": "x" * 2001, "minutes": 30},
        {"reason": "why", "minutes": 0},
        {"reason": "why", "minutes": 241},
        {"reason": "why"},
        {"reason": "why", "minutes": 5, "x": 1},
    ):
        assert_problem(
            await cases.post(url, json=bad, headers=people.supervisor), 422, "validation-error"
        )
    assert (
        await runtime.pool.fetchval(
            "SELECT count(*) FROM haven.break_glass_grants WHERE case_id = $1", uuid.UUID(case_id)
        )
        == 0
    )
    # the other team's supervisor is not helped by a grant either (none can be made)
    assert_problem(
        await cases.get(f"/v1/cases/{case_id}", headers=people.other_supervisor), 403, "forbidden"
    )


# -- history ---------------------------------------------------------------------------------------


async def test_the_history_lists_types_and_times_only_and_is_recorded(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    assert (
        await cases.post(
            f"/v1/cases/{case_id}/outcomes",
            json=ASSESS_OUTCOME_EXAMPLE,
            headers=at(people.worker, 1),
        )
    ).status_code == 200
    response = await cases.get(f"/v1/cases/{case_id}/history", headers=people.worker)
    assert response.status_code == 200 and response.headers["etag"] == '"2"'
    timeline = response.json()
    assert [(e["version"], e["actor_id"]) for e in timeline] == [(1, "worker-1"), (2, "worker-1")]
    assert all(set(e) == {"version", "recorded_at", "event_type", "actor_id"} for e in timeline)
    assert timeline[1]["event_type"] != timeline[0]["event_type"]
    assert CANARY not in response.text and "outcome-0001" not in response.text
    assert records(await access_log(runtime.pool, ORG, uuid.UUID(case_id))) == [
        ("worker-1", "caseworker", "history", "assignment")
    ]

    for refused in (people.colleague, people.supervisor, people.privacy, people.reporter):
        assert_problem(
            await cases.get(f"/v1/cases/{case_id}/history", headers=refused), 403, "forbidden"
        )
    assert_problem(
        await cases.get(f"/v1/cases/{uuid.uuid4()}/history", headers=people.worker),
        404,
        "not-found",
    )
    assert_problem(
        await cases.get(f"/v1/cases/{case_id}/history", headers=people.stranger_supervisor),
        404,
        "not-found",
    )
    # with a grant the supervisor reads it too
    grant_id = (await break_glass(cases, case_id, people.supervisor)).json()["grant_id"]
    assert (
        await cases.get(f"/v1/cases/{case_id}/history", headers=people.supervisor)
    ).status_code == 200
    newest = (await access_log(runtime.pool, ORG, uuid.UUID(case_id)))[0]
    assert (newest.actor_id, newest.part, newest.basis, str(newest.grant_id)) == (
        "supervisor-1",
        "history",
        "break-glass",
        grant_id,
    )


async def test_a_history_whose_access_cannot_be_recorded_returns_nothing(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    async with access_records_refused(runtime.pool, case_id):
        history = await cases.get(f"/v1/cases/{case_id}/history", headers=people.worker)
        review = await cases.get(f"/v1/cases/{case_id}/access-log", headers=people.privacy)
        erasure = await cases.delete(f"/v1/cases/{case_id}", headers=people.privacy)
    for response in (history, review, erasure):
        assert_problem(response, 503, "service-unavailable")
        assert "version" not in response.text
    assert await access_log(runtime.pool, ORG, uuid.UUID(case_id)) == []
    # the erasure rolled back with its record: the case is still there
    assert (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).status_code == 200


# -- access log ------------------------------------------------------------------------------------


async def test_the_privacy_officer_reviews_accesses_and_break_the_glass_reasons(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    assert (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).status_code == 200
    grant_id = (await break_glass(cases, case_id, people.supervisor)).json()["grant_id"]
    assert (await cases.get(f"/v1/cases/{case_id}", headers=people.supervisor)).status_code == 200

    url = f"/v1/cases/{case_id}/access-log"
    response = await cases.get(url, headers=people.privacy)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["case_id"] == case_id
    assert [
        (r["actor_id"], r["role"], r["part"], r["basis"], r["grant_id"]) for r in body["records"]
    ] == [
        (
            "privacy-1",
            "privacy_officer",
            "access-log",
            "privacy-review",
            None,
        ),  # this review, newest first
        ("supervisor-1", "supervisor", "summary", "break-glass", grant_id),
        ("worker-1", "caseworker", "full", "assignment", None),
    ]
    assert body["records"][0]["request_id"] == response.headers["x-request-id"]
    assert [(g["grant_id"], g["actor_id"], g["reason"]) for g in body["grants"]] == [
        (grant_id, "supervisor-1", BREAK_GLASS_EXAMPLE["reason"])
    ]
    assert CANARY not in response.text

    for refused in (people.worker, people.supervisor, people.reporter):
        assert_problem(await cases.get(url, headers=refused), 403, "forbidden")
    assert_problem(await cases.get(url, headers=people.stranger_privacy), 404, "not-found")
    assert_problem(
        await cases.get(f"/v1/cases/{uuid.uuid4()}/access-log", headers=people.privacy),
        404,
        "not-found",
    )
    # only the privacy officer's successful review was added
    assert len(await access_log(runtime.pool, ORG, uuid.UUID(case_id))) == 3


# -- erasure ---------------------------------------------------------------------------------------


async def test_erasure_crypto_shreds_the_case_and_the_chains_still_verify(
    clean_pool: asyncpg.Pool, cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    assert (
        await cases.post(
            f"/v1/cases/{case_id}/outcomes",
            json=ASSESS_OUTCOME_EXAMPLE,
            headers=at(people.worker, 1),
        )
    ).status_code == 200
    assert (await break_glass(cases, case_id, people.supervisor)).status_code == 201
    url = f"/v1/cases/{case_id}"
    for refused in (people.worker, people.supervisor, people.reporter):
        assert_problem(await cases.delete(url, headers=refused), 403, "forbidden")
    assert_problem(await cases.delete(url, headers=people.stranger_privacy), 404, "not-found")
    assert_problem(
        await cases.delete(f"/v1/cases/{uuid.uuid4()}", headers=people.privacy), 404, "not-found"
    )

    assert (
        runtime.recent is not None and runtime.recent.at_version((ORG, case_id), 2) is not None
    )  # control
    erased = await cases.delete(url, headers=people.privacy)
    assert erased.status_code == 204 and erased.content == b""
    assert (
        runtime.recent.at_version((ORG, case_id), 2) is None
    )  # no plaintext of it kept in this process
    assert records(await access_log(runtime.pool, ORG, uuid.UUID(case_id))) == [
        ("privacy-1", "privacy_officer", "erasure", "privacy-review")
    ]

    missing = await cases.get(f"/v1/cases/{uuid.uuid4()}", headers=people.worker)
    gone = await cases.get(url, headers=people.worker)
    assert_problem(gone, 404, "not-found")
    assert gone.content == missing.content
    for response in (
        await cases.get(f"{url}/history", headers=people.worker),
        await cases.get(f"{url}/access-log", headers=people.privacy),
        await cases.post(
            f"{url}/outcomes", json=ASSESS_OUTCOME_EXAMPLE, headers=at(people.worker, 2)
        ),
        await break_glass(cases, case_id, people.supervisor),
        await cases.get(url, headers=people.supervisor),
        await cases.delete(url, headers=people.privacy),
    ):
        assert_problem(response, 404, "not-found")

    report = await verify_store(runtime.pool, runtime.keyring)
    assert report.ok, report.findings
    assert (report.streams, report.events, report.erased_streams) == (1, 2, 1)


async def test_the_openapi_document_names_the_further_operations(cases: httpx.AsyncClient) -> None:
    paths = (await cases.get("/schema/openapi.json")).json()["paths"]
    operations = {op["operationId"] for path in paths.values() for op in path.values()}
    assert {
        "assessOutcome",
        "recordImmigrationStep",
        "assignCase",
        "reopenCase",
        "breakGlass",
        "getCaseHistory",
        "getCaseAccessLog",
        "eraseCase",
    } <= operations
    assert paths["/v1/cases/{case_id}"]["delete"]["security"] == [{"BearerToken": []}]
