"""The outside review's revision attack, on its own scenario: demo data, a 12-client agency
(org-tiny: labour trafficking, intakes in February 2026) and a 35-client one (org-mono: sex
trafficking, women born in 1985, intakes in January 2026); the roll-ups of 2025Q4 and 2026Q1,
then 2026Q1 of org-harbor, org-tiny and org-mono; then a late record in org-harbor (a
16-year-old foreign-national man, trafficking type unknown, intake 3 and closure 20 March
2026) and the revisions of the 2026Q1 roll-up and of org-harbor.

What must hold: no cell of a revision differs from the original's by 1..10, and the exact
audit of everything released, without the true counts, finds no count of 1..10 derivable —
among them the pairs that differ in two dimensions, such as a revised all-clients total minus
the original's consenting-only total (the clients without consent plus the late record).
Control: the same originals, and revisions protected without those two-dimension pairs; the
audit with them finds a count of 1..10 that the outsider pins. The originals are made once per
run (the `releases` fixture) and their ledger restored for each test.

The full tier seeds the review's 300 demo cases and makes its releases; the default tier
seeds 120 and releases and revises org-harbor's 2026Q1 only (the same path, less solving).
Its own module: it seeds its own demo data, and its ledger is its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import msgspec
import pytest

import domain.reporting.publication_targets as publication_targets
import domain.reporting.suppression as suppression
from domain.case import commands as cmd
from events.store import PostgresEventStore
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.api.cases.schemas.requests import OpenCaseBody
from services.commands.use_cases import Actor
from services.demo.seeding import demo_use_cases
from services.reporting.job import FederalReportJob
from tests.services.reporting.conftest import (
    SOLVER,
    TODAY,
    reset_reporting,
    seeded_demo,
)
from tests.services.reporting.releases import Releases
from tests.services.reporting.support import audit_whole_ledger
from tests.tiers import scaled, tiered

pytestmark = pytest.mark.slow

CASES = scaled(default=120, full=300)
BEFORE = tiered(
    default=(("2026Q1", "org-harbor"),),
    full=(
        ("2025Q4", None),
        ("2026Q1", None),
        ("2026Q1", "org-harbor"),
        ("2026Q1", "org-tiny"),
        ("2026Q1", "org-mono"),
    ),
)
REVISED = tiered(
    default=(("2026Q1", "org-harbor"),), full=(("2026Q1", None), ("2026Q1", "org-harbor"))
)


def intake(
    day: dt.date, born: dt.date, gender: str, citizenship: str, kind: str, worker: str
) -> dict[str, Any]:
    return {
        "intake": {
            "intake_on": day.isoformat(),
            "intake_type": "referral",
            "referral_on": day.isoformat(),
            "referral_source": "hotline",
            "matched_within_48h": True,
            "eligibility_status": "eligible",
        },
        "victim_status": {
            "status": "strong_indicators",
            "determined_on": day.isoformat(),
            "determined_by": worker,
        },
        "identity": {"preferred_name": "Synthetic Client", "date_of_birth": born.isoformat()},
        "demographics": {
            "gender_identity": gender,
            "lgbtq": "unknown",
            "race_ethnicity": ["not_reported"],
            "citizenship": citizenship,
            "preferred_language": "en",
            "interpreter_needed": False,
        },
        "trafficking": {"trafficking_type": kind},
    }


async def open_case(
    store: PostgresEventStore,
    organisation: str,
    body: dict[str, Any],
    closed_on: dt.date | None = None,
) -> None:
    worker = body["victim_status"]["determined_by"]
    actor, case_id = Actor(worker, organisation), str(uuid.uuid4())
    use_cases = demo_use_cases(store, TODAY)
    command = msgspec.convert(body, OpenCaseBody).command(
        case_id=case_id,
        organisation_id=organisation,
        worker_id=worker,
        team_id=f"team-{organisation}",
    )
    version = await use_cases.open_case(actor, command)
    day = dt.date.fromisoformat(body["intake"]["intake_on"])
    version = await use_cases.record_consent(
        actor, case_id, cmd.RecordStatisticsConsent(agrees=True, recorded_on=day), version
    )
    if closed_on is not None:
        await use_cases.close_case(
            actor,
            case_id,
            cmd.CloseCase(
                closed_on=closed_on, reason="goals_met", living_situation="with_family_friends"
            ),
            version,
        )


async def rebuild_inputs(store: PostgresEventStore, pool: asyncpg.Pool) -> None:
    await rebuild(store, pool, projection_factories(store._keyring, store)["federal_inputs"])


@pytest.fixture(scope="module")
async def scenario(
    pool: asyncpg.Pool, key_file
) -> AsyncIterator[tuple[PostgresEventStore, list[uuid.UUID]]]:  # noqa: ANN001
    """The demo data with org-tiny and org-mono, and the late record (its reporting subjects)."""
    async with seeded_demo(pool, key_file, cases=CASES, seed=7) as store:
        for i in range(12):
            await open_case(
                store,
                "org-tiny",
                intake(
                    dt.date(2026, 2, 2) + dt.timedelta(days=i),
                    dt.date(1980 + i, 5, 10),
                    "woman",
                    "foreign_national",
                    "labor",
                    "worker-tiny-1",
                ),
            )
        for i in range(35):
            await open_case(
                store,
                "org-mono",
                intake(
                    dt.date(2026, 1, 2) + dt.timedelta(days=i % 29),
                    dt.date(1985, 1, 3) + dt.timedelta(days=10 * i),
                    "woman",
                    "foreign_national",
                    "sex",
                    "worker-mono-1",
                ),
            )
        await rebuild_inputs(store, pool)
        before = {
            r[0] for r in await pool.fetch("SELECT DISTINCT subject FROM reporting.federal_inputs")
        }
        await open_case(
            store,
            "org-harbor",
            intake(
                dt.date(2026, 3, 3),
                dt.date(2009, 7, 14),
                "man",
                "foreign_national",
                "unknown",
                "worker-harbor-intake-1",
            ),
            closed_on=dt.date(2026, 3, 20),
        )
        await rebuild_inputs(store, pool)
        late = {
            r[0] for r in await pool.fetch("SELECT DISTINCT subject FROM reporting.federal_inputs")
        } - before
        assert len(late) == 1
        yield store, sorted(late)


async def released_and_revised(
    scenario: tuple[PostgresEventStore, list[uuid.UUID]],
    pool: asyncpg.Pool,
    reporting_url: str,
    releases: Releases,
    revision_patch: contextlib.AbstractContextManager[object] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The review's releases from an empty ledger before the late record arrived (its inputs
    set aside), then, with it, the revisions (made under `revision_patch` if given). The
    originals are made once per run (`releases`) and their ledger restored for the next test."""
    store, late = scenario
    await reset_reporting(pool)
    await pool.execute("DELETE FROM reporting.federal_inputs WHERE subject = ANY($1::uuid[])", late)
    job = FederalReportJob(reporting_url, solver=SOLVER)
    originals = await releases.after(pool, job, *BEFORE)
    await rebuild_inputs(store, pool)
    with revision_patch or contextlib.nullcontext():
        revisions = [await job.run(period, scope) for period, scope in REVISED]
    return originals, revisions


def cells(document: dict[str, Any]) -> dict[tuple[str, str], int | None]:
    return {
        (t["name"], json.dumps(c["dims"], sort_keys=True)): c["count"]
        for t in document["tables"]
        for c in t["cells"]
    }


async def test_the_reviews_revision_attack_finds_no_count_of_1_to_10(
    scenario: tuple[PostgresEventStore, list[uuid.UUID]],
    pool: asyncpg.Pool,
    reporting_url: str,
    releases: Releases,
) -> None:
    originals, revisions = await released_and_revised(scenario, pool, reporting_url, releases)
    assert [r["certificate"]["revision"] for r in revisions] == [1] * len(REVISED)
    first = {(d["period"], d["certificate"]["scope"]): d for d in originals}
    for revised in revisions:
        original = first[(revised["period"], revised["certificate"]["scope"])]
        before, after = cells(original), cells(revised)
        assert not [
            k
            for k in before
            if before[k] is not None
            and after[k] is not None
            and 1 <= abs(after[k] - before[k]) <= 10
        ]
    assert [f for f in await audit_whole_ledger(pool) if " pinned " not in f] == []


async def test_control_without_the_two_dimension_pairs_the_revision_gives_a_count_away(
    scenario: tuple[PostgresEventStore, list[uuid.UUID]],
    pool: asyncpg.Pool,
    reporting_url: str,
    releases: Releases,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await released_and_revised(
        scenario, pool, reporting_url, releases, without_the_pairs(monkeypatch)
    )
    findings = await audit_whole_ledger(pool)
    assert [f for f in findings if "derivable_small" in f and ("difference" in f or "change" in f)]


@contextlib.contextmanager
def without_the_pairs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The protection without the two-dimension pairs and without the revision's primary rule."""
    with monkeypatch.context() as patched:
        patched.setattr(publication_targets, "revised_differences", lambda *args: [])
        patched.setattr(suppression, "changed_little", lambda *args: False)
        yield
