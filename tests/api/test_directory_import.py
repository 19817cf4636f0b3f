"""Importing and exporting HSDS documents over HTTP: per-record reports, idempotent
re-imports, attribution to the importing organisation, and hostile documents.

Every organisation and service here is synthetic.
"""

from __future__ import annotations

import copy
import json
from typing import Any

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
)
from tests.conftest import empty_log_and_read_models

ORG, OTHER = "org-harbor", "org-lantern"


def bearer(issuer: LocalIssuer, role: str = "admin", org: str = ORG) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.mint(f'{role}-1', org, [role], team='team-1')}"}


def state_directory() -> dict[str, Any]:
    """A small state directory: two organisations, three services."""
    category = {"taxonomy_term": {"code": "medical", "taxonomy": "haven-service-category"}}
    return {
        "organizations": [
            {"id": "org-clinic", "name": "Example Community Clinic of Peoria"},
            {"id": "org-shelter", "name": "Example Shelter Network"},
        ],
        "services": [
            {
                "id": "svc-clinic-1",
                "organization_id": "org-clinic",
                "name": "Walk-in clinic",
                "service_areas": [{"extent": "US-IL-17143"}],
                "languages": [{"code": "en"}],
                "attributes": [category],
            },
            {
                "id": "svc-clinic-2",
                "organization_id": "org-clinic",
                "name": "Dental clinic",
                "service_areas": [{"extent": "US-IL"}],
                "attributes": [
                    {"taxonomy_term": {"code": "dental", "taxonomy": "haven-service-category"}}
                ],
            },
            {
                "id": "svc-shelter-1",
                "organization_id": "org-shelter",
                "name": "Emergency shelter",
                "service_areas": [{"extent": "US-IL-17143"}],
                "attributes": [
                    {
                        "taxonomy_term": {
                            "code": "housing_shelter",
                            "taxonomy": "haven-service-category",
                        }
                    }
                ],
                "service_at_locations": [
                    {"location": {"name": "Example shelter", "confidential": True}}
                ],
            },
        ],
    }


@pytest.fixture
async def client(make_app, runtime: Runtime):  # noqa: ANN001, ANN201
    await empty_log_and_read_models(runtime.pool)
    async with api_client(make_app(), lifespan=False) as test_client:
        yield test_client


async def post_import(
    client: httpx.AsyncClient, headers: dict[str, str], document: Any, **params: Any
) -> httpx.Response:
    return await client.post(
        "/v1/directory/import",
        content=json.dumps(document).encode(),
        params=params,
        headers={**headers, "Content-Type": "application/json"},
    )


async def stream_count(runtime: Runtime) -> int:
    return await runtime.pool.fetchval("SELECT count(*) FROM haven.streams")


async def test_a_reimport_creates_nothing_twice_and_updates_what_changed(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    admin = bearer(issuer)
    first = await post_import(client, admin, state_directory())
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["created"], report["updated"], report["unchanged"], report["refused"]) == (
        3,
        0,
        0,
        0,
    )
    assert await stream_count(runtime) == 3
    again = (await post_import(client, admin, state_directory())).json()
    assert (again["created"], again["unchanged"]) == (0, 3)
    assert await stream_count(runtime) == 3
    changed = state_directory()
    changed["services"][1]["name"] = "Dental and vision clinic"
    third = (await post_import(client, admin, changed)).json()
    assert [r["outcome"] for r in third["records"]] == ["unchanged", "updated", "unchanged"]
    assert await stream_count(runtime) == 3
    assert [r["service_id"] for r in third["records"]] == [
        r["service_id"] for r in report["records"]
    ]


async def test_imported_services_are_listed_by_the_importer_with_their_source_ids(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    await post_import(client, bearer(issuer), state_directory())
    await build_directory(runtime)
    found = (
        await client.get(
            "/v1/directory/services",
            params={"county": "17143"},
            headers=bearer(issuer, "caseworker", OTHER),
        )
    ).json()["services"]
    assert {s["listed_by"] for s in found} == {ORG}
    assert {s["source_id"] for s in found} == {"svc-clinic-1", "svc-clinic-2", "svc-shelter-1"}
    assert {s["organization"]["id"] for s in found} == {"org-clinic", "org-shelter"}
    export = (await client.get("/v1/directory/export", headers=bearer(issuer))).json()
    assert {o["id"] for o in export["organizations"]} == {"org-clinic", "org-shelter"}
    assert {s["id"] for s in export["services"]} == {s["service_id"] for s in found}
    nothing = (await client.get("/v1/directory/export", headers=bearer(issuer, org=OTHER))).json()
    assert nothing == {"organizations": [], "services": []}
    everything = await client.get(
        "/v1/directory/export?scope=all", headers=bearer(issuer, org=OTHER)
    )
    assert len(everything.json()["services"]) == 3


async def test_an_export_imports_again_elsewhere_unchanged(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    await post_import(client, bearer(issuer), state_directory())
    await build_directory(runtime)
    export = (await client.get("/v1/directory/export", headers=bearer(issuer))).json()
    elsewhere = (await post_import(client, bearer(issuer, org=OTHER), export)).json()
    assert (elsewhere["created"], elsewhere["refused"]) == (3, 0)
    await build_directory(runtime)
    theirs = (await client.get("/v1/directory/export", headers=bearer(issuer, org=OTHER))).json()
    assert theirs["organizations"] == export["organizations"]
    strip = [{k: v for k, v in s.items() if k != "id"} for s in export["services"]]
    assert [{k: v for k, v in s.items() if k != "id"} for s in theirs["services"]] == strip


async def test_a_dry_run_reports_and_records_nothing(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    report = (await post_import(client, bearer(issuer), state_directory(), dry_run="true")).json()
    assert report["dry_run"] is True and report["created"] == 3
    assert await stream_count(runtime) == 0


async def test_refusals_name_records_and_members_by_pointer_never_values(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    document = state_directory()
    document["services"][0]["email"] = "SECRET-not-an-email"
    document["services"][1]["organization_id"] = "SECRET-no-such-organisation"
    document["services"][2]["service_at_locations"][0]["location"]["addresses"] = canary_address()
    document["services"].append(copy.deepcopy(document["services"][0]) | {"SECRET": 1})
    document["organizations"].append({"id": "org-x", "name": 7})
    response = await post_import(client, bearer(issuer), document)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["refused"] == 5 and report["created"] == 0
    by_record = {r["pointer"]: [e["pointer"] for e in r["errors"]] for r in report["records"]}
    assert by_record == {
        "/organizations/2": ["/organizations/2/name"],
        "/services/0": ["/services/0/email"],
        "/services/1": ["/services/1/organization_id"],
        "/services/2": ["/services/2/service_at_locations/0/location/addresses"],
        "/services/3": ["/services/3"],
    }
    assert "SECRET" not in response.text and CANARY_STREET not in response.text
    assert await stream_count(runtime) == 0


@pytest.mark.parametrize(
    "document",
    [b"not json", b"[]", b'{"services": 5}', b'{"organisations": []}', b'{"services": [1]}'],
)
async def test_an_unreadable_document_is_a_client_error(
    client: httpx.AsyncClient, issuer: LocalIssuer, document: bytes
) -> None:
    response = await client.post(
        "/v1/directory/import",
        content=document,
        headers={**bearer(issuer), "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:  # a readable document whose one service is refused
        assert response.json()["refused"] == 1


async def test_an_oversized_import_is_413_and_a_large_one_is_taken(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    big = state_directory()
    big["services"][0]["description"] = "x" * 19_000
    big["services"] = [
        dict(big["services"][0], id=f"svc-{n}", name=f"Clinic {n}") for n in range(40)
    ]
    taken = await post_import(client, bearer(issuer), big)
    assert taken.status_code == 200 and taken.json()["created"] == 40  # larger than 64 KiB
    huge = {"services": [], "organizations": [{"id": "o", "name": "x" * (5 * 1024 * 1024)}]}
    assert_problem(await post_import(client, bearer(issuer), huge), 413, "payload-too-large")
    many = {"services": [{}] * 2_001}
    assert_problem(await post_import(client, bearer(issuer), many), 422, "validation-error")


async def test_text_that_is_not_utf8_refuses_its_record_only(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    good = json.dumps(state_directory()).encode()
    broken = good.replace(b'"Dental clinic"', b'"Dental \xc0\xaf clinic"')
    response = await client.post(
        "/v1/directory/import",
        content=broken,
        headers={**bearer(issuer), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["refused"]) == (2, 1)
    refused = [r for r in report["records"] if r["outcome"] == "refused"]
    assert refused == [
        {
            "pointer": "/services/1",
            "outcome": "refused",
            "errors": [{"pointer": "/services/1", "detail": "is not valid UTF-8 text"}],
        }
    ]
