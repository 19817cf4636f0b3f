"""Random small tables: protect -> audit finds nothing, and the audit agrees with brute force."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.reporting.audit import audit, ledger_system
from domain.reporting.ledger import Ledger, Publication
from domain.reporting.publication_targets import ledger_targets
from domain.reporting.suppression import ReleaseRefused, protect
from domain.reporting.tables import TOTAL, Classification, Percentage, Release, Table, tabulate
from tests.domain.reporting.support import SOLVER, ok, universe_of, value
from tests.tiers import scaled

pytestmark = pytest.mark.fuzz

K = 11
QUARTERS = ("Q1", "Q2", "Q3")
small_or_large = st.one_of(st.integers(0, 12), st.integers(0, 40))


@settings(
    max_examples=scaled(default=4, full=12),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(small_or_large, min_size=12, max_size=12))
def test_protected_quarters_and_year_to_date_pass_the_audit_over_the_whole_ledger(
    numbers: list[int],
) -> None:
    universe = universe_of(
        quarter=QUARTERS, organisation=("a", "b"), trafficking_type=("sex", "labor")
    )
    counts = dict(zip(universe.atoms(), numbers, strict=True))
    org = Classification.of(universe.dimension("organisation"))
    kind = Classification.of(universe.dimension("trafficking_type"))
    ledger = Ledger(universe)
    for i, quarter in enumerate(QUARTERS):
        tables = [
            Table.of(
                "clients", [org, kind], where={"quarter": quarter}, sensitive=["trafficking_type"]
            )
        ]
        if i:
            tables.append(
                Table.of(
                    "clients_ytd",
                    [org, kind],
                    where={"quarter": QUARTERS[: i + 1]},
                    sensitive=["trafficking_type"],
                )
            )
        try:
            ledger = protect(
                ledger, Release(quarter, "2026.1", tuple(tables)), counts, SOLVER
            ).ledger
        except ReleaseRefused:
            return  # refusing is allowed; releasing something unsafe is not
        published = [v for v in ledger.publications[-1].cells.values() if v is not None]
        assert not [v for v in published if 1 <= v < K]
        assert ok(ledger)  # re-audited from scratch, without the truth as a hint


def brute_force_findings(ledger: Ledger, grand_total: int) -> set[tuple[object, ...]]:
    """Every point enumerated (atoms sum to the published grand total); the rules
    applied directly."""
    system = ledger_system(ledger)
    n = ledger.universe.size
    points = [p for p in _compositions(grand_total, n) if system.holds(p)]
    findings = set()
    for target in ledger_targets(ledger, system.rows):
        if target.categories:
            possible = {
                i
                for i, terms in enumerate(target.categories)
                for p in points
                if value(terms, p) >= 1
            }
            if len(possible) == 1:
                findings.add((target.kind, target.categories, "single_category"))
            continue
        values = {value(target.terms, p) for p in points}
        if 0 in values or (max(values) >= K and (not target.pin or len(values) >= 2)):
            continue
        findings.add(
            (target.kind, target.terms, "derivable_small" if max(values) < K else "pinned")
        )
    return findings


def _compositions(total: int, parts: int) -> list[tuple[int, ...]]:
    return [
        tuple(b - a - 1 for a, b in zip((-1, *cut), (*cut, total + parts - 1), strict=True))
        for cut in itertools.combinations(range(total + parts - 1), parts - 1)
    ]


@settings(max_examples=scaled(default=15, full=40), deadline=None)
@given(
    counts=st.lists(st.integers(0, 7), min_size=4, max_size=4),
    hidden=st.lists(st.booleans(), min_size=8, max_size=8),
    with_percentage=st.booleans(),
)
def test_the_audit_agrees_with_brute_force_enumeration(
    counts: list[int], hidden: list[bool], with_percentage: bool
) -> None:
    universe = universe_of(organisation=("a", "b"), trafficking_type=("sex", "labor"))
    table = Table.of(
        "t",
        [
            Classification.of(universe.dimension("organisation")),
            Classification.of(universe.dimension("trafficking_type")),
        ],
        sensitive=["trafficking_type"],
    )
    share = Percentage("share", ("t", ("a", "sex")), ("t", ("a", TOTAL)))
    release = Release("r", "2026.1", (table,), percentages=(share,) if with_percentage else ())
    truth = tuple(counts)
    values = tabulate(universe, truth, table)
    keys = [key for key in table.keys() if key != (TOTAL, TOTAL)]  # the grand total stays published
    cells = {
        ("t", key): None if key in keys and hidden[keys.index(key)] else v
        for key, v in values.items()
    }
    percentages = {}
    if with_percentage:
        a_total = values[("a", TOTAL)]
        percentages["share"] = (
            None if a_total == 0 else (200 * values[("a", "sex")] + a_total) // (2 * a_total)
        )
    ledger = Ledger(universe).with_publication(
        Publication.of(universe, release, cells, percentages)
    )

    expected = brute_force_findings(ledger, sum(truth))
    for hint in (truth, None):  # with the truth as the first witness and without it
        result = audit(ledger, SOLVER, hint)
        got = {
            (f.kind, f.target.categories if f.target.categories else f.target.terms, f.reason)
            for f in result.findings
        }
        assert got == expected


@settings(
    max_examples=scaled(default=4, full=10),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(small_or_large, min_size=8, max_size=8))
def test_linked_families_protected_together_pass_the_joint_audit(numbers: list[int]) -> None:
    """Two families over the same clients (the federal codebook's TIMS age group, consenting only
    with the others withheld, and HUD's age group of everyone), glued by a link organisation x
    consent x age group: protect_linked -> the joint audit, from scratch, finds nothing."""
    from domain.reporting.linked import Linked
    from domain.reporting.suppression import protect_linked

    link = universe_of(organisation=("a", "b"), consent=("yes", "no"), age_group=("minor", "adult"))
    truth = dict(zip(link.atoms(), numbers, strict=True))
    tims = universe_of(organisation=("a", "b"), age_group=("minor", "adult", "withheld"))
    hud = universe_of(organisation=("a", "b"), age_group=("minor", "adult"))
    tims_counts = {(o, g if c == "yes" else "withheld"): 0 for o, c, g in link.atoms()}
    hud_counts = {(o, g): 0 for o, _, g in link.atoms()}
    for (o, c, g), n in truth.items():
        tims_counts[(o, g if c == "yes" else "withheld")] += n
        hud_counts[(o, g)] += n
    cells = (
        tuple(
            link.select(
                {"organisation": o, "consent": "no"}
                if g == "withheld"
                else {"organisation": o, "consent": "yes", "age_group": g}
            )
            for o, g in tims.atoms()
        ),
        tuple(link.select({"organisation": o, "age_group": g}) for o, g in hud.atoms()),
    )
    org = Classification.of(tims.dimension("organisation"))
    consenting = Classification.grouping(
        "age_group", "age_group", {"minor": ["minor"], "adult": ["adult"]}
    )
    served = Classification.grouping("served", "age_group", {"all": ["minor", "adult", "withheld"]})
    releases = (
        Release(
            "Q1",
            "2026.1",
            (Table.of("tims_age_group", [org, consenting]), Table.of("tims_served", [org, served])),
        ),
        Release(
            "Q1",
            "2026.1",
            (
                Table.of(
                    "hud",
                    [
                        Classification.of(hud.dimension("organisation")),
                        Classification.of(hud.dimension("age_group")),
                    ],
                ),
            ),
        ),
    )
    linked = Linked((Ledger(tims), Ledger(hud)), link, cells)
    try:
        protected = protect_linked(linked, releases, (tims_counts, hud_counts), truth, SOLVER)
    except ReleaseRefused:
        return  # refusing is allowed; releasing something unsafe is not
    for publication in protected.publications:
        assert publication is not None
        assert not [v for v in publication.cells.values() if v is not None and 1 <= v < K]
    assert audit(protected.linked, SOLVER).ok  # re-audited from scratch, without the truth
