"""The "served by another agency" flag (GBVIMS) per intake: the `intake_origins` projection
and its counts per organisation (the flag's rule: `domain.reporting.unduplicated`)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import msgspec

from events.store import PostgresEventStore
from projections.intake_origins import OrganisationClients, clients_by_organisation
from projections.rebuild import rebuild
from services.api.cases.schemas.examples import OPEN_CASE_EXAMPLE
from services.api.cases.schemas.requests import OpenCaseBody
from services.commands.ports import Actor
from services.commands.use_cases import CaseUseCases

ORG_A, ORG_B = "org-origins-a", "org-origins-b"


async def intake(
    store: PostgresEventStore, org: str, *, elsewhere: bool, on: str = "2026-01-05"
) -> uuid.UUID:
    body: dict[str, Any] = copy.deepcopy(OPEN_CASE_EXAMPLE)
    body["intake"].update(intake_on=on, served_by_another_agency=elsewhere)
    case_id = uuid.uuid4()
    command = msgspec.convert(body, OpenCaseBody).command(
        case_id=str(case_id), organisation_id=org, worker_id="worker-1", team_id="team-1"
    )
    await CaseUseCases(store).open_case(Actor("worker-1", org), command)
    return case_id


async def test_the_projection_counts_each_organisation_s_intakes_and_flags(
    case_store, factories
) -> None:
    for _ in range(3):
        await intake(case_store, ORG_A, elsewhere=False)
    await intake(case_store, ORG_B, elsewhere=False)
    flagged = await intake(case_store, ORG_B, elsewhere=True)
    await intake(case_store, ORG_B, elsewhere=True, on="2026-04-02")  # another quarter
    await rebuild(case_store, case_store.pool, factories["intake_origins"])
    counts = await clients_by_organisation(case_store.pool, "2026Q1")
    assert counts == [OrganisationClients(ORG_A, 3, 0), OrganisationClients(ORG_B, 2, 1)]
    columns = {
        row[0]
        for row in await case_store.pool.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'views'"
            " AND table_name LIKE 'intake_origins_g%'"
        )
    }
    assert columns == {"tenant_id", "case_id", "intake_quarter", "served_by_another_agency"}
    # erased with the case: its flag leaves the roll-up
    await case_store.shred(ORG_B, flagged)
    await rebuild(case_store, case_store.pool, factories["intake_origins"])
    assert (await clients_by_organisation(case_store.pool, "2026Q1"))[1] == (ORG_B, 1, 0)
