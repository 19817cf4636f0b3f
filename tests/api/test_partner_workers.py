"""A partner organisation's active workers over HTTP (`GET /v1/organisation/partners/{id}/
workers`), for a case worker to name a transfer's receiving worker. Attack: probe which
organisations use this deployment, or read the staff of one that is no partner. Every
organisation that is not the caller's active partner with a profile here answers the same 404
`partner-not-found`; roles that never ask for a transfer are refused. Controls: the partner's
active workers are listed, each one a transfer may name. Every organisation and person here
is synthetic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from domain.organisation.events import Partner, Profile, Team, Worker
from services.bootstrap import Runtime
from services.commands.ports import Actor
from services.commands.refusals import UnknownWorker
from services.identity import LocalIssuer
from services.identity.claims import ROLES
from services.organisations import command
from services.organisations.assignable import check_assignable
from services.organisations.command import CURRENT
from tests.api.conftest import api_client
from tests.api.directory_support import assert_problem
from tests.conftest import empty_log_and_read_models

HARBOR, LANTERN, MEADOW = "org-harbor", "org-lantern", "org-meadow"  # in this deployment
OUTSIDE, FORMER = "org-outside", "org-former"  # partners without a profile here; deactivated
UNKNOWN = "org-nobody-knows"
EAST = "team-lantern-east"
ANA = Worker(worker_id="w-lantern-ana", display_name="Example Ana", team_id=EAST)
BO = Worker(worker_id="w-lantern-bo", display_name="Example Bo", team_id=EAST, active=False)
CY = Worker(worker_id="w-lantern-cy", display_name="Example Cy", team_id="default")
OWN = Worker(worker_id="w-harbor-dee", display_name="Example Dee", team_id="default")
MEADOW_WORKER = Worker(worker_id="w-meadow-eve", display_name="Example Eve", team_id="default")


def url(partner_id: str) -> str:
    return f"/v1/organisation/partners/{partner_id}/workers"


def bearer(issuer: LocalIssuer, role: str, org: str = HARBOR) -> dict[str, str]:
    token = issuer.mint(f"{role}-harbor-1", org, [role], team="team-harbor-intake")
    return {"Authorization": f"Bearer {token}"}


async def organisation(
    runtime: Runtime, org: str, *, workers: tuple[Worker, ...] = (), partners: tuple = ()
) -> None:
    admin = Actor(f"admin-{org}", org)
    await command.set_profile(runtime.store, admin, CURRENT, Profile(display_name=f"Example {org}"))
    if any(w.team_id == EAST for w in workers):
        await command.set_team(runtime.store, admin, CURRENT, Team(team_id=EAST, name="East"))
    for worker in workers:
        await command.set_worker(runtime.store, admin, CURRENT, worker)
    for partner_id, active in partners:
        partner = Partner(
            partner_id=partner_id, display_name=f"Example {partner_id}", direction="both",
            active=active,
        )  # fmt: skip
        await command.set_partner(runtime.store, admin, CURRENT, partner)


@pytest.fixture
async def client(make_app: Any, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Harbor's partners: Lantern (in this deployment), an organisation outside Haven and a
    former partner (also in this deployment); Meadow is in this deployment, no partner."""
    await empty_log_and_read_models(runtime.pool)
    partners = ((LANTERN, True), (OUTSIDE, True), (FORMER, False))
    await organisation(runtime, HARBOR, workers=(OWN,), partners=partners)
    await organisation(runtime, LANTERN, workers=(ANA, BO, CY), partners=((HARBOR, True),))
    await organisation(runtime, MEADOW, workers=(MEADOW_WORKER,))
    await organisation(runtime, FORMER, workers=(MEADOW_WORKER,))
    async with api_client(make_app(), lifespan=False) as test_client:
        yield test_client


async def test_a_case_worker_lists_the_active_workers_of_a_partner(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    listed = await client.get(url(LANTERN), headers=bearer(issuer, "caseworker"))
    assert listed.status_code == 200, listed.text
    assert listed.headers["cache-control"] == "no-store"
    assert listed.headers["x-content-type-options"] == "nosniff"
    assert listed.json() == {
        "partner_id": LANTERN,
        "workers": [
            {"worker_id": ANA.worker_id, "display_name": "Example Ana", "team_id": EAST},
            {"worker_id": CY.worker_id, "display_name": "Example Cy", "team_id": "default"},
        ],
    }  # the inactive worker, the caller's own and another organisation's are not listed
    # every worker listed is one a transfer may name; the inactive one is not
    for worker in listed.json()["workers"]:
        await check_assignable(runtime.store, LANTERN, worker["worker_id"])
    with pytest.raises(UnknownWorker):
        await check_assignable(runtime.store, LANTERN, BO.worker_id)


async def test_attack_probing_organisations_that_are_no_partner_answers_one_404(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    """Meadow uses this deployment but is no partner; an organisation outside Haven is a
    partner without a profile here; a former partner is deactivated; one id is nobody's; a
    partner's partner is not the caller's. Each answers the same problem, naming no one."""
    worker = bearer(issuer, "caseworker")
    answers = []
    for probed in (MEADOW, OUTSIDE, FORMER, UNKNOWN, HARBOR, "x" * 300):
        response = await client.get(url(probed), headers=worker)
        problem = assert_problem(response, 404, "partner-not-found")
        assert "Example" not in response.text and "w-" not in response.text
        answers.append({k: v for k, v in problem.items() if k != "instance"})
    assert all(answer == answers[0] for answer in answers), answers
    # from Lantern's side, Meadow is no partner either; Harbor is
    lantern = bearer(issuer, "caseworker", LANTERN)
    assert_problem(await client.get(url(MEADOW), headers=lantern), 404, "partner-not-found")
    back = await client.get(url(HARBOR), headers=lantern)
    assert back.status_code == 200 and [w["worker_id"] for w in back.json()["workers"]] == [
        OWN.worker_id
    ]
    # control: the same caller lists the partner that is one
    assert (await client.get(url(LANTERN), headers=worker)).status_code == 200


async def test_roles_that_never_ask_for_a_transfer_are_refused(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    for role in sorted(ROLES - {"caseworker"}):
        for probed in (LANTERN, MEADOW):  # 403 whatever the id: nothing to probe
            response = await client.get(url(probed), headers=bearer(issuer, role))
            assert_problem(response, 403, "forbidden")
            assert "Example" not in response.text
    assert (await client.get(url(LANTERN))).status_code == 401
    # control: the case worker is answered
    assert (await client.get(url(LANTERN), headers=bearer(issuer, "caseworker"))).status_code == 200


async def test_the_openapi_document_declares_the_route_its_headers_and_its_404(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    operation = document["paths"]["/v1/organisation/partners/{partner_id}/workers"]["get"]
    assert operation["operationId"] == "listPartnerWorkers"
    assert set(operation["responses"]["200"]["headers"]) == {
        "Cache-Control",
        "X-Content-Type-Options",
    }
    assert "partner-not-found" in operation["responses"]["404"]["description"]
    listed = document["components"]["schemas"]["PartnerWorker"]["properties"]
    assert set(listed) == {"worker_id", "display_name", "team_id"}  # staff data only
