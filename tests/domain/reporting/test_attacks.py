"""The suppression attacks of REFERENCE §3, each against a protected release, each with a control.

Every test runs the attack twice: against the naive release (primary suppression only, or
each release protected on its own) — the control, which must fall to it — and against what
`protect` releases over the whole ledger, which must not. "Falls" is shown both by the
audit and by the attack itself: an outsider solving the published equations for the range
of the victim cell (`attacker_interval`).
"""

from __future__ import annotations

import pytest

from domain.codebook import CURRENT
from domain.reporting.audit import audit
from domain.reporting.ledger import Ledger, Publication
from domain.reporting.suppression import MinimumUnit, Policy, ReleaseRefused, primary, protect
from domain.reporting.tables import (
    TOTAL,
    Classification,
    Dimension,
    Group,
    Percentage,
    Release,
    Table,
    Universe,
)
from tests.domain.reporting.support import (
    SOLVER,
    attacker_interval,
    derivable_small,
    naive,
    ok,
    published_values,
    raw,
    universe_of,
)

VERSION = CURRENT.version
TYPE = Dimension.from_codebook(CURRENT, "trafficking_type")  # sex, labor, both, unknown
ORGS = Dimension("organisation", ("org-a", "org-b", "org-c", "org-d"))


def by_org_and_type() -> tuple[Universe, Release]:
    universe = Universe((ORGS, TYPE))
    table = Table.of(
        "clients_by_type",
        [Classification.of(ORGS), Classification.of(TYPE)],
        sensitive=["trafficking_type"],
    )
    return universe, Release("2026Q1", VERSION, (table,))


COUNTS = {
    ("org-a", "sex"): 20,
    ("org-a", "labor"): 3,
    ("org-a", "both"): 15,
    ("org-a", "unknown"): 12,
    ("org-b", "sex"): 30,
    ("org-b", "labor"): 25,
    ("org-b", "both"): 0,
    ("org-b", "unknown"): 14,
    ("org-c", "sex"): 11,
    ("org-c", "labor"): 17,
    ("org-c", "both"): 12,
    ("org-c", "unknown"): 13,
    ("org-d", "sex"): 16,
    ("org-d", "labor"): 19,
    ("org-d", "both"): 22,
    ("org-d", "unknown"): 0,
}


def assert_never_small(publication: Publication) -> None:
    assert not [v for v in published_values(publication) if 1 <= v <= 10]


# -- reading small cells ---------------------------------------------------------------------


def test_reading_small_cells_finds_nothing_small_in_a_protected_release() -> None:
    universe, release = by_org_and_type()
    control = raw(Ledger(universe), release, COUNTS)
    assert any(1 <= v <= 10 for v in published_values(control.publications[0]))
    assert not ok(control, COUNTS)

    protected = protect(Ledger(universe), release, COUNTS, SOLVER)
    assert_never_small(protected.publication)
    assert protected.publication.cells[("clients_by_type", ("org-a", "labor"))] is None
    assert (
        protected.publication.cells[("clients_by_type", ("org-b", "both"))] == 0
    )  # zero may be shown


# -- subtracting cells from totals -------------------------------------------------------------


def test_subtracting_published_cells_from_the_row_total_does_not_recover_a_suppressed_cell() -> (
    None
):
    universe, release = by_org_and_type()
    victim = universe.select({"organisation": "org-a", "trafficking_type": "labor"})

    control = naive(Ledger(universe), release, COUNTS)
    cells = control.publications[0].cells
    row = [cells[("clients_by_type", ("org-a", t))] for t in ("sex", "both", "unknown")]
    assert cells[("clients_by_type", ("org-a", TOTAL))] - sum(row) == 3  # the attack, by hand
    assert attacker_interval(control, victim) == (3, 3)
    assert not ok(control, COUNTS)

    protected = protect(Ledger(universe), release, COUNTS, SOLVER)
    assert protected.audit.ok and ok(protected.ledger)  # also without the truth as a hint
    assert not derivable_small(protected.ledger, victim)


# -- differencing quarter vs year-to-date vs annual -------------------------------------------


def test_differencing_the_year_to_date_against_the_first_quarter_does_not_reveal_the_second() -> (
    None
):
    entry = Dimension("entry_quarter", ("2026Q1", "2026Q2", "2026Q3", "2026Q4"))
    kind = Dimension("trafficking_type", ("sex", "labor"))
    universe = Universe((entry, kind))
    by_kind = [Classification.of(kind)]
    q1 = Release(
        "2026Q1", VERSION, (Table.of("new_clients", by_kind, where={"entry_quarter": "2026Q1"}),)
    )
    q2 = Release(
        "2026Q2",
        VERSION,
        (
            Table.of("new_clients", by_kind, where={"entry_quarter": "2026Q2"}),
            Table.of("new_clients_ytd", by_kind, where={"entry_quarter": ["2026Q1", "2026Q2"]}),
        ),
    )
    annual = Release("FY2026", VERSION, (Table.of("new_clients_year", by_kind),))
    counts = {
        ("2026Q1", "sex"): 25,
        ("2026Q1", "labor"): 15,
        ("2026Q2", "sex"): 14,
        ("2026Q2", "labor"): 3,
        ("2026Q3", "sex"): 20,
        ("2026Q3", "labor"): 12,
        ("2026Q4", "sex"): 11,
        ("2026Q4", "labor"): 18,
    }
    victim = universe.select({"entry_quarter": "2026Q2", "trafficking_type": "labor"})

    first = protect(Ledger(universe), q1, counts, SOLVER).ledger
    control = naive(first, q2, counts)  # Q2's own 3 is suppressed, but YTD - Q1 = 3
    assert attacker_interval(control, victim) == (3, 3)
    assert not ok(control, counts)

    second = protect(first, q2, counts, SOLVER).ledger
    assert not derivable_small(second, victim)
    # the annual table joins the same ledger: annual - YTD (Q3 + Q4) and every earlier difference
    third = protect(second, annual, counts, SOLVER).ledger
    assert ok(third) and not derivable_small(third, victim)


def test_a_mandatory_total_that_would_reveal_a_small_count_is_withheld_and_the_rest_published() -> (
    None
):
    """The year-to-date total is mandatory, and minus the first quarter's published total it is
    the second quarter's three new clients. The release withholds that total (and the cells
    that would rebuild it) instead of being refused, and publishes the rest. Control: the same
    publication with the total put back gives the three away."""
    entry = Dimension("entry_quarter", ("2026Q1", "2026Q2"))
    kind = Dimension("trafficking_type", ("sex", "labor"))
    universe = Universe((entry, kind))
    by_kind = [Classification.of(kind)]
    q1 = Release(
        "2026Q1",
        VERSION,
        (
            Table.of(
                "new_clients", by_kind, where={"entry_quarter": "2026Q1"}, mandatory=[(TOTAL,)]
            ),
        ),
    )
    ytd = Release("2026Q2", VERSION, (Table.of("new_clients_ytd", by_kind, mandatory=[(TOTAL,)]),))
    counts = {
        ("2026Q1", "sex"): 25,
        ("2026Q1", "labor"): 15,
        ("2026Q2", "sex"): 3,
        ("2026Q2", "labor"): 0,
    }
    second_quarter = universe.select({"entry_quarter": "2026Q2"})

    first = protect(Ledger(universe), q1, counts, SOLVER).ledger
    protected = protect(first, ytd, counts, SOLVER)
    cells = protected.publication.cells
    assert cells[("new_clients_ytd", (TOTAL,))] is None  # withheld, though mandatory
    assert cells[("new_clients_ytd", ("labor",))] == 15  # the rest is published
    assert protected.audit.ok and not derivable_small(protected.ledger, second_quarter)

    control = first.with_publication(
        Publication.of(universe, ytd, {**cells, ("new_clients_ytd", (TOTAL,)): 43})
    )
    assert attacker_interval(control, second_quarter) == (3, 3)
    assert not ok(control, counts)


def test_the_roll_up_and_two_organisations_do_not_pin_what_the_third_will_publish() -> None:
    """The attack: the roll-up and organisations a and b each publish their clients in band b1
    and in the other bands together; organisation c has not reported yet. Its "other bands"
    count is the roll-up's minus a's and b's — five — though no table of c was published, so
    no target of the audit held it. With the ledger's units, c's cells are audited before c
    reports. Control: the same releases without units pass their own audit and pin it."""
    band = Dimension("band", ("b1", "b2", "b3", "b4"))
    orgs = Dimension("organisation", ("org-a", "org-b", "org-c"))
    universe = Universe((orgs, band))
    by_band = [Classification.grouping("band", "band", {"b1": ["b1"], "rest": ["b2", "b3", "b4"]})]

    def release(name: str, scope: tuple[str, ...]) -> Release:
        return Release(
            name, VERSION, (Table.of("clients", by_band, where={"organisation": list(scope)}),)
        )

    counts = {
        ("org-a", "b1"): 20,
        ("org-a", "b2"): 30,
        ("org-b", "b1"): 25,
        ("org-b", "b3"): 40,
        ("org-c", "b1"): 15,
        ("org-c", "b2"): 2,
        ("org-c", "b3"): 2,
        ("org-c", "b4"): 1,
    }
    sequence = [
        release("all", orgs.codes),
        release("org-a", ("org-a",)),
        release("org-b", ("org-b",)),
    ]
    c_rest = universe.select({"organisation": "org-c", "band": ["b2", "b3", "b4"]})

    def released(units: str | None) -> Ledger:
        ledger = Ledger(universe, units=units)
        for each in sequence:
            ledger = protect(ledger, each, counts, SOLVER).ledger
        return ledger

    control = released(None)
    assert ok(control) and attacker_interval(control, c_rest) == (5, 5)
    protected = released("organisation")
    assert ok(protected) and not derivable_small(protected, c_rest)


# -- differencing a revision against the original ------------------------------------------------


def late_records() -> tuple[Universe, Release, Release, dict[tuple[str, str], int]]:
    """An original and its revision, which also counts two late records (sex trafficking)."""
    vintage = Dimension("vintage", ("on_time", "late"))  # late records enter only the revision
    kind = Dimension("trafficking_type", ("sex", "labor"))
    universe = Universe((vintage, kind))
    by_kind = [Classification.of(kind)]
    original = Release(
        "2026Q1", VERSION, (Table.of("clients", by_kind, where={"vintage": "on_time"}),)
    )
    revision = Release("2026Q1-r1", VERSION, (Table.of("clients", by_kind),))
    counts = {
        ("on_time", "sex"): 30,
        ("on_time", "labor"): 20,
        ("late", "sex"): 2,
        ("late", "labor"): 0,
    }
    return universe, original, revision, counts


def test_differencing_a_revision_against_the_original_does_not_reveal_the_late_records() -> None:
    universe, original, revision, counts = late_records()
    late = universe.select({"vintage": "late"})

    first = protect(Ledger(universe), original, counts, SOLVER).ledger
    control = naive(
        first, revision, counts
    )  # no revised cell is small: primary suppression sees nothing
    assert set(published_values(control.publications[1])) == {32, 20, 52}
    assert attacker_interval(control, late) == (2, 2)
    assert not ok(control, counts)

    protected = protect(first, revision, counts, SOLVER)
    assert protected.audit.ok and not derivable_small(protected.ledger, late)


def test_a_revised_cell_that_differs_little_from_its_original_is_suppressed_before_any_audit() -> (
    None
):
    universe, original, revision, counts = late_records()
    first = protect(Ledger(universe), original, counts, SOLVER).ledger
    truth = universe.vector(counts)
    assert (
        primary(universe, truth, revision) == set()
    )  # control: without the ledger no revised cell is small
    # 32 - 30 and 52 - 50 would pin the late records; 20 - 20 pins nothing
    assert primary(universe, truth, revision, ledger=first) == {
        ("cell", ("clients", ("sex",))),
        ("cell", ("clients", (TOTAL,))),
    }


def test_differencing_a_revision_that_lowers_a_count_against_the_original_does_not_reveal_the_corrections() -> (  # noqa: E501
    None
):
    # record lifetimes (domain.reporting.vintages): v0 counted by both releases, v0-1 by the
    # original only (corrected since), v1 by the revision only (the corrected versions)
    vintage = Dimension("vintage", ("v0", "v1", "v0-1"))
    kind = Dimension("trafficking_type", ("sex", "labor"))
    universe = Universe((vintage, kind))
    by_kind = [Classification.of(kind)]
    at_original, at_revision = ["v0", "v0-1"], ["v0", "v1"]
    original = Release(
        "2026Q1", VERSION, (Table.of("clients", by_kind, where={"vintage": at_original}),)
    )
    revision = Release(
        "2026Q1-r1", VERSION, (Table.of("clients", by_kind, where={"vintage": at_revision}),)
    )
    # two sex-trafficking records corrected to labour trafficking
    counts = {("v0", "sex"): 28, ("v0-1", "sex"): 2, ("v0", "labor"): 20, ("v1", "labor"): 2}
    sex_then = universe.select({"vintage": at_original, "trafficking_type": "sex"})
    sex_now = universe.select({"vintage": at_revision, "trafficking_type": "sex"})

    first = protect(Ledger(universe, changes="vintage"), original, counts, SOLVER).ledger
    control = naive(
        first, revision, counts
    )  # no revised cell is small: primary suppression sees nothing
    assert set(published_values(control.publications[1])) == {28, 22, 50}
    assert attacker_interval(control, sex_now, minus=sex_then) == (
        -2,
        -2,
    )  # two corrected out of "sex"
    assert not ok(control, counts)

    protected = protect(first, revision, counts, SOLVER)
    assert protected.audit.ok and ok(protected.ledger)
    low, high = attacker_interval(protected.ledger, sex_now, minus=sex_then)
    assert not (1 <= low and high <= 10) and not (-10 <= low and high <= -1)


def test_a_revision_over_the_same_atoms_as_its_original_is_refused_as_inconsistent() -> None:
    from domain.reporting.audit import InconsistentLedger

    kind = Dimension("trafficking_type", ("sex", "labor"))
    universe = Universe((kind,))
    table = Table.of("clients", [Classification.of(kind)])
    first = protect(
        Ledger(universe),
        Release("2026Q1", VERSION, (table,)),
        {("sex",): 30, ("labor",): 20},
        SOLVER,
    ).ledger
    with pytest.raises(InconsistentLedger):  # late data needs a vintage dimension, not new truth
        protect(
            first, Release("2026Q1-r1", VERSION, (table,)), {("sex",): 32, ("labor",): 20}, SOLVER
        )


# -- linked tables over the same people ------------------------------------------------------


def test_linked_tables_over_the_same_clients_do_not_pin_a_combination() -> None:
    universe = universe_of(age=("minor", "adult"), trafficking_type=("sex", "labor"))
    by_type = Table.of("by_type", [Classification.of(universe.dimension("trafficking_type"))])
    minors = Table.of(
        "minors_by_type",
        [Classification.of(universe.dimension("trafficking_type"))],
        where={"age": "minor"},
    )
    counts = {
        ("minor", "sex"): 20,
        ("minor", "labor"): 11,
        ("adult", "sex"): 25,
        ("adult", "labor"): 4,
    }
    victim = universe.select({"age": "adult", "trafficking_type": "labor"})

    for alone in (by_type, minors):  # each table alone is clean: no cell 1..10, nothing derivable
        assert ok(naive(Ledger(universe), Release("2026Q1", VERSION, (alone,)), counts), counts)
    control = naive(Ledger(universe), Release("2026Q1", VERSION, (by_type, minors)), counts)
    assert attacker_interval(control, victim) == (4, 4)  # 15 labor - 11 minors in labor
    assert not ok(control, counts)

    protected = protect(
        Ledger(universe), Release("2026Q1", VERSION, (by_type, minors)), counts, SOLVER
    )
    assert not derivable_small(protected.ledger, victim)


# -- organisation ⊂ grant ⊂ state hierarchies ---------------------------------------------------


def test_organisation_grant_and_state_releases_protected_together_recover_no_organisation() -> None:
    universe = Universe((ORGS,))
    grants = Classification.grouping(
        "grant", "organisation", {"G1": ["org-a", "org-b"], "G2": ["org-c", "org-d"]}
    )
    state = Classification.grouping("state", "organisation", {"NY": list(ORGS.codes)})
    releases = [
        Release("2026Q1-org", VERSION, (Table.of("clients", [Classification.of(ORGS)]),)),
        Release("2026Q1-grant", VERSION, (Table.of("clients", [grants]),)),
        Release("2026Q1-state", VERSION, (Table.of("clients", [state]),)),
    ]
    counts = {("org-a",): 3, ("org-b",): 20, ("org-c",): 12, ("org-d",): 30}
    victim = universe.select({"organisation": "org-a"})

    # control: each level protected on its own, as if nothing had been released before
    combined = Ledger(universe)
    for release in releases:
        combined = combined.with_publication(
            protect(Ledger(universe), release, counts, SOLVER).publication
        )
    assert attacker_interval(combined, victim) == (3, 3)  # G1 - org-b
    assert not ok(combined, counts)

    ledger = Ledger(universe)
    for release in releases:
        ledger = protect(ledger, release, counts, SOLVER).ledger
    assert ok(ledger, counts) and not derivable_small(ledger, victim)
    assert ledger.publications[2].cells[("clients", ("NY",))] == 65  # the mandatory total survives


# -- group attribute disclosure ----------------------------------------------------------------


def test_group_attribute_disclosure_all_clients_of_an_organisation_in_one_category_is_not_derivable() -> (  # noqa: E501
    None
):
    universe, release = by_org_and_type()
    counts = dict(COUNTS) | {
        ("org-c", "sex"): 0,
        ("org-c", "labor"): 40,
        ("org-c", "both"): 0,
        ("org-c", "unknown"): 0,
    }
    others = universe.select(
        {"organisation": "org-c", "trafficking_type": ["sex", "both", "unknown"]}
    )

    control = naive(Ledger(universe), release, counts)  # no small cell in org-c's row at all
    assert attacker_interval(control, others) == (0, 0)  # "all of org-c's clients: labour"
    findings = audit(control, SOLVER, universe.vector(counts)).findings
    assert "single_category" in {f.reason for f in findings}

    protected = protect(Ledger(universe), release, counts, SOLVER)
    assert attacker_interval(protected.ledger, others)[1] >= 1


def test_group_attribute_disclosure_for_a_declared_group_minors() -> None:
    universe = universe_of(age=("0-11", "12-17", "18-24", "25+"), trafficking_type=("sex", "labor"))
    kind = Classification.of(universe.dimension("trafficking_type"))
    table = Table.of("by_age_and_type", [Classification.of(universe.dimension("age")), kind])
    minors = Group.of("minors", {"age": ["0-11", "12-17"]}, kind)
    counts = {
        ("0-11", "sex"): 12,
        ("12-17", "sex"): 15,
        ("18-24", "sex"): 30,
        ("18-24", "labor"): 14,
        ("25+", "sex"): 22,
        ("25+", "labor"): 40,
    }
    labor_minors = universe.select({"age": ["0-11", "12-17"], "trafficking_type": "labor"})

    control = naive(
        Ledger(universe), Release("2026Q1", VERSION, (table,), groups=(minors,)), counts
    )
    assert attacker_interval(control, labor_minors) == (0, 0)
    assert not ok(control, counts)

    protected = protect(
        Ledger(universe), Release("2026Q1", VERSION, (table,), groups=(minors,)), counts, SOLVER
    )
    assert attacker_interval(protected.ledger, labor_minors)[1] >= 1


# -- rare combinations of quasi-identifiers --------------------------------------------------------


def test_a_rare_combination_of_quasi_identifiers_is_not_published_or_derivable() -> None:
    age = Dimension("age", ("12-17", "18-24", "25+"))
    gender = Dimension("gender", ("woman", "man", "non_binary"))
    citizenship = Dimension("citizenship", ("citizen", "foreign_national"))
    universe = Universe((age, gender, citizenship))
    counts = {(a, g, c): 13 for a in age.codes for g in ("woman", "man") for c in citizenship.codes}
    counts[("12-17", "non_binary", "foreign_national")] = 1  # the one person who is all three
    counts[("25+", "non_binary", "citizen")] = 14
    cross = Table.of(
        "by_age_gender_citizenship", [Classification.of(d) for d in (age, gender, citizenship)]
    )
    release = Release("2026Q1", VERSION, (cross,))
    rare = universe.select(
        {"age": "12-17", "gender": "non_binary", "citizenship": "foreign_national"}
    )

    control = naive(Ledger(universe), release, counts)
    # a margins-only check (every one-way count >= 11) passes, yet the combination is recovered
    for dimension in (age, gender, citizenship):
        for code in dimension.codes:
            assert sum(v for atom, v in counts.items() if code in atom) >= 11
    assert attacker_interval(control, rare) == (1, 1)

    protected = protect(Ledger(universe), release, counts, SOLVER)
    assert not derivable_small(protected.ledger, rare)
    assert_never_small(protected.publication)


# -- percentages ---------------------------------------------------------------------------------


def test_a_published_percentage_is_an_equation_that_does_not_pin_a_suppressed_cell() -> None:
    universe = universe_of(gender=("woman", "man", "non_binary"))
    table = Table.of("by_gender", [Classification.of(universe.dimension("gender"))])
    share = Percentage("non_binary_share", ("by_gender", ("non_binary",)), ("by_gender", (TOTAL,)))
    release = Release("2026Q1", VERSION, (table,), percentages=(share,))
    counts = {("woman",): 22, ("man",): 15, ("non_binary",): 3}
    victim = universe.select({"gender": "non_binary"})

    protected = protect(Ledger(universe), release, counts, SOLVER)
    cells = dict(protected.publication.cells)
    assert (
        cells[("by_gender", ("non_binary",))] is None
        and protected.publication.percentages["non_binary_share"] is None
    )
    # control: the same suppression pattern, with the percentage (8 % of 40) published anyway
    control = Ledger(universe).with_publication(
        Publication.of(universe, release, cells, {"non_binary_share": 8})
    )
    if cells[("by_gender", (TOTAL,))] is not None:
        assert attacker_interval(control, victim) == (3, 3)
    assert not ok(control, counts)
    assert not derivable_small(protected.ledger, victim)


# -- minimum reporting unit ----------------------------------------------------------------------


def test_a_unit_below_the_minimum_reports_only_its_mandatory_total() -> None:
    universe, _ = by_org_and_type()
    table = Table.of(
        "clients_by_type",
        [Classification.of(ORGS), Classification.of(TYPE)],
        sensitive=["trafficking_type"],
        mandatory=[(org, TOTAL) for org in ORGS.codes],
    )
    release = Release("2026Q1", VERSION, (table,))
    counts = dict(COUNTS) | {
        ("org-b", "sex"): 12,
        ("org-b", "labor"): 0,
        ("org-b", "both"): 0,
        ("org-b", "unknown"): 14,
    }
    policy = Policy(minimum_unit=MinimumUnit("organisation", 30))

    control = protect(Ledger(universe), release, counts, SOLVER)  # without the policy: broken down
    assert any(
        control.publication.cells[("clients_by_type", ("org-b", t))] is not None for t in TYPE.codes
    )

    protected = protect(Ledger(universe), release, counts, SOLVER, policy)
    cells = protected.publication.cells
    assert cells[("clients_by_type", ("org-b", TOTAL))] == 26
    assert all(cells[("clients_by_type", ("org-b", t))] is None for t in TYPE.codes)


def test_a_release_the_ledger_already_gives_away_is_refused_without_counts_in_the_message() -> None:
    universe = universe_of(trafficking_type=("sex", "labor"))
    table = Table.of(
        "clients",
        [Classification.of(universe.dimension("trafficking_type"))],
        mandatory=[(TOTAL,), ("sex",)],
    )
    counts = {("sex",): 40, ("labor",): 3}
    first = Ledger(universe).with_publication(
        Publication.of(
            universe,
            Release("old", VERSION, (table,)),
            {("clients", ("sex",)): 40, ("clients", ("labor",)): None, ("clients", (TOTAL,)): 43},
        )
    )
    with pytest.raises(ReleaseRefused) as refused:
        protect(first, Release("2026Q1", VERSION, (table,)), counts, SOLVER)
    message = str(refused.value)
    assert "derivable_small" in message and "3" not in message and "labor" not in message
    assert "labor" not in repr(refused.value.findings)
