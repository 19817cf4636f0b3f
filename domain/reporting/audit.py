"""The disclosure audit: what an outsider can infer from everything ever released.

The ledger holds every publication — every table, quarter, year-to-date, organisation level
and revision. Each published number is an equation over the atoms (non-negative integer
unknowns); each published percentage is a pair of inequalities (§3.3). For every *target*
the audit decides, exactly over the integers, what an outsider can infer:

* every cell of the universe's full cross-classification with its margins — each atom, and
  each sum of atoms fixing some dimensions and totalling the rest ("late records, any type",
  "minors, non-binary, foreign national, any organisation") — unless it contains an atom no
  publication constrains (that atom alone can make it large): blocked if its feasible
  values lie inside 1..k-1 (pinned to a small value included);
* every suppressed cell of every publication: blocked as an atom is, and also if it is
  pinned to any single non-zero value (a suppression that can be undone protects nothing);
* the sum of the suppressed parts of each table line (collapsing the suppressed categories
  of a row must not give a small count either): blocked as an atom is;
* the difference of two published cells whose selections differ in one dimension, one inside
  the other (a revision minus its original, a year-to-date minus a quarter, a roll-up minus
  an organisation, a category group minus one of its codes): blocked as an atom is;
* the change of a cell between two releases (`Ledger.changes`: two published cells that
  differ only in their record vintages, neither inside the other — a revision after an
  erasure or a correction against its original): blocked if every value it can take lies in
  1..k-1 or in -(k-1)..-1;
* the difference of two cells of different vintages that also differ in one more dimension,
  one code set inside the other (a revised all-clients total minus the original's
  consenting-only total: the clients without consent plus the late records): blocked as a
  change is;
* with `Ledger.units`, each of these for every unit's cells, released or not yet: what the
  other units publish must not pin what a unit will publish later;
* every outsider-identifiable group — each row of a table across a sensitive
  classification, and each declared `Group` — must keep at least two categories of the
  breakdown possible whenever it can have members (§3.5); otherwise "all clients of agency X
  were labour-trafficking victims" is derivable.

**How.** A target is *safe* as soon as an integer point satisfying every ledger fact shows
it: the target at zero, or at k or more (and, for a suppressed cell, two different values);
for a group, two categories each non-zero at some point. Points are collected in a pool and
every point is checked against every open target, so one solve usually settles many targets:
the true counts (when given) are the first point, then one solve minimising and one
maximising the sum of all open targets, then per open target a feasibility problem ("this
target = 0", else ">= k", else "some other category >= 1"). Every point is verified here in
exact integer arithmetic before it counts, so a *safe* verdict never rests on a
floating-point solver: it rests on a witness that was checked. A *blocked* verdict rests on
the solver's proof of infeasibility (`IntegerSolver`; `services.reporting.solver` solves the
LP relaxation first — LP infeasible proves integer infeasible, an integral LP vertex is a
witness — and runs branch-and-bound only when neither settles it); a solver failure is
reported as `undecided`, which blocks too. Errors of the solver can therefore only block a
safe release, never pass an unsafe one.

**Cost.** With n constrained atoms, m facts, T targets (the cross-classification alone has up
to prod(codes_i + 1) cells, built once per universe and then only filtered, `targets`): at
most 2 + 3T integer programs of n variables and m + 1 rows (suppressed cells need up to two
more), each an LP first. The pool makes the typical count far smaller — every target whose
truth is zero, and most whose truth is large, are settled by the truth or the two sum
solves — so the solves left are for small non-zero targets, roughly the suppressed cells.
Integer programming is NP-hard in general; tables with margins are nearly totally unimodular
and the LP relaxation settles most. Every witness is checked in O(nnz) and checked against
the targets still open in O(T * nnz).

**What is not guaranteed.** Only the targets above are audited: an arbitrary linear
combination of atoms that is none of the above (say, two suppressed cells of different
tables added together, a union of codes of one dimension that no table publishes, or the
difference of two cells that differ in more than one dimension besides the vintage) is not
checked. Atoms are
bounded above by `upper_bound` (twice the largest number published or true, plus 2k); that
bound can only make the audit stricter. Nothing here knows who the outsider is: the audit
assumes they know the codebook, the table layouts and every published number, and nothing
else (no individual's record — a person who knows their own record learns more, as with
any aggregate).

**What a finding may say.** That a cell is blocked tells whoever reads it that the cell is
small and non-zero, and a group finding tells that the group is concentrated. A `Finding`
therefore carries coordinates for the program (protection needs them) but its `repr` and
`describe()` name only the kind, the reason, the release and the table; never a count,
never an interval, never which category a group is concentrated in. Treat `coordinates`
like the counts themselves: never log it, never return it over HTTP.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Protocol

from domain.reporting.tables import CellKey, Release, Selection, Universe
from domain.reporting.targets import Target, Terms, Unions, cross_targets  # Target, Terms, Unions: this API too

K = 11  # CMS threshold: no count 1..K-1 is published or derivable


# -- the port to an integer-programming solver -------------------------------------------------

@dataclass(frozen=True)
class Row:
    """low <= sum(coefficient * x[variable]) <= high (None: unbounded on that side)."""

    terms: Terms
    low: int | None
    high: int | None

    def holds(self, point: Sequence[int]) -> bool:
        value = sum(c * point[v] for v, c in self.terms)
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True, eq=False)  # identity equality: solvers cache a compiled system by it
class LinearSystem:
    """Integer variables lower[i] <= x[i] <= upper[i] and rows of linear constraints."""

    lower: tuple[int, ...]
    upper: tuple[int, ...]
    rows: tuple[Row, ...]

    def holds(self, point: Sequence[int], extra: Sequence[Row] = ()) -> bool:
        return (len(point) == len(self.lower)
                and all(lo <= x <= hi for lo, x, hi in zip(self.lower, point, self.upper))
                and all(row.holds(point) for row in self.rows)
                and all(row.holds(point) for row in extra))


@dataclass(frozen=True)
class IntegerProgram:
    system: LinearSystem
    extra: tuple[Row, ...] = ()
    objective: Terms = ()
    maximise: bool = False
    gap: float = 0.0  # relative optimality gap accepted (0: optimal); feasibility is never relaxed
    node_limit: int | None = None  # branch-and-bound nodes; then the best point found will do (None if none).
    # A node limit, not a time limit: the same program gives the same answer on any machine under any load.


class SolverFailed(RuntimeError):
    """The solver stopped without a proof either way (time limit, numerical trouble)."""


class IntegerSolver(Protocol):
    def solve(self, program: IntegerProgram) -> tuple[int, ...] | None:
        """An integer point satisfying the program, optimal for its objective; None if infeasible.

        Raises SolverFailed when it can prove neither. Callers verify returned points.
        """

    def relax(self, program: IntegerProgram) -> tuple[float, ...] | None:
        """A point of the program's linear relaxation (integrality dropped), optimal for its
        objective; None if the relaxation is infeasible (then so is the program).

        Raises SolverFailed when it can prove neither. Deterministic: the same programs in the same
        order, the same points (a solver may start a program from where the last one over the same
        system ended).
        """


# -- the ledger ----------------------------------------------------------------------------------

class InconsistentLedger(ValueError):
    """The ledger's facts admit no point, or the true counts contradict them.

    Usually a revision released over the same atoms as its original: model late and
    corrected records as a vintage dimension so that both releases stay true.
    """


CellRef = tuple[str, CellKey]  # (table name, cell key)


@dataclass(frozen=True, eq=False)
class Publication:
    """What one release actually published: every cell (None = suppressed) and percentage.

    The selection of every cell is resolved when the publication is built, so a later
    codebook that adds codes does not change what an old publication meant.
    """

    release: Release
    cells: Mapping[CellRef, int | None]
    percentages: Mapping[str, int | None]
    selections: Mapping[CellRef, Selection]

    @classmethod
    def of(cls, universe: Universe, release: Release, cells: Mapping[CellRef, int | None],
           percentages: Mapping[str, int | None] | None = None) -> Publication:
        selections = {(t.name, key): t.selection(universe, key) for t in release.tables for key in t.keys()}
        if set(cells) != set(selections):
            raise ValueError("a publication gives every cell of every table (None for suppressed)")
        percentages = dict(percentages or {})
        if set(percentages) != {p.name for p in release.percentages}:
            raise ValueError("a publication gives every percentage (None for suppressed)")
        return cls(release, dict(cells), percentages, selections)

    def suppressed(self) -> list[CellRef]:
        return [ref for ref, value in self.cells.items() if value is None]


@dataclass(frozen=True)
class Ledger:
    universe: Universe
    publications: tuple[Publication, ...] = ()
    # The dimension of record vintages (`domain.reporting.vintages`), if any: two published cells
    # that differ only there are one cell at two times, and publish its change (`difference_targets`).
    changes: str | None = None
    # The dimension of reporting units (organisations), if any: a unit's cells are audited for
    # every unit, released or not yet (`difference_targets`), so that what the others publish
    # never pins a difference in the tables a unit will publish later.
    units: str | None = None

    @property
    def changes_position(self) -> int | None:
        """The index of the `changes` dimension in the universe (None without one)."""
        return None if self.changes is None else self.universe.position(self.changes)

    def with_publication(self, publication: Publication) -> Ledger:
        if any(p.release.name == publication.release.name for p in self.publications):
            raise ValueError("a release name is used once; a revision is a new release")
        return Ledger(self.universe, (*self.publications, publication), self.changes, self.units)

    def digest(self) -> str:
        """SHA-256 over every published number and its meaning (for the disclosure certificate)."""
        def selection(s: Selection) -> list[list[str]]:
            return [sorted(codes) for codes in s]
        document = [[d.name, list(d.codes)] for d in self.universe.dimensions], [
            {"release": p.release.name, "codebook": p.release.codebook_version,
             "cells": sorted([t, list(k), v, selection(p.selections[(t, k)])] for (t, k), v in p.cells.items()),
             "percentages": sorted([
                 [q.name, p.percentages[q.name], list(q.numerator[1]), q.numerator[0],
                  list(q.denominator[1]), q.denominator[0]] for q in p.release.percentages])}
            for p in self.publications]
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def terms_of(universe: Universe, parts: Sequence[tuple[Selection, int]], offset: int = 0) -> Terms:
    """Sums over selections as terms; `offset`: where the universe's atoms start (a linked block)."""
    merged: dict[int, int] = {}
    for selection, coefficient in parts:
        for index in universe.indices(selection):
            merged[offset + index] = merged.get(offset + index, 0) + coefficient
    return tuple(sorted((v, c) for v, c in merged.items() if c))


def publication_rows(universe: Universe, publication: Publication, offset: int = 0) -> list[Row]:
    """The facts a publication gives away: one equation per published cell, two rows per percentage."""
    rows = [Row(terms_of(universe, [(publication.selections[ref], 1)], offset), value, value)
            for ref, value in publication.cells.items() if value is not None]
    for percentage in publication.release.percentages:
        p = publication.percentages[percentage.name]
        if p is not None:
            rows.extend(percentage_rows(universe, publication.selections[percentage.numerator],
                                        publication.selections[percentage.denominator], p, offset))
    return rows


def percentage_rows(universe: Universe, numerator: Selection, denominator: Selection, percent: int,
                    offset: int = 0) -> list[Row]:
    """p = round_half_up(100 n / d)  <=>  200 n - (2p - 1) d >= 0  and  200 n - (2p + 1) d <= -1."""
    return [Row(terms_of(universe, [(numerator, 200), (denominator, -(2 * percent - 1))], offset), 0, None),
            Row(terms_of(universe, [(numerator, 200), (denominator, -(2 * percent + 1))], offset), None, -1),
            Row(terms_of(universe, [(denominator, 1)], offset), 1, None)]


# -- targets and findings --------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    reason: str  # "derivable_small" | "pinned" | "single_category" | "undecided"
    target: Target = field(repr=False)

    @property
    def kind(self) -> str:
        return self.target.kind

    @property
    def coordinates(self) -> dict[str, str]:
        """Where (sensitive: reveals that the cell is small and non-zero; never log it)."""
        return dict(self.target.coordinates)

    def describe(self) -> str:
        where = "/".join(part for part in (self.target.release, self.target.table) if part)
        return f"{self.target.kind} {self.reason}" + (f" in {where}" if where else "")

    def __repr__(self) -> str:
        return f"Finding({self.describe()!r})"


@dataclass(frozen=True)
class AuditResult:
    findings: tuple[Finding, ...]
    targets: int
    solves: int

    @property
    def ok(self) -> bool:
        return not self.findings


def ledger_targets(ledger: Ledger, rows: Sequence[Row], offset: int = 0, kind: str | None = None,
                   unions: Unions = ()) -> list[Target]:
    """Every target of one ledger (see the module docstring). `rows`: every fact (in the indices of
    the whole system when the ledger is a block of a `Linked` one, starting at `offset`); `kind`
    overrides the kind of the cross-classification's cells (link counts); `unions` adds the
    cells of unions of codes to the cross-classification (`targets.cross_classification`)."""
    return _ledger_targets(ledger, {v for row in rows for v, _ in row.terms}, offset, kind, unions)


def _ledger_targets(ledger: Ledger, constrained: Set[int], offset: int = 0, kind: str | None = None,
                    unions: Unions = ()) -> list[Target]:
    """`ledger_targets` given the variables some fact constrains (`Linked.targets` finds them once)."""
    universe = ledger.universe
    cross = cross_targets(universe, unions, offset, kind)  # built once per universe, offset and kind
    # A cell with an atom no fact constrains is left out: that atom alone can make it large.
    cells, excluded = cross.passing([a for a in range(universe.size) if offset + a not in constrained])
    targets = []
    for publication in ledger.publications:
        name = publication.release.name
        for (table_name, key) in publication.suppressed():
            table = publication.release.table(table_name)
            targets.append(Target("suppressed_cell", name, table_name, tuple(table.coordinates(key).items()),
                                  terms_of(universe, [(publication.selections[(table_name, key)], 1)], offset), pin=True))
        for table in publication.release.tables:
            for total_key, parts in table.lines():
                hidden = [key for key in parts if publication.cells[(table.name, key)] is None]
                if len(hidden) >= 2:
                    targets.append(Target(
                        "suppressed_sum", name, table.name, tuple(table.coordinates(total_key).items()),
                        terms_of(universe, [(publication.selections[(table.name, k)], 1) for k in hidden], offset)))
            for row_key, classification, categories in table.rows():
                targets.append(Target(
                    "group", name, table.name, tuple(table.coordinates(row_key).items()),
                    categories=tuple(terms_of(universe, [(publication.selections[(table.name, k)], 1)], offset)
                                     for k in categories)))
        for group in publication.release.groups:
            base = universe.restrict(universe.select(), dict(group.where))
            targets.append(Target(
                "group", name, None, (("group", group.name), ("breakdown", group.breakdown.name)),
                categories=tuple(
                    terms_of(universe, [(universe.restrict(base, {group.breakdown.dimension: codes}), 1)], offset)
                    for _, codes in group.breakdown.groups)))
    targets.extend(difference_targets(ledger, offset))
    # The same cell published twice (a revision) is one target, and so is a published cell (or a
    # difference) that is a cell of the cross-classification: the first one listed is kept. The
    # cells are distinct already (`targets.CrossTargets`) and come first.
    unique: dict[tuple[object, ...], Target] = {}
    for target in targets:
        if not target.categories and not target.pin and cross.passed(target.terms, excluded):
            continue
        unique.setdefault((target.terms, target.categories, target.pin), target)
    return [*cells, *unique.values()]


def difference_targets(ledger: Ledger, offset: int = 0) -> list[Target]:
    """The records in one published cell and not in another that it contains, and the changes
    of a cell between two times.

    Two cells (of any publications) whose selections differ in one dimension only, one code
    set inside the other — a revision against its original (vintages), a year-to-date against
    a quarter (quarters), a roll-up against an organisation, a category group against one of
    its codes — publish the count of their difference too. That difference is a union of codes
    of one dimension, which the margins above do not cover when it is more than one code.

    In the ledger's `changes` dimension (vintages) neither need contain the other: a revision
    after a correction counts versions its original did not and no longer counts some it did.
    The two publish the cell's change, a difference of two unions that may be negative (kind
    ``change``, signed): a change of 1..k-1 either way says how many records of the cell were
    erased, corrected or added late, and is blocked as an atom is.

    With the ledger's `units`, a cell of one unit (an organisation's table) stands for the same
    cell of every unit: releases of the others (a roll-up, the other organisations) must not
    pin a difference that a unit's own later release would publish, since that release could
    then only be withheld.
    """
    universe = ledger.universe
    changes = ledger.changes_position
    origin: dict[Selection, tuple[str, str]] = {}
    for publication in ledger.publications:
        for (table_name, _), selection in publication.selections.items():
            origin.setdefault(selection, (publication.release.name, table_name))
    if ledger.units is not None:  # the same cells of every other unit, which may publish them later
        u = universe.position(ledger.units)
        for selection, named in list(origin.items()):
            if len(selection[u]) == 1:
                for code in universe.dimensions[u].codes:
                    origin.setdefault((*selection[:u], frozenset([code]), *selection[u + 1:]), named)
    groups: dict[tuple[int, Selection], list[Selection]] = {}
    for selection in origin:
        for d in range(len(selection)):
            groups.setdefault((d, selection[:d] + selection[d + 1:]), []).append(selection)
    targets = []
    for (d, _), members in groups.items():
        dimension = (("dimension", universe.dimensions[d].name),)
        for i, outer in enumerate(members):
            for j, inner in enumerate(members):
                if inner[d] < outer[d]:
                    difference = outer[:d] + (outer[d] - inner[d],) + outer[d + 1:]
                    name, table_name = origin[outer]
                    targets.append(Target("difference", name, table_name, dimension,
                                          terms_of(universe, [(difference, 1)], offset)))
                elif d == changes and i < j and not inner[d] <= outer[d] and not outer[d] <= inner[d]:
                    earlier, later = outer, inner  # members are in ledger order
                    name, table_name = origin[later]
                    targets.append(Target("change", name, table_name, dimension,
                                          terms_of(universe, [(later, 1), (earlier, -1)], offset), signed=True))
    if changes is not None:
        targets.extend(_revised_differences(universe, origin, changes, offset))
    return targets


def _revised_differences(universe: Universe, origin: Mapping[Selection, tuple[str, str]], changes: int,
                         offset: int) -> list[Target]:
    """The differences of two cells of different times whose selections also differ in one more
    dimension, one code set inside the other: a revised total (all clients, every lifetime alive
    now) minus the original's breakdown total (consenting clients, the lifetimes alive then) is
    the non-consenting clients plus the late records, a count no single-dimension pair shows.
    Signed unless the one cell contains the other (a change, as in `difference_targets`)."""
    groups: dict[tuple[int, Selection], list[Selection]] = {}
    for selection in origin:
        for d in range(len(selection)):
            if d != changes:
                rest = tuple(codes for i, codes in enumerate(selection) if i not in (d, changes))
                groups.setdefault((d, rest), []).append(selection)
    targets = []
    for (d, _), members in groups.items():
        dimension = (("dimension", universe.dimensions[d].name), ("dimension", universe.dimensions[changes].name))
        for outer in members:
            for inner in members:
                if inner[d] < outer[d] and inner[changes] != outer[changes]:
                    contained = inner[changes] <= outer[changes]
                    name, table_name = origin[outer]
                    targets.append(Target("difference" if contained else "change", name, table_name, dimension,
                                          terms_of(universe, [(outer, 1), (inner, -1)], offset),
                                          signed=not contained))
    return targets


def ledger_system(ledger: Ledger | Linked, truth: Sequence[int] | None = None, k: int = K) -> LinearSystem:
    """Every fact of a ledger (or of linked ledgers and their link rows) as one integer system."""
    linked = ledger if isinstance(ledger, Linked) else Linked((ledger,))
    rows = linked.rows()
    published = [abs(row.low) for row in rows if row.low is not None and row.low == row.high]
    bound = 2 * max([*published, *(truth or ()), 0]) + 2 * k
    upper = [bound] * linked.size
    for row in rows:  # a published zero over non-negative atoms fixes each of them at zero
        if row.low == row.high == 0 and all(c > 0 for _, c in row.terms):
            for v, _ in row.terms:
                upper[v] = 0
    return LinearSystem((0,) * linked.size, tuple(upper), tuple(rows))


# -- ledgers of families over the same people ------------------------------------------------

@dataclass(frozen=True, eq=False)
class Linked:
    """The ledgers of several *blocks* (families) over the same people, glued by link counts.

    Each block is a `Ledger` over its own universe (its own dimensions, few atoms). The blocks
    describe the same people, so they share information beyond the totals they publish: the
    *link* is a universe of the dimensions the blocks have in common (organisation, quarter,
    vintage, newness, consent, age band, program, ...), one unknown count per link atom, and
    `cells[b][a]` maps atom `a` of block `b` to the link selection it belongs to (a product
    set: the link dimensions the block's atom fixes, the others whole; None: not linked). For
    every block and every distinct link selection, the block's atoms in it sum to the link
    atoms in it — a fact the outsider knows by definition (the same clients, counted twice).

    **Exactness.** When every block's atoms map onto a *coarsening* of the link (each block's
    selections partition the link atoms it covers) and the blocks share nothing else — given
    the link counts, each block's remaining dimensions are its own — any point of every block
    agreeing on the link counts is the projection of one joint cross-classification (within
    each link atom, a table with the blocks' splits as margins always exists in integers). So
    the system below has exactly the outsider's joint feasible set projected onto the blocks'
    atoms and the link counts, and auditing it is as exact as auditing the joint universe,
    with the atoms of the blocks plus the link instead of their product.

    Variables: block 0's atoms, block 1's, ..., then the link atoms (`offset`). Link counts are
    targets too (kind ``link``): every cell of the link's cross-classification with margins.
    """

    blocks: tuple[Ledger, ...]
    link: Universe | None = None
    cells: tuple[tuple[Selection | None, ...], ...] = ()
    unions: Unions = ()  # unions of link codes that blocks publish as one category (audited link cells)
    _memo: dict[str, object] = field(default_factory=dict, repr=False, compare=False)  # link rows, classes

    def __post_init__(self) -> None:
        if self.link is not None and (len(self.cells) != len(self.blocks) or any(
                len(c) != b.universe.size for c, b in zip(self.cells, self.blocks))):
            raise ValueError("a link cell (or None) for every atom of every block")

    @property
    def offsets(self) -> tuple[int, ...]:
        """Where each block's atoms start, then where the link's start."""
        offsets, at = [], 0
        for block in self.blocks:
            offsets.append(at)
            at += block.universe.size
        return (*offsets, at)

    @property
    def size(self) -> int:
        return self.offsets[-1] + (self.link.size if self.link is not None else 0)

    def with_publications(self, publications: Sequence[Publication | None]) -> Linked:
        blocks = tuple(b if p is None else b.with_publication(p) for b, p in zip(self.blocks, publications, strict=True))
        return Linked(blocks, self.link, self.cells, self.unions, self._memo)  # same universes: same link rows

    def publication_rows(self) -> list[Row]:
        offsets = self.offsets
        return [row for i, block in enumerate(self.blocks) for p in block.publications
                for row in publication_rows(block.universe, p, offsets[i])]

    def classes(self, block: int) -> list[tuple[Selection, list[int]]]:
        """A block's atoms (local indices) grouped by the link selection they belong to."""
        key = f"classes/{block}"
        if key not in self._memo:
            classes: dict[Selection, list[int]] = {}
            for atom, selection in enumerate(self.cells[block] if self.link is not None else ()):
                if selection is not None:
                    classes.setdefault(selection, []).append(atom)
            self._memo[key] = list(classes.items())
        return self._memo[key]  # type: ignore[return-value]

    def link_rows(self) -> list[Row]:
        """For every block and link selection: the block's atoms in it = the link atoms in it."""
        if self.link is None:
            return []
        if "link_rows" not in self._memo:
            offsets, rows = self.offsets, []
            for i in range(len(self.blocks)):
                for selection, atoms in self.classes(i):
                    link_terms = terms_of(self.link, [(selection, -1)], offsets[-1])
                    rows.append(Row(tuple(sorted([(offsets[i] + a, 1) for a in atoms] + list(link_terms))), 0, 0))
            self._memo["link_rows"] = rows
        return list(self._memo["link_rows"])  # type: ignore[arg-type]

    def local(self, system: LinearSystem, truth: Sequence[int] | None, block: int) -> LinearSystem:
        """Block `block`'s own facts; with `truth`, each of its link classes held at its true total.

        Two exact shortcuts, in local indices (the block's atoms). With the classes held at the
        truth, a point of this small system, with every other variable at the truth, is a point
        of the whole system (every link row still holds): a witness found here is a witness
        there. Without them it is a relaxation of the whole system (fewer facts): no point here
        proves that there is none there."""
        offsets = self.offsets
        low, high = offsets[block], offsets[block + 1]
        rows = [Row(tuple((v - low, c) for v, c in row.terms), row.low, row.high) for row in system.rows
                if row.terms and low <= row.terms[0][0] and row.terms[-1][0] < high]
        for _, atoms in self.classes(block) if truth is not None else ():
            value = sum(truth[low + a] for a in atoms)
            rows.append(Row(tuple((a, 1) for a in atoms), value, value))
        return LinearSystem(system.lower[low:high], system.upper[low:high], tuple(rows))

    def block_of(self, terms: Terms) -> int | None:
        """The block holding every variable of `terms` (None: several, or the link)."""
        if not terms:
            return None
        offsets = self.offsets
        for i in range(len(self.blocks)):
            if offsets[i] <= terms[0][0] and terms[-1][0] < offsets[i + 1]:
                return i
        return None

    def rows(self) -> list[Row]:
        return self.publication_rows() + self.link_rows()

    def vector(self, counts: Sequence[Mapping[tuple[str, ...], int]],
               link_counts: Mapping[tuple[str, ...], int] | None = None) -> tuple[int, ...]:
        """True counts of every block (and of the link) as one vector over the system's variables."""
        vector = [x for block, c in zip(self.blocks, counts, strict=True) for x in block.universe.vector(c)]
        if self.link is not None:
            vector.extend(self.link.vector(link_counts or {}))
        return tuple(vector)

    def targets(self, rows: Sequence[Row]) -> list[Target]:
        offsets = self.offsets
        constrained = {v for row in rows for v, _ in row.terms}
        targets = [t for i, block in enumerate(self.blocks) for t in _ledger_targets(block, constrained, offsets[i])]
        if self.link is not None:
            targets.extend(_ledger_targets(Ledger(self.link), constrained, offsets[-1], "link", self.unions))
        # Each block's targets are distinct and over its own variables, so only targets over no
        # variable at all (an empty selection) can coincide across blocks: the first one is kept.
        unique, seen = [], set()
        for target in targets:
            if not target.terms and not any(target.categories):
                key = (target.terms, target.categories, target.pin)
                if key in seen:
                    continue
                seen.add(key)
            unique.append(target)
        return unique


# -- the audit -----------------------------------------------------------------------------------

def dot(terms: Terms, point: Sequence[int]) -> int:
    return sum(c * point[v] for v, c in terms)


class _Open:
    """What the pool has shown so far about one target."""

    __slots__ = ("target", "values", "possible")  # one per target: tens of thousands per audit

    def __init__(self, target: Target) -> None:
        self.target = target
        self.values: set[int] = set()
        self.possible: set[int] = set()  # group: categories seen non-zero

    def see(self, point: Sequence[int]) -> None:
        if self.target.categories:
            self.possible.update(i for i, terms in enumerate(self.target.categories) if dot(terms, point) >= 1)
        else:
            self.values.add(dot(self.target.terms, point))

    def safe(self, k: int) -> bool:
        if self.target.categories:
            return len(self.possible) >= 2
        if 0 in self.values:
            return True
        if self.target.signed:
            return max(map(abs, self.values), default=0) >= k
        return max(self.values, default=0) >= k and (not self.target.pin or len(self.values) >= 2)


class _Auditor:
    def __init__(self, system: LinearSystem, solver: IntegerSolver, k: int, linked: Linked | None = None,
                 truth: Sequence[int] | None = None) -> None:
        self.system, self.solver, self.k = system, solver, k
        self.linked, self.truth = linked, truth
        self.locals: dict[tuple[int, bool], LinearSystem] = {}
        self.solves = 0

    def find_local(self, extra: Sequence[Row]) -> tuple[int, ...] | bool:
        """The block shortcuts of linked ledgers (`Linked.local`) for rows within one block: a
        verified point of the whole system found within the block (its link classes and every
        other variable at the truth); False when the block alone, a relaxation, has no point
        (so the whole system has none); True when neither settles it."""
        linked, truth = self.linked, self.truth
        if linked is None or linked.link is None or not extra:
            return True
        block = linked.block_of(tuple(sorted({t for row in extra for t in row.terms})))
        if block is None:
            return True
        low = linked.offsets[block]
        local_extra = tuple(Row(tuple((v - low, c) for v, c in row.terms), row.low, row.high) for row in extra)
        for held in ((True, False) if truth is not None else (False,)):
            if (block, held) not in self.locals:
                self.locals[(block, held)] = linked.local(self.system, truth if held else None, block)
            self.solves += 1
            try:
                found = self.solver.solve(IntegerProgram(self.locals[(block, held)], local_extra))
            except SolverFailed:
                continue
            if found is None:
                if not held:
                    return False  # infeasible in a relaxation: infeasible
                continue
            if held:
                assert truth is not None
                point = list(truth)
                point[low:low + len(found)] = (int(x) for x in found)
                if self.system.holds(point, extra):
                    return tuple(point)
        return True

    def find(self, extra: Sequence[Row] = (), objective: Terms = (), maximise: bool = False) -> tuple[int, ...] | None:
        """A verified point, or None when the solver proves there is none. SolverFailed passes up."""
        if not objective:
            local = self.find_local(extra)
            if local is False:
                return None
            if local is not True:
                return local
        self.solves += 1
        point = self.solver.solve(IntegerProgram(self.system, tuple(extra), objective, maximise))
        if point is None:
            return None
        point = tuple(int(x) for x in point)
        if not self.system.holds(point, extra):
            raise SolverFailed("the solver returned a point that does not satisfy the ledger")
        return point


def audit(ledger: Ledger | Linked, solver: IntegerSolver, truth: Sequence[int] | None = None,
          k: int = K) -> AuditResult:
    """Audit everything the ledger (or the linked ledgers) published. `truth`: the true counts of
    every variable (`Linked.vector`), if known (a shortcut)."""
    linked = ledger if isinstance(ledger, Linked) else Linked((ledger,))
    system = ledger_system(linked, truth, k)
    auditor = _Auditor(system, solver, k, linked, truth)
    opens = [_Open(t) for t in linked.targets(system.rows)]
    # The targets no point has shown safe yet, in order. Points are only ever added, so a target
    # once safe stays safe: each point is checked against the few still open, not against all.
    unsettled = opens

    def add(point: Sequence[int]) -> None:
        nonlocal unsettled
        still = []
        for state in unsettled:
            if not state.safe(k):
                state.see(point)
                if not state.safe(k):
                    still.append(state)
        unsettled = still

    if truth is not None:
        if not system.holds(truth):
            raise InconsistentLedger("the true counts contradict a published number")
        add(truth)
    else:
        first = auditor.find()
        if first is None:
            raise InconsistentLedger("no counts satisfy every published number")
        add(first)
    for maximise in (False, True):  # one point pushing every open target down, one pushing up
        pending = [s.target for s in unsettled if not s.safe(k)]
        if not pending:
            break
        objective = terms_of_sum([t.terms or merge(t.categories) for t in pending])
        try:
            point = auditor.find(objective=objective, maximise=maximise)
        except SolverFailed:
            point = None
        if point is not None:
            add(point)

    findings = []
    for state in list(unsettled):  # `_settle` adds points: a target met later may be safe by then
        if state.safe(k):
            continue
        try:
            reason = _settle(state, auditor, add)
        except SolverFailed:
            reason = "undecided"
        if reason is not None:
            findings.append(Finding(reason, state.target))
    return AuditResult(tuple(findings), len(opens), auditor.solves)


def merge(parts: Sequence[Terms]) -> Terms:
    return terms_of_sum(parts)


def terms_of_sum(parts: Sequence[Terms]) -> Terms:
    merged: dict[int, int] = {}
    for terms in parts:
        for v, c in terms:
            merged[v] = merged.get(v, 0) + c
    return tuple(sorted((v, c) for v, c in merged.items() if c))


def _settle(state: _Open, auditor: _Auditor, add) -> str | None:  # noqa: ANN001
    """Look for a witness that makes the target safe; the reason it is blocked otherwise."""
    k, target = auditor.k, state.target

    def attempt(rows: list[Row]) -> bool:
        point = auditor.find(rows)
        if point is None:
            return False
        add(point)
        state.see(point)  # `add` skips targets already safe; this one is being decided
        return True

    if target.categories:
        if not state.possible and not attempt([Row(merge(target.categories), 1, None)]):
            return None  # the group is provably empty
        if state.safe(k):
            return None
        (seen,) = state.possible
        others = merge([t for i, t in enumerate(target.categories) if i != seen])
        return None if others and attempt([Row(others, 1, None)]) else "single_category"

    if target.signed:  # a change: zero, or k or more either way
        if attempt([Row(target.terms, 0, 0)]) or attempt([Row(target.terms, k, None)]) \
                or attempt([Row(target.terms, None, -k)]):
            return None
        return "derivable_small"
    if attempt([Row(target.terms, None, 0)]):
        return None
    attempt([Row(target.terms, k, None)])
    if max(state.values) < k:
        return "derivable_small"
    if state.safe(k):
        return None
    (value,) = state.values  # a suppressed cell seen only at one value >= k: is it pinned?
    if attempt([Row(target.terms, value + 1, None)]) or attempt([Row(target.terms, None, value - 1)]):
        return None
    return "pinned"
