"""Whether another agency served the client (GBVIMS) de-duplicates the roll-up: per scope, the
consenting clients served by "served by another agency" yes / no, whose roll-up "no" is the
unduplicated count. A table about people: k = 11 with complements and the exact audit with
the clients' other families through the link; the control publishes a small count as counted
and fails the audit. All synthetic."""

from __future__ import annotations

from typing import Any

from domain.reporting.audit import audit
from domain.reporting.families import (
    ROLL_UP,
    FamilyState,
    family_tables,
    linked_families,
    protect_families,
)
from domain.reporting.federal_codebook import WITHHELD
from domain.reporting.federal_families import FAMILIES
from domain.reporting.inputs import GROUP_COLUMNS, count_inputs
from domain.reporting.periods import Period
from domain.reporting.suppression import publish
from domain.reporting.tables import Release
from services.reporting.document import cell_dims
from tests.domain.reporting.support import SOLVER

PERIOD = Period.parse("2025Q4")
ORGANISATIONS = ["org-a", "org-b"]
TABLE = "tims_served_by_another_agency"
ELSEWHERE = next(f for f in FAMILIES if f.name == "served_elsewhere")
SERVED = next(f for f in FAMILIES if f.name == "served_victim_status")
K = 11


def clients(org: str, n: int, *, elsewhere: bool, consent: bool = True) -> dict[str, Any]:
    """Aggregated input rows of `n` clients of `org` served in the quarter (adults, new)."""
    row: dict[str, Any] = {column: None for column in GROUP_COLUMNS}
    row |= {
        "organisation": org, "quarter": PERIOD.label, "new_in_fiscal_year": True,
        "entered": False, "closed": False, "victim_status": "confirmed",
        "trafficking_type": "labor", "age_group": "adult", "age_band": "25-34",
        "gender": "woman", "citizenship": "foreign_national", "statistics_consent": consent,
        "served_by_another_agency": elsewhere, "enrolled_at_end": True,
        "obtained_continued_presence": False, "obtained_t_visa": False,
        "obtained_hhs_letter": False, "clients": n,
    }  # fmt: skip
    return row


def inputs(flagged: int) -> list[dict[str, Any]]:
    """org-a serves 40 consenting clients; org-b serves 25 and `flagged` more who say another
    agency (org-a) served them: the same people, counted by both."""
    return [
        clients("org-a", 40, elsewhere=False),
        clients("org-a", 12, elsewhere=False, consent=False),
        clients("org-b", 25, elsewhere=False),
        clients("org-b", flagged, elsewhere=True),
        clients("org-b", 12, elsewhere=True, consent=False),
    ]


def roll_up(flagged: int) -> dict[str, int | None]:
    """The roll-up's cells of the table, protected with the served family, audited."""
    states = [FamilyState(f, PERIOD.fiscal_year) for f in (SERVED, ELSEWHERE)]
    released = protect_families(
        states, count_inputs(inputs(flagged), []), PERIOD, ROLL_UP, "2025Q4/all", SOLVER,
        ORGANISATIONS,
    )  # fmt: skip
    for state, fr in zip(states, released, strict=True):
        state.publications.append(fr.publication)
    findings = audit(linked_families(states, ORGANISATIONS), SOLVER).findings
    assert [f.describe() for f in findings] == []
    cells = {fr.family.name: fr.publication.cells for fr in released}
    assert cells[SERVED.name][("tims_clients_served", ())] == 40 + 12 + 25 + flagged + 12
    small = [v for c in cells.values() for v in c.values() if v is not None and 0 < v < K]
    assert small == []
    elsewhere = cells[ELSEWHERE.name]
    return {code: elsewhere[(TABLE, (code,))] for code in ("yes", "no", "*")}


def test_the_flag_is_a_consent_gated_breakdown_of_the_clients_served() -> None:
    assert ELSEWHERE.population == "served" and ELSEWHERE.linked
    assert ELSEWHERE.consent_gated == ELSEWHERE.dimensions == ("served_by_another_agency",)
    assert ELSEWHERE.link_codes({"served_by_another_agency": "yes"}) == {"consent": "yes"}
    assert ELSEWHERE.link_codes({"served_by_another_agency": WITHHELD}) == {"consent": "no"}
    assert count_inputs(inputs(15), [])[ELSEWHERE.name] == {
        ("org-a", PERIOD.label, "no"): 40,
        ("org-a", PERIOD.label, WITHHELD): 12,
        ("org-b", PERIOD.label, "no"): 25,
        ("org-b", PERIOD.label, "yes"): 15,
        ("org-b", PERIOD.label, WITHHELD): 12,
    }
    universe = FamilyState(ELSEWHERE, PERIOD.fiscal_year).universe(ORGANISATIONS)
    (table,) = family_tables(ELSEWHERE, universe, PERIOD, ORGANISATIONS)
    assert sorted(table.keys()) == [("*",), ("no",), ("yes",)]  # three cells a scope
    assert cell_dims(ELSEWHERE, table, ("no",)) == {"served_by_another_agency": "no"}


def test_the_roll_up_counts_a_client_served_by_two_organisations_once() -> None:
    """80 consenting clients reported by the two organisations, 15 of them counted by both:
    the roll-up publishes 65 people counted once, between 65 and 80 people in all."""
    assert roll_up(15) == {"yes": 15, "no": 65, "*": 80}


def test_a_small_count_of_clients_served_elsewhere_is_suppressed_with_its_complement() -> None:
    """4 flagged: 'yes' is suppressed, and 'no' with it — the consenting total is published,
    so 'no' would give 'yes' away."""
    assert roll_up(4) == {"yes": None, "no": None, "*": 69}


def test_the_audit_catches_the_count_of_clients_served_elsewhere_published_as_counted() -> None:
    """The control: the same table with every true count published fails the audit."""
    state = FamilyState(ELSEWHERE, PERIOD.fiscal_year)
    universe = state.universe(ORGANISATIONS)
    truth = {
        (org, quarter, "v0", code): n
        for (org, quarter, code), n in count_inputs(inputs(4), [])[ELSEWHERE.name].items()
    }
    release = Release(
        "2025Q4/all", "test", family_tables(ELSEWHERE, universe, PERIOD, ORGANISATIONS)
    )
    raw = publish(universe, universe.vector(truth), release, set())
    assert raw.cells[(TABLE, ("yes",))] == 4
    state.publications.append(raw)
    findings = audit(linked_families([state], ORGANISATIONS), SOLVER).findings
    assert any("derivable_small" in f.describe() for f in findings)
