"""Deciding what a release may publish: primary and complementary suppression, proven by audit.

`protect` takes the true atom counts as plain data and returns the publication to release
with its audit, or raises `ReleaseRefused`; `protect_linked` does the same for several
families over the same people, audited as one system. A returned publication passed the
audit over the whole ledger including itself. Not guaranteed: minimal information loss (the
choice is greedy per finding and round — a cell kept in one release may have to be
suppressed in every later one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from domain.reporting.audit import AuditResult, Finding, K, audit
from domain.reporting.complements import ComplementProgram, complement
from domain.reporting.integer_programs import IntegerSolver
from domain.reporting.ledger import Ledger, Publication, Ref
from domain.reporting.linked import Linked
from domain.reporting.tables import (
    TOTAL,
    Atom,
    Release,
    Selection,
    Universe,
    rounded_percent,
    tabulate,
    total,
)


@dataclass(frozen=True)
class MinimumUnit:
    """Units (codes of `dimension`) with fewer than `minimum` clients in a table report only its
    mandatory cells."""

    dimension: str
    minimum: int


@dataclass(frozen=True)
class Policy:
    k: int = K
    minimum_unit: MinimumUnit | None = None
    max_rounds: int = 25
    # A funder's mandatory cell may be withheld when nothing else protects a release (False: it
    # is published whatever it costs, and a release it gives a count away in is refused).
    withhold_mandatory: bool = True


class ReleaseRefused(Exception):
    """No suppression of this release passes the audit; `findings` say where (never a count)."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        super().__init__(
            f"release refused: {len(findings)} finding(s): "
            + "; ".join(sorted({f.describe() for f in findings}))
        )
        self.findings = tuple(findings)


@dataclass(frozen=True)
class Protected:
    publication: Publication
    ledger: Ledger  # the input ledger with the publication added
    audit: AuditResult
    rounds: int


def primary(
    universe: Universe,
    truth: Sequence[int],
    release: Release,
    policy: Policy = Policy(),
    ledger: Ledger | None = None,
) -> set[Ref]:
    """The cells suppressed before any audit.

    Every cell whose true count is 1..k-1 (zero may be shown). With a `MinimumUnit`, every
    cell of a unit (say an organisation) whose total is below the minimum, except the cells
    its table marks mandatory (§3.6). With the `ledger` released before: every cell, a
    mandatory one included, whose difference from a number the ledger published is 1..k-1
    either way, where the two differ in one dimension (a revision and its original, a
    year-to-date and an earlier one) — the audit would block it
    (`publication_targets.difference_targets`) and the other number is out for good, so it is
    taken out before the first audit rather than found by it; and in a revision, every cell
    whose late records and departures are 1..k-1 (its count at the revision against its count
    over the record vintages of an earlier release, published there or not)."""
    suppressed: set[Ref] = set()
    published = _published_by_dimension(ledger) if ledger is not None else {}
    changes = ledger.changes_position if ledger is not None else None
    times = (
        {s[changes] for p in ledger.publications for s in p.selections.values()}
        if ledger is not None and changes is not None
        else set()
    )
    for table in release.tables:
        values = tabulate(universe, truth, table)
        suppressed.update(
            ("cell", (table.name, key)) for key, v in values.items() if 0 < v < policy.k
        )
        for key, value in values.items() if published else ():
            if not policy.withhold_mandatory and key in table.mandatory:
                continue
            selection = table.selection(universe, key)
            k = policy.k
            if differs_little(selection, value, published, changes, k) or (
                changes is not None
                and changed_little(universe, truth, selection, value, changes, times, k)
            ):
                suppressed.add(("cell", (table.name, key)))
        unit = policy.minimum_unit
        if unit is None:
            continue
        for code in universe.dimension(unit.dimension).codes:
            within = universe.restrict(
                table.selection(universe, tuple(TOTAL for _ in table.by)),
                {unit.dimension: frozenset([code])},
            )
            if total(universe, truth, within) >= unit.minimum:
                continue
            for key in table.keys():
                selected = table.selection(universe, key)[universe.position(unit.dimension)]
                if selected <= {code} and key not in table.mandatory:
                    suppressed.add(("cell", (table.name, key)))
    return suppressed


# published numbers by (a dimension, their selection without it):
# [(that dimension's codes, number), ...]
Published = dict[tuple[int, Selection], list[tuple[frozenset[str], int]]]


def _published_by_dimension(ledger: Ledger) -> Published:
    """Every number published in the ledger, by (a dimension, its selection without that
    dimension)."""
    out: Published = {}
    for publication in ledger.publications:
        for ref, value in publication.cells.items():
            if value is not None:
                selection = publication.selections[ref]
                for d in range(len(selection)):
                    rest = selection[:d] + selection[d + 1 :]
                    out.setdefault((d, rest), []).append((selection[d], value))
    return out


def differs_little(
    selection: Selection, value: int, published: Published, changes: int | None, k: int
) -> bool:
    """Whether publishing `value` over `selection` pins a difference target
    (`publication_targets.difference_targets`) to 1..k-1 (or -(k-1)..-1): the published cell it
    differs from in one dimension is out for good. `changes`: the ledger's `changes_position`."""
    for d in range(len(selection)):
        for codes, old in published.get((d, selection[:d] + selection[d + 1 :]), ()):
            related = (
                codes < selection[d]
                or selection[d] < codes
                or d == changes
                and codes != selection[d]
            )
            if related and 0 < abs(value - old) < k:
                return True
    return False


def changed_little(
    universe: Universe,
    truth: Sequence[int],
    selection: Selection,
    value: int,
    changes: int,
    times: Set[frozenset[str]],
    k: int,
) -> bool:
    """Whether the cell, counted over the record vintages of any earlier release (`times`),
    differs from `value` by 1..k-1 either way: the late records and departures in it are few,
    whether or not that release published the cell (a cell it suppressed may still be
    derivable)."""
    for vintages in times:
        if vintages != selection[changes]:
            earlier = (*selection[:changes], vintages, *selection[changes + 1 :])
            before = total(universe, truth, earlier)
            if 0 < abs(value - before) < k:
                return True
    return False


def publish(
    universe: Universe, truth: Sequence[int], release: Release, suppressed: set[Ref]
) -> Publication:
    """The publication of `release` with `suppressed` cells (and dependent percentages)
    withheld."""
    cells = {}
    for table in release.tables:
        for key, value in tabulate(universe, truth, table).items():
            cells[(table.name, key)] = None if ("cell", (table.name, key)) in suppressed else value
    percentages = {}
    for percentage in release.percentages:
        hidden = (
            ("percentage", percentage.name) in suppressed
            or cells[percentage.numerator] is None
            or cells[percentage.denominator] is None
        )
        numerator = total(
            universe,
            truth,
            release.table(percentage.numerator[0]).selection(universe, percentage.numerator[1]),
        )
        denominator = total(
            universe,
            truth,
            release.table(percentage.denominator[0]).selection(universe, percentage.denominator[1]),
        )
        percentages[percentage.name] = None if hidden else rounded_percent(numerator, denominator)
    return Publication.of(universe, release, cells, percentages)


def protect(
    ledger: Ledger,
    release: Release,
    counts: Mapping[Atom, int],
    solver: IntegerSolver,
    policy: Policy = Policy(),
) -> Protected:
    """Suppress, audit against ledger + release, add complementary suppressions until it
    passes."""
    result = protect_linked(Linked((ledger,)), (release,), (counts,), None, solver, policy)
    publication = result.publications[0]
    assert publication is not None  # the one block was given a release
    return Protected(publication, result.linked.blocks[0], result.audit, result.rounds)


@dataclass(frozen=True)
class ProtectedLinked:
    publications: tuple[Publication | None, ...]  # per block (None: the block releases nothing)
    linked: Linked  # the input with the publications added
    audit: AuditResult
    rounds: int


def protect_linked(
    linked: Linked,
    releases: Sequence[Release | None],
    counts: Sequence[Mapping[Atom, int]],
    link_counts: Mapping[Atom, int] | None,
    solver: IntegerSolver,
    policy: Policy = Policy(),
) -> ProtectedLinked:
    """`protect` for the blocks of linked ledgers released together: one release per block (or
    None), suppressed, audited jointly (`linked.Linked`), complemented in any block, until all
    pass.

    1. **Primary suppression** (`primary`). A percentage whose numerator or denominator is
       suppressed is suppressed.
    2. **Audit.** The candidate publications are added to the ledgers and audited
       (`audit.audit`) against everything ever published.
    3. **Complementary suppression** (`complements.complement`). For each finding, a small
       integer program chooses which further cells (or percentages) of *this* release to
       suppress so that an outsider's feasible set contains a witness that clears it. Past
       publications stay fixed. The choices are added and step 2 repeats.
    4. **Tables withheld whole.** A finding that no choice clears, or rounds that add nothing
       (or more than `max_rounds` of them): the tables those findings name are withheld
       whole, in every block, and the rounds go on. Withholding adds no fact; a suppressed cell
       of such a table (of this release or an earlier one) that the ledger pins at k or more
       hides a number known already, which is no count of 1..k-1: it is not a finding. Only a
       finding that names no table, or only tables withheld whole already, refuses the
       release: the ledger gives a count away without it, which an audited ledger does not.
    """
    truth = linked.vector(counts, link_counts)
    offsets = linked.offsets
    suppressed: list[set[Ref]] = [
        set()
        if release is None
        else primary(block.universe, truth[offsets[i] : offsets[i + 1]], release, policy, block)
        for i, (block, release) in enumerate(zip(linked.blocks, releases, strict=True))
    ]
    closed: set[str] = set()  # tables withheld whole: no choice of cells protected them
    rounds = 0
    while True:
        rounds += 1
        publications = _publish_all(linked, releases, truth, suppressed)
        candidate = linked.with_publications(publications)
        result = audit(candidate, solver, truth, policy.k)
        # a withheld cell of a closed table that the ledger pins at k or more hides a number known
        # already
        left = tuple(
            f for f in result.findings if f.reason != "pinned" or f.target.table not in closed
        )
        if not left:
            passed = AuditResult((), result.targets, result.solves)
            return ProtectedLinked(publications, candidate, passed, rounds)
        more: set[tuple[int, Ref]] = set()
        unclearable = []
        # this round's complement programs, shared by its findings
        programs: dict[tuple[int | None, int], ComplementProgram] = {}
        for finding in left:
            chosen = complement(
                linked,
                publications,
                truth,
                finding,
                solver,
                policy.k,
                policy.withhold_mandatory,
                programs,
            )
            if chosen is None:
                unclearable.append(finding)
            else:
                more |= chosen
        stalled = all(ref in suppressed[i] for i, ref in more)  # the choices add nothing new
        if stalled or unclearable or rounds >= policy.max_rounds:
            stuck = unclearable or list(left)
            tables = {f.target.table for f in stuck}
            named = {table for table in tables if table is not None}
            if len(named) < len(tables) or named <= closed:  # no table, or only closed ones
                raise ReleaseRefused(stuck)
            closed |= named
            for i, release in enumerate(releases):
                for table in release.tables if release is not None else ():
                    if table.name in closed:
                        suppressed[i] |= {
                            ("cell", (table.name, key))
                            for key in table.keys()
                            if policy.withhold_mandatory or key not in table.mandatory
                        }
        for i, ref in more:
            suppressed[i].add(ref)


def _publish_all(
    linked: Linked,
    releases: Sequence[Release | None],
    truth: Sequence[int],
    suppressed: Sequence[set[Ref]],
) -> tuple[Publication | None, ...]:
    offsets = linked.offsets
    return tuple(
        None
        if release is None
        else publish(block.universe, truth[offsets[i] : offsets[i + 1]], release, suppressed[i])
        for i, (block, release) in enumerate(zip(linked.blocks, releases, strict=True))
    )
