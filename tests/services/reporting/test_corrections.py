"""Attack of REFERENCE §3: *differencing a revision against the original*, when a correction
lowers a released count (§3.7: corrections go out as audited revisions that enter the ledger).

After a quarter is released, one consenting client withdraws consent to statistics, one is
erased, one's trafficking type is corrected, and 12 late intakes arrive. The revision must be
released (not refused), true today, and audited with the original: the change of a cell between
the two releases is a count of records erased, corrected or added late, and a change of 1..10
either way is as revealing as a cell of 1..10. Control: the same revision audited without the
changes (`Ledger.changes` unset): it passes its own audit, publishes cells that went down by
one, and the outsider who holds both releases finds the change.

Synthetic aggregated inputs (no database), one organisation in the first quarter of a fiscal
year: 20 consenting women (sex trafficking), 20 consenting men (labour), 15 consenting women
(labour) and 15 clients without consent to statistics; all new, aged 25-34.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

import domain.reporting.publication_targets as publication_targets
import domain.reporting.suppression as suppression
from domain.reporting.audit import audit, ledger_system
from domain.reporting.families import FamilyState, protect_families, published_still_true
from domain.reporting.federal_codebook import OUTCOME_DOMAINS, SERVICE_CATEGORIES
from domain.reporting.federal_families import FAMILIES
from domain.reporting.inputs import BaseCounts, count_inputs
from domain.reporting.integer_programs import IntegerProgram
from domain.reporting.ledger import Ledger
from domain.reporting.periods import Period
from tests.services.reporting.conftest import SOLVER
from tests.services.reporting.linked_control import joint

pytestmark = pytest.mark.slow

ORG, QUARTER = "org-synthetic", "2025Q4"
PERIOD = Period.parse(QUARTER)


def clients(count: int, *, consent: bool = True, sex: bool, woman: bool) -> dict[str, Any]:
    return {
        "organisation": ORG,
        "quarter": QUARTER,
        "new_in_fiscal_year": True,
        "entered": False,
        "entry_type": None,
        "closed": False,
        "closure_reason": None,
        "living_situation": None,
        "referred_on": None,
        "victim_status": "confirmed" if sex else "strong_indicators",
        "trafficking_type": "sex" if sex else "labor",
        "age_group": "adult",
        "age_band": "25-34",
        "gender": "woman" if woman else "man",
        "citizenship": "foreign_national",
        "statistics_consent": consent,
        "served_by_another_agency": False,
        "enrolled_at_end": True,
        "obtained_continued_presence": False,
        "obtained_t_visa": False,
        "obtained_hhs_letter": False,
        "clients": count,
    }


RELEASED = [
    clients(20, sex=True, woman=True),
    clients(20, sex=False, woman=False),
    clients(15, sex=False, woman=True),
    clients(15, consent=False, sex=True, woman=True),
]
CORRECTED = [
    clients(19 + 1, sex=True, woman=True),  # one withdrew consent, one was reclassified here
    clients(19, sex=False, woman=False),  # one erased
    clients(14, sex=False, woman=True),  # one reclassified (labour -> sex)
    clients(16, consent=False, sex=True, woman=True),  # one withdrew consent
    clients(12, sex=True, woman=False),
]  # late intakes


def counts(rows: list[dict[str, Any]]) -> dict[str, BaseCounts]:
    consenting = sum(row["clients"] for row in rows if row["statistics_consent"])
    services = [
        {
            "organisation": ORG,
            "quarter": QUARTER,
            "code": code,
            "clients": consenting,
            "received": 0,
        }
        for code in SERVICE_CATEGORIES
    ]
    outcomes = [
        {"organisation": ORG, "quarter": QUARTER, "domain": domain, "change": "not_measured",
         "clients": consenting}
        for domain in OUTCOME_DOMAINS
    ]  # fmt: skip
    return count_inputs(rows, services, (), outcomes)


def release(states: dict[str, FamilyState], rows: list[dict[str, Any]], name: str) -> None:
    for released in protect_families(
        list(states.values()), counts(rows), PERIOD, ORG, name, SOLVER, [ORG]
    ):
        state = states[released.family.name]
        state.publications.append(released.publication)
        state.stored_universes.append({d.name: list(d.codes) for d in released.universe.dimensions})


def released_and_revised() -> dict[str, FamilyState]:
    states = {
        f.name: FamilyState(f, PERIOD.fiscal_year) for f in FAMILIES if f.population != "grant_year"
    }
    release(states, RELEASED, f"{QUARTER}/{ORG}")
    release(states, CORRECTED, f"{QUARTER}/{ORG}/r1")
    return states


def changes(
    states: dict[str, FamilyState],
) -> dict[tuple[str, str, tuple[str, ...]], tuple[int, int]]:
    """(family, table, cell) -> (original, revised) for every cell both releases published."""
    out = {}
    for name, state in states.items():
        if len(state.publications) < 2:
            continue
        original, revised = state.publications[-2], state.publications[-1]
        for ref, value in revised.cells.items():
            if value is not None and original.cells.get(ref) is not None:
                out[(name, *ref)] = (original.cells[ref], value)
    return out


def small_changes(states: dict[str, FamilyState]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        cell for cell, (before, after) in changes(states).items() if 1 <= abs(after - before) <= 10
    ]


def test_a_revision_that_lowers_released_counts_does_not_reveal_the_corrected_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Control: the revision protected without auditing the changes between releases.
    with monkeypatch.context() as patched:
        ledger = FamilyState.ledger
        patched.setattr(
            FamilyState,
            "ledger",
            lambda self, universe: Ledger(
                ledger(self, universe).universe, ledger(self, universe).publications
            ),
        )
        control = released_and_revised()
    assert small_changes(control)  # published as they are: counts that went down (or up) by one
    findings = audit(joint(control), SOLVER).findings
    assert findings and {f.kind for f in findings} == {"change"}

    states = released_and_revised()
    assert not small_changes(states)
    assert any(
        before != after for before, after in changes(states).values()
    )  # the late intakes' +11 is out
    today = counts(CORRECTED)
    for name, state in states.items():  # what the revision publishes is true today
        assert published_still_true(state.universe([ORG]), today[name], state.publications[-1])
    outsider = joint(states)
    assert outsider.blocks[0].universe.dimension("vintage").codes == ("v0", "v1", "v0-1")
    assert audit(outsider, SOLVER).ok


def test_a_second_correction_after_a_revision_opens_another_era_and_keeps_every_release_true() -> (
    None
):
    states = released_and_revised()
    # one of the late intakes (first counted by the revision) and one original client erased
    again = [*CORRECTED[:-1], clients(11, sex=True, woman=False)]
    again[0] = clients(19, sex=True, woman=True)
    release(states, again, f"{QUARTER}/{ORG}/r2")

    outsider = joint(states)
    assert outsider.blocks[0].universe.dimension("vintage").codes == (
        "v0",
        "v1",
        "v0-1",
        "v2",
        "v0-2",
        "v1-2",
    )
    assert audit(outsider, SOLVER).ok
    today = counts(again)
    for name, state in states.items():
        assert published_still_true(state.universe([ORG]), today[name], state.publications[-1])
    # each release counts the versions alive when it was made (selections:
    # organisation, quarter, vintage, ...)
    counted = [
        {selection[2] for selection in p.selections.values()}
        for p in outsider.blocks[0].publications
    ]
    assert counted == [
        {frozenset({"v0", "v0-1", "v0-2"})},
        {frozenset({"v0", "v1", "v0-2", "v1-2"})},
        {frozenset({"v0", "v1", "v2"})},
    ]


def entrants(
    count: int, *, dvht: bool, consent: bool, entered: bool = True, kind: str = "referral"
) -> dict[str, Any]:
    return {
        **clients(count, consent=consent, sex=True, woman=True),
        "entered": entered,
        "entry_type": kind if entered else None,
        "citizenship": "citizen_or_lpr" if dvht else "foreign_national",
    }


def test_a_revised_total_minus_the_originals_consenting_total_does_not_reveal_who_declined(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The attack: a revised all-clients total (every lifetime alive at the revision) minus the
    original's consenting-only breakdown total (the lifetimes alive at the original) is the
    clients without consent to statistics plus the late records — two cells that differ in two
    dimensions (the record vintage and the consent-gated category), which no single-dimension
    pair shows. Control: the same releases protected without those pairs publish such a
    difference, and the outsider's range of it lies in 1..10."""
    released = [
        entrants(17, dvht=True, consent=True),
        entrants(10, dvht=True, consent=False),
        entrants(40, dvht=False, consent=True),
        entrants(30, dvht=False, consent=True, kind="hotline"),
        entrants(1, dvht=False, consent=False),
        entrants(35, dvht=False, consent=True, entered=False),
    ]
    late = [*released, entrants(1, dvht=False, consent=True)]

    original = {
        f.name: FamilyState(f, PERIOD.fiscal_year) for f in FAMILIES if f.population != "grant_year"
    }
    release(original, released, f"{QUARTER}/{ORG}")

    def revised(states: dict[str, FamilyState]) -> dict[str, FamilyState]:
        release(states, late, f"{QUARTER}/{ORG}/r1")
        return states

    # the original is released once for both: from an empty ledger, it has no earlier release to
    # differ from, and it is the same with the pairs or without them
    with (
        monkeypatch.context() as patched
    ):  # without the pairs, and without the revision's primary rule
        patched.setattr(publication_targets, "revised_differences", lambda *args: [])
        patched.setattr(suppression, "changed_little", lambda *args: False)
        control = joint(revised(copy.deepcopy(original)))
    findings = audit(control, SOLVER).findings
    assert findings and {f.kind for f in findings} <= {"difference", "change"}
    system = ledger_system(control)
    for finding in findings:  # each is a count the outsider pins to 1..10 (or -10..-1)
        low, high = (
            sum(c * point[v] for v, c in finding.target.terms)
            for point in (
                SOLVER.solve(IntegerProgram(system, (), finding.target.terms, maximise=m))
                for m in (False, True)
            )
        )
        assert 1 <= low <= high <= 10 or -10 <= low <= high <= -1

    assert audit(joint(revised(original)), SOLVER).ok
