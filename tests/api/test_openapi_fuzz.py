"""A property-based fuzz of the API from its own OpenAPI document (schemathesis).

The real server (granian, as in `test_served`) serves the app; schemathesis loads the document
it publishes at `/schema/openapi.json` and, for every operation, generates requests from it
(valid ones, then invalid ones) sent with a caseworker's token: first with random case ids,
then on a case the caseworker opened, once more with its current ETag as If-Match so that
commands reach the domain (200, 409, 422). The document declares `If-Match` (required) on
every command and `Idempotency-Key` (optional) on every command that honours one, so
schemathesis generates both headers too (a well-formed but stale If-Match is answered 412; the
test checks both were generated for every command declaring them). Every answer must:

* not be a server error (no 5xx: the server is ready, its database reachable);
* conform to the document: a documented status code, the documented content type, headers and
  body schema;
* when it is an error (4xx), be `application/problem+json`.

Strings are generated from all of Unicode, NUL included, and integers without bounds beyond
those the document declares (negative generation steps past each one), so a parameter that
reaches the database unchecked (a NUL in a filter, a page bound past bigint) is found here.

Why a served app rather than `schemathesis.openapi.from_asgi`: schemathesis calls the app
synchronously, while the session's asyncpg pool is bound to pytest-asyncio's loop; a server
process owns its own pool. Generation is derandomized and bounded (`MAX_EXAMPLES` per operation
and mode), with no deadline and no timing assertion.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.api.cases.schemas.examples import OPEN_CASE_EXAMPLE
from services.api.problems import PROBLEM_MEDIA_TYPE
from services.bench.scratch import scratch_database
from services.identity import LocalIssuer
from tests.api.test_served import READY_ATTEMPTS, free_port, granian
from tests.tiers import scaled

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

MAX_EXAMPLES = scaled(default=4, full=12)  # per operation and generation mode
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@contextlib.contextmanager
def served(database_url: str, tmp_path: Path, key_file: Path) -> Iterator[tuple[str, LocalIssuer]]:
    """The real server, ready, and the local issuer whose key it trusts.

    The server seals with the session's key file (`key_file`), like the in-process tests, in
    a database of its own (its start-up checks that its keys open the database's)."""
    data_dir = tmp_path / "data"
    issuer = LocalIssuer.open(data_dir)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")},
        "HAVEN_DATABASE_URL": database_url,
        "HAVEN_DATA_DIR": str(data_dir),
        "HAVEN_KEK": f"file:{key_file}",
        "HAVEN_LOG_LEVEL": "warning",
    }
    port = free_port()
    log = tmp_path / "granian.log"
    base_url = f"http://127.0.0.1:{port}"
    with granian(port, env, log) as process:
        for _ in range(READY_ATTEMPTS):
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base_url}/ready", timeout=5.0).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the server never became ready: " + log.read_text(errors="replace")[-2000:])
        yield base_url, issuer


def _documented_problems(document: dict[str, Any]) -> list[tuple[str, str, str, list[str]]]:
    """(method, path, status, media types) of every documented error response."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, response in operation["responses"].items():
                if status.isdigit() and int(status) >= 400:
                    found.append((method, path, status, sorted(response.get("content", {}))))
    return found


def _header(response: Any, name: str) -> str:
    """One header of a schemathesis response (its values are lists) or a plain one."""
    for key, value in response.headers.items():
        if key.lower() == name:
            return value[0] if isinstance(value, list) else value
    return ""


def _fuzz(operation: Any, strategy: Any, call: Any) -> None:
    @FUZZ_SETTINGS
    @given(case=strategy)
    def fuzz(case: schemathesis.Case) -> None:
        call(case)

    try:
        fuzz()
    except Exception as error:
        raise AssertionError(f"{operation.label}: {error}") from error


async def test_every_operation_survives_a_schema_driven_fuzz(
    server_url: str, tmp_path: Path, key_file: Path
) -> None:
    async with scratch_database(server_url) as database_url:  # start-up checks its keys
        await asyncio.to_thread(fuzz_every_operation, database_url, tmp_path, key_file)


def fuzz_every_operation(database_url: str, tmp_path: Path, key_file: Path) -> None:
    with served(database_url, tmp_path, key_file) as (base_url, issuer):
        token = issuer.mint("fuzz-worker", "org-fuzz", ["caseworker"], team="team-fuzz")
        auth = {"Authorization": f"Bearer {token}"}
        document = httpx.get(f"{base_url}/schema/openapi.json", timeout=10.0).json()

        # Every documented error is a problem document, and only that.
        problems = _documented_problems(document)
        assert problems
        assert [p for p in problems if p[3] != [PROBLEM_MEDIA_TYPE]] == []

        # A case of the caller's, so that commands on it reach If-Match, idempotency and the domain.
        opened = httpx.post(
            f"{base_url}/v1/cases", json=OPEN_CASE_EXAMPLE, headers=auth, timeout=10.0
        )
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]

        schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
        # every string may hold any Unicode scalar, NUL included; integers are bounded only
        # where the document bounds them, and negative generation steps past each bound
        schema.config.generation.update(allow_x00=True, codec="utf-8")
        assert schema.config.generation.allow_x00 and schema.config.generation.codec == "utf-8"
        session = requests.Session()
        seen: dict[str, set[int]] = {}
        generated: dict[str, set[str]] = {}  # request headers schemathesis generated, per operation

        def call(case: schemathesis.Case, *, current_version: bool = False) -> None:
            generated.setdefault(case.operation.label, set()).update(
                name.lower() for name in case.headers or {}
            )
            headers = dict(auth)
            if current_version:  # the case's current ETag: the command can get past If-Match
                headers["If-Match"] = httpx.get(
                    f"{base_url}/v1/cases/{case_id}", headers=auth, timeout=10.0
                ).headers["etag"]
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=10)
            seen.setdefault(case.operation.label, set()).add(response.status_code)
            case.validate_response(response, checks=CHECKS, headers=headers)
            if response.status_code >= 400:
                content_type = _header(response, "content-type")
                assert content_type.startswith(PROBLEM_MEDIA_TYPE), (
                    case.operation.label,
                    response.status_code,
                    content_type,
                )

        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == len(_operations(document))
        for operation in operations:
            spec = document["paths"][operation.path][operation.method.lower()]
            has_input = bool(spec.get("parameters") or spec.get("requestBody"))
            modes = (
                (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                if has_input
                else (GenerationMode.POSITIVE,)
            )
            for mode in modes:  # negative: nothing to break in an operation without inputs
                _fuzz(operation, operation.as_strategy(generation_mode=mode), call)
                if "{case_id}" in operation.path and mode is GenerationMode.POSITIVE:
                    own_case = operation.as_strategy(
                        generation_mode=mode, path_parameters={"case_id": case_id}
                    )
                    _fuzz(operation, own_case, call)
                    if operation.method.upper() == "POST":
                        _fuzz(operation, own_case, lambda case: call(case, current_version=True))
        assert set(seen) == {operation.label for operation in operations}
        # The commands did get past authorisation and If-Match on the caller's own case.
        assert 200 in seen["POST /v1/cases/{case_id}/services"], seen
        # The documented If-Match and Idempotency-Key were generated for every command (and the
        # key for intake), and a generated, well-formed but stale If-Match was answered 412.
        commands = [
            label
            for method, path in _operations(document)
            if (label := f"{method.upper()} {path}")
            and _declares(document, method, path, "If-Match")
        ]
        # 17 of cases, 3 of activities, 2 of the directory, 4 of the organisation
        assert len(commands) == 26, commands
        for label in commands:
            method, path = label.split(" ", 1)
            declared = {"if-match"} | (
                {"idempotency-key"}
                if _declares(document, method.lower(), path, "Idempotency-Key")
                else set()
            )
            assert declared <= generated[label], (label, generated[label])
        assert "idempotency-key" in generated["POST /v1/cases"]
        assert any(412 in seen[label] for label in commands), seen


def _declares(document: dict[str, Any], method: str, path: str, header: str) -> bool:
    parameters = document["paths"][path][method].get("parameters", [])
    return any(p["in"] == "header" and p["name"] == header for p in parameters)


def _operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]
