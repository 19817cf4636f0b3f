"""An agency's year of quarterly reports: every quarter released in order, the roll-up and each
organisation, none refused as a whole. A cell that cannot be published safely — a funder's
mandatory total included — is withheld and listed, and an exact audit of everything released,
without the true counts, finds no count of 1..10 derivable.

The full tier releases all 32 (2024Q4–2026Q3, the roll-up and the three demo organisations);
the default tier the first quarter of fiscal year 2025 for the roll-up and two of the
organisations (3 releases), where the demo's young organisations are small and withholding is
frequent; later quarters on a ledger that holds earlier ones are the default tier's in
`test_federal_report` and the history bench. Its own module: it seeds
300 demo cases (150 in the default tier), and its ledger is its own.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import asyncpg
import pytest

import domain.reporting.families as families
from domain.reporting.suppression import Policy
from events.store import PostgresEventStore
from services.reporting.access import ReportRefused
from services.reporting.job import FederalReportJob
from tests.services.reporting.conftest import SOLVER, empty_ledger, reset_reporting, seeded_demo
from tests.services.reporting.support import audit_whole_ledger, counts_of
from tests.tiers import tiered

pytestmark = pytest.mark.slow

CASES = tiered(default=150, full=300)
QUARTERS = tiered(
    default=("2024Q4",),
    full=("2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3"),
)
# Each quarter's releases in order (None: the roll-up). The default tier begins with org-harbor:
# replayed without withholding a mandatory total, the sequence is then refused at its second
# release, the roll-up, sooner than when the roll-up comes first.
SCOPES = tiered(
    default=("org-harbor", None, "org-lantern"),
    full=(None, "org-harbor", "org-lantern", "org-meadow"),
)


@pytest.fixture(scope="module")
async def demo_store(pool: asyncpg.Pool, key_file) -> AsyncIterator[PostgresEventStore]:  # noqa: ANN001
    async with seeded_demo(pool, key_file, cases=CASES, seed=7) as store:
        yield store


async def test_every_quarterly_report_is_produced_with_its_withheld_cells_listed(
    demo_store: PostgresEventStore, pool: asyncpg.Pool, reporting_url: str
) -> None:
    await reset_reporting(pool)
    await empty_ledger(pool)
    job = FederalReportJob(reporting_url, solver=SOLVER)
    documents = [
        await job.run(quarter, scope) for quarter in QUARTERS for scope in SCOPES
    ]  # none refused

    assert len(documents) == len(QUARTERS) * len(SCOPES)
    withheld = 0
    for document in documents:
        assert not [v for v in counts_of(document) if v is not None and 1 <= v <= 10]
        listed = {
            (w["table"], tuple(sorted(w["dims"].items())))
            for w in document["certificate"]["withheld"]
        }
        marked = {
            (t["name"], tuple(sorted(c["dims"].items())))
            for t in document["tables"]
            for c in t["cells"]
            if c["status"] == "withheld"
        }
        assert listed == marked and all(
            c["count"] is None
            for t in document["tables"]
            for c in t["cells"]
            if c["status"] == "withheld"
        )
        withheld += len(listed)
    assert withheld  # mandatory totals the policy could not publish: withheld, the rest published
    assert all(
        any(c["status"] == "published" for t in d["tables"] for c in t["cells"])
        for d in documents
        if d["certificate"]["scope"] == "all"
    )  # a young agency may publish nothing
    # everything released, audited from scratch without the true counts: no count of 1..10
    # derivable ("pinned": a withheld cell whose value of k or more is known from the rest)
    assert [f for f in await audit_whole_ledger(pool) if " pinned " not in f] == []


async def test_control_without_withholding_a_mandatory_total_a_release_is_refused(
    demo_store: PostgresEventStore,
    pool: asyncpg.Pool,
    reporting_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same sequence under a policy that publishes every mandatory total whatever it costs:
    some release is refused as a whole."""
    monkeypatch.setattr(families, "Policy", functools.partial(Policy, withhold_mandatory=False))
    await reset_reporting(pool)
    await empty_ledger(pool)
    job = FederalReportJob(reporting_url, solver=SOLVER)
    with pytest.raises(ReportRefused):
        for quarter in QUARTERS:
            for scope in SCOPES:
                await job.run(quarter, scope)
