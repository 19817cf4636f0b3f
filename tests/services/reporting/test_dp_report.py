"""`haven report federal --dp-epsilon`: the quarter's tables with OpenDP noise, end to end on
demo data. The mechanism, the budget ledger and the cache are tested in test_dp.py; here: that
the job's rows reach them as the privacy policy says, and that nothing about a client leaves."""

from __future__ import annotations

import json
from decimal import Decimal

import asyncpg
import pytest

from domain.reporting.federal_codebook import CATEGORIES, VERSION
from domain.reporting.federal_families import FAMILIES
from domain.reporting.inputs import GROUP_COLUMNS
from services.reporting.document import render_csv
from services.reporting.dp import BudgetExhausted
from services.reporting.dp_report import dp_tables, run_dp_report
from services.reporting.job import FederalReportJob
from tests.services.reporting.support import scan_document
from tests.services.reporting.test_federal_report import PERIOD, identifiers

pytestmark = pytest.mark.slow


@pytest.fixture
async def dp_ledger(job: FederalReportJob, pool: asyncpg.Pool, reporting_url: str) -> str:
    """An empty DP ledger; the URL the DP mode logs in with."""
    await pool.execute("TRUNCATE dp.releases, dp.spends, dp.balances, dp.requester_spends")
    return reporting_url


async def test_a_dp_release_has_the_stable_shape_and_every_codebook_cell(dp_ledger: str) -> None:
    document = await run_dp_report(dp_ledger, PERIOD, epsilon=Decimal("1"))
    assert set(document) == {"period", "codebook_version", "tables", "certificate"}
    assert document["period"] == PERIOD and document["codebook_version"] == VERSION
    gender = next(t for t in document["tables"] if t["name"] == "tims_gender")
    assert {c["dims"]["gender"] for c in gender["cells"]} == set(
        CATEGORIES["gender"]
    )  # zeros included
    for table in document["tables"]:
        for cell in table["cells"]:
            assert isinstance(cell["count"], int) and cell["count"] >= 0  # noisy, never suppressed
    assert document["certificate"]["l1_sensitivity"] == len(
        document["tables"]
    )  # one row per client per table
    assert render_csv(document)["tims_gender.csv"].count("\n") == len(gender["cells"]) + 1


async def test_a_rerun_returns_the_same_numbers_and_spends_nothing(
    dp_ledger: str, pool: asyncpg.Pool
) -> None:
    first = await run_dp_report(dp_ledger, PERIOD, epsilon=Decimal("1"))
    spent = await pool.fetchval("SELECT sum(spent) FROM dp.balances")
    assert spent > 0
    assert await run_dp_report(dp_ledger, PERIOD, epsilon=Decimal("1")) == first
    assert await pool.fetchval("SELECT sum(spent) FROM dp.balances") == spent


async def test_a_client_out_of_budget_stops_the_release(dp_ledger: str, pool: asyncpg.Pool) -> None:
    """Control: the first release fits the budget; a second one (another organisation scope
    over the same clients) would exceed it and is refused."""
    await run_dp_report(dp_ledger, PERIOD, epsilon=Decimal("1"), per_client_budget=Decimal("1.5"))
    org = await pool.fetchval(
        "SELECT organisation FROM reporting.federal_inputs WHERE quarter = $1 LIMIT 1", PERIOD
    )
    with pytest.raises(BudgetExhausted):
        await run_dp_report(
            dp_ledger, PERIOD, org, epsilon=Decimal("1"), per_client_budget=Decimal("1.5")
        )


async def test_no_identifier_leaves_in_a_dp_release(dp_ledger: str, pool: asyncpg.Pool) -> None:
    document = await run_dp_report(dp_ledger, PERIOD, epsilon=Decimal("1"))
    known = await identifiers(pool)
    # the tables: only codes, fixed words and counts; the certificate: public parameters only
    assert [p for p in scan_document(document, known) if not p.startswith("certificate")] == []
    text = json.dumps(document).lower()
    assert not [i for i in known if i and i.lower() in text]


async def test_a_small_agency_gets_only_its_mandatory_totals_under_dp_too(
    dp_ledger: str, pool: asyncpg.Pool
) -> None:
    """Attack: a 12-client agency asked for a DP release and got every breakdown, where the
    suppression path gives it its mandatory totals only. Its clients are carved out of the real
    inputs here: every table is a mandatory table of one total cell. Control: the same tables
    over every client of the quarter break down by their categories."""
    rows = await pool.fetch(
        f"SELECT subject, {', '.join(GROUP_COLUMNS)} FROM reporting.federal_inputs "
        "WHERE quarter = $1 ORDER BY subject",
        PERIOD,
    )
    twelve = sorted({r["subject"] for r in rows})[:12]
    small = dp_tables([r for r in rows if r["subject"] in twelve])
    mandatory = {spec.name for family in FAMILIES for spec in family.tables if spec.mandatory}
    assert small and all(t.name in mandatory and len(t.codebook) == 1 for t in small)
    assert all(len(t.contributions) <= 12 for t in small)
    everyone = dp_tables(rows)
    assert any(len(t.codebook) > 1 for t in everyone)  # control: a unit large enough breaks down
    assert {t.name for t in everyone} > {t.name for t in small}
