"""The remaining case-worker commands over the real app, event store and PostgreSQL
(`services/api/cases/commands.py`): victim status, trafficking context, needs, goals,
statistics consent and transfer; the team-access setting; the OpenAPI declaration of If-Match
and Idempotency-Key. Every value is synthetic; `CANARY` marks case content.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx
import msgspec
import pytest

from events import idempotency
from events.access_log import access_log
from services.api.app import create_app
from services.api.cases.schemas.examples import (
    ASSESS_NEEDS_EXAMPLE,
    CHANGE_GOAL_STATUS_EXAMPLE,
    CLOSE_CASE_EXAMPLE,
    OPEN_CASE_EXAMPLE,
    SET_GOAL_EXAMPLE,
    STATISTICS_CONSENT_EXAMPLE,
    TRAFFICKING_CONTEXT_EXAMPLE,
    TRANSFER_CASE_EXAMPLE,
    TRANSFER_CONSENT_EXAMPLE,
    VICTIM_STATUS_EXAMPLE,
)
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from services.settings import Settings
from tests.api.conftest import ORG, OTHER_ORG, TEAM, AppFactory, api_client
from tests.api.test_case_routes import (
    CANARY,
    assert_problem,
    open_case,
    with_headers,
)

RECEIVING = TRANSFER_CASE_EXAMPLE["recipient_organisation"]


class People:
    def __init__(self, issuer: LocalIssuer) -> None:
        def mint(
            user: str, roles: list[str], org: str = ORG, team: str | None = TEAM
        ) -> dict[str, str]:
            return {"Authorization": f"Bearer {issuer.mint(user, org, roles, team=team)}"}

        self.worker = mint("worker-1", ["caseworker"])
        self.colleague = mint("worker-2", ["caseworker"])  # same team, not assigned
        self.elsewhere = mint("worker-3", ["caseworker"], team="team-south")
        self.supervisor = mint("supervisor-1", ["supervisor"])
        self.privacy = mint("privacy-1", ["privacy_officer"], team=None)
        self.stranger = mint("worker-9", ["caseworker"], org=OTHER_ORG)
        self.receiver = mint(
            TRANSFER_CASE_EXAMPLE["receiving_worker_id"],
            ["caseworker"],
            org=RECEIVING,
            team=TRANSFER_CASE_EXAMPLE["receiving_team_id"],
        )


@pytest.fixture
def people(issuer: LocalIssuer) -> People:
    return People(issuer)


def at(headers: dict[str, str], version: int, **extra: str) -> dict[str, str]:
    return with_headers(headers, if_match=f'"{version}"', **extra)


# Each new route: (name, path under the case, body, steps that must come first).
GOAL = SET_GOAL_EXAMPLE["goal_id"]
ROUTES: dict[str, tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]]]] = {
    "victim-status": ("victim-status", VICTIM_STATUS_EXAMPLE, []),
    "trafficking-context": ("trafficking-context", TRAFFICKING_CONTEXT_EXAMPLE, []),
    "needs": ("needs", ASSESS_NEEDS_EXAMPLE, []),
    "goals": ("goals", SET_GOAL_EXAMPLE, []),
    "goal-status": (
        f"goals/{GOAL}/status",
        CHANGE_GOAL_STATUS_EXAMPLE,
        [("goals", SET_GOAL_EXAMPLE)],
    ),
    "statistics-consent": ("statistics-consent", STATISTICS_CONSENT_EXAMPLE, []),
    "transfer": ("transfer", TRANSFER_CASE_EXAMPLE, [("consents", TRANSFER_CONSENT_EXAMPLE)]),
}


async def prepared(
    client: httpx.AsyncClient, people: People, steps: list[tuple[str, dict[str, Any]]]
) -> tuple[str, int]:
    """A case of worker-1's with `steps` done; its id and version."""
    case_id = await open_case(client, people.worker)
    version = 1
    for path, body in steps:
        response = await client.post(
            f"/v1/cases/{case_id}/{path}", json=body, headers=at(people.worker, version)
        )
        assert response.status_code == 200, response.text
        version = response.json()["version"]
    return case_id, version


# -- every new route: success, preconditions, idempotency, isolation, strict bodies --------------


@pytest.mark.parametrize("route", ROUTES)
async def test_the_command_is_accepted_once_with_the_current_version(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, route: str
) -> None:
    path, body, steps = ROUTES[route]
    case_id, version = await prepared(cases, people, steps)
    url = f"/v1/cases/{case_id}/{path}"
    assert_problem(
        await cases.post(url, json=body, headers=people.worker), 428, "precondition-required"
    )
    assert_problem(
        await cases.post(url, json=body, headers=at(people.worker, version + 1)),
        412,
        "precondition-failed",
    )
    assert_problem(
        await cases.post(url, json=body, headers=with_headers(people.worker, if_match="*")),
        412,
        "precondition-failed",
    )
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == version

    headers = at(people.worker, version, idempotency_key=f"{route}-0001")
    first = await cases.post(url, json=body, headers=headers)
    assert first.status_code == 200, first.text
    appended = 1
    assert first.json()["case_id"] == case_id and first.json()["version"] == version + appended
    assert first.headers["etag"] == f'"{version + appended}"'
    replay = await cases.post(url, json=body, headers=headers)
    assert replay.status_code == 200 and replay.content == first.content
    assert replay.headers["etag"] == first.headers["etag"]
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == version + appended
    # the same key for another request, and a stale retry without the key
    assert_problem(
        await cases.post(url, json=_another(route, body), headers=headers),
        422,
        "idempotency-key-reused",
    )
    assert_problem(
        await cases.post(url, json=body, headers=at(people.worker, version)),
        412,
        "precondition-failed",
    )
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == version + appended


ANOTHER = {  # per route, one member changed: another request for the same key
    "victim-status": {"determined_on": "2026-01-21"},
    "trafficking-context": {"narrative": "Synthetic narrative, third revision."},
    "needs": {"assessed_on": "2026-01-09"},
    "goals": {"target_on": "2026-07-31"},
    "goal-status": {"changed_on": "2026-02-03"},
    "statistics-consent": {"agrees": False},
    "transfer": {"requested_on": "2026-03-02"},
}


def _another(route: str, body: dict[str, Any]) -> dict[str, Any]:
    changed = {**copy.deepcopy(body), **ANOTHER[route]}
    assert changed != body
    return changed


@pytest.mark.parametrize("route", ROUTES)
async def test_another_organisations_case_is_404_and_unknown_members_are_422(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, route: str
) -> None:
    path, body, steps = ROUTES[route]
    case_id, version = await prepared(cases, people, steps)
    missing = await cases.post(
        f"/v1/cases/{uuid.uuid4()}/{path}", json=body, headers=at(people.stranger, version)
    )
    theirs = await cases.post(
        f"/v1/cases/{case_id}/{path}", json=body, headers=at(people.stranger, version)
    )
    assert_problem(theirs, 404, "not-found")
    assert theirs.content == missing.content
    url = f"/v1/cases/{case_id}/{path}"
    unknown = await cases.post(
        url, json={**body, "preferd_name": CANARY}, headers=at(people.worker, version)
    )
    problem = assert_problem(unknown, 422, "validation-error")
    assert problem["errors"] and "preferd_name" not in unknown.text
    missing_member = {name: value for name, value in body.items() if name != next(iter(body))}
    assert_problem(
        await cases.post(url, json=missing_member, headers=at(people.worker, version)),
        422,
        "validation-error",
    )
    for refused in (people.colleague, people.supervisor, people.privacy):  # without team access
        assert_problem(
            await cases.post(url, json=body, headers=at(refused, version)), 403, "forbidden"
        )
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == version


# -- what each command records ---------------------------------------------------------------------


async def test_the_documented_examples_are_accepted_in_order(
    cases: httpx.AsyncClient, people: People
) -> None:
    created = await cases.post("/v1/cases", json=OPEN_CASE_EXAMPLE, headers=people.worker)
    assert created.status_code == 201
    case_id = created.json()["case_id"]
    steps = [
        ("victim-status", VICTIM_STATUS_EXAMPLE),
        ("trafficking-context", TRAFFICKING_CONTEXT_EXAMPLE),
        ("needs", ASSESS_NEEDS_EXAMPLE),
        ("goals", SET_GOAL_EXAMPLE),
        (f"goals/{GOAL}/status", CHANGE_GOAL_STATUS_EXAMPLE),
        ("statistics-consent", STATISTICS_CONSENT_EXAMPLE),
    ]
    version = 1
    for path, body in steps:
        response = await cases.post(
            f"/v1/cases/{case_id}/{path}", json=body, headers=at(people.worker, version)
        )
        assert response.status_code == 200, (path, response.text)
        version = response.json()["version"]
    view = (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).json()
    assert view["victim_status"] == VICTIM_STATUS_EXAMPLE
    assert (
        view["trafficking"]["exploitation_location"]
        == TRAFFICKING_CONTEXT_EXAMPLE["exploitation_location"]
    )
    assert view["trafficking"]["narrative"] == TRAFFICKING_CONTEXT_EXAMPLE["narrative"]
    assert view["needs"] == [
        {**ASSESS_NEEDS_EXAMPLE, "needs": sorted(ASSESS_NEEDS_EXAMPLE["needs"])}
    ]
    assert view["goals"] == [{**SET_GOAL_EXAMPLE, "status": CHANGE_GOAL_STATUS_EXAMPLE["status"]}]
    assert view["statistics_consent"] is True
    for path, body in (("consents", TRANSFER_CONSENT_EXAMPLE), ("transfer", TRANSFER_CASE_EXAMPLE)):
        response = await cases.post(
            f"/v1/cases/{case_id}/{path}", json=body, headers=at(people.worker, version)
        )
        assert response.status_code == 200, (path, response.text)
        version = response.json()["version"]
    asked = (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).json()
    assert (
        asked["pending_transfer"]["recipient_organisation"]
        == TRANSFER_CASE_EXAMPLE["recipient_organisation"]
    )
    assert (
        "closure" not in asked
    )  # asked, not carried out: the case stays here until the recipient accepts


async def test_a_new_case_has_no_needs_goals_or_statistics_answer_yet(
    cases: httpx.AsyncClient, people: People
) -> None:
    case_id = await open_case(cases, people.worker)
    view = (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).json()
    assert (view["needs"], view["goals"], view["statistics_consent"]) == ([], [], None)


async def test_domain_refusals_of_the_new_commands(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_case(cases, people.worker)
    base = f"/v1/cases/{case_id}"
    refusals = [
        ("victim-status", {**VICTIM_STATUS_EXAMPLE, "status": "suspected"}, 422, "invalid-code"),
        (
            "victim-status",
            {**VICTIM_STATUS_EXAMPLE, "determined_on": "2099-01-01"},
            422,
            "date-in-future",
        ),
        (
            "trafficking-context",
            {**TRAFFICKING_CONTEXT_EXAMPLE, "trafficking_type": "smuggling"},
            422,
            "invalid-code",
        ),
        (
            "trafficking-context",
            {**TRAFFICKING_CONTEXT_EXAMPLE, "sex_exploitation": ["escort"]},
            422,
            "invalid-value",
        ),
        ("needs", {**ASSESS_NEEDS_EXAMPLE, "assessed_on": "2026-01-01"}, 422, "date-out-of-order"),
        ("goals", {**SET_GOAL_EXAMPLE, "description": "   "}, 422, "invalid-value"),
        (f"goals/{GOAL}/status", CHANGE_GOAL_STATUS_EXAMPLE, 404, "goal-not-found"),
        (
            "statistics-consent",
            {**STATISTICS_CONSENT_EXAMPLE, "recorded_on": "2099-01-01"},
            422,
            "date-in-future",
        ),
        ("transfer", TRANSFER_CASE_EXAMPLE, 404, "consent-not-found"),
        (
            "transfer",
            {**TRANSFER_CASE_EXAMPLE, "recipient_organisation": ORG},
            422,
            "invalid-value",
        ),
    ]
    for path, body, status, slug in refusals:
        assert_problem(
            await cases.post(f"{base}/{path}", json=body, headers=at(people.worker, 1)),
            status,
            slug,
        )
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == 1


async def test_a_finished_goal_takes_no_further_status(
    cases: httpx.AsyncClient, people: People
) -> None:
    case_id, version = await prepared(cases, people, [("goals", SET_GOAL_EXAMPLE)])
    url = f"/v1/cases/{case_id}/goals/{GOAL}/status"
    achieved = await cases.post(
        url,
        json={"status": "achieved", "changed_on": "2026-05-01"},
        headers=at(people.worker, version),
    )
    assert achieved.status_code == 200
    assert_problem(
        await cases.post(
            url, json=CHANGE_GOAL_STATUS_EXAMPLE, headers=at(people.worker, version + 1)
        ),
        422,
        "invalid-value",
    )


async def test_statistics_consent_is_recorded_on_a_closed_case_and_nothing_else_is(
    cases: httpx.AsyncClient, people: People
) -> None:
    case_id, version = await prepared(cases, people, [("closure", CLOSE_CASE_EXAMPLE)])
    withdrawn = {"agrees": False, "recorded_on": "2026-04-01"}
    response = await cases.post(
        f"/v1/cases/{case_id}/statistics-consent",
        json=withdrawn,
        headers=at(people.worker, version),
    )
    assert response.status_code == 200, response.text
    assert (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).json()[
        "statistics_consent"
    ] is False
    assert_problem(
        await cases.post(
            f"/v1/cases/{case_id}/needs",
            json=ASSESS_NEEDS_EXAMPLE,
            headers=at(people.worker, version + 1),
        ),
        409,
        "case-closed",
    )


# -- transfer (the request; the answer: test_transfer_requests.py) --------------------------------


async def receiving_streams(runtime: Runtime) -> int:
    return await runtime.pool.fetchval(
        "SELECT count(*) FROM haven.streams WHERE tenant_id = $1", RECEIVING
    )


async def test_a_transfer_request_that_loses_its_idempotency_key_records_nothing(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request and the key commit together. Another request of the worker's takes the key
    between our lookup and our claim (simulated: our lookup does not see it yet), so the claim
    inside the unit of work fails and the whole unit rolls back."""
    case_id, version = await prepared(cases, people, [("consents", TRANSFER_CONSENT_EXAMPLE)])
    before = await receiving_streams(runtime)
    other = await cases.post(
        f"/v1/cases/{case_id}/statistics-consent",
        json=STATISTICS_CONSENT_EXAMPLE,
        headers=at(people.worker, version, idempotency_key="shared-key"),
    )
    assert other.status_code == 200
    original_lookup = idempotency.lookup

    async def not_yet_seen(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(idempotency, "lookup", not_yet_seen)
    refused = await cases.post(
        f"/v1/cases/{case_id}/transfer",
        json=TRANSFER_CASE_EXAMPLE,
        headers=at(people.worker, version + 1, idempotency_key="shared-key"),
    )
    monkeypatch.setattr(idempotency, "lookup", original_lookup)
    assert_problem(refused, 422, "idempotency-key-reused")
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == version + 1
    # control: with a fresh key the same request is recorded (and still opens nothing elsewhere)
    accepted = await cases.post(
        f"/v1/cases/{case_id}/transfer",
        json=TRANSFER_CASE_EXAMPLE,
        headers=at(people.worker, version + 1, idempotency_key="fresh-key"),
    )
    assert accepted.status_code == 200, accepted.text
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == version + 2
    assert await receiving_streams(runtime) == before


async def test_only_the_assigned_worker_transfers_even_with_team_access(
    make_app: AppFactory, settings: Settings, people: People, runtime: Runtime
) -> None:
    app = make_app(settings=msgspec.structs.replace(settings, team_access=frozenset({ORG})))
    async with api_client(app, lifespan=False) as client:
        case_id, version = await prepared(client, people, [("consents", TRANSFER_CONSENT_EXAMPLE)])
        url = f"/v1/cases/{case_id}/transfer"
        for refused in (people.colleague, people.elsewhere, people.supervisor, people.privacy):
            assert_problem(
                await client.post(url, json=TRANSFER_CASE_EXAMPLE, headers=at(refused, version)),
                403,
                "forbidden",
            )
        # the colleague may do the team's other work under team access
        assert (
            await client.post(
                f"/v1/cases/{case_id}/needs",
                json=ASSESS_NEEDS_EXAMPLE,
                headers=at(people.colleague, version),
            )
        ).status_code == 200
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == version + 1


@pytest.mark.parametrize(
    "member", ["recipient_organisation", "receiving_worker_id", "receiving_team_id"]
)
@pytest.mark.parametrize("value", ["", "team\nnorth", " "])
async def test_receiving_ids_must_be_printable_text(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, member: str, value: str
) -> None:
    case_id, version = await prepared(cases, people, [("consents", TRANSFER_CONSENT_EXAMPLE)])
    problem = assert_problem(
        await cases.post(
            f"/v1/cases/{case_id}/transfer",
            json={**TRANSFER_CASE_EXAMPLE, member: value},
            headers=at(people.worker, version),
        ),
        422,
        "validation-error",
    )
    assert value.strip() == "" or value not in str(problem)
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == version


# -- team access (HAVEN_TEAM_ACCESS) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "listed", [frozenset(), frozenset({ORG}), frozenset({OTHER_ORG, "org-example-3"})]
)
async def test_team_access_follows_the_organisation_setting(
    make_app: AppFactory,
    settings: Settings,
    people: People,
    runtime: Runtime,
    listed: frozenset[str],
) -> None:
    enabled = ORG in listed
    app = make_app(settings=msgspec.structs.replace(settings, team_access=listed))
    async with api_client(app, lifespan=False) as client:
        case_id = await open_case(client, people.worker)
        read = await client.get(f"/v1/cases/{case_id}", headers=people.colleague)
        command = await client.post(
            f"/v1/cases/{case_id}/goals", json=SET_GOAL_EXAMPLE, headers=at(people.colleague, 1)
        )
        history = await client.get(f"/v1/cases/{case_id}/history", headers=people.colleague)
        # never across teams, and never the immigration part
        assert_problem(
            await client.get(f"/v1/cases/{case_id}", headers=people.elsewhere), 403, "forbidden"
        )
    if enabled:
        assert read.status_code == 200 and "immigration" not in read.json()
        assert command.status_code == 200 and history.status_code == 200
        assert [
            (r.actor_id, r.role, r.part, r.basis)
            for r in await access_log(runtime.pool, ORG, uuid.UUID(case_id))
        ] == [
            ("worker-2", "caseworker", "history", "team"),
            ("worker-2", "caseworker", "summary", "team"),
        ]
    else:
        for response in (read, command, history):
            assert_problem(response, 403, "forbidden")
        assert await access_log(runtime.pool, ORG, uuid.UUID(case_id)) == []


def test_the_app_reads_team_access_from_the_settings_it_is_given(settings: Settings) -> None:
    app = create_app(
        runtime=None,
        verifier=None,  # type: ignore[arg-type]
        settings=msgspec.structs.replace(settings, team_access=frozenset({ORG})),
    )
    assert app.state.settings.team_access_for(ORG) and not app.state.settings.team_access_for(
        OTHER_ORG
    )


# -- OpenAPI: If-Match and Idempotency-Key are declared where they are honoured --------------------


async def test_every_command_declares_if_match_and_idempotency_key(
    cases: httpx.AsyncClient,
) -> None:
    document = (await cases.get("/schema/openapi.json")).json()
    commands = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
            is_command = (
                method == "post"
                and path.startswith("/v1/cases/{case_id}/")
                and "428" in operation["responses"]
            )
            if is_command:
                commands.append(path)
                assert headers["If-Match"]["required"] is True, path
                assert headers["If-Match"]["schema"]["pattern"].startswith('^"'), path
                assert headers["Idempotency-Key"]["required"] is False, path
                assert headers["Idempotency-Key"]["schema"]["maxLength"] == 100, path
            elif (method, path) == ("post", "/v1/cases"):
                assert set(headers) == {"Idempotency-Key"}
            elif path.startswith("/v1/cases"):  # (an activity's correction has its own rule)
                assert "If-Match" not in headers, (method, path)
    assert len(commands) == 17
    assert {
        "/v1/cases/{case_id}/victim-status",
        "/v1/cases/{case_id}/trafficking-context",
        "/v1/cases/{case_id}/needs",
        "/v1/cases/{case_id}/goals",
        "/v1/cases/{case_id}/goals/{goal_id}/status",
        "/v1/cases/{case_id}/statistics-consent",
        "/v1/cases/{case_id}/transfer",
    } <= set(commands)
    transfer = document["paths"]["/v1/cases/{case_id}/transfer"]["post"]
    assert transfer["operationId"] == "transferCase"
    assert "org-example-receiving" in str(transfer["requestBody"])
    assert transfer["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TransferAsked"
    }
