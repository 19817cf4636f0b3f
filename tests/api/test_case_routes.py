"""The case routes over the real app, event store and PostgreSQL (`services/api/cases/`).

Every value is synthetic. The case's preferred name and narrative carry `CANARY`; no error body
and no log line may ever contain it.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import uuid
from typing import Any

import httpx
import pytest

from domain.case import commands as cmd
from events.access_log import access_log, case_data_key, grant_break_glass
from events.store import utc_now
from services.api.cases.schemas.examples import (
    CLOSE_CASE_EXAMPLE,
    GRANT_CONSENT_EXAMPLE,
    OPEN_CASE_EXAMPLE,
    PROPOSE_REFERRAL_EXAMPLE,
    RECORD_SERVICE_EXAMPLE,
    REVOKE_CONSENT_EXAMPLE,
    UPDATE_REFERRAL_EXAMPLE,
)
from services.api.problems import PROBLEM_BASE_URI, PROBLEM_MEDIA_TYPE
from services.bootstrap import Runtime
from services.commands import unit_of_work
from services.commands.use_cases import Actor, CaseUseCases
from tests.api.conftest import ORG, TEAM, People, access_records_refused

CANARY = "CANARY-7f3a-survivor-name"


def intake_body() -> dict[str, Any]:
    body = copy.deepcopy(OPEN_CASE_EXAMPLE)
    body["identity"]["preferred_name"] = f"Client {CANARY}"
    body["trafficking"]["narrative"] = f"Synthetic narrative {CANARY}"
    return body


def with_headers(headers: dict[str, str], **extra: str) -> dict[str, str]:
    return {**headers, **{name.replace("_", "-"): value for name, value in extra.items()}}


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["type"] == PROBLEM_BASE_URI + slug and body["status"] == status
    assert CANARY not in response.text
    return body


async def open_case(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post("/v1/cases", json=intake_body(), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["case_id"]


def service(service_id: str = "service-1", delivered_on: dt.date | None = None) -> dict[str, Any]:
    day = delivered_on or dt.date(2026, 1, 12)
    return {
        "service_id": service_id,
        "category": "case_management",
        "delivered_on": day.isoformat(),
    }


# -- intake and reading -----------------------------------------------------------------------


async def test_open_case_answers_201_with_etag_and_location(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    response = await cases.post("/v1/cases", json=intake_body(), headers=people.worker)
    assert response.status_code == 201
    body = response.json()
    # a duplicate warning joins the body when the blind index holds a like case (other tests'
    # intakes, once a projector has indexed them): it is not what this test is about
    assert {k: v for k, v in body.items() if k != "duplicate_warning"} == {
        "case_id": body["case_id"],
        "version": 1,
    }
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/v1/cases/{body['case_id']}"
    assert await runtime.store.stream_version(ORG, uuid.UUID(body["case_id"])) == 1


async def test_the_assigned_worker_reads_the_case_and_the_access_is_recorded(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    response = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    view = response.json()
    assert view["case_id"] == case_id and view["version"] == 1
    assert view["identity"]["preferred_name"] == f"Client {CANARY}"
    assert view["worker_id"] == "worker-1" and view["team_id"] == TEAM
    assert view["intake"]["family_served"]["children_under_18"] == 1
    assert view["immigration"] == []  # the assigned worker sees immigration milestones
    records = await access_log(runtime.pool, ORG, uuid.UUID(case_id))
    assert [(r.actor_id, r.role, r.part, r.basis, r.grant_id) for r in records] == [
        ("worker-1", "caseworker", "full", "assignment", None)
    ]
    assert records[0].request_id == response.headers["x-request-id"]


async def test_another_organisations_case_is_the_same_404_as_a_missing_one(
    cases: httpx.AsyncClient, people: People
) -> None:
    case_id = await open_case(cases, people.worker)
    theirs = await cases.get(f"/v1/cases/{case_id}", headers=people.stranger)
    missing = await cases.get(f"/v1/cases/{uuid.uuid4()}", headers=people.stranger)
    assert_problem(theirs, 404, "not-found")
    assert theirs.content == missing.content
    command = await cases.post(
        f"/v1/cases/{case_id}/services",
        json=service(),
        headers=with_headers(people.stranger, if_match='"1"'),
    )
    assert command.content == missing.content


async def test_refusals_by_assignment_and_role(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    assert_problem(
        await cases.get(f"/v1/cases/{case_id}", headers=people.colleague), 403, "forbidden"
    )
    for headers in (people.admin, people.reporter):
        assert_problem(await cases.get(f"/v1/cases/{case_id}", headers=headers), 403, "forbidden")
        # a role with no rule learns nothing about which ids exist
        assert_problem(
            await cases.get(f"/v1/cases/{uuid.uuid4()}", headers=headers), 403, "forbidden"
        )
        assert_problem(
            await cases.post("/v1/cases", json=intake_body(), headers=headers), 403, "forbidden"
        )
    assert_problem(
        await cases.post(
            f"/v1/cases/{case_id}/services",
            json=service(),
            headers=with_headers(people.colleague, if_match='"1"'),
        ),
        403,
        "forbidden",
    )
    assert_problem(
        await cases.post(
            f"/v1/cases/{case_id}/services",
            json=service(),
            headers=with_headers(people.supervisor, if_match='"1"'),
        ),
        403,
        "forbidden",
    )
    assert await access_log(runtime.pool, ORG, uuid.UUID(case_id)) == []


async def test_a_supervisor_reads_only_with_break_the_glass_and_never_immigration(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    assert_problem(
        await cases.get(f"/v1/cases/{case_id}", headers=people.supervisor), 403, "forbidden"
    )
    key = await case_data_key(runtime.pool, runtime.keyring, ORG, uuid.UUID(case_id))
    async with runtime.store.transaction() as conn:
        grant = await grant_break_glass(
            conn,
            tenant_id=ORG,
            case_id=uuid.UUID(case_id),
            actor_id="supervisor-1",
            reason="synthetic safety emergency",
            minutes=30,
            data_key=key,
            now=utc_now() - dt.timedelta(seconds=1),
        )
    response = await cases.get(f"/v1/cases/{case_id}", headers=people.supervisor)
    assert response.status_code == 200
    assert "immigration" not in response.json()
    records = await access_log(runtime.pool, ORG, uuid.UUID(case_id))
    assert [(r.actor_id, r.role, r.part, r.basis, r.grant_id) for r in records] == [
        ("supervisor-1", "supervisor", "summary", "break-glass", grant.grant_id)
    ]


async def test_a_read_whose_access_cannot_be_recorded_returns_nothing(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, log_stream: io.StringIO
) -> None:
    """Fail closed. A real failure of the INSERT: a trigger (for this case only, so that other
    tests are untouched) refuses rows into haven.access_records, as a full disk, a revoked
    privilege or a broken constraint would."""
    case_id = await open_case(cases, people.worker)
    async with access_records_refused(runtime.pool, case_id):
        response = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert_problem(response, 503, "service-unavailable")
    assert "etag" not in response.headers
    assert await access_log(runtime.pool, ORG, uuid.UUID(case_id)) == []
    assert CANARY not in log_stream.getvalue()
    # control: with the trigger gone the same read succeeds and is recorded
    assert (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).status_code == 200
    assert len(await access_log(runtime.pool, ORG, uuid.UUID(case_id))) == 1


# -- commands: preconditions, idempotency, validation, domain refusals ----------------------------


async def test_a_command_needs_the_current_version_in_if_match(
    cases: httpx.AsyncClient, people: People
) -> None:
    case_id = await open_case(cases, people.worker)
    url = f"/v1/cases/{case_id}/services"
    assert_problem(
        await cases.post(url, json=service(), headers=people.worker), 428, "precondition-required"
    )
    accepted = await cases.post(
        url, json=service(), headers=with_headers(people.worker, if_match='"1"')
    )
    assert accepted.status_code == 200
    assert accepted.json() == {"case_id": case_id, "version": 2}
    assert accepted.headers["etag"] == '"2"'
    assert accepted.headers["content-type"].startswith("application/json")
    assert_problem(
        await cases.post(
            url, json=service("service-2"), headers=with_headers(people.worker, if_match='"1"')
        ),
        412,
        "precondition-failed",
    )
    assert_problem(
        await cases.post(
            url, json=service("service-2"), headers=with_headers(people.worker, if_match="*")
        ),
        412,
        "precondition-failed",
    )
    assert (
        await cases.post(
            url, json=service("service-2"), headers=with_headers(people.worker, if_match='"2"')
        )
    ).headers["etag"] == '"3"'


async def test_a_retried_command_is_answered_once_and_appended_once(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    url = f"/v1/cases/{case_id}/services"
    headers = with_headers(people.worker, if_match='"1"', idempotency_key="retry-0001")
    first = await cases.post(url, json=service(), headers=headers)
    second = await cases.post(url, json=service(), headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content and second.headers["etag"] == '"2"'
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == 2
    assert_problem(
        await cases.post(url, json=service("service-other"), headers=headers),
        422,
        "idempotency-key-reused",
    )
    assert_problem(
        await cases.post(
            url,
            json=service(),
            headers=with_headers(people.worker, if_match='"2"', idempotency_key="x" * 101),
        ),
        422,
        "validation-error",
    )
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == 2


async def test_a_retried_intake_opens_one_case(cases: httpx.AsyncClient, people: People) -> None:
    headers = with_headers(people.worker, idempotency_key="intake-0001")
    first = await cases.post("/v1/cases", json=intake_body(), headers=headers)
    second = await cases.post("/v1/cases", json=intake_body(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert first.headers["location"] == second.headers["location"]


@pytest.mark.parametrize("where", ["top", "intake", "family_served", "contact_channel"])
async def test_unknown_members_are_refused_at_every_level(
    cases: httpx.AsyncClient, people: People, where: str
) -> None:
    body = intake_body()
    target = {
        "top": body,
        "intake": body["intake"],
        "family_served": body["intake"]["family_served"],
        "contact_channel": body["contact"]["channels"][0],
    }[where]
    target["preferd_name"] = "typo"
    problem = assert_problem(
        await cases.post("/v1/cases", json=body, headers=people.worker), 422, "validation-error"
    )
    assert problem["errors"]


async def test_unknown_members_of_a_command_are_refused(
    cases: httpx.AsyncClient, people: People
) -> None:
    case_id = await open_case(cases, people.worker)
    assert_problem(
        await cases.post(
            f"/v1/cases/{case_id}/services",
            json={**service(), "extra": 1},
            headers=with_headers(people.worker, if_match='"1"'),
        ),
        422,
        "validation-error",
    )


async def test_a_domain_refusal_answers_its_own_problem(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    future = dt.date.today() + dt.timedelta(days=30)
    body = assert_problem(
        await cases.post(
            f"/v1/cases/{case_id}/services",
            json=service(delivered_on=future),
            headers=with_headers(people.worker, if_match='"1"'),
        ),
        422,
        "date-in-future",
    )
    assert body["detail"] == "the service date is in the future"
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == 1


async def test_a_closed_case_refuses_further_commands(
    cases: httpx.AsyncClient, people: People
) -> None:
    case_id = await open_case(cases, people.worker)
    closed = await cases.post(
        f"/v1/cases/{case_id}/closure",
        json=CLOSE_CASE_EXAMPLE,
        headers=with_headers(people.worker, if_match='"1"'),
    )
    assert closed.status_code == 200 and closed.headers["etag"] == '"2"'
    assert_problem(
        await cases.post(
            f"/v1/cases/{case_id}/services",
            json=service(),
            headers=with_headers(people.worker, if_match='"2"'),
        ),
        409,
        "case-closed",
    )


async def test_the_documented_examples_are_accepted_in_order(
    cases: httpx.AsyncClient, people: People
) -> None:
    created = await cases.post("/v1/cases", json=OPEN_CASE_EXAMPLE, headers=people.worker)
    assert created.status_code == 201
    case_id = created.json()["case_id"]
    steps = [
        ("services", RECORD_SERVICE_EXAMPLE),
        ("consents", GRANT_CONSENT_EXAMPLE),
        ("referrals", PROPOSE_REFERRAL_EXAMPLE),
        (f"referrals/{PROPOSE_REFERRAL_EXAMPLE['referral_id']}/status", UPDATE_REFERRAL_EXAMPLE),
        (f"consents/{GRANT_CONSENT_EXAMPLE['consent_id']}/revocation", REVOKE_CONSENT_EXAMPLE),
        ("closure", CLOSE_CASE_EXAMPLE),
    ]
    version = 1
    for path, body in steps:
        response = await cases.post(
            f"/v1/cases/{case_id}/{path}",
            json=body,
            headers=with_headers(people.worker, if_match=f'"{version}"'),
        )
        assert response.status_code == 200, (path, response.text)
        version = response.json()["version"]
    view = (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).json()
    assert view["referrals"][0]["status"] == "revoked"  # the revocation ended the referral
    assert view["consents"][0]["revoked_on"] == REVOKE_CONSENT_EXAMPLE["revoked_on"]
    assert view["services"][0]["service_id"] == RECORD_SERVICE_EXAMPLE["service_id"]
    assert view["closure"]["reason"] == CLOSE_CASE_EXAMPLE["reason"]


async def test_the_openapi_document_names_operations_and_examples(cases: httpx.AsyncClient) -> None:
    document = (await cases.get("/schema/openapi.json")).json()
    paths = document["paths"]
    operations = {op["operationId"] for path in paths.values() for op in path.values()}
    assert {
        "openCase",
        "getCase",
        "recordService",
        "grantConsent",
        "revokeConsent",
        "proposeReferral",
        "updateReferral",
        "closeCase",
    } <= operations
    open_op = paths["/v1/cases"]["post"]
    assert open_op["security"] == [{"BearerToken": []}]
    assert "Client Example" in str(open_op["requestBody"])


async def test_no_error_body_or_log_line_carries_case_content(
    cases: httpx.AsyncClient, people: People, log_stream: io.StringIO
) -> None:
    case_id = await open_case(cases, people.worker)
    url = f"/v1/cases/{case_id}"
    bad_intake = intake_body()
    bad_intake["intake"]["intake_on"] = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    bad_intake["identity"]["unknown"] = CANARY
    errors = [
        await cases.get(url, headers=people.colleague),
        await cases.get(url, headers=people.stranger),
        await cases.post(
            f"{url}/services", json={**service(), "notes": CANARY}, headers=people.worker
        ),
        await cases.post(
            f"{url}/services",
            json={**service(), "notes": CANARY, "x": CANARY},
            headers=with_headers(people.worker, if_match='"1"'),
        ),
        await cases.post(
            f"{url}/services",
            json={**service(), "category": "not-a-code", "notes": CANARY},
            headers=with_headers(people.worker, if_match='"1"'),
        ),
        await cases.post("/v1/cases", json=bad_intake, headers=people.worker),
        await cases.post("/v1/cases", content=f'{{"identity": "{CANARY}"', headers=people.worker),
    ]
    for response in errors:
        assert response.status_code >= 400
        assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
        assert CANARY not in response.text
    assert CANARY not in log_stream.getvalue()


async def test_a_lost_race_is_409_and_never_a_double_append(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer appends between our If-Match check and our append (simulated: the
    unit of work's append first lets a concurrent use case commit through the pool). The
    process forgets the state its intake left, so the command reads the case first: the window
    between that read and the append is the race (a command on a state known here has no read,
    `test_case_view_reads`)."""
    case_id = await open_case(cases, people.worker)
    assert runtime.recent is not None
    runtime.recent.forget((ORG, case_id))
    original = unit_of_work.UnitOfWorkStore.append

    async def append_after_a_rival(self: Any, *args: Any, **kwargs: Any) -> Any:
        rival = CaseUseCases(runtime.store)
        await rival.record_service(
            Actor("worker-1", ORG),
            case_id,
            cmd.RecordService(
                service_id="service-rival",
                category="case_management",
                delivered_on=dt.date(2026, 1, 12),
            ),
        )
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(unit_of_work.UnitOfWorkStore, "append", append_after_a_rival)
    response = await cases.post(
        f"/v1/cases/{case_id}/services",
        json=service(),
        headers=with_headers(people.worker, if_match='"1"', idempotency_key="race-1"),
    )
    assert_problem(response, 409, "concurrent-change")
    monkeypatch.undo()
    assert (
        await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == 2
    )  # the rival's event only
    # the key was rolled back with the append: a retry runs afresh (and is now stale)
    retry = await cases.post(
        f"/v1/cases/{case_id}/services",
        json=service(),
        headers=with_headers(people.worker, if_match='"1"', idempotency_key="race-1"),
    )
    assert_problem(retry, 412, "precondition-failed")
