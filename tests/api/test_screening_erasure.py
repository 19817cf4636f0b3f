"""Erasing a case erases its screenings: those the projection holds and those it has not
reached yet, in the case's transaction, listed beside it; a standalone screening and another
case's stay. A screening of an erased case is refused. All data is synthetic."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from events.erasure_list import ErasureList
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from tests.api.conftest import ORG, TEAM, api_client
from tests.api.test_screening_routes import body, open_case, record
from tests.conftest import empty_log_and_read_models


@pytest.fixture
def erasure_log(tmp_path: Path) -> Path:
    return tmp_path / "erasures.log"


@pytest.fixture
async def client(make_app: Any, runtime: Runtime, erasure_log: Path) -> Any:
    listing = runtime._replace(erasure_list=ErasureList(erasure_log))
    async with api_client(make_app(runtime=listing), lifespan=False) as test_client:
        yield test_client


def headers(issuer: LocalIssuer, user: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.mint(user, ORG, [role], team=TEAM)}"}


async def live(runtime: Runtime, screening: str) -> bool:
    return bool(
        await runtime.pool.fetchval(
            "SELECT wrapped_key IS NOT NULL FROM haven.streams"
            " WHERE tenant_id = $1 AND stream_id = $2",
            ORG,
            uuid.UUID(screening),
        )
    )


async def test_erasing_a_case_erases_its_screenings_projected_or_not(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime, erasure_log: Path
) -> None:
    # the rebuild below reads the whole log: none of another test's events in it
    await empty_log_and_read_models(runtime.pool)
    worker = headers(issuer, "worker-1", "caseworker")
    privacy = headers(issuer, "privacy-1", "privacy_officer")
    case_id, other_case = await open_case(client, worker), await open_case(client, worker)
    projected = await record(client, worker, case_id=case_id)
    await rebuild(
        runtime.store,
        runtime.pool,
        projection_factories(runtime.keyring, runtime.store)["screenings"],
    )
    unprojected = await record(client, worker, case_id=case_id)  # after the checkpoint
    standalone = await record(client, worker)
    of_other_case = await record(client, worker, case_id=other_case)
    erased = await client.delete(f"/v1/cases/{case_id}", headers=privacy)
    assert erased.status_code in (200, 204), erased.text
    assert not await live(runtime, projected) and not await live(runtime, unprojected)
    assert await live(runtime, standalone) and await live(runtime, of_other_case)
    for gone in (projected, unprojected):
        response = await client.get(f"/v1/screenings/{gone}", headers=worker)
        assert response.status_code == 404
    rows = {
        str(row[0])
        for row in await runtime.pool.fetch(
            "SELECT case_id FROM views.screenings WHERE tenant_id = $1", ORG
        )
    }
    assert projected not in rows
    listed = erasure_log.read_text()
    assert all(ident in listed for ident in (case_id, projected, unprojected))
    assert standalone not in listed and of_other_case not in listed
    refused = await client.post("/v1/screenings", json=body(case_id=case_id), headers=worker)
    assert refused.status_code == 404


async def test_a_case_s_export_holds_its_screenings(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    worker = headers(issuer, "worker-1", "caseworker")
    privacy = headers(issuer, "privacy-1", "privacy_officer")
    case_id = await open_case(client, worker)
    screening = await record(client, worker, case_id=case_id)
    await record(client, worker)  # standalone: no case's
    exported = await client.get(f"/v1/cases/{case_id}/export", headers=privacy)
    assert exported.status_code == 200, exported.text
    (held,) = exported.json()["screenings"]
    assert held["screening_id"] == screening and held["result"] == "strong_indicators"
    page = await client.get(f"/v1/cases/{case_id}/export?format=html", headers=privacy)
    assert page.status_code == 200 and 'id="screenings"' in page.text
