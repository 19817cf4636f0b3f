"""The change-in-outcome table is a table about people: per outcome domain, the consenting
clients served by how the domain changed (improved, same, worse, not measured), suppressed at
k = 11 with complements and held to the exact audit with the clients' other families through
the link. The control: the same table published as counted fails the audit. All synthetic."""

from __future__ import annotations

from typing import Any

import pytest

from domain.reporting.audit import audit
from domain.reporting.families import (
    FamilyState,
    family_tables,
    linked_families,
    protect_families,
)
from domain.reporting.federal_codebook import OUTCOME_CHANGES, OUTCOME_DOMAINS
from domain.reporting.federal_families import FAMILIES, MERGED_DIMS
from domain.reporting.inputs import GROUP_COLUMNS, LINK, InputsOutsideCodebook, count_inputs
from domain.reporting.periods import Period
from domain.reporting.suppression import publish
from domain.reporting.tables import Release
from services.reporting.document import cell_dims
from tests.domain.reporting.support import SOLVER

PERIOD = Period.parse("2025Q4")
ORGANISATIONS = ["org-a"]
TABLE = "tims_outcome_change"
SAFETY = next(f for f in FAMILIES if f.name == "outcome_safety")
HOUSING = next(f for f in FAMILIES if f.name == "outcome_housing_stability")
SERVED = next(f for f in FAMILIES if f.name == "served_victim_status")
K = 11


def clients(n: int, *, consent: bool = True) -> dict[str, Any]:
    """Aggregated input rows of `n` clients served in the quarter (adults, continuing)."""
    row: dict[str, Any] = {column: None for column in GROUP_COLUMNS}
    row |= {
        "organisation": "org-a", "quarter": PERIOD.label, "new_in_fiscal_year": True,
        "entered": False, "closed": False, "victim_status": "confirmed",
        "trafficking_type": "labor", "age_group": "adult", "age_band": "25-34",
        "gender": "woman", "citizenship": "foreign_national", "statistics_consent": consent,
        "served_by_another_agency": False, "enrolled_at_end": True,
        "obtained_continued_presence": False, "obtained_t_visa": False,
        "obtained_hhs_letter": False, "clients": n,
    }  # fmt: skip
    return row


def changes(domain: str, **counts: int) -> list[dict[str, Any]]:
    return [
        {"organisation": "org-a", "quarter": PERIOD.label, "domain": domain, "change": change,
         "clients": n}
        for change, n in counts.items()
    ]  # fmt: skip


SAFETY_ROWS = changes("safety", improved=30, same=15, worse=4, not_measured=11)
HOUSING_ROWS = changes("housing_stability", improved=20, same=20, worse=12, not_measured=8)
COUNTS = count_inputs(
    [clients(60), clients(25, consent=False)], [], [], [*SAFETY_ROWS, *HOUSING_ROWS]
)


def test_every_outcome_domain_is_a_linked_family_of_consenting_clients_served() -> None:
    families = [f for f in FAMILIES if f.population.startswith("outcome:")]
    assert [f.name for f in families] == [f"outcome_{d}" for d in OUTCOME_DOMAINS]
    assert all(f.linked and f.dimensions == ("outcome_change",) for f in families)
    assert SAFETY.link_codes({"outcome_change": "worse"}) == {"consent": "yes"}
    assert COUNTS["outcome_safety"] == {
        ("org-a", PERIOD.label, change): n
        for change, n in zip(OUTCOME_CHANGES, (30, 15, 4, 11), strict=True)
    }
    consent = 3  # the link's atoms: organisation, quarter, newness, consent, ...
    assert sum(n for key, n in COUNTS[LINK].items() if key[consent] == "yes") == 60
    with pytest.raises(InputsOutsideCodebook):
        count_inputs([], [], [], changes("safety", better=3))
    (table,) = family_tables(
        SAFETY, FamilyState(SAFETY, 2026).universe(ORGANISATIONS), PERIOD, ["org-a"]
    )
    assert MERGED_DIMS[TABLE] == "outcome_domain"
    assert cell_dims(SAFETY, table, ("worse",)) == {
        "outcome_domain": "safety",
        "outcome_change": "worse",
    }


def test_a_small_change_is_suppressed_with_a_complement_and_the_release_passes_the_audit() -> None:
    states = [FamilyState(f, PERIOD.fiscal_year) for f in (SERVED, SAFETY, HOUSING)]
    released = protect_families(
        states, COUNTS, PERIOD, "org-a", "2025Q4/org-a", SOLVER, ORGANISATIONS
    )
    cells = {fr.family.name: fr.publication.cells for fr in released}
    safety = cells["outcome_safety"]
    assert safety[(TABLE, ("worse",))] is None  # 4: primary suppression
    others = [(TABLE, (c,)) for c in ("improved", "same", "not_measured", "*")]
    assert any(safety[ref] is None for ref in others)  # and a complement
    assert cells["outcome_housing_stability"][(TABLE, ("*",))] == 60  # consenting clients served
    small = [v for c in cells.values() for v in c.values() if v is not None and 0 < v < K]
    assert small == []
    for state, fr in zip(states, released, strict=True):
        state.publications.append(fr.publication)
    assert [
        f.describe() for f in audit(linked_families(states, ORGANISATIONS), SOLVER).findings
    ] == []


def test_the_audit_catches_a_change_in_outcome_published_as_counted() -> None:
    """The control: the same table with every true count published fails the audit."""
    state = FamilyState(SAFETY, PERIOD.fiscal_year)
    universe = state.universe(ORGANISATIONS)
    truth = {
        (org, quarter, "v0", code): n for (org, quarter, code), n in COUNTS[SAFETY.name].items()
    }
    release = Release("2025Q4/org-a", "test", family_tables(SAFETY, universe, PERIOD, ["org-a"]))
    raw = publish(universe, universe.vector(truth), release, set())
    assert raw.cells[(TABLE, ("worse",))] == 4
    state.publications.append(raw)
    findings = audit(linked_families([state], ORGANISATIONS), SOLVER).findings
    assert any("derivable_small" in f.describe() for f in findings)  # the 4 who got worse
