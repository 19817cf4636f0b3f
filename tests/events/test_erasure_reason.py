"""An erasure's ground on its access record (migration 0012): a code, on an erasure's record
only, listed by the organisation's access review; the table refuses anything else."""

from __future__ import annotations

import uuid

import pytest

from events.access_log import AccessNotRecorded, access_review, record_access

ORG = "org-erasure-reason"


async def record(pool, case_id: uuid.UUID, part: str, reason: str | None) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await record_access(
            conn,
            tenant_id=ORG,
            case_id=case_id,
            actor_id="privacy-1",
            role="privacy_officer",
            part=part,
            basis="privacy-review",
            reason=reason,
        )


async def test_an_erasures_ground_is_kept_on_its_record_and_reviewed(store) -> None:
    case_id = uuid.uuid4()
    await record(store.pool, case_id, "access-log", None)
    await record(store.pool, case_id, "erasure", "survivor-request")
    reviewed = await access_review(store.pool, ORG, case_id=case_id)
    assert [(r.part, r.reason) for r in reviewed] == [
        ("erasure", "survivor-request"),
        ("access-log", None),
    ]


@pytest.mark.parametrize(
    ("part", "reason"),
    [
        ("full", "survivor-request"),  # a ground on a record that is not an erasure
        ("erasure", "Synthetic Name asked for it"),  # free text, which could name the survivor
        ("erasure", ""),
    ],
)
async def test_the_table_refuses_a_ground_that_is_not_an_erasures_code(
    store, part: str, reason: str
) -> None:
    with pytest.raises(AccessNotRecorded):
        await record(store.pool, uuid.uuid4(), part, reason)
