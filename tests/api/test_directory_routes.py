"""The service directory over HTTP: publish, search, read, update, withdraw; the roles that may.

Every organisation and service here is synthetic.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.bootstrap import Runtime
from services.identity import LocalIssuer
from tests.api.conftest import api_client
from tests.api.directory_support import (
    CANARY_STREET,
    assert_problem,
    build_directory,
    canary_address,
    legal_aid,
    shelter,
    with_public_office,
)
from tests.conftest import empty_log_and_read_models

ORG, OTHER = "org-harbor", "org-lantern"


def bearer(issuer: LocalIssuer, role: str, org: str = ORG) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.mint(f'{role}-1', org, [role], team='team-1')}"}


@pytest.fixture
async def client(make_app, runtime: Runtime):  # noqa: ANN001, ANN201
    await empty_log_and_read_models(runtime.pool)
    async with api_client(make_app(), lifespan=False) as test_client:
        yield test_client


async def publish(client: httpx.AsyncClient, headers: dict[str, str], body: dict) -> str:
    response = await client.post("/v1/directory/services", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    service_id = response.json()["service_id"]
    assert response.headers["location"] == f"/v1/directory/services/{service_id}"
    return service_id


async def search(client: httpx.AsyncClient, headers: dict[str, str], **params: object) -> list:
    response = await client.get("/v1/directory/services", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["services"]


async def test_an_admin_publishes_and_a_case_worker_of_another_organisation_finds_it(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    service_id = await publish(client, bearer(issuer, "admin"), legal_aid())
    await publish(client, bearer(issuer, "admin", OTHER), shelter())
    await build_directory(runtime)
    worker = bearer(issuer, "caseworker", OTHER)
    found = await search(client, worker, category="legal_immigration", state="IL")
    assert [s["service_id"] for s in found] == [service_id]
    assert found[0]["listed_by"] == ORG
    assert found[0]["service"]["id"] == service_id
    assert found[0]["organization"]["name"] == "Example Legal Aid of Springfield"
    assert found[0]["service"]["organization_id"] == ORG
    one = await client.get(f"/v1/directory/services/{service_id}", headers=worker)
    assert one.status_code == 200 and one.headers["etag"] == '"1"'
    assert one.json()["service"]["fees_description"] == "Free of charge."


async def test_search_filters_by_area_language_and_eligibility(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    admin = bearer(issuer, "admin")
    legal = await publish(client, admin, legal_aid())
    safe = await publish(client, admin, shelter())
    await build_directory(runtime)
    worker = bearer(issuer, "caseworker")
    assert {s["service_id"] for s in await search(client, worker)} == {legal, safe}
    # Sangamon County (17167): the shelter's county, and within the legal aid's whole state
    assert {s["service_id"] for s in await search(client, worker, county="17167")} == {legal, safe}
    assert [s["service_id"] for s in await search(client, worker, county="17031")] == [legal]
    assert await search(client, worker, state="IN") == []
    assert [s["service_id"] for s in await search(client, worker, language="es")] == [safe, legal]
    assert [s["service_id"] for s in await search(client, worker, language="en")] == [legal]
    assert [s["service_id"] for s in await search(client, worker, age=16)] == [safe]
    assert [s["service_id"] for s in await search(client, worker, gender="man")] == [legal]
    assert [s["service_id"] for s in await search(client, worker, category="housing_shelter")] == [
        safe
    ]


async def test_pages_are_stable_and_complete(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    admin = bearer(issuer, "admin")
    ids = [await publish(client, admin, legal_aid(name=f"Legal help {n:02}")) for n in range(5)]
    await build_directory(runtime)
    worker, seen, cursor = bearer(issuer, "caseworker"), [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/directory/services", params=params, headers=worker)).json()
        seen += [s["service_id"] for s in page["services"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids  # by name, each once


async def test_update_and_withdraw_name_the_version_they_saw(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    admin = bearer(issuer, "admin")
    service_id = await publish(client, admin, legal_aid())
    url = f"/v1/directory/services/{service_id}"
    changed = legal_aid(name="Immigration and labor legal help")
    assert_problem(await client.put(url, json=changed, headers=admin), 428, "precondition-required")
    updated = await client.put(url, json=changed, headers={**admin, "If-Match": '"1"'})
    assert updated.status_code == 200 and updated.headers["etag"] == '"2"', updated.text
    stale = await client.put(url, json=changed, headers={**admin, "If-Match": '"1"'})
    assert_problem(stale, 412, "precondition-failed")
    await build_directory(runtime)
    read = await client.get(url, headers=admin)
    assert read.json()["service"]["name"] == "Immigration and labor legal help"
    withdrawn = await client.delete(url, headers={**admin, "If-Match": '"2"'})
    assert withdrawn.status_code == 200 and withdrawn.json()["version"] == 3
    again = await client.delete(url, headers={**admin, "If-Match": '"3"'})
    assert_problem(again, 404, "not-found")
    await build_directory(runtime)
    assert_problem(await client.get(url, headers=admin), 404, "not-found")
    assert await search(client, admin) == []


async def test_update_and_withdraw_declare_the_if_match_they_enforce(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    item = document["paths"]["/v1/directory/services/{service_id}"]
    for method in ("put", "delete"):
        headers = {p["name"]: p for p in item[method]["parameters"] if p["in"] == "header"}
        assert headers["If-Match"]["required"] is True, method
        assert headers["If-Match"]["schema"]["pattern"].startswith('^"'), method
        assert "ETag" in item[method]["responses"]["200"]["headers"], method
    assert "If-Match" not in {p["name"] for p in item["get"].get("parameters", [])}


async def test_another_organisation_cannot_change_a_listing(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    service_id = await publish(client, bearer(issuer, "admin"), legal_aid())
    stranger = {**bearer(issuer, "admin", OTHER), "If-Match": '"1"'}
    url = f"/v1/directory/services/{service_id}"
    assert_problem(await client.put(url, json=legal_aid(), headers=stranger), 404, "not-found")
    assert_problem(await client.delete(url, headers=stranger), 404, "not-found")


@pytest.mark.parametrize(
    ("role", "publish_status", "search_status"),
    [
        ("admin", 201, 200),
        ("caseworker", 403, 200),
        ("supervisor", 403, 200),
        ("outreach", 403, 200),
        ("privacy_officer", 403, 403),
        ("reporter", 403, 403),
    ],
)
async def test_who_may_publish_and_search(
    client: httpx.AsyncClient,
    issuer: LocalIssuer,
    runtime: Runtime,
    role: str,
    publish_status: int,
    search_status: int,
) -> None:
    await build_directory(runtime)
    headers = bearer(issuer, role)
    published = await client.post("/v1/directory/services", json=legal_aid(), headers=headers)
    assert published.status_code == publish_status, published.text
    searched = await client.get("/v1/directory/services", headers=headers)
    assert searched.status_code == search_status, searched.text
    exported = await client.get("/v1/directory/export", headers=headers)
    assert exported.status_code == (200 if role == "admin" else 403)
    imported = await client.post("/v1/directory/import", json={}, headers=headers)
    assert imported.status_code == (200 if role == "admin" else 403)


async def test_a_confidential_address_is_refused_and_never_listed(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    """Attack: publish a shelter with its street address (and coordinates). Control: the same
    address at a public office is listed, so the scan below would see a leak."""
    admin = bearer(issuer, "admin")
    for member, value in (
        ("addresses", canary_address()),
        ("latitude", 39.8),
        ("transportation", f"Bus 9 to {CANARY_STREET}"),
    ):
        refused = await client.post(
            "/v1/directory/services", json=shelter(**{member: value}), headers=admin
        )
        problem = assert_problem(refused, 422, "validation-error")
        assert problem["errors"][0]["pointer"] == (
            f"/service/service_at_locations/0/location/{member}"
        )
        assert CANARY_STREET not in refused.text
    await publish(client, admin, shelter())
    await build_directory(runtime)
    listing = (await client.get("/v1/directory/services", headers=admin)).text
    export = (await client.get("/v1/directory/export?scope=all", headers=admin)).text
    rows = await runtime.pool.fetch("SELECT record::text FROM views.directory_services")
    assert "Example Safe House" in listing and "Example Safe House" in export
    for text in (listing, export, *(row[0] for row in rows)):
        assert CANARY_STREET not in text
    # control: a public location's address is listed
    await publish(client, admin, with_public_office(shelter(confidential=False)))
    await build_directory(runtime)
    assert CANARY_STREET in (await client.get("/v1/directory/services", headers=admin)).text


async def test_invalid_members_are_named_by_pointer_without_their_values(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    admin = bearer(issuer, "admin")
    body = legal_aid(
        service_areas=[{"extent": "US-ZZ-SECRET"}],
        languages=[{"code": "SECRET language"}],
        minimum_age=200,
    )
    body["organization"]["email"] = "SECRET-not-an-email"
    refused = await client.post("/v1/directory/services", json=body, headers=admin)
    problem = assert_problem(refused, 422, "validation-error")
    assert {e["pointer"] for e in problem["errors"]} == {
        "/organization/email",
        "/service/service_areas/0/extent",
        "/service/languages/0/code",
        "/service/minimum_age",
    }
    assert "SECRET" not in refused.text


async def test_hostile_bodies_and_parameters_are_client_errors(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    admin = bearer(issuer, "admin")
    unknown = legal_aid()
    unknown["service"]["contacts"] = [{"name": "SECRET person"}]
    for body in (unknown, {"organization": {"name": 5}, "service": {}}, [1, 2], "x"):
        refused = await client.post("/v1/directory/services", json=body, headers=admin)
        assert refused.status_code in (400, 422), refused.text
        assert "SECRET" not in refused.text
    oversized = legal_aid(description="x" * (70 * 1024))
    too_large = await client.post("/v1/directory/services", json=oversized, headers=admin)
    assert too_large.status_code == 413
    await build_directory(runtime)
    for name, value in (
        ("category", "no\x00such"),
        ("state", "ZZ"),
        ("county", "99999"),
        ("language", "e s"),
        ("age", "-1"),
        ("age", str(2**70)),
        ("gender", "SECRET"),
        ("cursor", "not-a-cursor"),
        ("limit", "0"),
    ):
        refused = await client.get("/v1/directory/services", params={name: value}, headers=admin)
        assert refused.status_code in (400, 422), (name, refused.text)
        assert "SECRET" not in refused.text
    for path in ("/v1/directory/services/not-a-uuid", f"/v1/directory/services/{uuid.uuid4()}"):
        assert (await client.get(path, headers=admin)).status_code in (400, 404)


async def test_case_routes_and_listing_routes_never_cross(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    """Attack: name a listing's id on the case routes, and a case's id on the listing routes
    (both streams of the same organisation). Each answers 404 and changes nothing."""
    from services.api.cases.schemas.examples import OPEN_CASE_EXAMPLE, RECORD_SERVICE_EXAMPLE

    admin = bearer(issuer, "admin")
    service_id = await publish(client, admin, legal_aid())
    worker, officer = bearer(issuer, "caseworker"), bearer(issuer, "privacy_officer")
    opened = await client.post("/v1/cases", json=OPEN_CASE_EXAMPLE, headers=worker)
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    for method, path, headers in (
        ("GET", f"/v1/cases/{service_id}", worker),
        ("GET", f"/v1/cases/{service_id}/history", worker),
        ("POST", f"/v1/cases/{service_id}/services", {**worker, "If-Match": '"1"'}),
        ("DELETE", f"/v1/cases/{service_id}", officer),
        ("GET", f"/v1/cases/{service_id}/export", officer),
        ("PUT", f"/v1/directory/services/{case_id}", {**admin, "If-Match": '"1"'}),
        ("DELETE", f"/v1/directory/services/{case_id}", {**admin, "If-Match": '"1"'}),
    ):
        body = {"PUT": legal_aid(), "POST": RECORD_SERVICE_EXAMPLE}.get(method)
        answered = await client.request(method, path, json=body, headers=headers)
        assert answered.status_code == 404, (method, path, answered.text)
    assert await runtime.store.stream_version(ORG, uuid.UUID(service_id)) == 1
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == 1
    read = await client.get(f"/v1/cases/{case_id}", headers=worker)
    assert read.status_code == 200  # control: the case reads as a case


async def test_a_publication_sent_again_with_its_key_lists_nothing_twice(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    admin = {**bearer(issuer, "admin"), "Idempotency-Key": "publish-0001"}
    first = await client.post("/v1/directory/services", json=legal_aid(), headers=admin)
    again = await client.post("/v1/directory/services", json=legal_aid(), headers=admin)
    assert first.status_code == again.status_code == 201, again.text
    assert first.json() == again.json() and again.headers["etag"] == '"1"'
    assert await runtime.pool.fetchval("SELECT count(*) FROM haven.streams") == 1
    other = await client.post(
        "/v1/directory/services", json=legal_aid(name="Another service"), headers=admin
    )
    assert_problem(other, 422, "idempotency-key-reused")
    elsewhere = {**bearer(issuer, "admin", OTHER), "Idempotency-Key": "publish-0001"}
    theirs = await client.post("/v1/directory/services", json=legal_aid(), headers=elsewhere)
    assert theirs.status_code == 201 and theirs.json() != first.json()
    for key in ("", " ", "x" * 101, "tab\there"):
        refused = await client.post(
            "/v1/directory/services",
            json=legal_aid(),
            headers={**bearer(issuer, "admin"), "Idempotency-Key": key},
        )
        assert_problem(refused, 422, "validation-error")
