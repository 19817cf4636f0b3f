"""Finding a client over HTTP: names on the caseload, `POST /v1/cases/search`, the duplicate
warning at intake and the "served by another agency" flag — against real PostgreSQL, with the
blind index built by the projection, and the access log checked for one listing per answer."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from events.access_listings import listings_naming
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.api.cases.schemas.examples import OPEN_CASE_EXAMPLE
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from tests.api.conftest import AppFactory, api_client
from tests.conftest import empty_log_and_read_models

ORG_A, ORG_B, TEAM = "org-finder-a", "org-finder-b", "team-1"
CANARY = "Zephyrine Quillfeather"  # synthetic; the client of case "mine"
PHONE = "(555) 010-7788"


def intake(name: str, *, phone: str | None = None, **intake_extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(OPEN_CASE_EXAMPLE)
    aliases = ["Zee"] if name == CANARY else []
    body["identity"] = {"preferred_name": name, "aliases": aliases, "date_of_birth": "1991-02-03"}
    body["contact"]["channels"][0]["detail"] = phone or "555-0100"
    body["intake"].update(intake_extra)
    return body


def bearer(issuer: LocalIssuer, user: str, role: str = "caseworker", org: str = ORG_A) -> dict:
    return {"Authorization": f"Bearer {issuer.mint(user, org, [role], team=TEAM)}"}


@pytest.fixture(scope="module")
def seeded() -> dict[str, Any]:
    return {}


@pytest.fixture
async def client(
    make_app: AppFactory, runtime: Runtime, issuer: LocalIssuer, seeded: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(make_app(), lifespan=False) as test_client:
        if not seeded:  # once per module: three cases, then the read models
            await empty_log_and_read_models(runtime.pool)
            for label, user, org, name, phone in (
                ("mine", "worker-1", ORG_A, CANARY, PHONE),
                ("colleague", "worker-2", ORG_A, "Rosa Marin", None),
                ("other_org", "worker-b", ORG_B, CANARY, PHONE),
            ):
                opened = await test_client.post(
                    "/v1/cases",
                    json=intake(name, phone=phone),
                    headers=bearer(issuer, user, org=org),
                )
                assert opened.status_code == 201, opened.text
                seeded[label] = opened.json()["case_id"]
            factories = projection_factories(runtime.keyring, runtime.store)
            for name in ("cases", "case_finder"):
                await rebuild(runtime.store, runtime.pool, factories[name])
        yield test_client


async def search(
    client: httpx.AsyncClient, headers: dict[str, str], **terms: str
) -> httpx.Response:
    return await client.post("/v1/cases/search", json=terms, headers=headers)


def found(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [case["case_id"] for case in response.json()["cases"]]


async def listings(runtime: Runtime, org: str = ORG_A) -> list[dict[str, Any]]:
    rows = await runtime.pool.fetch(
        "SELECT * FROM haven.access_listings WHERE tenant_id = $1 ORDER BY listing_id", org
    )
    return [dict(row) for row in rows]


async def test_a_worker_finds_their_client_by_name_alias_birth_date_or_phone(
    client: httpx.AsyncClient, issuer: LocalIssuer, seeded: dict[str, Any]
) -> None:
    worker = bearer(issuer, "worker-1")
    for terms in (
        {"name": "zephyrine  QUILLFEATHER"},
        {"name": "zee"},  # a name search covers aliases
        {"alias": "ZEE"},
        {"phone": "+1 555 010 7788"},
        {"name": "Zéphyrine Quillfeather", "date_of_birth": "1991-02-03"},
    ):
        response = await search(client, worker, **terms)
        assert found(response) == [seeded["mine"]], terms
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
    (case,) = response.json()["cases"]
    assert case["preferred_name"] == CANARY and case["aliases"] == ["Zee"]
    assert found(await search(client, worker, name=CANARY, date_of_birth="1991-02-04")) == []


async def test_another_organisation_never_finds_our_case_even_by_the_same_name(
    client: httpx.AsyncClient, issuer: LocalIssuer, seeded: dict[str, Any]
) -> None:
    """The attack: a worker of organisation B searches for a client of A by name and phone.
    Control: the same search by A's worker finds A's case."""
    theirs = found(await search(client, bearer(issuer, "worker-b", org=ORG_B), name=CANARY))
    by_phone = found(await search(client, bearer(issuer, "worker-b", org=ORG_B), phone=PHONE))
    assert seeded["mine"] not in theirs + by_phone
    assert theirs == by_phone == [seeded["other_org"]]
    assert found(await search(client, bearer(issuer, "worker-1"), name=CANARY)) == [
        seeded["mine"]
    ]  # control


async def test_a_search_answers_only_cases_the_caller_may_read(
    client: httpx.AsyncClient, issuer: LocalIssuer, seeded: dict[str, Any]
) -> None:
    """The attack: find a colleague's client (team access off). Control: the colleague does."""
    assert found(await search(client, bearer(issuer, "worker-1"), name="rosa marin")) == []
    assert found(await search(client, bearer(issuer, "worker-2"), name="rosa marin")) == [
        seeded["colleague"]
    ]


async def test_each_search_is_recorded_once_with_its_fields_and_never_its_terms(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime, seeded: dict[str, Any]
) -> None:
    before = await listings(runtime)
    await search(client, bearer(issuer, "worker-1"), name=CANARY, phone=PHONE)
    (record,) = (await listings(runtime))[len(before) :]
    assert (record["kind"], record["searched_by"], record["actor_id"]) == (
        "search",
        ["name", "phone"],
        "worker-1",
    )
    assert record["case_ids"] == [uuid.UUID(seeded["mine"])]
    assert CANARY.lower().split()[0] not in repr(record).lower()
    assert "7788" not in repr(record)
    # the privacy officer sees it in the case's access log, among its listings
    privacy = bearer(issuer, "privacy-1", "privacy_officer")
    log = await client.get(f"/v1/cases/{seeded['mine']}/access-log", headers=privacy)
    assert log.status_code == 200, log.text
    newest = log.json()["listings"][0]
    assert (newest["kind"], newest["searched_by"], newest["cases"]) == (
        "search",
        ["name", "phone"],
        1,
    )
    assert CANARY not in log.text and "7788" not in log.text


BAD_SEARCHES: tuple[tuple[dict[str, Any], bool], ...] = (
    # (body, answered 422 validation-error by the search's own checks)
    ({}, True),
    ({"name": "!!!"}, True),
    ({"phone": "12"}, True),
    ({"name": CANARY, "surname": "x"}, False),
    ({"date_of_birth": "03/02/1991"}, False),
    ({"name": ""}, False),
)


async def test_a_bad_search_is_a_problem_that_repeats_nothing(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    for body, validated in BAD_SEARCHES:
        response = await client.post(
            "/v1/cases/search", json=body, headers=bearer(issuer, "worker-1")
        )
        assert response.status_code in (400, 422), (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert CANARY not in response.text and "03/02/1991" not in response.text
        if validated:
            assert response.status_code == 422
            assert response.json()["type"].endswith("validation-error")


async def test_only_case_workers_search(client: httpx.AsyncClient, issuer: LocalIssuer) -> None:
    for role in ("supervisor", "privacy_officer", "reporter", "admin", "outreach"):
        response = await search(client, bearer(issuer, f"{role}-1", role), name=CANARY)
        assert response.status_code == 403, role
        assert CANARY not in response.text
    # control: the same request by a case worker is answered
    assert (await search(client, bearer(issuer, "worker-1"), name=CANARY)).status_code == 200


async def test_the_caseload_shows_names_and_is_recorded_as_one_listing(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime, seeded: dict[str, Any]
) -> None:
    reads_before = await runtime.pool.fetchval(
        "SELECT count(*) FROM haven.access_records WHERE tenant_id = $1", ORG_A
    )
    before = await listings(runtime)
    response = await client.get("/v1/cases", headers=bearer(issuer, "worker-1"))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    (case,) = [c for c in response.json()["cases"] if c["case_id"] == seeded["mine"]]
    assert (case["preferred_name"], case["aliases"]) == (CANARY, ["Zee"])
    (record,) = (await listings(runtime))[len(before) :]
    assert record["kind"] == "caseload" and uuid.UUID(seeded["mine"]) in record["case_ids"]
    naming = await listings_naming(runtime.pool, ORG_A, uuid.UUID(seeded["mine"]))
    assert naming[0].listing_id == record["listing_id"] and naming[0].kind == "caseload"
    assert not await listings_naming(runtime.pool, ORG_B, uuid.UUID(seeded["mine"]))
    assert (
        await runtime.pool.fetchval(
            "SELECT count(*) FROM haven.access_records WHERE tenant_id = $1", ORG_A
        )
        == reads_before
    )  # not a read per case


async def test_an_intake_like_a_case_warns_and_is_opened_all_the_same(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime, seeded: dict[str, Any]
) -> None:
    worker = bearer(issuer, "worker-1")
    alike = await client.post("/v1/cases", json=intake(CANARY.upper(), phone=PHONE), headers=worker)
    assert alike.status_code == 201
    warning = alike.json()["duplicate_warning"]
    assert warning == {
        "matched_on": ["name+date_of_birth", "phone"],
        "cases": 1,
        "readable": [seeded["mine"]],
    }
    assert await runtime.store.stream_version(ORG_A, uuid.UUID(alike.json()["case_id"])) == 1
    # a colleague's client: counted, not named
    colleague_alike = await client.post("/v1/cases", json=intake("Rosa Marin"), headers=worker)
    assert colleague_alike.json()["duplicate_warning"] == {
        "matched_on": ["name+date_of_birth"],
        "cases": 1,
        "readable": [],
    }
    # control: another client, or the same name in another organisation, is not a duplicate
    unlike = await client.post("/v1/cases", json=intake("Ines Duarte"), headers=worker)
    assert unlike.status_code == 201 and "duplicate_warning" not in unlike.json()


async def test_erasure_leaves_nothing_of_the_case_in_the_index(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    worker = bearer(issuer, "worker-1")
    opened = await client.post("/v1/cases", json=intake("Odile Brandt"), headers=worker)
    case_id = uuid.UUID(opened.json()["case_id"])
    await rebuild(
        runtime.store,
        runtime.pool,
        projection_factories(runtime.keyring, runtime.store)["case_finder"],
    )
    count = "SELECT count(*) FROM {} WHERE tenant_id = $1 AND case_id = $2"
    indexed = await runtime.pool.fetchval(count.format("views.blind_index"), ORG_A, case_id)
    assert indexed > 0  # control: it was indexed
    privacy = bearer(issuer, "privacy-1", "privacy_officer")
    assert (await client.delete(f"/v1/cases/{case_id}", headers=privacy)).status_code == 204
    for table in ("views.blind_index", "views.case_names"):
        assert await runtime.pool.fetchval(count.format(table), ORG_A, case_id) == 0
    assert found(await search(client, worker, name="odile brandt")) == []


async def test_served_by_another_agency_is_recorded_and_shown_on_the_case(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    worker = bearer(issuer, "worker-1")
    opened = await client.post(
        "/v1/cases", json=intake("Lior Amsel", served_by_another_agency=True), headers=worker
    )
    assert opened.status_code == 201, opened.text
    case = await client.get(f"/v1/cases/{opened.json()['case_id']}", headers=worker)
    assert case.json()["intake"]["served_by_another_agency"] is True
    plain = await client.post("/v1/cases", json=intake("Lior Amsel B"), headers=worker)
    shown = await client.get(f"/v1/cases/{plain.json()['case_id']}", headers=worker)
    assert shown.json()["intake"].get("served_by_another_agency", False) is False  # control
