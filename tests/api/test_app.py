"""The HTTP foundation through litestar's test client: operations routes, authentication,
the error mapper, request ids, metrics and the request log line."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec
from litestar import post
from litestar.params import FromPath, JSONBody

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from services.api.problems import PROBLEM_BASE_URI, PROBLEM_MEDIA_TYPE
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from tests.api.conftest import AppFactory, api_client, log_lines

CANARY = "CANARY-5d1c-survivor-name"


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["type"] == PROBLEM_BASE_URI + slug
    assert body["status"] == status
    return body


async def only_this_runtimes_keys(runtime: Runtime) -> None:
    """`/ready` unwraps a stored data key: drop what earlier test files in this worker wrapped
    under their own key files or tokens."""
    await runtime.pool.execute("TRUNCATE haven.events, haven.streams, haven.tenant_secrets")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- operations -------------------------------------------------------------------------------


async def test_health_answers_ok_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_database_and_key_provider_answer(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await only_this_runtimes_keys(runtime)
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}  # nothing quarantined: no detail


async def test_a_quarantined_stream_shows_in_ready_and_metrics(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Still ready (the service works), but the detail and the gauge tell an operator to look."""
    await only_this_runtimes_keys(runtime)
    stream = uuid.uuid4()
    await runtime.pool.execute(
        """INSERT INTO haven.projection_quarantine (projection, tenant_id, stream_id,
               transaction_id, position, version, event_type, error_class)
           VALUES ('cases', 'org-x', $1, '1', 1, 1, 'CaseOpened', 'DataError')""",
        stream,
    )
    try:
        response = await client.get("/ready")
        assert response.status_code == 200
        assert response.json() == {"status": "ready", "quarantined": {"cases": 1}}
        await runtime.pool.execute(
            "INSERT INTO haven.projection_checkpoints VALUES ('cases', 1, 'x', '1', 1) "
            "ON CONFLICT DO NOTHING"
        )
        assert (
            'haven_projection_quarantined_streams{projection="cases"} 1.0'
            in (await client.get("/metrics")).text
        )
    finally:
        await runtime.pool.execute(
            "DELETE FROM haven.projection_quarantine WHERE stream_id = $1", stream
        )


async def test_not_ready_when_the_key_file_is_gone(
    make_app: AppFactory, runtime: Runtime, tmp_path: Path, key_file: Path
) -> None:
    key_path = tmp_path / "own-kek"
    await only_this_runtimes_keys(runtime)
    shutil.copy(key_file, key_path)  # the keys this database's data keys are wrapped under
    provider = FileKeyProvider(key_path)
    lost = Runtime(runtime.pool, Keyring(provider), runtime.store)
    async with api_client(make_app(runtime=lost)) as client:
        assert (await client.get("/ready")).status_code == 200  # control: the same app, key present
        key_path.unlink()
        assert_problem(await client.get("/ready"), 503, "service-unavailable")


async def test_openapi_document_names_haven_and_whoami(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "Haven"
    whoami = document["paths"]["/v1/whoami"]["get"]
    assert whoami["security"] == [{"BearerToken": []}]
    assert "401" in whoami["responses"]
    assert document["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"


# -- authentication ---------------------------------------------------------------------------


async def test_whoami_answers_the_principal_of_a_valid_token(
    client: httpx.AsyncClient, token: str
) -> None:
    response = await client.get("/v1/whoami", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {
        "user_id": "user-1",
        "organisation_id": "org-a",
        "roles": ["caseworker"],
        "team": "team-north",
    }


def expired_token(data_dir: Path) -> str:
    two_days_ago = time.time() - 2 * 86400
    return LocalIssuer.open(data_dir, clock=lambda: two_days_ago).mint(
        "user-1", "org-a", ["caseworker"], ttl=dt.timedelta(hours=1)
    )


async def test_whoami_refuses_every_bad_credential_with_401(
    client: httpx.AsyncClient, issuer: LocalIssuer, data_dir: Path, tmp_path: Path
) -> None:
    foreign = LocalIssuer.open(tmp_path / "another-issuer").mint("user-1", "org-a", ["caseworker"])
    attempts: dict[str, dict[str, str]] = {
        "no header": {},
        "another scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
        "scheme without token": {"Authorization": "Bearer"},
        "not a jwt": {"Authorization": "Bearer not.a.jwt"},
        "expired": bearer(expired_token(data_dir)),
        "another key": bearer(foreign),
    }
    for name, headers in attempts.items():
        response = await client.get("/v1/whoami", headers=headers)
        body = assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer"), name
        assert set(body) <= {"type", "title", "status"}, name  # no reason, no token echoed


async def test_a_refusal_is_logged_with_its_reason_code_and_never_the_token(
    client: httpx.AsyncClient, data_dir: Path, log_stream: io.StringIO
) -> None:
    stale = expired_token(data_dir)
    await client.get("/v1/whoami", headers=bearer(stale))
    [refusal] = [
        line for line in log_lines(log_stream) if line["event"] == "authentication refused"
    ]
    assert refusal["error_code"] == "token-expired" and refusal["route"] == "/v1/whoami"
    assert stale not in log_stream.getvalue()


async def test_keys_unavailable_is_503_not_401(make_app: AppFactory) -> None:
    from services.identity import InvalidToken

    class Unreachable:
        async def verify(self, token: str) -> Any:
            raise InvalidToken("keys-unavailable")

    async with api_client(make_app(verifier=Unreachable())) as client:
        assert_problem(
            await client.get("/v1/whoami", headers=bearer("a.b.c")), 503, "service-unavailable"
        )


# -- the error mapper -------------------------------------------------------------------------


class Note(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    count: int


@post("/test/echo", sync_to_thread=False)
def echo(data: JSONBody[Note]) -> Note:
    return data


@post("/test/boom", sync_to_thread=False)
def boom() -> None:
    raise RuntimeError(f"cannot open /srv/haven for {CANARY}")


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/no-such-thing"), 404, "not-found")
    assert "no-such-thing" not in str(body)


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.delete("/health"), 405, "method-not-allowed")


async def test_body_over_64_kib_is_413_problem(make_app: AppFactory, token: str) -> None:
    async with api_client(make_app(route_handlers=[echo])) as client:
        small = await client.post(
            "/test/echo", json={"text": "x", "count": 1}, headers=bearer(token)
        )
        assert small.status_code == 201  # control: the route accepts a small body
        big = {"text": "x" * (70 * 1024), "count": 1}
        assert_problem(
            await client.post("/test/echo", json=big, headers=bearer(token)),
            413,
            "payload-too-large",
        )


async def test_invalid_body_is_422_with_pointers(make_app: AppFactory, token: str) -> None:
    async with api_client(make_app(route_handlers=[echo])) as client:
        response = await client.post(
            "/test/echo", json={"text": "x", "count": "many"}, headers=bearer(token)
        )
        body = assert_problem(response, 422, "validation-error")
        assert [error["pointer"] for error in body["errors"]] == ["/count"]
        assert "/test/echo" not in response.text  # litestar's own detail names the path


async def test_unparseable_body_is_400_problem(make_app: AppFactory, token: str) -> None:
    async with api_client(make_app(route_handlers=[echo])) as client:
        response = await client.post(
            "/test/echo",
            content=b"{not json",
            headers={**bearer(token), "Content-Type": "application/json"},
        )
        assert_problem(response, 400, "bad-request")


async def test_unexpected_exception_is_500_without_detail(
    make_app: AppFactory, token: str, log_stream: io.StringIO
) -> None:
    async with api_client(make_app(route_handlers=[boom])) as client:
        response = await client.post("/test/boom", headers=bearer(token))
    body = assert_problem(response, 500, "internal-error")
    assert "detail" not in body
    for leaked in (CANARY, "RuntimeError", "/srv/haven", "Traceback"):
        assert leaked not in response.text
        assert leaked not in log_stream.getvalue() or leaked == "RuntimeError"
    [failure] = [line for line in log_lines(log_stream) if line["event"] == "request failed"]
    assert failure["error_code"] == "unhandled" and failure["exc_type"] == "RuntimeError"
    assert failure["route"] == "/test/boom" and failure["actor_id"] == "user-1"


# -- request ids, log line, metrics -----------------------------------------------------------


async def test_every_response_carries_a_fresh_request_id(
    client: httpx.AsyncClient, token: str
) -> None:
    responses = [
        await client.get("/health"),
        await client.get("/health"),
        await client.get("/v1/whoami", headers=bearer(token)),
        await client.get("/v1/whoami"),
        await client.get("/nowhere"),
        await client.get("/health", headers={"X-Request-ID": "client-chosen"}),
    ]
    ids = [response.headers["x-request-id"] for response in responses]
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in ids)
    assert len(set(ids)) == len(ids)


async def test_one_log_line_per_request_with_template_and_no_raw_path(
    client: httpx.AsyncClient, token: str, log_stream: io.StringIO
) -> None:
    response = await client.get("/v1/whoami", headers=bearer(token))
    secret_path = f"/v1/cases/{uuid.uuid4()}"
    await client.get(secret_path, headers=bearer(token))
    await client.get(f"/nowhere/{uuid.uuid4()}", headers=bearer(token))
    requests = [line for line in log_lines(log_stream) if line["event"] == "request"]
    assert [(line["method"], line["route"], line["status"]) for line in requests] == [
        ("GET", "/v1/whoami", 200),
        ("GET", "/v1/cases/{case_id}", 404),
        ("GET", "unmatched", 404),
    ]
    first = requests[0]
    assert first["request_id"] == response.headers["x-request-id"]
    assert first["actor_id"] == "user-1" and first["organisation_id"] == "org-a"
    assert isinstance(first["latency_ms"], float)
    assert secret_path not in log_stream.getvalue()
    assert token not in log_stream.getvalue()


async def test_metrics_label_route_templates_never_raw_ids(
    client: httpx.AsyncClient, token: str
) -> None:
    case_id = str(uuid.uuid4())
    assert (await client.get("/v1/whoami", headers=bearer(token))).status_code == 200
    assert (await client.get(f"/v1/cases/{case_id}", headers=bearer(token))).status_code == 404
    assert (await client.get(f"/nowhere/{case_id}", headers=bearer(token))).status_code == 404
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'haven_http_requests_total{method="GET",route="/v1/whoami",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert 'route="/v1/cases/{case_id}",status="404"' in text
    assert "haven_http_request_duration_seconds_bucket" in text
    assert case_id not in text
    assert "user-1" not in text and "org-a" not in text


async def test_metrics_are_per_app(make_app: AppFactory) -> None:
    async with api_client(make_app()) as first, api_client(make_app()) as second:
        await first.get("/health")
        assert 'route="/health"' in (await first.get("/metrics")).text
        assert 'route="/health"' not in (await second.get("/metrics")).text


async def test_a_route_template_with_an_id_is_the_label(make_app: AppFactory, token: str) -> None:
    from litestar import get

    @get("/v1/things/{thing_id:str}", sync_to_thread=False)
    def thing(thing_id: FromPath[str]) -> dict[str, str]:
        return {"ok": "yes"}

    thing_id = uuid.uuid4().hex
    async with api_client(make_app(route_handlers=[thing])) as client:
        assert (
            await client.get(f"/v1/things/{thing_id}", headers=bearer(token))
        ).status_code == 200
        text = (await client.get("/metrics")).text
    assert 'route="/v1/things/{thing_id}"' in text
    assert thing_id not in text
