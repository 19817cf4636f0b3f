"""The federal reporting job end to end: demo data -> federal_inputs ->
protected, recorded releases.

All data is the demo generator's (synthetic). The ledger is emptied before each test; the
demo log and the projection are built once per module (conftest). A sequence of releases is
made once per run (`releases`) and its ledger restored for the next test that needs it; the
tests about the computation itself (determinism, the role it runs as) run the job.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import asyncpg
import pytest

from domain.reporting.activity_measures import ACTIVITY_TABLES
from domain.reporting.federal_codebook import OUTCOME_CHANGES, OUTCOME_DOMAINS, VERSION
from domain.reporting.federal_families import FAMILIES, output_tables
from services.demo.generator import demo_plan
from services.reporting.access import InvalidPeriod, PeriodUnavailable
from services.reporting.document import render_csv
from services.reporting.job import FederalReportJob, code_version
from tests.services.reporting.conftest import CASES, SOLVER, TODAY, empty_ledger
from tests.services.reporting.releases import Releases
from tests.services.reporting.support import (
    audit_whole_ledger,
    counts_of,
    ledger_snapshot,
    scan_document,
    scan_text,
    transfers_served,
)
from tests.tiers import tiered

pytestmark = pytest.mark.slow

PERIOD = "2026Q3"  # the last quarter of FY2026: every table, grant-year ones included
RELEASED = ((PERIOD, None),)
ACTIVITY_NAMES = {table.name for table in ACTIVITY_TABLES}  # published as counted
MANDATORY_TABLES = {spec.name for family in FAMILIES for spec in family.tables if spec.mandatory}
WITH_AN_ORGANISATION = (*RELEASED, (PERIOD, "org-harbor"))
# a quarter and a year to date, roll-ups and organisations, each audited against the ones before
WITH_AN_EARLIER_QUARTER = (*WITH_AN_ORGANISATION, ("2026Q1", None))
FISCAL_YEAR = tiered(
    default=WITH_AN_EARLIER_QUARTER,
    full=(
        ("2025Q4", None),
        ("2026Q1", None),
        ("2026Q2", None),
        *WITH_AN_ORGANISATION,
        ("2026Q2", "org-lantern"),
    ),
)
HASH_SEEDS = tiered(default=("3",), full=("1", "3"))


async def identifiers(pool: asyncpg.Pool) -> set[str]:
    """Everything that identifies a person, a case or a worker in this database."""
    found = {str(r[0]) for r in await pool.fetch("SELECT stream_id FROM haven.streams")}
    found |= {str(r[0]) for r in await pool.fetch("SELECT subject FROM views.reporting_subjects")}
    found |= {r[0] for r in await pool.fetch("SELECT DISTINCT key_id FROM haven.streams")}
    plan = demo_plan(seed=5, cases=CASES, today=TODAY)
    found |= {step.actor.user_id for script in plan.scripts for step in script}
    return found


async def test_the_release_has_the_stable_shape_and_every_codebook_table(
    job: FederalReportJob, pool: asyncpg.Pool, releases: Releases
) -> None:
    [document] = await releases.after(pool, job, *RELEASED)
    assert set(document) == {"period", "codebook_version", "tables", "certificate"}
    assert document["period"] == PERIOD and document["codebook_version"] == VERSION
    assert [t["name"] for t in document["tables"]] == output_tables()
    for table in document["tables"]:
        assert {"name", "cells"} <= set(table) and table["cells"]
        dims = [tuple(sorted(cell["dims"])) for cell in table["cells"]]
        assert len(set(dims)) == 1  # every cell of a table has the same dimensions
        for cell in table["cells"]:
            assert set(cell) == {"dims", "count", "status"}
            hours = cell["dims"].get("measure") == "hours"  # an activity's quarter hours
            assert cell["count"] is None or (
                isinstance(cell["count"], (float if hours else int) | int) and cell["count"] >= 0
            )
            assert cell["status"] == (
                "published"
                if cell["count"] is not None
                else "withheld"
                if set(cell["dims"].values()) <= {"total"} and table["name"] in MANDATORY_TABLES
                else "suppressed"
            )
    certificate = document["certificate"]
    assert certificate["audit"]["result"] == "passed"
    assert certificate["codebook_version"] == VERSION and certificate["privacy_budget_spent"] == 0
    assert certificate["code_version"] == code_version() and certificate["code_version"]["package"]
    assert len(certificate["ledger_hash"]) == 64
    assert certificate["audit"]["families"] == len(FAMILIES)
    # zeros included: a category with no client is a cell too
    # (the roll-up has no 'not_assigned' program)
    entries = next(t for t in document["tables"] if t["name"] == "otip_program_entry")
    assert {c["dims"]["program"] for c in entries["cells"]} == {
        "tvap",
        "dvht",
        "not_assigned",
        "total",
    }
    # change in outcome: a block of cells per outcome domain, every change and a total each
    outcomes = next(t for t in document["tables"] if t["name"] == "tims_outcome_change")
    assert {
        (c["dims"]["outcome_domain"], c["dims"]["outcome_change"]) for c in outcomes["cells"]
    } == {(domain, change) for domain in OUTCOME_DOMAINS for change in (*OUTCOME_CHANGES, "total")}
    assert any(c["count"] for c in outcomes["cells"] if c["dims"]["outcome_change"] == "improved")
    # some numbers are published, some suppressed (the demo has small cells)
    values = list(counts_of(document))
    assert any(v is None for v in values) and sum(1 for v in values if v) > 50


async def test_the_roll_up_counts_a_client_served_by_two_organisations_once(
    job: FederalReportJob, pool: asyncpg.Pool, releases: Releases
) -> None:
    """A demo transfer in the quarter: the sender and the receiver both serve the person, the
    receiving intake is flagged (served by another agency). The roll-up publishes the
    consenting clients served by the flag, its "no" the unduplicated count."""
    [document] = await releases.after(pool, job, *RELEASED)
    table = next(t for t in document["tables"] if t["name"] == "tims_served_by_another_agency")
    cells = {c["dims"]["served_by_another_agency"]: c["count"] for c in table["cells"]}
    # (flag, consent) of the sending and the receiving case of each transfer in the quarter:
    # both serve the person in the quarter, and only the receiving intake is flagged
    flags = await transfers_served(pool, demo_plan(seed=5, cases=CASES, today=TODAY), PERIOD)
    assert flags and all(not sent[0] and got[0] for sent, got in flags)
    assert any(sent[1] and got[1] for sent, got in flags)  # consenting: in the table twice
    total, flagged = await pool.fetchrow(
        """SELECT count(*), count(*) FILTER (WHERE served_by_another_agency)
             FROM reporting.federal_inputs WHERE quarter = $1 AND statistics_consent""",
        PERIOD,
    )
    assert flagged >= 11 and cells == {"yes": flagged, "no": total - flagged, "total": total}


async def test_the_csv_has_one_file_per_table_with_the_same_numbers(
    job: FederalReportJob, pool: asyncpg.Pool, releases: Releases
) -> None:
    [document] = await releases.after(pool, job, *RELEASED)
    files = render_csv(document)
    assert set(files) == {f"{name}.csv" for name in output_tables()} | {"certificate.json"}
    for table in document["tables"]:
        rows = list(csv.DictReader(io.StringIO(files[f"{table['name']}.csv"])))
        assert len(rows) == len(table["cells"])
        for row, cell in zip(rows, table["cells"], strict=True):
            assert row["count"] == ("" if cell["count"] is None else str(cell["count"]))
            assert row["status"] == cell["status"]
            assert all(row[k] == v for k, v in cell["dims"].items())
            assert row["ledger_hash"] == document["certificate"]["ledger_hash"]
    assert json.loads(files["certificate.json"])["certificate"] == document["certificate"]


async def test_no_count_1_to_10_and_the_audit_of_the_whole_ledger_passes(
    job: FederalReportJob, pool: asyncpg.Pool, releases: Releases
) -> None:
    documents = await releases.after(pool, job, *FISCAL_YEAR)
    for document in documents:
        assert not [v for v in counts_of(document) if v is not None and 1 <= v <= 10]
        assert document["certificate"]["audit"]["result"] == "passed"
    # an independent audit of everything stored, without the true counts
    assert await audit_whole_ledger(pool) == []
    released = await pool.fetchval("SELECT count(*) FROM reporting_ledger.releases")
    assert released == len(documents)


async def test_the_minimum_reporting_unit_leaves_only_the_mandatory_total(
    job: FederalReportJob, pool: asyncpg.Pool, releases: Releases
) -> None:
    # org-meadow's closures in one quarter are below the minimum unit: only the grand total
    # (or nothing)
    [document] = await releases.after(pool, job, (PERIOD, "org-meadow"))
    for table in document["tables"]:
        if table["name"] in {
            "otip_closure_reason",
            "otip_closure_living_situation",
            "otip_closure_referred_on",
        }:
            total = next(c for c in table["cells"] if set(c["dims"].values()) == {"total"})
            if total["count"] is not None and total["count"] < 30:
                assert all(c["count"] is None for c in table["cells"] if c is not total)


async def test_no_identifier_hash_free_text_or_date_in_any_output(
    job: FederalReportJob, pool: asyncpg.Pool, releases: Releases
) -> None:
    known = await identifiers(pool)
    assert len(known) > CASES  # case ids, subjects, key ids and worker ids
    package = code_version()["package"]
    runs = WITH_AN_EARLIER_QUARTER
    for (_, org), document in zip(runs, await releases.after(pool, job, *runs), strict=True):
        scope = org or "all"
        assert scan_document(document, known, scope, package) == []
        certified = [
            document["certificate"]["ledger_hash"],
            document["certificate"]["code_version"]["commit"] or "",
        ]
        for name, text in render_csv(document).items():
            assert scan_text(text, known, allow=certified) == [], name


async def test_control_the_scan_catches_a_planted_identifier_hash_text_or_date(
    job: FederalReportJob, pool: asyncpg.Pool, releases: Releases
) -> None:
    known = await identifiers(pool)
    [document] = await releases.after(pool, job, *RELEASED)
    subject = str(await pool.fetchval("SELECT subject FROM views.reporting_subjects LIMIT 1"))
    worker = next(i for i in known if i.startswith("worker-"))
    plants = {
        "subject": lambda d: d["tables"][0]["cells"][0]["dims"].__setitem__("subject", subject),
        "worker": lambda d: d["tables"][1]["cells"][0]["dims"].__setitem__("gender", worker),
        "hash": lambda d: d["certificate"].__setitem__("note", "9f86d081884c7d659a2feaa0c55ad015"),
        "free text": lambda d: d["tables"][2]["cells"][0]["dims"].__setitem__(
            "note", "met at the bus station"
        ),
        "date": lambda d: d.__setitem__("period", "2026-08-14"),
        "hashed id": lambda d: d["certificate"].__setitem__("ledger_hash", "not a hash"),
    }
    package = code_version()["package"]
    assert scan_document(document, known, "all", package) == []
    for name, plant in plants.items():
        planted = json.loads(json.dumps(document))
        plant(planted)
        assert scan_document(planted, known, "all", package), name
    assert scan_text(f"x,{subject}\n", known) and scan_text("x,2026-07-01\n", known)


async def test_re_running_a_released_period_changes_nothing(
    job: FederalReportJob, pool: asyncpg.Pool, releases: Releases, reporting_url: str
) -> None:
    first, organisation = await releases.after(pool, job, *WITH_AN_ORGANISATION)
    before = await ledger_snapshot(pool)
    again = await job.run(PERIOD)
    again_organisation = await job.run(PERIOD, "org-harbor")
    assert json.dumps(again, sort_keys=True) == json.dumps(first, sort_keys=True)
    assert again == first and again_organisation == organisation
    assert await ledger_snapshot(pool) == before
    # a fresh job (another process) too
    assert await FederalReportJob(reporting_url).run(PERIOD) == first
    assert await ledger_snapshot(pool) == before


RELEASE_IN_A_FRESH_PROCESS = """
import asyncio, json, sys
from services.reporting.job import FederalReportJob

async def main():
    print(json.dumps(await FederalReportJob(sys.argv[1]).run(sys.argv[2]), sort_keys=True))

asyncio.run(main())
"""


async def test_the_same_data_gives_the_same_release_whatever_the_hash_order(
    job: FederalReportJob, pool: asyncpg.Pool, reporting_url: str, releases: Releases
) -> None:
    """What a release publishes depends on the data and the ledger alone: not on the process's
    string-hash order (sets and frozensets of codes), nor on the solver's time limit (the
    complement search is bounded in nodes, not seconds; this process's solver has a shorter
    time limit than the fresh process's default). Each fresh process releases from an empty
    ledger with another `PYTHONHASHSEED`."""
    documents = [
        json.dumps(document, sort_keys=True)
        for document in await releases.after(pool, job, *RELEASED)
    ]
    for seed in HASH_SEEDS:
        await empty_ledger(pool)
        fresh = subprocess.run(
            [sys.executable, "-c", RELEASE_IN_A_FRESH_PROCESS, reporting_url, PERIOD],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        documents.append(fresh.stdout.strip())
    assert len(documents) == 1 + len(HASH_SEEDS) and all(
        document == documents[0] for document in documents
    )


async def test_unavailable_and_invalid_periods_are_refused(
    job: FederalReportJob, pool: asyncpg.Pool
) -> None:
    with pytest.raises(PeriodUnavailable, match="still running"):
        await job.run("2026Q4")  # the horizon quarter
    with pytest.raises(PeriodUnavailable, match="horizon"):
        await job.run("2027Q1")
    for bad in ("2026Q5", "2026-07", "Q3", "", "2026Q3; DROP"):
        with pytest.raises(InvalidPeriod):
            await job.run(bad)
    with pytest.raises(PeriodUnavailable):
        await job.run(PERIOD, "org-nowhere")
    assert await pool.fetchval("SELECT count(*) FROM reporting_ledger.releases") == 0


# -- the reporting role ----------------------------------------------------------------------------


async def test_the_reporting_role_reads_the_reporting_schema_and_nothing_else(
    job: FederalReportJob, pool: asyncpg.Pool, releases: Releases
) -> None:
    await releases.after(pool, job, *RELEASED)
    forbidden = [
        "haven.events",
        "haven.streams",
        "haven.projection_checkpoints",
        "views.case_view",
        "views.caseload",
        "views.reporting_subjects",
    ]
    allowed = [
        "reporting.federal_inputs",
        "reporting.federal_service_categories",
        "reporting.federal_inputs_horizon",
        "reporting_ledger.releases",
        "reporting_ledger.publications",
    ]
    async with pool.acquire() as conn:
        # control: the application role reads all of it
        for table in forbidden + allowed:
            await conn.fetchval(f"SELECT count(*) FROM {table}")
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE haven_reporting")
            assert await conn.fetchval("SELECT current_user") == "haven_reporting"
            for table in allowed:
                await conn.fetchval(f"SELECT count(*) FROM {table}")
        for table in forbidden:
            async with conn.transaction():
                await conn.execute("SET LOCAL ROLE haven_reporting")
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.fetchval(f"SELECT count(*) FROM {table}")
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE haven_reporting")
            with pytest.raises(
                asyncpg.InsufficientPrivilegeError
            ):  # the ledger is append-only for it too
                await conn.execute("DELETE FROM reporting_ledger.releases")
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE haven_reporting")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(
                    "INSERT INTO reporting.federal_inputs_horizon (quarter) VALUES ('2030Q1')"
                )
        assert await conn.fetchval("SELECT current_user") != "haven_reporting"


async def test_the_job_itself_runs_as_the_reporting_role(
    pool: asyncpg.Pool, job: FederalReportJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    import services.reporting.job as module

    class CountsRead(Exception):
        """Raised once the counts are read: what follows (protection) is not what
        this test is about."""

    seen = []
    original = module.read_true_counts

    async def spy(conn, period, horizon):  # noqa: ANN001
        seen.append(await conn.fetchval("SELECT current_user"))
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with (
                conn.transaction()
            ):  # a savepoint: the failure does not end the job's transaction
                await conn.fetchval("SELECT count(*) FROM haven.events")
        assert await original(conn, period, horizon)  # and the counts themselves are readable
        raise CountsRead

    monkeypatch.setattr(module, "read_true_counts", spy)
    with pytest.raises(CountsRead):
        await job.run(PERIOD)
    assert seen == ["haven_reporting"]


async def test_the_hook_for_another_method_gives_every_cell_with_its_true_count(
    job: FederalReportJob, pool: asyncpg.Pool, releases: Releases
) -> None:
    from domain.reporting.periods import Period
    from services.reporting.true_counts import read_true_counts, true_tables

    [document] = await releases.after(pool, job, *RELEASED)
    async with pool.acquire() as conn:
        counts = await read_true_counts(conn, Period.parse(PERIOD), "2026Q4")
    truth = true_tables(Period.parse(PERIOD), "all", counts)
    about_people = [t for t in document["tables"] if t["name"] not in ACTIVITY_NAMES]
    assert [t["name"] for t in truth] == [t["name"] for t in about_people]
    for true_table, table in zip(truth, about_people, strict=True):
        assert [c["dims"] for c in true_table["cells"]] == [c["dims"] for c in table["cells"]]
        for true_cell, cell in zip(true_table["cells"], table["cells"], strict=True):
            assert cell["count"] is None or cell["count"] == true_cell["count"]
    assert any(
        c["count"] is None and 1 <= t_c["count"] <= 10
        for t, tt in zip(about_people, truth, strict=True)
        for c, t_c in zip(t["cells"], tt["cells"], strict=True)
    )


async def test_the_job_logs_in_as_the_reporting_role_and_cannot_escape_it(
    job: FederalReportJob,
    pool: asyncpg.Pool,
    database_url: str,
    reporting_url: str,
    releases: Releases,
) -> None:
    """Attack: from inside the reporting connection, RESET ROLE to reach the events, or lower a
    client's DP balance. The job logs in as haven_reporting itself, so there is no other role
    to go back to, and the budget ledger is read-only to it. Control: the application's own
    connection with the role merely set on it is undone by RESET ROLE."""
    conn = await asyncpg.connect(reporting_url)
    try:
        assert await conn.fetchval("SELECT session_user") == "haven_reporting"
        assert await conn.fetchval("SELECT count(*) FROM reporting.federal_inputs") > 0
        await conn.execute("RESET ROLE")
        for table in (
            "haven.events",
            "haven.streams",
            "views.case_view",
            "views.reporting_subjects",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetchval(f"SELECT count(*) FROM {table}")
        for statement in (
            "UPDATE dp.balances SET spent = 0",
            "DELETE FROM dp.spends",
            "INSERT INTO dp.balances VALUES (gen_random_uuid(), 0)",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
        with pytest.raises(
            asyncpg.CheckViolationError
        ):  # the owner's function charges, never refunds
            await conn.fetchval(
                "SELECT dp.record_release('x', '\\x00', '2026Q1', 'v', -1, '{}', '{}', "
                "NULL, NULL, NULL, 20)"
            )
    finally:
        await conn.close()
    app = await asyncpg.connect(database_url)
    try:  # control: a role set on the application's connection is one RESET ROLE from everything
        async with app.transaction():
            await app.execute("SET LOCAL ROLE haven_reporting")
            await app.execute("RESET ROLE")
            assert await app.fetchval("SELECT count(*) FROM haven.events") >= 0
    finally:
        await app.close()
    # a whole release through that login (an organisation's: the smallest), then the same
    # from the ledger
    document = await FederalReportJob(reporting_url, solver=SOLVER).run(PERIOD, "org-meadow")
    assert document == await job.run(PERIOD, "org-meadow")
    with pytest.raises(PeriodUnavailable):  # a URL of another role is refused
        await FederalReportJob(database_url).run(PERIOD)
    assert [document] == await releases.after(pool, job, (PERIOD, "org-meadow"))
