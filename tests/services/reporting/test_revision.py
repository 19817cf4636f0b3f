"""Late data and corrections after a release: audited revisions that enter the ledger (its own
module: it adds, erases and corrects cases, so each test seeds the demo data afresh, and the
first release, made before the change, is the one every test of the run shares). The default
tier revises an organisation's release, the full tier the roll-up."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from domain.case.events import CaseOpened, StatisticsConsentRecorded
from domain.event import EventMetadata
from events.store import PostgresEventStore
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.demo.bulk import seed_demo_bulk
from services.reporting.job import FederalReportJob
from tests.services.reporting.conftest import TODAY, seeded_demo
from tests.services.reporting.releases import Releases
from tests.services.reporting.support import (
    audit_whole_ledger,
    counts_of,
    ledger_snapshot,
    stored_ledgers,
)
from tests.tiers import tiered

pytestmark = pytest.mark.slow

PERIOD = "2026Q3"
# The scope whose release is revised (None: the roll-up), and another released before the change
# and revised on its own after it. An organisation's revision takes the same path as the
# roll-up's (vintages, changes, the joint audit of the ledger) in a fraction of the solving.
REVISED, ALSO_RELEASED = tiered(default=("org-harbor", "org-meadow"), full=(None, "org-harbor"))
SCOPE = REVISED or "all"
# After the late-data revision, the full tier also revises the other release on its own and
# audits the whole stored ledger from scratch; each costs as much as the revision itself. The
# default tier leaves the first to the history bench (`test_report_bench`: it revises every
# scope of one ledger in turn) and the second to the erasure revision's test below (its ledger
# holds every vintage the late data gives, and one lifetime more).
LATE_DATA_IN_FULL = tiered(default=False, full=True)


@pytest.fixture
async def demo_store(pool: asyncpg.Pool, key_file) -> AsyncIterator[PostgresEventStore]:  # noqa: ANN001
    async with seeded_demo(pool, key_file) as store:
        yield store


def cells(document: dict) -> dict[tuple[str, str], int | None]:
    return {
        (t["name"], json.dumps(c["dims"], sort_keys=True)): c["count"]
        for t in document["tables"]
        for c in t["cells"]
    }


async def test_late_data_gives_an_audited_revision_that_enters_the_ledger(
    job: FederalReportJob, demo_store: PostgresEventStore, pool: asyncpg.Pool, releases: Releases
) -> None:
    original, other = await releases.after(pool, job, (PERIOD, REVISED), (PERIOD, ALSO_RELEASED))
    assert original["certificate"]["revision"] == 0

    # late data: more intakes, some dated in the released quarters, recorded after the release
    await seed_demo_bulk(demo_store, cases=120, seed=99, today=TODAY)
    await rebuild(
        demo_store, pool, projection_factories(demo_store._keyring, demo_store)["federal_inputs"]
    )

    revision = await job.run(PERIOD, REVISED)
    assert (
        revision["certificate"]["revision"] == 1
        and revision["certificate"]["audit"]["result"] == "passed"
    )
    assert revision["certificate"]["ledger_hash"] != original["certificate"]["ledger_hash"]
    before, after = cells(original), cells(revision)
    assert before.keys() == after.keys()
    changed = [
        k
        for k in before
        if before[k] is not None and after[k] is not None and before[k] != after[k]
    ]
    assert changed  # the late records show in the revised numbers
    assert not [v for v in counts_of(revision) if v is not None and 1 <= v <= 10]
    # differencing the revision against the original never yields a count 1..10 of late records
    assert not [k for k in changed if 1 <= abs(after[k] - before[k]) <= 10]

    releases = await pool.fetch(
        "SELECT period, scope, revision FROM reporting_ledger.releases ORDER BY release_no"
    )
    assert [tuple(r) for r in releases] == [
        (PERIOD, SCOPE, 0),
        (PERIOD, ALSO_RELEASED, 0),
        (PERIOD, SCOPE, 1),
    ]
    ledgers = await stored_ledgers(pool)
    assert all(  # the clients' families; the funnel's screenings had no late record
        ledger.universe.dimension("vintage").codes == ("v0", "v1")
        for (family, _), ledger in ledgers.items()
        if family != "identification"
    )

    # the original stays as released; re-running returns the revision and changes nothing
    stored = await pool.fetchval(
        "SELECT document::text FROM reporting_ledger.releases WHERE revision = 0 AND scope = $1",
        SCOPE,
    )
    assert json.loads(stored) == original
    snapshot = await ledger_snapshot(pool)
    assert await job.run(PERIOD, REVISED) == revision
    assert await ledger_snapshot(pool) == snapshot
    if LATE_DATA_IN_FULL:
        # the other release is revised on its own when asked for, against the same ledger
        revised_other = await job.run(PERIOD, ALSO_RELEASED)
        assert revised_other["certificate"]["revision"] == 1 and revised_other != other
        # one audit of the whole ledger, from scratch, at the end: a ledger with more published
        # numbers gives away at least what any part of it does, so this audit covers the ledger
        # as the first revision left it too
        assert await audit_whole_ledger(pool) == []


async def cases_of_the_fiscal_year(
    store: PostgresEventStore, pool: asyncpg.Pool, count: int, scope: str | None
) -> list[tuple[str, uuid.UUID, int]]:
    """`count` cases (tenant, stream, version) with an intake in the released fiscal year, of the
    organisation `scope` (None: any)."""
    found = []
    for row in await pool.fetch(
        "SELECT tenant_id, stream_id, version FROM haven.streams "
        "WHERE wrapped_key IS NOT NULL AND tenant_id = coalesce($1, tenant_id) "
        "ORDER BY stream_id",
        scope,
    ):
        opened = (await store.read_stream(row["tenant_id"], row["stream_id"]))[0].event
        if isinstance(opened, CaseOpened) and dt.date(
            2025, 10, 1
        ) <= opened.intake.intake_on < dt.date(2026, 7, 1):
            found.append((row["tenant_id"], row["stream_id"], row["version"]))
            if len(found) == count:
                return found
    raise AssertionError("the demo data has too few cases in the fiscal year")


async def test_erasures_and_withdrawn_consents_give_an_audited_revision_that_lowers_released_counts(
    job: FederalReportJob, demo_store: PostgresEventStore, pool: asyncpg.Pool, releases: Releases
) -> None:
    [original] = await releases.after(pool, job, (PERIOD, REVISED))
    inputs = await pool.fetchval("SELECT count(*) FROM reporting.federal_inputs")

    # after the release: three clients erased (crypto-shredded), three withdraw
    # consent to statistics
    cases = await cases_of_the_fiscal_year(demo_store, pool, 6, REVISED)
    for tenant, stream, _ in cases[:3]:
        await demo_store.shred(tenant, stream)
    for tenant, stream, version in cases[3:]:
        await demo_store.append(
            tenant,
            stream,
            version,
            [StatisticsConsentRecorded(agrees=False, recorded_on=TODAY)],
            EventMetadata(actor_id="synthetic-worker"),
        )
    await rebuild(
        demo_store, pool, projection_factories(demo_store._keyring, demo_store)["federal_inputs"]
    )
    assert await pool.fetchval("SELECT count(*) FROM reporting.federal_inputs") < inputs

    revision = await job.run(
        PERIOD, REVISED
    )  # released as a revision, not refused for a manual review
    assert (
        revision["certificate"]["revision"] == 1
        and revision["certificate"]["audit"]["result"] == "passed"
    )
    before, after = cells(original), cells(revision)
    assert before.keys() == after.keys()
    assert not [v for v in counts_of(revision) if v is not None and 1 <= v <= 10]
    # differencing the revision against the original never yields a change of 1..10 either way
    changed = [
        k
        for k in before
        if before[k] is not None and after[k] is not None and before[k] != after[k]
    ]
    assert not [k for k in changed if 1 <= abs(after[k] - before[k]) <= 10]

    # the ledger: versions counted by the original and gone since have their own lifetime (v0-1)
    ledgers = await stored_ledgers(pool)
    assert all(  # the clients' families; the funnel's screenings had no late record
        ledger.universe.dimension("vintage").codes == ("v0", "v1", "v0-1")
        for (family, _), ledger in ledgers.items()
        if family != "identification"
    )
    assert await audit_whole_ledger(pool) == []
    snapshot = await ledger_snapshot(pool)
    assert (
        await job.run(PERIOD, REVISED) == revision
    )  # re-running returns the revision and changes nothing
    assert await ledger_snapshot(pool) == snapshot
