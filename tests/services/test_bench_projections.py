"""`haven bench projections`: a tiny run against the test server, for shape and counts only.

Never an assertion on speed: what matters is that the seed came from the demo generator
(plus the team's reassignments), that every round of the rebuild applied exactly the events
of the log, that the team holds the open cases asked for, and that the throw-away database
is gone afterwards.
"""

from __future__ import annotations

import pytest

from domain.case.state import fold
from services.bench.projections import (
    FIGURES,
    TARGETS,
    TEAM,
    format_results,
    run_projections_bench,
    sized_plan,
    with_team,
)
from services.demo.plan import DEMO_TODAY
from tests.services.bench_support import assert_scratch_database_dropped

pytestmark = pytest.mark.bench

EVENTS, TEAM_CASES, WORKERS = 300, 12, 3


async def test_a_tiny_run_rebuilds_every_event_and_drops_its_database(database_url: str) -> None:
    notes: list[str] = []
    results = await run_projections_bench(
        database_url,
        events=EVENTS,
        team_cases=TEAM_CASES,
        team_workers=WORKERS,
        rebuild_rounds=2,
        seconds=0.3,
        warmup=0.0,
        rounds=2,
        rebuild_workers=2,
        progress=notes.append,
    )

    plan, _ = sized_plan(EVENTS, TEAM_CASES, seed=7, today=DEMO_TODAY)
    expected_events = plan.summary.events + TEAM_CASES  # one CaseAssigned per reassigned case
    assert plan.summary.events >= EVENTS
    assert tuple(results) == FIGURES == ("rebuild", "team_caseload")

    rebuild = results["rebuild"]
    assert set(rebuild) == {"value", "unit", "raw", "ratio", "events", "workers"}
    assert (
        rebuild["unit"] == "ev/s"
        and rebuild["events"] == expected_events
        and rebuild["workers"] == 2
    )
    assert rebuild["value"] > 0 and rebuild["raw"] > 0
    assert rebuild["ratio"] == pytest.approx(rebuild["value"] / rebuild["raw"])

    caseload = results["team_caseload"]
    assert set(caseload) == {
        "value",
        "unit",
        "raw",
        "ratio",
        "p50_ms",
        "p99_ms",
        "raw_p50_ms",
        "raw_p99_ms",
        "queries",
        "rows",
    }
    assert caseload["unit"] == "q/s" and caseload["rows"] == TEAM_CASES and caseload["queries"] > 0
    assert caseload["ratio"] == pytest.approx(caseload["value"] / caseload["raw"])
    assert (
        0 < caseload["p50_ms"] <= caseload["p99_ms"]
        and 0 < caseload["raw_p50_ms"] <= caseload["raw_p99_ms"]
    )
    assert any(note.startswith(f"seeded {expected_events:,} events") for note in notes)
    assert f"team_caseload: {TEAM_CASES:,} open cases, {WORKERS} workers" in " ".join(notes)

    await assert_scratch_database_dropped(database_url, notes)

    tables = format_results(results).split("\n\n")
    assert len(tables) == 2
    assert (
        "ours (ev/s)" in tables[0]
        and "rebuild" in tables[0]
        and f">= {TARGETS['rebuild']:.2f}" in tables[0]
    )
    assert "ours (q/s)" in tables[1] and "team_caseload" in tables[1] and "p99 ms" in tables[1]


def test_the_team_is_made_of_open_cases_reassigned_at_the_end_of_their_scripts() -> None:
    plan, opened = sized_plan(EVENTS, TEAM_CASES, seed=7, today=DEMO_TODAY)
    assert len(opened) >= TEAM_CASES
    scripts = with_team(plan, opened[:TEAM_CASES], workers=WORKERS)
    assert len(scripts) == len(plan.scripts)
    added = [
        step
        for script, original in zip(scripts, plan.scripts, strict=True)
        for step in script[len(original) :]
    ]
    assert sorted(step.case_id for step in added) == sorted(opened[:TEAM_CASES])
    assert {step.command.team_id for step in added} == {TEAM}
    assert len({step.command.worker_id for step in added}) == WORKERS
    for step in added:
        state = fold(enumerate(plan.streams[("org-harbor", step.case_id)], start=1))
        assert state.closure is None and step.expected_version == state.version
