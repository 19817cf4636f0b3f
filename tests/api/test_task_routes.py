"""Follow-up rules and tasks over HTTP (`services.api.task_routes`), on the real app, event
store and PostgreSQL: the rules read and set by role, with problems for bad input; a worker's
own tasks listed, completed (done for good) and snoozed; a worker who tries to complete
another worker's task refused, with its control; the supervisor's overdue counts of their
team. Each test has its own organisation; cases are opened with the synthetic example
intake (2026-01-05), so each has a "no contact" task long overdue."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from domain.tasks.rules import DEFAULT_RULES
from events.errors import StreamErased, StreamNotFound
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from services.tasks.streams import task_stream
from tests.api.conftest import AppFactory, api_client
from tests.api.test_case_routes import CANARY, assert_problem, intake_body, open_case

TEAM, OTHER_TEAM = "team-tasks", "team-tasks-other"
TASK_FIELDS = {
    "task_id",
    "case_id",
    "kind",
    "reason",
    "due_on",
    "status",
    "worker_id",
    "team_id",
    "snoozed_until",
}


def rules_body(**changed: dict[str, Any]) -> dict[str, Any]:
    rules = [
        {"kind": str(r.kind), "enabled": r.enabled, "days": r.days} for r in DEFAULT_RULES.rules
    ]
    return {"rules": [{**rule, **changed.get(rule["kind"], {})} for rule in rules]}


class Org:
    """A fresh organisation and its people."""

    def __init__(self, issuer: LocalIssuer) -> None:
        self.id = f"org-tasks-{uuid.uuid4().hex[:8]}"

        def mint(user: str, role: str, org: str = self.id, team: str = TEAM) -> dict[str, str]:
            return {"Authorization": f"Bearer {issuer.mint(user, org, [role], team=team)}"}

        self.worker_a = mint("worker-a", "caseworker")
        self.worker_b = mint("worker-b", "caseworker")
        self.worker_elsewhere = mint("worker-e", "caseworker", team=OTHER_TEAM)
        self.stranger = mint("worker-a", "caseworker", org=f"{self.id}-other")
        self.other_admin = mint("admin-1", "admin", org=f"{self.id}-other")
        self.supervisor = mint("supervisor-1", "supervisor")
        self.admin = mint("admin-1", "admin")
        self.privacy = mint("privacy-1", "privacy_officer")


@pytest.fixture
def org(issuer: LocalIssuer) -> Org:
    return Org(issuer)


@pytest.fixture
async def client(make_app: AppFactory) -> Any:
    async with api_client(make_app(), lifespan=False) as test_client:
        yield test_client


async def project(runtime: Runtime) -> None:
    factories = projection_factories(runtime.keyring, runtime.store)
    for name in ("cases", "tasks"):
        await rebuild(runtime.store, runtime.pool, factories[name])


async def tasks_of(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/v1/tasks", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    return response.json()["tasks"]


async def task_events(runtime: Runtime, org: Org, case_id: str) -> int:
    try:
        return len(await runtime.store.read_stream(org.id, task_stream(uuid.UUID(case_id))))
    except StreamNotFound:
        return 0


async def test_the_administrator_s_rules_are_read_by_supervisors_and_drive_tasks_and_flags(
    client: httpx.AsyncClient, org: Org, runtime: Runtime
) -> None:
    response = await client.get("/v1/follow-up-rules", headers=org.admin)
    assert response.status_code == 200 and response.json()["set_by"] is None
    assert response.json()["rules"] == rules_body()["rules"]  # the caseload's thresholds
    case_id = await open_case(client, org.worker_a)
    await project(runtime)
    assert [t["kind"] for t in await tasks_of(client, org.worker_a)] == ["no_contact"]

    off = rules_body(no_contact={"enabled": False}, referral_overdue={"days": 7})
    response = await client.put("/v1/follow-up-rules", json=off, headers=org.admin)
    assert response.status_code == 200, response.text
    assert response.json()["set_by"] == "admin-1"
    read = await client.get("/v1/follow-up-rules", headers=org.supervisor)
    assert read.status_code == 200 and read.json()["rules"] == off["rules"]
    assert await tasks_of(client, org.worker_a) == []  # a rule switched off: no task
    # another organisation keeps its own (default) rules
    other = await client.get("/v1/follow-up-rules", headers=org.other_admin)
    assert other.status_code == 200 and other.json()["set_by"] is None
    assert other.json()["rules"] == rules_body()["rules"]
    for who in (org.supervisor, org.worker_a, org.privacy):
        refused = await client.put("/v1/follow-up-rules", json=rules_body(), headers=who)
        assert_problem(refused, 403, "forbidden")
    assert_problem(await client.get("/v1/follow-up-rules", headers=org.worker_a), 403, "forbidden")

    bad = rules_body(no_contact={"days": 0})
    problem = assert_problem(
        await client.put("/v1/follow-up-rules", json=bad, headers=org.admin),
        422,
        "validation-error",
    )
    assert [e["pointer"] for e in problem["errors"]] == ["/rules/1/days"]
    missing = {"rules": rules_body()["rules"][:3]}
    problem = assert_problem(
        await client.put("/v1/follow-up-rules", json=missing, headers=org.admin),
        422,
        "validation-error",
    )
    assert [e["pointer"] for e in problem["errors"]] == ["/rules"]
    unknown = rules_body(no_contact={"kind": "no_calls"})
    response = await client.put("/v1/follow-up-rules", json=unknown, headers=org.admin)
    assert_problem(response, 422, "validation-error")

    back = await client.put("/v1/follow-up-rules", json=rules_body(), headers=org.admin)
    assert back.status_code == 200
    [task] = await tasks_of(client, org.worker_a)
    assert task["case_id"] == case_id and task["status"] == "overdue"
    assert await caseload_flags(client, org.worker_a) == ["no-recent-contact"]
    await the_caseload_flags_follow_the_organisation_s_thresholds(client, org, runtime)


async def caseload_flags(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await client.get("/v1/cases", headers=headers)
    assert response.status_code == 200, response.text
    return [f for case in response.json()["cases"] for f in case["flags"] if "contact" in f]


async def the_caseload_flags_follow_the_organisation_s_thresholds(
    client: httpx.AsyncClient, org: Org, runtime: Runtime
) -> None:
    """Worker B's case, contacted ten days ago."""
    ten_days_ago = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=10)
    body = intake_body()
    body["intake"]["intake_on"] = ten_days_ago.isoformat()  # the last contact
    response = await client.post("/v1/cases", json=body, headers=org.worker_b)
    assert response.status_code == 201, response.text
    await project(runtime)
    assert await caseload_flags(client, org.worker_b) == []  # the default: 30 days
    assert await tasks_of(client, org.worker_b) == []
    shorter = rules_body(no_contact={"days": 7})
    assert (await client.put("/v1/follow-up-rules", json=shorter, headers=org.admin)).is_success
    assert await caseload_flags(client, org.worker_b) == ["no-recent-contact"]
    [task] = await tasks_of(client, org.worker_b)
    assert task["due_on"] == (ten_days_ago + dt.timedelta(days=8)).isoformat()
    # control: the default rules again, and the flag and the task are gone
    defaults = rules_body()
    assert (await client.put("/v1/follow-up-rules", json=defaults, headers=org.admin)).is_success
    assert await caseload_flags(client, org.worker_b) == []
    assert await tasks_of(client, org.worker_b) == []


async def test_a_worker_completes_and_snoozes_their_own_tasks(
    client: httpx.AsyncClient, org: Org, runtime: Runtime
) -> None:
    first = await open_case(client, org.worker_a)
    second = await open_case(client, org.worker_a)
    await project(runtime)
    listed = await tasks_of(client, org.worker_a)
    assert {t["case_id"] for t in listed} == {first, second}
    for task in listed:
        assert set(task) == TASK_FIELDS  # ids, codes and days: nothing about the survivor
        assert task["kind"] == "no_contact" and task["reason"] == "no-recent-contact"
        assert task["worker_id"] == "worker-a" and task["team_id"] == TEAM
        assert task["due_on"] == "2026-02-05"  # intake 2026-01-05 + 30 days + 1
    assert CANARY not in str(listed)
    by_case = {t["case_id"]: t["task_id"] for t in listed}

    done = await client.post(f"/v1/tasks/{by_case[first]}/complete", headers=org.worker_a)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done" and done.headers["cache-control"] == "no-store"
    again = await client.post(f"/v1/tasks/{by_case[first]}/complete", headers=org.worker_a)
    assert again.status_code == 200 and again.json()["status"] == "done"
    assert await task_events(runtime, org, first) == 1  # done once: nothing more recorded
    assert_problem(
        await client.post(
            f"/v1/tasks/{by_case[first]}/snooze",
            json={"until": (dt.date.today() + dt.timedelta(days=3)).isoformat()},
            headers=org.worker_a,
        ),
        409,
        "task-done",
    )

    today = dt.datetime.now(dt.UTC).date()
    for until in (today, today + dt.timedelta(days=91)):
        problem = assert_problem(
            await client.post(
                f"/v1/tasks/{by_case[second]}/snooze",
                json={"until": until.isoformat()},
                headers=org.worker_a,
            ),
            422,
            "validation-error",
        )
        assert [e["pointer"] for e in problem["errors"]] == ["/until"]
    until = (today + dt.timedelta(days=3)).isoformat()
    snoozed = await client.post(
        f"/v1/tasks/{by_case[second]}/snooze", json={"until": until}, headers=org.worker_a
    )
    assert snoozed.status_code == 200 and snoozed.json()["status"] == "snoozed"
    await project(runtime)
    assert await tasks_of(client, org.worker_a) == []  # one done, one snoozed until later

    # erasing a case erases its task stream (a task's kind says which follow-ups it had)
    erased = await client.delete(f"/v1/cases/{first}", headers=org.privacy)
    assert erased.status_code == 204, erased.text
    with pytest.raises(StreamErased):
        await runtime.store.read_stream(org.id, task_stream(uuid.UUID(first)))
    assert await task_events(runtime, org, second) == 1  # control: the other case's stays
    gone = await client.post(f"/v1/tasks/{by_case[first]}/complete", headers=org.worker_a)
    assert_problem(gone, 404, "not-found")


async def test_attack_a_worker_cannot_complete_another_worker_s_task(
    client: httpx.AsyncClient, org: Org, runtime: Runtime
) -> None:
    """The attacker knows the task's id (a colleague's, of their own team)."""
    case_id = await open_case(client, org.worker_b)
    await project(runtime)
    [task] = await tasks_of(client, org.worker_b)
    url = f"/v1/tasks/{task['task_id']}/complete"
    assert_problem(await client.post(url, headers=org.worker_a), 403, "forbidden")
    assert_problem(await client.post(url, headers=org.worker_elsewhere), 403, "forbidden")
    assert_problem(await client.post(url, headers=org.supervisor), 403, "forbidden")
    assert_problem(await client.post(url, headers=org.stranger), 404, "not-found")
    snooze = {"until": (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)).isoformat()}
    assert_problem(
        await client.post(f"/v1/tasks/{task['task_id']}/snooze", json=snooze, headers=org.worker_a),
        403,
        "forbidden",
    )
    assert await task_events(runtime, org, case_id) == 0  # nothing recorded
    nobody = f"/v1/tasks/{uuid.uuid4()}/complete"
    assert_problem(await client.post(nobody, headers=org.worker_a), 404, "not-found")
    assert_problem(await client.post(nobody, headers=org.supervisor), 403, "forbidden")
    # control: the assigned worker can
    done = await client.post(url, headers=org.worker_b)
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert await task_events(runtime, org, case_id) == 1


async def test_a_supervisor_sees_the_overdue_counts_of_their_team(
    client: httpx.AsyncClient, org: Org, runtime: Runtime
) -> None:
    for who in (org.worker_a, org.worker_a, org.worker_b, org.worker_elsewhere):
        await open_case(client, who)
    await project(runtime)
    [one_of_b] = await tasks_of(client, org.worker_b)
    await client.post(f"/v1/tasks/{one_of_b['task_id']}/complete", headers=org.worker_b)
    await project(runtime)
    response = await client.get("/v1/tasks/overdue-summary", headers=org.supervisor)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "team_id": TEAM,
        "workers": [
            {"worker_id": "worker-a", "overdue": 2, "due": 0},
            {"worker_id": "worker-b", "overdue": 0, "due": 0},
        ],
    }  # counts only; another team's worker is not there
    for who in (org.worker_a, org.admin, org.privacy):
        assert_problem(await client.get("/v1/tasks/overdue-summary", headers=who), 403, "forbidden")
    assert_problem(await client.get("/v1/tasks", headers=org.supervisor), 403, "forbidden")
