"""Attack: inputs shaped to reach the database or the decoder unchecked, so that the server
answers 500: a caseload cursor holding a number no PostgreSQL integer holds, a NUL in the
worker or actor filter, an access-log page bound past bigint, bytes that are not UTF-8 (an
overlong encoding) in a body, and a period written with full-width digits. Each is a 4xx
problem naming the parameter; the controls are the same requests with ordinary values.
"""

from __future__ import annotations

import base64
import uuid

import httpx
import msgspec
import pytest

from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bootstrap import Runtime
from tests.api.test_case_command_routes import People
from tests.api.test_case_routes import assert_problem
from tests.conftest import empty_log_and_read_models


@pytest.fixture
def people(issuer) -> People:  # noqa: ANN001
    return People(issuer)


@pytest.fixture
async def built(runtime: Runtime) -> None:
    """An empty log with the caseload built (the read models' tables exist)."""
    await empty_log_and_read_models(runtime.pool)
    await rebuild(
        runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"]
    )


async def test_the_caseload_before_its_projection_is_built_is_503_not_500(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    await empty_log_and_read_models(runtime.pool)
    for path, headers in (("/v1/caseload", people.supervisor), ("/v1/cases", people.worker)):
        refused = await cases.get(path, headers=headers)
        assert_problem(refused, 503, "service-unavailable")
        assert refused.headers["retry-after"] == "5"
    await rebuild(
        runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"]
    )
    assert (
        await cases.get("/v1/caseload", headers=people.supervisor)
    ).status_code == 200  # control


def _cursor(value: int) -> str:
    return (
        base64.urlsafe_b64encode(msgspec.json.encode([value, str(uuid.uuid4())]))
        .decode()
        .rstrip("=")
    )


async def test_a_cursor_past_any_integer_is_422(
    cases: httpx.AsyncClient, people: People, built: None
) -> None:
    for value in (2**40, -(2**40), 2**63):
        refused = await cases.get(
            "/v1/caseload", params={"cursor": _cursor(value)}, headers=people.supervisor
        )
        problem = assert_problem(refused, 422, "validation-error")
        assert problem["errors"][0]["pointer"] == "#/query/cursor"
    ordinary = await cases.get(
        "/v1/caseload", params={"cursor": _cursor(12)}, headers=people.supervisor
    )
    assert ordinary.status_code == 200, ordinary.text  # control


async def test_a_nul_in_a_filter_is_422(
    cases: httpx.AsyncClient, people: People, built: None
) -> None:
    for path, name, headers in (
        ("/v1/caseload", "worker", people.supervisor),
        ("/v1/access-log", "actor", people.privacy),
    ):
        refused = await cases.get(path, params={name: "worker\x00one"}, headers=headers)
        assert_problem(refused, 422, "validation-error")
        ordinary = await cases.get(path, params={name: "worker-1"}, headers=headers)
        assert ordinary.status_code == 200, ordinary.text  # control


async def test_an_access_log_page_past_bigint_is_422(
    cases: httpx.AsyncClient, people: People
) -> None:
    refused = await cases.get(
        "/v1/access-log", params={"before": str(2**63)}, headers=people.privacy
    )
    assert_problem(refused, 422, "validation-error")
    ordinary = await cases.get(
        "/v1/access-log", params={"before": str(2**63 - 1)}, headers=people.privacy
    )
    assert ordinary.status_code == 200, ordinary.text


async def test_a_body_that_is_not_utf8_is_a_client_error(
    cases: httpx.AsyncClient, people: People
) -> None:
    overlong = b'{"intake": {"intake_on": "2026-01-05", "intake_type": "referral\xc0\xaf"}}'
    refused = await cases.post(
        "/v1/cases", content=overlong, headers={**people.worker, "Content-Type": "application/json"}
    )
    assert refused.status_code in (400, 422), refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")


async def test_a_period_in_full_width_digits_is_refused(cases: httpx.AsyncClient, issuer) -> None:  # noqa: ANN001
    reporter = {"Authorization": f"Bearer {issuer.mint('reporter-1', 'org-harbor', ['reporter'])}"}
    for label in ("２０２６Q3", "2026Q3\n", "٢٠٢٦Q3"):
        refused = await cases.get("/v1/reports/federal", params={"period": label}, headers=reporter)
        assert_problem(refused, 422, "validation-error")


async def test_a_malformed_query_parameter_is_pointed_at_by_its_name(
    cases: httpx.AsyncClient, people: People
) -> None:
    refused = await cases.get(
        "/v1/reports/refusals", params={"reference": "true"}, headers=people.privacy
    )
    problem = assert_problem(refused, 422, "validation-error")
    assert [e["pointer"] for e in problem["errors"]] == ["#/query/reference"]
