"""A schema-driven fuzz of the directory's routes (schemathesis), sent by an organisation's
administrator, who may publish, import and export, and by a case worker, who may search: so
that generated bodies and parameters reach the rules, the store and the read model, not only
authorisation. Every answer must be documented, conform to the document and never be a 5xx;
every error is a problem document. The served app and the checks are those of
`test_openapi_fuzz`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from schemathesis import GenerationMode

from services.api.problems import PROBLEM_MEDIA_TYPE
from services.bench.scratch import scratch_database
from tests.api.test_openapi_fuzz import CHECKS, _fuzz, _header, served

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

LEGAL_AID = {
    "organization": {"name": "Example Legal Aid of Springfield"},
    "service": {
        "name": "Immigration legal help",
        "service_areas": [{"extent": "US-IL"}],
        "attributes": [
            {"taxonomy_term": {"code": "legal_immigration", "taxonomy": "haven-service-category"}}
        ],
    },
}


async def test_the_directory_routes_survive_a_schema_driven_fuzz(
    server_url: str, tmp_path: Path, key_file: Path
) -> None:
    async with scratch_database(server_url) as database_url:
        await asyncio.to_thread(fuzz_the_directory, database_url, tmp_path, key_file)


def fuzz_the_directory(database_url: str, tmp_path: Path, key_file: Path) -> None:
    with served(database_url, tmp_path, key_file) as (base_url, issuer):
        tokens = {
            role: issuer.mint(f"fuzz-{role}", "org-fuzz", [role], team="team-fuzz")
            for role in ("admin", "caseworker")
        }
        listed = httpx.post(
            f"{base_url}/v1/directory/services",
            json=LEGAL_AID,
            headers={"Authorization": f"Bearer {tokens['admin']}"},
            timeout=10.0,
        )
        assert listed.status_code == 201, listed.text
        service_id = listed.json()["service_id"]
        schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
        schema.config.generation.update(allow_x00=True, codec="utf-8")
        session = requests.Session()
        seen: dict[str, set[int]] = {}

        def call(case: schemathesis.Case, token: str) -> None:
            headers = {"Authorization": f"Bearer {token}"}
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

        operations = [
            result.ok()
            for result in schema.get_all_operations()
            if result.ok().path.startswith("/v1/directory")
        ]
        assert len(operations) == 7
        for operation in operations:
            for token in tokens.values():
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    strategies: list[Any] = [operation.as_strategy(generation_mode=mode)]
                    if "{service_id}" in operation.path:
                        strategies.append(
                            operation.as_strategy(
                                generation_mode=mode, path_parameters={"service_id": service_id}
                            )
                        )
                    for strategy in strategies:
                        _fuzz(operation, strategy, lambda case, token=token: call(case, token))
        assert {op.label for op in operations} == set(seen)
