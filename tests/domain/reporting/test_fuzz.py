"""Random small tables: protect -> audit finds nothing, and the audit agrees with brute force."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.reporting.audit import (
    Ledger,
    Publication,
    audit,
    ledger_system,
    ledger_targets,
)
from domain.reporting.suppression import ReleaseRefused, protect
from domain.reporting.tables import TOTAL, Classification, Percentage, Release, Table, tabulate
from tests.domain.reporting.support import SOLVER, ok, universe_of, value

K = 11
QUARTERS = ("Q1", "Q2", "Q3")
small_or_large = st.one_of(st.integers(0, 12), st.integers(0, 40))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(small_or_large, min_size=12, max_size=12))
def test_protected_quarters_and_year_to_date_pass_the_audit_over_the_whole_ledger(numbers: list[int]) -> None:
    universe = universe_of(quarter=QUARTERS, organisation=("a", "b"), trafficking_type=("sex", "labor"))
    counts = dict(zip(universe.atoms(), numbers, strict=True))
    org = Classification.of(universe.dimension("organisation"))
    kind = Classification.of(universe.dimension("trafficking_type"))
    ledger = Ledger(universe)
    for i, quarter in enumerate(QUARTERS):
        tables = [Table.of("clients", [org, kind], where={"quarter": quarter}, sensitive=["trafficking_type"])]
        if i:
            tables.append(Table.of("clients_ytd", [org, kind], where={"quarter": QUARTERS[:i + 1]},
                                   sensitive=["trafficking_type"]))
        try:
            ledger = protect(ledger, Release(quarter, "2026.1", tuple(tables)), counts, SOLVER).ledger
        except ReleaseRefused:
            return  # refusing is allowed; releasing something unsafe is not
        published = [v for v in ledger.publications[-1].cells.values() if v is not None]
        assert not [v for v in published if 1 <= v < K]
        assert ok(ledger)  # re-audited from scratch, without the truth as a hint


def brute_force_findings(ledger: Ledger, grand_total: int) -> set[tuple[object, ...]]:
    """Every point enumerated (atoms sum to the published grand total); the rules applied directly."""
    system = ledger_system(ledger)
    n = ledger.universe.size
    points = [p for p in _compositions(grand_total, n) if system.holds(p)]
    findings = set()
    for target in ledger_targets(ledger, system.rows):
        if target.categories:
            possible = {i for i, terms in enumerate(target.categories) for p in points if value(terms, p) >= 1}
            if len(possible) == 1:
                findings.add((target.kind, target.categories, "single_category"))
            continue
        values = {value(target.terms, p) for p in points}
        if 0 in values or (max(values) >= K and (not target.pin or len(values) >= 2)):
            continue
        findings.add((target.kind, target.terms, "derivable_small" if max(values) < K else "pinned"))
    return findings


def _compositions(total: int, parts: int) -> list[tuple[int, ...]]:
    return [tuple(b - a - 1 for a, b in zip((-1, *cut), (*cut, total + parts - 1), strict=True))
            for cut in itertools.combinations(range(total + parts - 1), parts - 1)]


@settings(max_examples=40, deadline=None)
@given(counts=st.lists(st.integers(0, 7), min_size=4, max_size=4),
       hidden=st.lists(st.booleans(), min_size=8, max_size=8),
       with_percentage=st.booleans())
def test_the_audit_agrees_with_brute_force_enumeration(counts: list[int], hidden: list[bool],
                                                       with_percentage: bool) -> None:
    universe = universe_of(organisation=("a", "b"), trafficking_type=("sex", "labor"))
    table = Table.of("t", [Classification.of(universe.dimension("organisation")),
                           Classification.of(universe.dimension("trafficking_type"))],
                     sensitive=["trafficking_type"])
    share = Percentage("share", ("t", ("a", "sex")), ("t", ("a", TOTAL)))
    release = Release("r", "2026.1", (table,), percentages=(share,) if with_percentage else ())
    truth = tuple(counts)
    values = tabulate(universe, truth, table)
    keys = [key for key in table.keys() if key != (TOTAL, TOTAL)]  # the grand total stays published
    cells = {("t", key): None if key in keys and hidden[keys.index(key)] else v for key, v in values.items()}
    percentages = {}
    if with_percentage:
        a_total = values[("a", TOTAL)]
        percentages["share"] = None if a_total == 0 else (200 * values[("a", "sex")] + a_total) // (2 * a_total)
    ledger = Ledger(universe).with_publication(Publication.of(universe, release, cells, percentages))

    expected = brute_force_findings(ledger, sum(truth))
    for hint in (truth, None):  # with the truth as the first witness and without it
        result = audit(ledger, SOLVER, hint)
        got = {(f.kind, f.target.categories if f.target.categories else f.target.terms, f.reason)
               for f in result.findings}
        assert got == expected
