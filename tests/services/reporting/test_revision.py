"""Late data after a release: an audited revision that enters the ledger (its own module: it adds cases)."""

from __future__ import annotations

import json

import asyncpg

from events.store import PostgresEventStore
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.demo_bulk import seed_demo_bulk
from services.reporting.job import FederalReportJob
from tests.services.reporting.conftest import TODAY
from tests.services.reporting.support import audit_whole_ledger, counts_of, ledger_snapshot, stored_ledgers

PERIOD = "2026Q3"


def cells(document: dict) -> dict[tuple[str, str], int | None]:
    return {(t["name"], json.dumps(c["dims"], sort_keys=True)): c["count"]
            for t in document["tables"] for c in t["cells"]}


async def test_late_data_gives_an_audited_revision_that_enters_the_ledger(
        job: FederalReportJob, demo_store: PostgresEventStore, pool: asyncpg.Pool) -> None:
    original = await job.run(PERIOD)
    organisation = await job.run(PERIOD, "org-harbor")
    assert original["certificate"]["revision"] == 0

    # late data: more intakes, some dated in the released quarters, recorded after the release
    await seed_demo_bulk(demo_store, cases=120, seed=99, today=TODAY)
    await rebuild(demo_store, pool, projection_factories(demo_store._keyring, demo_store)["federal_inputs"])

    revision = await job.run(PERIOD)
    assert revision["certificate"]["revision"] == 1 and revision["certificate"]["audit"]["result"] == "passed"
    assert revision["certificate"]["ledger_hash"] != original["certificate"]["ledger_hash"]
    before, after = cells(original), cells(revision)
    assert before.keys() == after.keys()
    changed = [k for k in before if before[k] is not None and after[k] is not None and before[k] != after[k]]
    assert changed  # the late records show in the revised numbers
    assert not [v for v in counts_of(revision) if v is not None and 1 <= v <= 10]
    # differencing the revision against the original never yields a count 1..10 of late records
    assert not [k for k in changed if 1 <= abs(after[k] - before[k]) <= 10]

    releases = await pool.fetch("SELECT period, scope, revision FROM reporting_ledger.releases ORDER BY release_no")
    assert [tuple(r) for r in releases] == [(PERIOD, "all", 0), (PERIOD, "org-harbor", 0), (PERIOD, "all", 1)]
    ledgers = await stored_ledgers(pool)
    assert all(ledger.universe.dimension("vintage").codes == ("v0", "v1") for ledger in ledgers.values())
    assert await audit_whole_ledger(pool) == []

    # the original stays as released; re-running returns the revision and changes nothing
    stored = await pool.fetchval("SELECT document::text FROM reporting_ledger.releases WHERE revision = 0 "
                                 "AND scope = 'all'")
    assert json.loads(stored) == original
    snapshot = await ledger_snapshot(pool)
    assert await job.run(PERIOD) == revision
    assert await ledger_snapshot(pool) == snapshot
    # the organisation's release is revised on its own when asked for, against the same ledger
    revised_organisation = await job.run(PERIOD, "org-harbor")
    assert revised_organisation["certificate"]["revision"] == 1 and revised_organisation != organisation
    assert await audit_whole_ledger(pool) == []
