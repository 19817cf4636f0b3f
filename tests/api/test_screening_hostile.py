"""Attack: screening requests shaped to reach the decoder, the scorer or the database unchecked
— unknown members, wrong types, oversized lists and strings, control characters, bytes that
are not UTF-8, impossible dates, numbers past any integer, query values in other scripts, a
summary before its read model is built. Each answers a 4xx (or 503) problem, never a 500,
and never echoes the value sent. Controls: the same requests with ordinary values."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.api.screening_routes import SCREENING_EXAMPLE
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from tests.api.conftest import api_client
from tests.conftest import empty_log_and_read_models

ORG = "org-harbor"
CANARY = "CANARY-5f1e"


@pytest.fixture
async def client(make_app: Any) -> Any:
    async with api_client(make_app(), lifespan=False) as test_client:
        yield test_client


@pytest.fixture
def worker(issuer: LocalIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.mint('worker-1', ORG, ['caseworker'])}"}


@pytest.fixture
def supervisor(issuer: LocalIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.mint('supervisor-1', ORG, ['supervisor'])}"}


def changed(path: list[Any], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(SCREENING_EXAMPLE)
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


def assert_refused(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert CANARY not in response.text


HOSTILE_BODIES = {
    "unknown member": changed([CANARY], 1),
    "unknown member of an indicator": changed(["indicators", 0, CANARY], "yes"),
    "a name": changed(["name"], CANARY),
    "a date of birth": changed(["date_of_birth"], "2010-01-01"),
    "version as a list": changed(["instrument_version"], [1]),
    "version past any integer": changed(["instrument_version"], 10**30),
    "version zero": changed(["instrument_version"], 0),
    "day as a number": changed(["screened_on"], 20260302),
    "impossible day": changed(["screened_on"], "2026-02-30"),
    "indicators as an object": changed(["indicators"], {"doc_1": "yes"}),
    "indicator as text": changed(["indicators", 0], CANARY),
    "setting as a list": changed(["setting"], [CANARY]),
    "minor as null": changed(["minor"], None),
    "too many indicators": changed(["indicators"], [{"item": "doc_1", "answer": "yes"}] * 201),
    "a long item": changed(["indicators", 0, "item"], CANARY * 20),
    "a long setting": changed(["setting"], CANARY * 20),
    "a NUL in the setting": changed(["setting"], f"clinic\x00{CANARY}"),
    "a NUL in an item": changed(["indicators", 0, "item"], f"doc_1\x00{CANARY}"),
    "a control character in the case": changed(["case_id"], f"\x1b[31m{CANARY}"),
    "a case id past its length": changed(["case_id"], CANARY * 20),
    "full-width day": changed(["screened_on"], "２０２６-03-02"),
}


@pytest.mark.parametrize("name", HOSTILE_BODIES)
async def test_a_hostile_body_is_refused_never_a_500(
    client: httpx.AsyncClient, worker: dict[str, str], name: str
) -> None:
    response = await client.post("/v1/screenings", json=HOSTILE_BODIES[name], headers=worker)
    assert_refused(response, 400, 422)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"instrument_id": "ilo-forced-labour\xc0\xaf", "instrument_version": 1}',
        b"[]",
        b"null",
        b'"' + CANARY.encode() + b'"',
        b"{" * 5000,
        b'{"instrument_version": 1e400}',
    ],
)
async def test_bytes_that_are_not_a_screening_are_a_client_error(
    client: httpx.AsyncClient, worker: dict[str, str], raw: bytes
) -> None:
    response = await client.post(
        "/v1/screenings", content=raw, headers={**worker, "Content-Type": "application/json"}
    )
    assert_refused(response, 400, 422)


async def test_a_body_past_the_limit_is_413(
    client: httpx.AsyncClient, worker: dict[str, str]
) -> None:
    huge = changed(["indicators"], [{"item": "doc_1", "answer": "yes"}] * 3000)
    assert_refused(await client.post("/v1/screenings", json=huge, headers=worker), 413, 422)


async def test_control_the_example_is_recorded(
    client: httpx.AsyncClient, worker: dict[str, str]
) -> None:
    assert (
        await client.post("/v1/screenings", json=SCREENING_EXAMPLE, headers=worker)
    ).status_code == 201


@pytest.mark.parametrize(
    "path",
    ["/v1/screenings/not-a-uuid", f"/v1/screenings/{CANARY}", "/v1/screenings/%00"],
)
async def test_a_screening_id_that_is_no_uuid_is_a_client_error(
    client: httpx.AsyncClient, worker: dict[str, str], path: str
) -> None:
    response = await client.get(path, headers=worker)
    assert 400 <= response.status_code < 500, response.text
    assert CANARY not in response.text


@pytest.mark.parametrize(
    "params",
    [
        {"from": "２０２６-01-01", "to": "2026-03-31"},
        {"from": CANARY, "to": "2026-03-31"},
        {"from": "2026-01-01"},
        {"from": "2026-01-01", "to": "2026-13-01"},
        {"from": "0001-01-01", "to": "9999-12-31"},
        {"from": "2026-01-01\x00", "to": "2026-03-31"},
    ],
)
async def test_a_hostile_summary_range_is_refused(
    client: httpx.AsyncClient, supervisor: dict[str, str], runtime: Runtime, params: dict
) -> None:
    response = await client.get("/v1/screenings/summary", params=params, headers=supervisor)
    assert_refused(response, 400, 422)


async def test_the_summary_before_its_projection_is_built_is_503_not_500(
    client: httpx.AsyncClient, supervisor: dict[str, str], runtime: Runtime
) -> None:
    await empty_log_and_read_models(runtime.pool)
    params = {"from": "2026-01-01", "to": "2026-03-31"}
    response = await client.get("/v1/screenings/summary", params=params, headers=supervisor)
    assert_refused(response, 503)
    await rebuild(
        runtime.store,
        runtime.pool,
        projection_factories(runtime.keyring, runtime.store)["screenings"],
    )
    control = await client.get("/v1/screenings/summary", params=params, headers=supervisor)
    assert control.status_code == 200 and control.json()["total"] == 0
