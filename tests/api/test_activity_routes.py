"""The activity routes: record, read, correct, withdraw, list and summarise, as each role, with
the write path's refusals (428, 412, 409, 422) and the read model behind the list and the
summary. Every value is synthetic; `CANARY` stands for text that must never come back."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx
import pytest

from projections.activities import ActivitiesProjection
from projections.rebuild import rebuild
from services.api.activity_schemas import ACTIVITY_EXAMPLE, CORRECTION_EXAMPLE
from services.api.cases.schemas.examples import OPEN_CASE_EXAMPLE
from services.api.problems import PROBLEM_BASE_URI, PROBLEM_MEDIA_TYPE
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from tests.conftest import empty_log_and_read_models

CANARY = "CANARY-activity-5e1d"
ROLES = ("caseworker", "supervisor", "outreach", "privacy_officer", "reporter", "admin")


class Callers:
    """Callers of one organisation of its own (the log is shared by the tests of a run)."""

    def __init__(self, issuer: LocalIssuer) -> None:
        self.org = f"org-outreach-{uuid.uuid4().hex[:8]}"
        self.role = {
            role: {"Authorization": f"Bearer {issuer.mint(f'{role}-1', self.org, [role])}"}
            for role in ROLES
        }
        other = issuer.mint("outreach-9", f"org-other-{uuid.uuid4().hex[:8]}", ["outreach"])
        self.stranger = {"Authorization": f"Bearer {other}"}


@pytest.fixture
def callers(issuer: LocalIssuer) -> Callers:
    return Callers(issuer)


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["type"] == PROBLEM_BASE_URI + slug
    assert CANARY not in response.text
    return body


def pointers(response: httpx.Response) -> list[str]:
    return [error["pointer"] for error in problem(response, 422, "validation-error")["errors"]]


async def record(client: httpx.AsyncClient, headers: dict[str, str], **change: Any) -> str:
    response = await client.post(
        "/v1/activities", json={**ACTIVITY_EXAMPLE, **change}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()["activity_id"]


async def test_an_activity_is_recorded_read_corrected_and_withdrawn(
    cases: httpx.AsyncClient, callers: Callers
) -> None:
    outreach = callers.role["outreach"]
    recorded = await cases.post("/v1/activities", json=ACTIVITY_EXAMPLE, headers=outreach)
    assert recorded.status_code == 201, recorded.text
    activity_id = recorded.json()["activity_id"]
    assert recorded.json() == {"activity_id": activity_id, "version": 1}
    assert recorded.headers["etag"] == '"1"'
    assert recorded.headers["location"] == f"/v1/activities/{activity_id}"
    read = await cases.get(f"/v1/activities/{activity_id}", headers=callers.role["caseworker"])
    assert read.status_code == 200 and read.headers["etag"] == '"1"'
    view = read.json()
    assert {k: view[k] for k in ACTIVITY_EXAMPLE} == ACTIVITY_EXAMPLE
    assert (view["participants"], view["corrections"], view["withdrawn"]) == (33, 0, None)

    url = f"/v1/activities/{activity_id}"
    problem(
        await cases.put(url, json=CORRECTION_EXAMPLE, headers=outreach),
        428,
        "precondition-required",
    )
    stale = {**outreach, "If-Match": '"7"'}
    problem(
        await cases.put(url, json=CORRECTION_EXAMPLE, headers=stale), 412, "precondition-failed"
    )
    weak = {**outreach, "If-Match": 'W/"1"'}
    problem(await cases.put(url, json=CORRECTION_EXAMPLE, headers=weak), 412, "precondition-failed")
    corrected = await cases.put(
        url, json=CORRECTION_EXAMPLE, headers={**outreach, "If-Match": '"1"'}
    )
    assert corrected.status_code == 200 and corrected.headers["etag"] == '"2"', corrected.text
    view = (await cases.get(url, headers=outreach)).json()
    assert view["participants"] == 35 and view["corrections"] == 1

    withdrawal = f"{url}/withdrawal"
    problem(
        await cases.post(
            withdrawal, json={"reason": CANARY}, headers={**outreach, "If-Match": '"2"'}
        ),
        422,
        "validation-error",
    )
    withdrawn = await cases.post(
        withdrawal, json={"reason": "duplicate"}, headers={**outreach, "If-Match": '"2"'}
    )
    assert withdrawn.status_code == 200 and withdrawn.headers["etag"] == '"3"', withdrawn.text
    assert (await cases.get(url, headers=outreach)).json()["withdrawn"] == "duplicate"
    again = {**outreach, "If-Match": '"3"'}
    problem(await cases.put(url, json=CORRECTION_EXAMPLE, headers=again), 409, "activity-withdrawn")
    problem(
        await cases.post(withdrawal, json={"reason": "duplicate"}, headers=again),
        409,
        "activity-withdrawn",
    )


async def test_a_patch_changes_the_members_it_names_and_keeps_the_others(
    cases: httpx.AsyncClient, callers: Callers
) -> None:
    worker = callers.role["caseworker"]
    activity_id = await record(cases, worker)
    url = f"/v1/activities/{activity_id}"
    change = {"hours": 4, "languages": ["en", "es", "vi"], "topic": None}
    problem(await cases.patch(url, json=change, headers=worker), 428, "precondition-required")
    patched = await cases.patch(url, json=change, headers={**worker, "If-Match": '"1"'})
    assert patched.status_code == 200 and patched.headers["etag"] == '"2"', patched.text
    view = (await cases.get(url, headers=worker)).json()
    assert (view["hours"], view["languages"], view["corrections"]) == (4.0, ["en", "es", "vi"], 1)
    assert view["topic"] == ACTIVITY_EXAMPLE["topic"] and view["kind"] == "training"
    # the merged record is held to the record's rules, each member by its pointer
    refused = await cases.patch(
        url, json={"delivery": CANARY, "hours": 0.3}, headers={**worker, "If-Match": '"2"'}
    )
    assert pointers(refused) == ["/hours", "/delivery"]
    unknown = await cases.patch(url, json={CANARY: 1}, headers={**worker, "If-Match": '"2"'})
    problem(unknown, 422, "validation-error")
    stale = await cases.patch(url, json={"hours": 5}, headers={**worker, "If-Match": '"1"'})
    problem(stale, 412, "precondition-failed")
    elsewhere = {**callers.stranger, "If-Match": '"2"'}
    problem(await cases.patch(url, json={"hours": 5}, headers=elsewhere), 404, "not-found")


async def test_an_idempotency_key_answers_a_retry_once(
    cases: httpx.AsyncClient, callers: Callers, runtime: Runtime
) -> None:
    headers = {**callers.role["caseworker"], "Idempotency-Key": "retry-activity-1"}
    first = await cases.post("/v1/activities", json=ACTIVITY_EXAMPLE, headers=headers)
    second = await cases.post("/v1/activities", json=ACTIVITY_EXAMPLE, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() and second.headers["etag"] == '"1"'
    streams = await runtime.pool.fetchval(
        "SELECT count(*) FROM haven.streams WHERE tenant_id = $1", callers.org
    )
    assert streams == 1
    other = {**ACTIVITY_EXAMPLE, "hours": 2}
    problem(
        await cases.post("/v1/activities", json=other, headers=headers),
        422,
        "idempotency-key-reused",
    )
    bad_key = {**callers.role["caseworker"], "Idempotency-Key": "\x7f"}
    assert pointers(await cases.post("/v1/activities", json=ACTIVITY_EXAMPLE, headers=bad_key)) == [
        "#/header/Idempotency-Key"
    ]


async def test_another_organisation_s_activity_and_a_case_answer_like_none(
    cases: httpx.AsyncClient, callers: Callers, people: Any
) -> None:
    activity_id = await record(cases, callers.role["outreach"])
    url = f"/v1/activities/{activity_id}"
    problem(await cases.get(url, headers=callers.stranger), 404, "not-found")
    headers = {**callers.stranger, "If-Match": '"1"'}
    problem(await cases.put(url, json=CORRECTION_EXAMPLE, headers=headers), 404, "not-found")
    withdrawal = f"{url}/withdrawal"
    refused = await cases.post(withdrawal, json={"reason": "duplicate"}, headers=headers)
    problem(refused, 404, "not-found")
    # without If-Match, the request is refused before anything is read: the same 428 for an
    # activity of the caller's organisation, another's, or none
    for caller in (callers.stranger, callers.role["outreach"]):
        problem(
            await cases.put(url, json=CORRECTION_EXAMPLE, headers=caller),
            428,
            "precondition-required",
        )
    missing = f"/v1/activities/{uuid.uuid4()}"
    problem(await cases.get(missing, headers=callers.role["outreach"]), 404, "not-found")
    # a case's stream is no activity, and an activity's stream is no case
    opened = await cases.post("/v1/cases", json=OPEN_CASE_EXAMPLE, headers=people.worker)
    case_id = opened.json()["case_id"]
    problem(await cases.get(f"/v1/activities/{case_id}", headers=people.worker), 404, "not-found")
    worker = {"Authorization": callers.role["caseworker"]["Authorization"]}
    mine = await record(cases, worker)
    problem(await cases.get(f"/v1/cases/{mine}", headers=worker), 404, "not-found")
    problem(
        await cases.post(
            f"/v1/cases/{mine}/services",
            json={"service_id": "s-1", "category": "case_management", "delivered_on": "2026-01-12"},
            headers={**worker, "If-Match": '"1"'},
        ),
        404,
        "not-found",
    )


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"held_on": "2999-01-01"}, "/held_on"),
    ({"kind": CANARY}, "/kind"),
    ({"audience": []}, "/audience"),
    ({"audience": [{"sector": CANARY, "participants": 3}]}, "/audience/0/sector"),
    ({"audience": [{"sector": "faith", "participants": -3}]}, "/audience/0/participants"),
    ({"hours": 0.1}, "/hours"),
    ({"languages": ["en", CANARY]}, "/languages/1"),
    ({"delivery": CANARY}, "/delivery"),
    ({"area": {"state": CANARY}}, "/area/state"),
    ({"area": {"state": "TX", "counties": [f"12 {CANARY} Street"]}}, "/area/counties/0"),
    ({"topic": f"{CANARY}\x00"}, "/topic"),
    ({"topic": CANARY * 20}, "/topic"),
]


@pytest.mark.parametrize(("change", "pointer"), INVALID, ids=[p for _, p in INVALID])
async def test_an_invalid_member_is_422_naming_it_and_records_nothing(
    cases: httpx.AsyncClient, callers: Callers, runtime: Runtime, change: dict, pointer: str
) -> None:
    headers = callers.role["outreach"]
    answer = await cases.post(
        "/v1/activities", json={**ACTIVITY_EXAMPLE, **change}, headers=headers
    )
    assert pointers(answer) == [pointer]
    activity_id = await record(cases, headers)  # control, and the same rule for a correction
    corrected = await cases.put(
        f"/v1/activities/{activity_id}",
        json={**ACTIVITY_EXAMPLE, **change},
        headers={**headers, "If-Match": '"1"'},
    )
    assert pointers(corrected) == [pointer]
    assert (
        await runtime.pool.fetchval(
            "SELECT count(*) FROM haven.streams WHERE tenant_id = $1", callers.org
        )
        == 1
    )


async def test_hostile_bodies_are_client_errors_never_500(
    cases: httpx.AsyncClient, callers: Callers
) -> None:
    headers = callers.role["outreach"]
    unknown = {**ACTIVITY_EXAMPLE, CANARY: "x"}
    problem(
        await cases.post("/v1/activities", json=unknown, headers=headers), 422, "validation-error"
    )
    nested = copy.deepcopy(ACTIVITY_EXAMPLE)
    nested["area"][CANARY] = 1
    problem(
        await cases.post("/v1/activities", json=nested, headers=headers), 422, "validation-error"
    )
    for wrong in (
        {"hours": "three"},
        {"audience": [{"sector": "faith", "participants": 1.5}]},
        {"audience": [{"sector": "faith", "participants": 10**30}]},
        {"languages": "en"},
        {"held_on": "yesterday"},
        {"area": None},
        {"hours": True},
    ):
        answer = await cases.post(
            "/v1/activities", json={**ACTIVITY_EXAMPLE, **wrong}, headers=headers
        )
        assert answer.status_code in (400, 422), (wrong, answer.text)
        assert answer.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    missing = {k: v for k, v in ACTIVITY_EXAMPLE.items() if k != "topic"}
    problem(
        await cases.post("/v1/activities", json=missing, headers=headers), 422, "validation-error"
    )
    oversized = {**ACTIVITY_EXAMPLE, "topic": "x" * 100_000}
    oversized_answer = await cases.post("/v1/activities", json=oversized, headers=headers)
    assert oversized_answer.status_code == 413
    many = {**ACTIVITY_EXAMPLE, "languages": ["en"] * 51}
    problem(await cases.post("/v1/activities", json=many, headers=headers), 422, "validation-error")
    not_json = await cases.post(
        "/v1/activities", content=b"\xff{", headers={**headers, "Content-Type": "application/json"}
    )
    assert 400 <= not_json.status_code < 500


ENDPOINTS = ("record", "read", "correct", "patch", "withdraw", "list", "summary")
# role -> the endpoints it may use; every other endpoint answers it 403 (the matrix's rows
# activity.record, activity.list and activity.summary, over HTTP)
ALLOWED = {
    "caseworker": {"record", "read", "correct", "patch", "withdraw", "list"},
    "supervisor": set(ENDPOINTS),
    "outreach": {"record", "read", "correct", "patch", "withdraw", "list"},
    "privacy_officer": set(),
    "reporter": set(),
    "admin": set(),
}


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_is_answered_as_the_table_says(
    cases: httpx.AsyncClient, callers: Callers, runtime: Runtime, role: str
) -> None:
    await rebuild(runtime.store, runtime.pool, ActivitiesProjection)
    activity_id = await record(cases, callers.role["outreach"])
    url = f"/v1/activities/{activity_id}"
    headers = {**callers.role[role], "If-Match": '"1"'}
    requests = {
        "record": ("POST", "/v1/activities", ACTIVITY_EXAMPLE),
        "read": ("GET", url, None),
        "correct": ("PUT", url, CORRECTION_EXAMPLE),
        "patch": ("PATCH", url, {"hours": 2}),
        "withdraw": ("POST", f"{url}/withdrawal", {"reason": "duplicate"}),
        "list": ("GET", "/v1/activities", None),
        "summary": ("GET", "/v1/activities/summary?from=2026-01-01&to=2026-12-31", None),
    }
    wanted_success = {"record": 201}
    version = 1  # the activity's, moved on by each command the role may send
    for endpoint in ENDPOINTS:
        method, path, body = requests[endpoint]
        answer = await cases.request(
            method, path, json=body, headers={**headers, "If-Match": f'"{version}"'}
        )
        if endpoint in ALLOWED[role]:
            assert answer.status_code == wanted_success.get(endpoint, 200), (endpoint, answer.text)
            version += endpoint in ("correct", "patch", "withdraw")
        else:
            problem(answer, 403, "forbidden")


async def test_the_list_and_the_summary_come_from_the_read_model(
    cases: httpx.AsyncClient, callers: Callers, runtime: Runtime
) -> None:
    outreach, supervisor = callers.role["outreach"], callers.role["supervisor"]
    first = await record(cases, outreach)  # March: law enforcement 24, health care 9, 3.5 h
    await record(
        cases,
        outreach,
        held_on="2026-04-10",
        kind="outreach_event",
        audience=[{"sector": "community", "participants": 40}],
        hours=2,
    )
    withdrawn = await record(cases, outreach, held_on="2026-03-20")
    answer = await cases.post(
        f"/v1/activities/{withdrawn}/withdrawal",
        json={"reason": "entered_in_error"},
        headers={**outreach, "If-Match": '"1"'},
    )
    assert answer.status_code == 200
    await rebuild(runtime.store, runtime.pool, ActivitiesProjection)

    listed = (await cases.get("/v1/activities", headers=outreach)).json()
    assert [a["held_on"] for a in listed["activities"]] == ["2026-04-10", "2026-03-04"]
    assert listed["next_cursor"] is None and "topic" not in listed["activities"][0]
    page = (await cases.get("/v1/activities?limit=1", headers=outreach)).json()
    rest = await cases.get(f"/v1/activities?limit=1&cursor={page['next_cursor']}", headers=outreach)
    assert [a["activity_id"] for a in rest.json()["activities"]] == [first]
    trainings = (await cases.get("/v1/activities?kind=training", headers=outreach)).json()
    assert [a["activity_id"] for a in trainings["activities"]] == [first]
    health = (await cases.get("/v1/activities?sector=health_care", headers=outreach)).json()
    assert [a["activity_id"] for a in health["activities"]] == [first]
    april = (
        await cases.get("/v1/activities?from=2026-04-01&to=2026-04-30", headers=outreach)
    ).json()
    assert [a["held_on"] for a in april["activities"]] == ["2026-04-10"]

    summary = (
        await cases.get("/v1/activities/summary?from=2026-01-01&to=2026-12-31", headers=supervisor)
    ).json()
    assert (summary["activities"], summary["participants"], summary["hours"]) == (2, 73, 5.5)
    assert summary["by_month_and_kind"] == [
        {
            "month": "2026-03",
            "kind": "training",
            "sector": None,
            "activities": 1,
            "participants": 33,
            "hours": 3.5,
        },
        {
            "month": "2026-04",
            "kind": "outreach_event",
            "sector": None,
            "activities": 1,
            "participants": 40,
            "hours": 2.0,
        },
    ]
    assert [
        (r["month"], r["sector"], r["participants"]) for r in summary["by_month_kind_and_sector"]
    ] == [
        ("2026-03", "health_care", 9),
        ("2026-03", "law_enforcement", 24),
        ("2026-04", "community", 40),
    ]
    # control: the other organisation's supervisor sees none of it
    stranger = callers.stranger
    assert (await cases.get("/v1/activities", headers=stranger)).json()["activities"] == []


async def test_bad_queries_are_422_naming_the_parameter(
    cases: httpx.AsyncClient, callers: Callers, runtime: Runtime
) -> None:
    await rebuild(runtime.store, runtime.pool, ActivitiesProjection)
    outreach, supervisor = callers.role["outreach"], callers.role["supervisor"]
    for query, pointer in (
        (f"kind={CANARY}", "#/query/kind"),
        (f"sector={CANARY}", "#/query/sector"),
        ("from=2026-05-01&to=2026-04-01", "#/query/to"),
        (f"cursor={CANARY}", "#/query/cursor"),
        ("from=2026-13-01", "#/query/from"),
        ("limit=0", "#/query/limit"),
        ("kind=%00", "#/query/kind"),
    ):
        assert pointers(await cases.get(f"/v1/activities?{query}", headers=outreach)) == [pointer]
    for query, pointer in (
        ("from=2026-05-01&to=2026-04-01", "#/query/to"),
        ("from=2000-01-01&to=2026-04-01", "#/query/to"),
        ("to=2026-04-01", "#/query/from"),
    ):
        answer = await cases.get(f"/v1/activities/summary?{query}", headers=supervisor)
        assert pointer in pointers(answer)


SERVED = {
    ("POST", "/v1/activities"): "activity.record",
    ("GET", "/v1/activities"): "activity.list",
    ("GET", "/v1/activities/summary"): "activity.summary",
    ("GET", "/v1/activities/{activity_id}"): "activity.list",
    ("PUT", "/v1/activities/{activity_id}"): "activity.record",
    ("PATCH", "/v1/activities/{activity_id}"): "activity.record",
    ("POST", "/v1/activities/{activity_id}/withdrawal"): "activity.record",
}


def test_every_activity_endpoint_is_listed_with_its_action() -> None:
    from services.api.app import create_app
    from services.authorisation import Action
    from services.settings import Settings

    app = create_app(runtime=None, verifier=None, settings=Settings.from_environ({}))  # type: ignore[arg-type]
    paths = app.openapi_schema.to_schema()["paths"]
    served = {
        (method.upper(), path)
        for path, item in paths.items()
        for method in item
        if path.startswith("/v1/activities")
    }
    assert served == set(SERVED)
    assert set(SERVED.values()) == {a.value for a in Action if a.value.startswith("activity.")}
    for (method, path), _ in SERVED.items():
        operation = paths[path][method.lower()]
        if "{activity_id}" in path and method != "GET":
            names = {p["name"] for p in operation["parameters"]}
            assert {"If-Match", "Idempotency-Key"} <= names, (method, path)
            assert "ETag" in operation["responses"]["200"]["headers"]
    assert set(paths["/v1/activities"]["post"]["responses"]["201"]["headers"]) == {
        "ETag",
        "Location",
    }


async def test_the_list_before_its_read_model_is_built_is_503_not_500(
    cases: httpx.AsyncClient, callers: Callers, runtime: Runtime
) -> None:
    await empty_log_and_read_models(runtime.pool)
    for path, role in (
        ("/v1/activities", "outreach"),
        ("/v1/activities/summary?from=2026-01-01&to=2026-12-31", "supervisor"),
    ):
        refused = await cases.get(path, headers=callers.role[role])
        problem(refused, 503, "service-unavailable")
        assert refused.headers["retry-after"]
    await rebuild(runtime.store, runtime.pool, ActivitiesProjection)
    listed = await cases.get("/v1/activities", headers=callers.role["outreach"])
    assert listed.status_code == 200  # control
