"""The identification funnel is a table about people: k = 11, complementary suppression and the
exact audit over every release of it, revisions included. The activity measures are not about
people: published as counted."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.reporting.activity_measures import ACTIVITY_TABLES, activity_tables
from domain.reporting.audit import audit
from domain.reporting.families import (
    FamilyRelease,
    FamilyState,
    family_tables,
    linked_families,
    protect_families,
)
from domain.reporting.federal_codebook import SCREENING_CODES, SENSITIVE
from domain.reporting.federal_families import FAMILIES
from domain.reporting.inputs import BaseCounts
from domain.reporting.periods import Period
from domain.reporting.stored import publication_to_json, stored_universe
from domain.reporting.suppression import publish
from domain.reporting.tables import Release
from tests.domain.reporting.support import SOLVER
from tests.tiers import scaled

FUNNEL = next(f for f in FAMILIES if f.name == "identification")
ORGANISATIONS = ("org-a", "org-b")
FIRST, SECOND = Period.parse("2025Q4"), Period.parse("2026Q1")  # fiscal year 2026
K = 11

counts_of_codes = st.lists(
    st.one_of(st.integers(0, 3), st.integers(0, 25)),
    min_size=len(SCREENING_CODES),
    max_size=len(SCREENING_CODES),
)


def _counts(quarter: str, numbers: dict[str, list[int]]) -> dict[str, BaseCounts]:
    base = {
        (org, quarter, code): n
        for org, values in numbers.items()
        for code, n in zip(SCREENING_CODES, values, strict=True)
        if n
    }
    return {FUNNEL.name: base}


def _merge(*parts: dict[str, BaseCounts]) -> dict[str, BaseCounts]:
    merged: BaseCounts = {}
    for part in parts:
        for key, n in part[FUNNEL.name].items():
            merged[key] = merged.get(key, 0) + n
    return {FUNNEL.name: dict(sorted(merged.items()))}


def _release(
    state: FamilyState, counts: dict[str, BaseCounts], period: Period, scope: str, name: str
) -> FamilyRelease:
    (released,) = protect_families(
        [state], counts, period, scope, name, SOLVER, list(ORGANISATIONS)
    )
    state.publications.append(released.publication)
    state.stored_universes.append(
        stored_universe(publication_to_json(released.universe, released.publication))
    )
    return released


def _outsider_findings(state: FamilyState) -> list[str]:
    """Audit every release of the funnel from scratch, as an outsider holding all of them."""
    linked = linked_families([state], list(ORGANISATIONS))
    return [f.describe() for f in audit(linked, SOLVER).findings]


def _published_small(released: FamilyRelease) -> list[int]:
    return [v for v in released.publication.cells.values() if v is not None and 0 < v < K]


@pytest.mark.fuzz
@settings(
    max_examples=scaled(default=6, full=25),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(counts_of_codes, counts_of_codes, counts_of_codes, st.integers(1, 4))
def test_every_funnel_release_and_its_revision_pass_the_exact_audit(
    first_a: list[int], first_b: list[int], second_a: list[int], late: int
) -> None:
    state = FamilyState(FUNNEL, FIRST.fiscal_year)
    original = _counts(FIRST.label, {"org-a": first_a, "org-b": first_b})
    releases = [
        _release(state, original, FIRST, "org-a", "2025Q4/org-a"),
        _release(state, original, FIRST, "all", "2025Q4/all"),
    ]
    later = _merge(original, _counts(SECOND.label, {"org-a": second_a, "org-b": first_b}))
    releases.append(_release(state, later, SECOND, "all", "2026Q1/all"))
    # late screenings of a released quarter: the re-run of 2025Q4 is a revision
    arrived = [0] * len(SCREENING_CODES)
    arrived[SCREENING_CODES.index("confirmed/client_served")] = late
    revised = _merge(later, _counts(FIRST.label, {"org-a": arrived}))
    releases.append(_release(state, revised, FIRST, "all", "2025Q4/all/r1"))
    for released in releases:
        assert _published_small(released) == []
    assert _outsider_findings(state) == []
    original_total = releases[1].publication.cells[("identification_funnel", ("*",))]
    revised_total = releases[3].publication.cells[("identification_funnel", ("*",))]
    if original_total is not None and revised_total is not None:
        assert not 0 < abs(revised_total - original_total) < K  # the late screenings stay hidden


def test_a_small_stage_is_suppressed_with_a_complement_and_the_funnel_stays_in_step() -> None:
    numbers = [0] * len(SCREENING_CODES)
    numbers[SCREENING_CODES.index("no_indicators/not_client")] = 40
    numbers[SCREENING_CODES.index("indicators_present/not_client")] = 25
    numbers[SCREENING_CODES.index("strong_indicators/client")] = 20
    numbers[SCREENING_CODES.index("confirmed/client_served")] = 4  # confirmed: 4, small
    state = FamilyState(FUNNEL, FIRST.fiscal_year)
    counts = _counts(FIRST.label, {"org-a": numbers})
    released = _release(state, counts, FIRST, "org-a", "2025Q4/org-a")
    cells = released.publication.cells
    assert cells[("tims_screening_results", ("confirmed",))] is None  # 4: primary
    # the total and the other results would give it away: something else goes with it
    others = [("tims_screening_results", (r,)) for r in ("no_indicators", "indicators_present")]
    others += [("tims_screening_results", ("strong_indicators",))]
    others += [("tims_screening_results", ("*",))]
    assert any(cells[ref] is None for ref in others)
    assert cells[("identification_funnel", ("received_services",))] is None  # 4
    assert _outsider_findings(state) == []


def test_the_audit_catches_a_funnel_stage_published_unsuppressed() -> None:
    """The control: the same release with every true count published fails the audit."""
    numbers = [0] * len(SCREENING_CODES)
    numbers[SCREENING_CODES.index("no_indicators/not_client")] = 40
    numbers[SCREENING_CODES.index("confirmed/client_served")] = 4
    state = FamilyState(FUNNEL, FIRST.fiscal_year)
    universe = state.universe(ORGANISATIONS)
    counts = {
        (org, FIRST.label, "v0", code): n
        for (org, _, code), n in _counts(FIRST.label, {"org-a": numbers})[FUNNEL.name].items()
    }
    release = Release("2025Q4/org-a", "test", family_tables(FUNNEL, universe, FIRST, ["org-a"]))
    raw = publish(universe, universe.vector(counts), release, set())
    assert raw.cells[("identification_funnel", ("received_services",))] == 4
    state.publications.append(raw)
    findings = _outsider_findings(state)
    assert any("identification_funnel" in f for f in findings)


def test_the_screening_result_is_sensitive_and_the_funnel_stages_overlap() -> None:
    state = FamilyState(FUNNEL, FIRST.fiscal_year)
    results, funnel = family_tables(FUNNEL, state.universe(ORGANISATIONS), FIRST, ["org-a"])
    assert "screening_result" in SENSITIVE and results.sensitive == {"screening_result"}
    assert results.by[0].partition and not funnel.by[0].partition
    stages = dict(funnel.by[0].groups)
    assert stages["received_services"] < stages["became_client"]
    assert stages["strong_or_confirmed"] < stages["indicators_present"]


def _activity(org: str, kind: str, sector: str | None, n: int, people: int, hours: float) -> dict:
    return {
        "organisation": org,
        "quarter": "2026Q1",
        "kind": kind,
        "sector": sector,
        "activities": n,
        "participants": people,
        "hours": hours,
    }


def test_training_participants_are_published_as_counted_without_suppression() -> None:
    rows = [
        _activity("org-a", "training", None, 1, 5, 2.5),  # one training, 3 police and 2 nurses
        _activity("org-a", "training", "law_enforcement", 1, 3, 2.5),
        _activity("org-a", "training", "health_care", 1, 2, 2.5),
        _activity("org-b", "training", None, 2, 40, 6.0),
        _activity("org-b", "training", "law_enforcement", 2, 40, 6.0),
        _activity("org-a", "technical_assistance", None, 1, 1, 1.25),
        _activity("org-a", "training", None, 9, 99, 9.0) | {"quarter": "2026Q2"},  # not counted
    ]
    trainings, outreach, assistance = activity_tables(rows, "2026Q1", {"org-a"})
    assert [t.name for t in ACTIVITY_TABLES] == [
        t["name"] for t in (trainings, outreach, assistance)
    ]
    cells = {tuple(c["dims"].values()): c for c in trainings["cells"]}
    assert cells[("law_enforcement", "people_trained")]["count"] == 3  # below k: published
    assert cells[("health_care", "trainings")]["count"] == 1
    assert cells[("total", "trainings")]["count"] == 1  # the training once
    assert cells[("total", "people_trained")]["count"] == 5
    assert cells[("total", "hours")]["count"] == 2.5
    assert cells[("education", "people_trained")]["count"] == 0  # every sector, zeros included
    assert {c["status"] for t in (trainings, outreach, assistance) for c in t["cells"]} == {
        "published"
    }
    assert {tuple(c["dims"].values()): c["count"] for c in assistance["cells"]} == {
        ("deliveries",): 1,
        ("recipients",): 1,
        ("hours",): 1.25,
    }
    rolled_up = {
        tuple(c["dims"].values()): c["count"]
        for c in activity_tables(rows, "2026Q1", None)[0]["cells"]
    }
    assert rolled_up[("law_enforcement", "people_trained")] == 43
    assert rolled_up[("total", "trainings")] == 3


def test_activity_tables_are_in_no_family_and_the_funnel_is() -> None:
    family_tables_ = {spec.name for family in FAMILIES for spec in family.tables}
    assert {"tims_screening_results", "identification_funnel"} <= family_tables_
    assert not {t.name for t in ACTIVITY_TABLES} & family_tables_
    assert not FUNNEL.linked and all(f.linked for f in FAMILIES if f is not FUNNEL)
