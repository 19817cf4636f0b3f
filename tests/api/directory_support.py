"""Synthetic directory records for the API tests (no real organisation or person)."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bootstrap import Runtime

CANARY_STREET = "41 Canary Lane"  # the confidential location's address: never anywhere


def legal_aid(**service: Any) -> dict[str, Any]:
    """A record of "Example Legal Aid of Springfield": legal help for all of Illinois."""
    body: dict[str, Any] = {
        "organization": {
            "name": "Example Legal Aid of Springfield",
            "email": "intake@legal-aid.example.org",
            "website": "https://legal-aid.example.org",
            "phones": [{"number": "+1 217 555 0100", "type": "voice"}],
        },
        "service": {
            "name": "Immigration legal help",
            "description": "T visa and continued presence applications.",
            "eligibility_description": "Adults identified as survivors of trafficking.",
            "minimum_age": 18,
            "fees_description": "Free of charge.",
            "service_areas": [{"name": "Illinois", "extent": "US-IL"}],
            "languages": [{"code": "en"}, {"code": "es"}],
            "schedules": [
                {"freq": "WEEKLY", "byday": "MO,TU,WE,TH,FR", "opens_at": "09:00",
                 "closes_at": "17:00"}
            ],
            "attributes": [
                {"taxonomy_term": {"code": "legal_immigration",
                                   "taxonomy": "haven-service-category"}}
            ],
        },
    }  # fmt: skip
    body["service"].update(service)
    return body


def shelter(**location: Any) -> dict[str, Any]:
    """A record of "Example Safe House of Sangamon County": a confidential location."""
    placed = {"name": "Example Safe House", "confidential": True, **location}
    return {
        "organization": {"name": "Example Safe House Network"},
        "service": {
            "name": "Emergency shelter",
            "service_areas": [{"extent": "US-IL-17167"}],
            "languages": [{"code": "es-MX"}],
            "attributes": [
                {
                    "taxonomy_term": {
                        "code": "housing_shelter",
                        "taxonomy": "haven-service-category",
                    }
                },
                {"taxonomy_term": {"code": "woman", "taxonomy": "haven-gender-served"}},
            ],
            "service_at_locations": [{"location": placed}],
        },
    }


def canary_address() -> list[dict[str, str]]:
    return [
        {
            "address_1": CANARY_STREET,
            "city": "Springfield",
            "state_province": "IL",
            "postal_code": "62701",
        }
    ]


def with_public_office(record: dict[str, Any]) -> dict[str, Any]:
    """The control: the same record at a public office, whose address is listed."""
    record = copy.deepcopy(record)
    record["service"]["service_at_locations"] = [
        {"location": {"name": "Example public office", "addresses": canary_address()}}
    ]
    return record


async def build_directory(runtime: Runtime) -> None:
    await rebuild(
        runtime.store,
        runtime.pool,
        projection_factories(runtime.keyring, runtime.store)["directory"],
    )


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith(f"/{slug}"), problem
    return problem
