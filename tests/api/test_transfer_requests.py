"""Attack: push a case into another organisation — close it here and open it, with the
released data, in the recipient organisation at once, whether or not that organisation wants
it. A transfer is a request: nothing leaves the case until the receiving worker it names, or
a supervisor of the receiving team it names, accepts; they may decline instead, and the case
stays with its worker, who reads why. Controls: an accepted request
does open the case there with exactly what was released.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.api.cases.schemas.examples import (
    TRANSFER_CASE_EXAMPLE,
    TRANSFER_CONSENT_EXAMPLE,
)
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from tests.api.conftest import ORG
from tests.api.test_case_command_routes import RECEIVING, People, at, prepared, receiving_streams
from tests.api.test_case_routes import CANARY, assert_problem
from tests.conftest import empty_log_and_read_models

WORKER, TEAM = (
    TRANSFER_CASE_EXAMPLE["receiving_worker_id"],
    TRANSFER_CASE_EXAMPLE["receiving_team_id"],
)


@pytest.fixture
async def people(issuer: LocalIssuer, runtime: Runtime) -> People:
    await empty_log_and_read_models(
        runtime.pool
    )  # these tests rebuild the caseload from the whole log
    return People(issuer)


def token(
    issuer: LocalIssuer, user: str, roles: list[str], team: str, org: str = RECEIVING
) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.mint(user, org, roles, team=team)}"}


async def projected(runtime: Runtime) -> None:
    """The caseload, where requests are found, caught up (no projector runs in these tests)."""
    await rebuild(
        runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"]
    )


async def asked(cases: httpx.AsyncClient, people: People, runtime: Runtime) -> tuple[str, str, int]:
    case_id, version = await prepared(cases, people, [("consents", TRANSFER_CONSENT_EXAMPLE)])
    response = await cases.post(
        f"/v1/cases/{case_id}/transfer",
        json=TRANSFER_CASE_EXAMPLE,
        headers=at(people.worker, version),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"case_id", "version", "transfer_id"}
    await projected(runtime)
    return case_id, body["transfer_id"], body["version"]


async def test_attack_asking_pushes_nothing_into_the_other_organisation(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    before = await receiving_streams(runtime)
    case_id, transfer_id, _ = await asked(cases, people, runtime)
    assert await receiving_streams(runtime) == before  # nothing opened there
    assert_problem(
        await cases.get(f"/v1/cases/{transfer_id}", headers=people.receiver), 404, "not-found"
    )
    sending = (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).json()
    assert "closure" not in sending and sending["pending_transfer"]["transfer_id"] == transfer_id
    # what the recipient sees before it answers: ids and a date, no content
    listed = await cases.get("/v1/transfers", headers=people.receiver)
    assert listed.status_code == 200, listed.text
    assert listed.json() == [
        {
            "transfer_id": transfer_id,
            "from_organisation": ORG,
            "requested_on": TRANSFER_CASE_EXAMPLE["requested_on"],
            "receiving_worker_id": WORKER,
            "receiving_team_id": TEAM,
        }
    ]
    assert CANARY not in listed.text and case_id not in listed.text
    # control: once accepted, the case is there
    accepted = await cases.post(
        f"/v1/transfers/{transfer_id}/acceptance",
        json={"accepted_on": "2026-03-02"},
        headers=people.receiver,
    )
    assert accepted.status_code == 201, accepted.text
    assert await receiving_streams(runtime) == before + 1


async def test_an_accepted_transfer_opens_the_case_there_with_only_what_was_released(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id, transfer_id, version = await asked(cases, people, runtime)
    accepted = await cases.post(
        f"/v1/transfers/{transfer_id}/acceptance",
        json={"accepted_on": "2026-03-02"},
        headers=people.receiver,
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json() == {"case_id": transfer_id, "version": 1}
    assert (
        accepted.headers["location"] == f"/v1/cases/{transfer_id}"
        and accepted.headers["etag"] == '"1"'
    )
    view = (await cases.get(f"/v1/cases/{transfer_id}", headers=people.receiver)).json()
    assert view["identity"]["preferred_name"] == f"Client {CANARY}"
    assert view["trafficking"]["trafficking_type"] == "labor" and view["demographics"] is None
    assert (view["worker_id"], view["team_id"]) == (WORKER, TEAM)
    # the sender cannot read it; the sending case is closed as transferred, for good
    assert_problem(
        await cases.get(f"/v1/cases/{transfer_id}", headers=people.worker), 404, "not-found"
    )
    closed = (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).json()
    assert closed["closure"]["reason"] == "transferred" and "pending_transfer" not in closed
    history = (await cases.get(f"/v1/cases/{case_id}/history", headers=people.worker)).json()
    assert history[-2]["actor_id"] == f"transfer-to:{RECEIVING}"  # not one of the recipient's staff
    # answered: no longer listed, and a second answer finds nothing
    await projected(runtime)
    assert (await cases.get("/v1/transfers", headers=people.receiver)).json() == []
    assert_problem(
        await cases.post(
            f"/v1/transfers/{transfer_id}/acceptance",
            json={"accepted_on": "2026-03-02"},
            headers=people.receiver,
        ),
        404,
        "not-found",
    )
    assert version  # (the request's version: the closure followed it)


async def test_a_declined_transfer_leaves_the_case_with_its_worker(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, issuer: LocalIssuer
) -> None:
    case_id, transfer_id, version = await asked(cases, people, runtime)
    supervisor = token(issuer, "receiving-supervisor-1", ["supervisor"], TEAM)
    listed = await cases.get("/v1/transfers", headers=supervisor)
    assert [t["transfer_id"] for t in listed.json()] == [transfer_id]
    declined = await cases.post(
        f"/v1/transfers/{transfer_id}/decline",
        json={"declined_on": "2026-03-02", "reason": "Synthetic: no place this month."},
        headers=supervisor,
    )
    assert declined.status_code == 200 and declined.json() == {
        "transfer_id": transfer_id,
        "status": "declined",
    }
    view = (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).json()
    assert "closure" not in view and "pending_transfer" not in view
    assert view["declined_transfers"] == [
        {
            "transfer_id": transfer_id,
            "declined_on": "2026-03-02",
            "reason": "Synthetic: no place this month.",
        }
    ]
    # the worker may ask again (the same organisation or another)
    again = await cases.post(
        f"/v1/cases/{case_id}/transfer",
        json=TRANSFER_CASE_EXAMPLE,
        headers=at(people.worker, version + 1),
    )
    assert again.status_code == 200, again.text
    assert_problem(
        await cases.post(
            f"/v1/cases/{case_id}/transfer",
            json=TRANSFER_CASE_EXAMPLE,
            headers=at(people.worker, version + 2),
        ),
        409,
        "transfer-pending",
    )


async def test_only_the_worker_or_the_team_named_answers(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, issuer: LocalIssuer
) -> None:
    case_id, transfer_id, _ = await asked(cases, people, runtime)
    url = f"/v1/transfers/{transfer_id}/decline"
    body = {"declined_on": "2026-03-02"}
    for refused, status in (
        (token(issuer, "receiving-worker-2", ["caseworker"], TEAM), 403),
        (token(issuer, "receiving-supervisor-9", ["supervisor"], "team-other"), 403),
        (token(issuer, "receiving-privacy", ["privacy_officer"], TEAM), 403),
        (people.worker, 404),  # the sender's own worker: not asked of it
        (people.stranger, 404),
    ):
        assert (await cases.post(url, json=body, headers=refused)).status_code == status
    assert (
        await cases.get(
            "/v1/transfers", headers=token(issuer, "receiving-worker-2", ["caseworker"], TEAM)
        )
    ).json() == []
    assert (await cases.post(url, json=body, headers=people.receiver)).status_code == 200  # control
    await projected(runtime)
    assert_problem(
        await cases.post(
            f"/v1/transfers/{uuid.uuid4()}/decline", json=body, headers=people.receiver
        ),
        404,
        "not-found",
    )


async def test_a_consent_revoked_before_the_answer_stops_the_transfer(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id, transfer_id, version = await asked(cases, people, runtime)
    before = await receiving_streams(runtime)
    consent_id = TRANSFER_CONSENT_EXAMPLE["consent_id"]
    revoked = await cases.post(
        f"/v1/cases/{case_id}/consents/{consent_id}/revocation",
        json={"revoked_on": "2026-03-01", "method": "written"},
        headers=at(people.worker, version),
    )
    assert revoked.status_code == 200, revoked.text
    await projected(runtime)
    assert_problem(
        await cases.post(
            f"/v1/transfers/{transfer_id}/acceptance",
            json={"accepted_on": "2026-03-02"},
            headers=people.receiver,
        ),
        409,
        "consent-revoked",
    )
    assert await receiving_streams(runtime) == before


async def test_a_transfer_names_a_worker_the_recipients_directory_knows(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, issuer: LocalIssuer
) -> None:
    """Once the receiving organisation keeps a worker directory, a request naming a receiving
    worker it does not know as active is refused (422 `unknown-worker`) and nothing is
    recorded. Control: once it knows the worker, the same request is recorded (and, without a
    directory, any id is taken: the tests above)."""
    admin = token(issuer, "admin-1", ["admin"], TEAM)
    recorded = await cases.post(
        "/v1/organisation/teams", json={"team_id": TEAM, "name": "Receiving"}, headers=admin
    )
    assert recorded.status_code == 200, recorded.text
    someone_else = {"worker_id": "w-someone-else", "display_name": "Someone", "team_id": TEAM}
    recorded = await cases.post(
        "/v1/organisation/workers",
        json=someone_else,
        headers={**admin, "If-Match": recorded.headers["etag"]},
    )
    assert recorded.status_code == 200, recorded.text
    case_id, version = await prepared(cases, people, [("consents", TRANSFER_CONSENT_EXAMPLE)])

    def ask(worker_id: str) -> dict:
        return {**TRANSFER_CASE_EXAMPLE, "receiving_worker_id": worker_id}

    refused = await cases.post(
        f"/v1/cases/{case_id}/transfer", json=ask(WORKER), headers=at(people.worker, version)
    )
    assert_problem(refused, 422, "unknown-worker")
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == version
    # control: once the directory knows the worker, the same request is recorded (and the
    # directory, which outlives this test in the session's database, knows the example's one)
    recorded = await cases.post(
        "/v1/organisation/workers",
        json={"worker_id": WORKER, "display_name": "Receiver", "team_id": TEAM},
        headers={**admin, "If-Match": recorded.headers["etag"]},
    )
    assert recorded.status_code == 200, recorded.text
    known = await cases.post(
        f"/v1/cases/{case_id}/transfer", json=ask(WORKER), headers=at(people.worker, version)
    )
    assert known.status_code == 200, known.text
