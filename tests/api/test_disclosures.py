"""The accounting of disclosures: every release of a case's data to another organisation is in
the case's access log as a disclosure (to whom, which categories, under which consent), told
apart from reads; decryptions no person asked for (a rebuild, `haven verify`) are recorded as
the system's, with their purpose.

Every value is synthetic.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from events.verify import verify_store
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.api.cases.schemas.examples import (
    GRANT_CONSENT_EXAMPLE,
    PROPOSE_REFERRAL_EXAMPLE,
    TRANSFER_CONSENT_EXAMPLE,
    UPDATE_REFERRAL_EXAMPLE,
)
from services.bootstrap import Runtime
from tests.api.test_case_command_routes import RECEIVING, People, at, people, prepared
from tests.api.test_case_routes import CANARY
from tests.api.test_transfer_requests import asked

REFERRAL = PROPOSE_REFERRAL_EXAMPLE["referral_id"]
__all__ = ["people"]  # the fixture: callers with a privacy officer


async def access_log(
    cases: httpx.AsyncClient, people: People, case_id: str
) -> list[dict[str, Any]]:
    response = await cases.get(f"/v1/cases/{case_id}/access-log", headers=people.privacy)
    assert response.status_code == 200, response.text
    assert CANARY not in response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


async def referred(cases: httpx.AsyncClient, people: People) -> tuple[str, int]:
    """A case with an external referral proposed under a consent, not yet sent."""
    return await prepared(
        cases,
        people,
        [("consents", GRANT_CONSENT_EXAMPLE), ("referrals", PROPOSE_REFERRAL_EXAMPLE)],
    )


async def test_a_sent_referral_is_a_disclosure_naming_recipient_categories_and_consent(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id, version = await referred(cases, people)
    # control: a proposal releases nothing yet
    assert not [r for r in await access_log(cases, people, case_id) if r["basis"] == "disclosure"]
    sent = await cases.post(
        f"/v1/cases/{case_id}/referrals/{REFERRAL}/status",
        json=UPDATE_REFERRAL_EXAMPLE,
        headers=at(people.worker, version),
    )
    assert sent.status_code == 200, sent.text
    disclosures = [
        r for r in await access_log(cases, people, case_id) if r["basis"] == "disclosure"
    ]
    assert len(disclosures) == 1
    (disclosure,) = disclosures
    assert disclosure["part"] == "referral" and disclosure["actor_id"] == "worker-1"
    assert disclosure["recipient"] == PROPOSE_REFERRAL_EXAMPLE["recipient"]
    assert disclosure["categories"] == sorted(PROPOSE_REFERRAL_EXAMPLE["released_categories"])
    assert disclosure["consent_id"] == GRANT_CONSENT_EXAMPLE["consent_id"]
    # the organisation's review finds it by basis; to whom and what stay sealed with the case
    reviewed = await cases.get(
        "/v1/access-log",
        headers=people.privacy,
        params={"case_id": case_id, "basis": "disclosure"},
    )
    assert reviewed.status_code == 200, reviewed.text
    (listed,) = reviewed.json()["records"]
    assert (listed["part"], listed["actor_id"]) == ("referral", "worker-1")
    assert PROPOSE_REFERRAL_EXAMPLE["recipient"] not in reviewed.text
    stored = await runtime.pool.fetchrow(
        "SELECT * FROM haven.access_records WHERE case_id = $1 AND basis = 'disclosure'",
        uuid.UUID(case_id),
    )
    assert PROPOSE_REFERRAL_EXAMPLE["recipient"] not in repr(dict(stored))
    assert stored["event_version"] == version + 1  # the event that sent it holds the rest


async def test_a_case_workers_read_does_not_look_like_a_disclosure(
    cases: httpx.AsyncClient, people: People
) -> None:
    case_id, _ = await referred(cases, people)
    assert (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).status_code == 200
    reads = [r for r in await access_log(cases, people, case_id) if r["actor_id"] == "worker-1"]
    assert reads and all(r["basis"] == "assignment" for r in reads)
    assert all(
        (r["recipient"], r["categories"], r["consent_id"], r["purpose"]) == (None,) * 4
        for r in reads
    )


async def test_a_rebuild_and_a_verify_are_recorded_as_the_systems_decryptions(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id, _ = await referred(cases, people)
    system = [r for r in await access_log(cases, people, case_id) if r["basis"] == "system"]
    assert system == []  # control: nothing of the system's yet
    factories = projection_factories(runtime.keyring, runtime.store)
    await rebuild(runtime.store, runtime.pool, factories["cases"])
    assert (await verify_store(runtime.pool, runtime.keyring)).ok
    system = [r for r in await access_log(cases, people, case_id) if r["basis"] == "system"]
    assert sorted((r["part"], r["purpose"]) for r in system) == [
        ("projection-rebuild", "cases"),
        ("verify", "integrity-check"),
    ]
    assert all(r["actor_id"] == "system" and r["role"] == "system" for r in system)


async def test_an_accepted_transfer_is_a_disclosure_and_a_declined_one_is_not(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    declined_case, declined, _ = await asked(cases, people, runtime)
    answer = {"declined_on": "2026-03-02", "reason": "No place this month"}
    refused = await cases.post(
        f"/v1/transfers/{declined}/decline", json=answer, headers=people.receiver
    )
    assert refused.status_code == 200, refused.text
    log = await access_log(cases, people, declined_case)
    assert not [r for r in log if r["basis"] == "disclosure"]  # control: nothing released
    case_id, transfer_id, _ = await asked(cases, people, runtime)
    accepted = await cases.post(
        f"/v1/transfers/{transfer_id}/acceptance",
        json={"accepted_on": "2026-03-02"},
        headers=people.receiver,
    )
    assert accepted.status_code == 201, accepted.text
    (disclosure,) = [
        r for r in await access_log(cases, people, case_id) if r["basis"] == "disclosure"
    ]
    assert disclosure["part"] == "transfer" and disclosure["recipient"] == RECEIVING
    assert disclosure["categories"] == sorted(TRANSFER_CONSENT_EXAMPLE["data_categories"])
    assert disclosure["consent_id"] == TRANSFER_CONSENT_EXAMPLE["consent_id"]
    assert disclosure["actor_id"] == f"transfer-to:{RECEIVING}"  # not one of its staff
