"""Deciding what a release may publish: primary and complementary suppression, proven by audit.

`protect(ledger, release, counts, solver)` takes the true atom counts as plain data and
returns the publication to release together with its audit, or raises `ReleaseRefused`.
`protect_linked` does the same for several families over the same people (`audit.Linked`):
one release per block, audited as one system, complementary suppressions chosen in any block.

1. **Primary suppression.** Every cell whose true count is 1..k-1 is suppressed (zero may be
   shown). With a `MinimumUnit`, every cell of a unit (say an organisation) whose total is
   below the minimum is suppressed too, except the cells its table marks mandatory (§3.6).
   So is every cell, a mandatory one included, whose difference from a number the ledger
   already published is 1..k-1 either way, where the two differ in one dimension (a revision and its
   original, a year-to-date and an earlier one): the audit would block it
   (`audit.difference_targets`) and the other number is out for good, so it is taken out
   before the first audit rather than found by it. In a revision, so is every cell whose
   late records and departures are 1..k-1 (its count now against its count over the record
   vintages of an earlier release, published there or not). A percentage whose numerator or
   denominator is suppressed is suppressed.
2. **Audit.** The candidate publication is added to the ledger and audited (`audit.audit`):
   every atom, suppressed cell, line of suppressed cells and group, against everything ever
   published.
3. **Complementary suppression.** For each finding, a small integer program chooses which
   further cells (or percentages) of *this* release to suppress so that an outsider's
   feasible set contains a witness that clears the finding: a point where the target is 0
   or at least k (a suppressed cell: at another value; a group: another category non-zero).
   Unknowns are the atoms plus, per publishable number j, a switch z_j and deviations
   p_j, m_j <= M z_j with cell_j(x) - p_j + m_j = published_j; it minimises
   sum z_j * w_j * (1 + published_j), so small cells are preferred and totals are kept; w_j
   is 1, or `WITHHOLDING` for a cell the table marks mandatory (a funder's total): it is
   *withheld* only when no other choice clears the finding. Within the
   finding's own block: within 25 % of the optimum, or the best found in `COMPLEMENT_NODES`
   branch-and-bound nodes. Over the whole linked system (thousands of unknowns): LP rounding
   (`_rounded_choice`), branch-and-bound only if it settles nothing. M is 2k first (a tight
   relaxation, fast), a large bound if that finds nothing. Past publications stay fixed.
   The choices are added and step 2 repeats.
4. **Tables withheld whole.** A finding that no choice clears, or rounds that add nothing
   (or more than `max_rounds` of them): the tables those findings name are withheld whole,
   in every block, and the rounds go on. Withholding adds no fact; a suppressed cell of such a
   table (of this release or an earlier one) that the ledger pins at k or more hides a
   number known already, which is no count of 1..k-1: it is not a finding. Only a finding
   that names no table, or only tables withheld whole already, refuses the release: the
   ledger gives a count away without it, which an audited ledger does not.

Guaranteed: a returned publication passed the audit over the whole ledger including itself,
so everything `audit` guarantees holds. Not guaranteed: minimal information loss (the
choice is greedy per finding and round, optimal for neither the whole table nor future
releases — a cell kept now may have to be suppressed forever after).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import NamedTuple

from domain.reporting.audit import AuditResult, Finding, K, audit
from domain.reporting.integer_programs import (
    IntegerProgram,
    IntegerSolver,
    LinearSystem,
    Row,
    SolverFailed,
    Terms,
    dot,
    terms_of_sum,
)
from domain.reporting.ledger import Ledger, Publication, percentage_rows, publication_rows, terms_of
from domain.reporting.linked import Linked
from domain.reporting.tables import TOTAL, Atom, Release, Selection, Universe, rounded_percent, tabulate, total

WITHHOLDING = 1000  # a mandatory cell costs this many times another: withheld only when nothing else will do
COMPLEMENT_NODES = 200  # per complement program: the best choice found by then will do (deterministic)
MOVED = 1e-6  # a relaxed deviation above this moves its number (LP rounding); HiGHS' tolerance is 1e-7
NOT_ROUNDED = object()  # LP rounding settled nothing: search by branch-and-bound
Ref = tuple[str, object]  # ("cell", (table, key)) or ("percentage", name)


class _Switch(NamedTuple):
    """A publishable number of this release that a complement program may suppress."""

    ref: tuple[int, Ref]  # (block, ("cell", (table, key)) or ("percentage", name))
    variable: int  # 1: suppressed
    weight: int  # its cost in the objective
    deviations: tuple[int, ...]  # the variables by which a witness moves it from its published value


@dataclass(frozen=True)
class MinimumUnit:
    """Units (codes of `dimension`) with fewer than `minimum` clients in a table report only its mandatory cells."""

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
        super().__init__(f"release refused: {len(findings)} finding(s): "
                         + "; ".join(sorted({f.describe() for f in findings})))
        self.findings = tuple(findings)


@dataclass(frozen=True)
class Protected:
    publication: Publication
    ledger: Ledger  # the input ledger with the publication added
    audit: AuditResult
    rounds: int


def primary(universe: Universe, truth: Sequence[int], release: Release, policy: Policy = Policy(),
            ledger: Ledger | None = None) -> set[Ref]:
    """The cells suppressed before any audit: counts 1..k-1, breakdowns of too-small units, and
    (with the `ledger` released before) cells whose difference from a published one is 1..k-1."""
    suppressed: set[Ref] = set()
    published = _published_by_dimension(ledger) if ledger is not None else {}
    changes = ledger.changes_position if ledger is not None else None
    times = {s[changes] for p in ledger.publications for s in p.selections.values()
             } if ledger is not None and changes is not None else set()
    for table in release.tables:
        values = tabulate(universe, truth, table)
        suppressed.update(("cell", (table.name, key)) for key, v in values.items() if 0 < v < policy.k)
        for key, value in values.items() if published else ():
            if not policy.withhold_mandatory and key in table.mandatory:
                continue
            selection = table.selection(universe, key)
            if _differs_little(selection, value, published, changes, policy.k) or (
                    changes is not None and _changed_little(universe, truth, selection, value, changes, times, policy.k)):
                suppressed.add(("cell", (table.name, key)))
        unit = policy.minimum_unit
        if unit is None:
            continue
        for code in universe.dimension(unit.dimension).codes:
            within = universe.restrict(table.selection(universe, tuple(TOTAL for _ in table.by)),
                                       {unit.dimension: frozenset([code])})
            if total(universe, truth, within) >= unit.minimum:
                continue
            for key in table.keys():
                selected = table.selection(universe, key)[universe.position(unit.dimension)]
                if selected <= {code} and key not in table.mandatory:
                    suppressed.add(("cell", (table.name, key)))
    return suppressed


# published numbers by (a dimension, their selection without it): [(that dimension's codes, number), ...]
Published = dict[tuple[int, Selection], list[tuple[frozenset[str], int]]]


def _published_by_dimension(ledger: Ledger) -> Published:
    """Every number published in the ledger, by (a dimension, its selection without that dimension)."""
    out: Published = {}
    for publication in ledger.publications:
        for ref, value in publication.cells.items():
            if value is not None:
                selection = publication.selections[ref]
                for d in range(len(selection)):
                    out.setdefault((d, selection[:d] + selection[d + 1:]), []).append((selection[d], value))
    return out


def _differs_little(selection: Selection, value: int, published: Published, changes: int | None, k: int) -> bool:
    """Whether publishing `value` over `selection` pins a difference target (`audit.difference_targets`)
    to 1..k-1 (or -(k-1)..-1): the published cell it differs from in one dimension is out for good.
    `changes`: the ledger's `changes_position`."""
    for d in range(len(selection)):
        for codes, old in published.get((d, selection[:d] + selection[d + 1:]), ()):
            related = codes < selection[d] or selection[d] < codes or d == changes and codes != selection[d]
            if related and 0 < abs(value - old) < k:
                return True
    return False


def _changed_little(universe: Universe, truth: Sequence[int], selection: Selection, value: int, changes: int,
                    times: Set[frozenset[str]], k: int) -> bool:
    """Whether the cell, counted over the record vintages of any earlier release (`times`), differs
    from `value` by 1..k-1 either way: the late records and departures in it are few, whether or not
    that release published the cell (a cell it suppressed may still be derivable)."""
    for vintages in times:
        if vintages != selection[changes]:
            before = total(universe, truth, (*selection[:changes], vintages, *selection[changes + 1:]))
            if 0 < abs(value - before) < k:
                return True
    return False


def publish(universe: Universe, truth: Sequence[int], release: Release, suppressed: set[Ref]) -> Publication:
    """The publication of `release` with `suppressed` cells (and dependent percentages) withheld."""
    cells = {}
    for table in release.tables:
        for key, value in tabulate(universe, truth, table).items():
            cells[(table.name, key)] = None if ("cell", (table.name, key)) in suppressed else value
    percentages = {}
    for percentage in release.percentages:
        hidden = (("percentage", percentage.name) in suppressed
                  or cells[percentage.numerator] is None or cells[percentage.denominator] is None)
        numerator = total(universe, truth, release.table(percentage.numerator[0]).selection(
            universe, percentage.numerator[1]))
        denominator = total(universe, truth, release.table(percentage.denominator[0]).selection(
            universe, percentage.denominator[1]))
        percentages[percentage.name] = None if hidden else rounded_percent(numerator, denominator)
    return Publication.of(universe, release, cells, percentages)


def protect(ledger: Ledger, release: Release, counts: Mapping[Atom, int], solver: IntegerSolver,
            policy: Policy = Policy()) -> Protected:
    """Suppress, audit against ledger + release, add complementary suppressions until it passes."""
    result = protect_linked(Linked((ledger,)), (release,), (counts,), None, solver, policy)
    return Protected(result.publications[0], result.linked.blocks[0], result.audit, result.rounds)


@dataclass(frozen=True)
class ProtectedLinked:
    publications: tuple[Publication | None, ...]  # per block (None: the block releases nothing now)
    linked: Linked  # the input with the publications added
    audit: AuditResult
    rounds: int


def protect_linked(linked: Linked, releases: Sequence[Release | None], counts: Sequence[Mapping[Atom, int]],
                   link_counts: Mapping[Atom, int] | None, solver: IntegerSolver,
                   policy: Policy = Policy()) -> ProtectedLinked:
    """`protect` for the blocks of linked ledgers released together: one release per block (or None),
    suppressed, audited jointly (`audit.Linked`), complemented in any block, until all pass."""
    truth = linked.vector(counts, link_counts)
    offsets = linked.offsets
    suppressed: list[set[Ref]] = [
        set() if release is None else
        primary(block.universe, truth[offsets[i]:offsets[i + 1]], release, policy, block)
        for i, (block, release) in enumerate(zip(linked.blocks, releases, strict=True))]
    closed: set[str] = set()  # tables withheld whole: no choice of cells protected them
    rounds = 0
    while True:
        rounds += 1
        publications = _publish_all(linked, releases, truth, suppressed)
        candidate = linked.with_publications(publications)
        result = audit(candidate, solver, truth, policy.k)
        # a withheld cell of a closed table that the ledger pins at k or more hides a number known already
        left = tuple(f for f in result.findings if f.reason != "pinned" or f.target.table not in closed)
        if not left:
            return ProtectedLinked(publications, candidate, AuditResult((), result.targets, result.solves), rounds)
        more: set[tuple[int, Ref]] = set()
        unclearable = []
        programs: dict[tuple[int | None, int], _ComplementProgram] = {}  # this round's, shared by its findings
        for finding in left:
            chosen = _complement(linked, publications, truth, finding, solver, policy, programs)
            if chosen is None:
                unclearable.append(finding)
            else:
                more |= chosen
        stalled = all(ref in suppressed[i] for i, ref in more)  # the choices add nothing new
        if stalled or unclearable or rounds >= policy.max_rounds:
            stuck = unclearable or list(left)
            tables = {f.target.table for f in stuck}
            if None in tables or tables <= closed:
                raise ReleaseRefused(stuck)
            closed |= tables  # type: ignore[arg-type]
            for i, release in enumerate(releases):
                for table in release.tables if release is not None else ():
                    if table.name in closed:
                        suppressed[i] |= {("cell", (table.name, key)) for key in table.keys()
                                          if policy.withhold_mandatory or key not in table.mandatory}
        for i, ref in more:
            suppressed[i].add(ref)


def _publish_all(linked: Linked, releases: Sequence[Release | None], truth: Sequence[int],
                 suppressed: Sequence[set[Ref]]) -> tuple[Publication | None, ...]:
    offsets = linked.offsets
    return tuple(None if release is None else
                 publish(block.universe, truth[offsets[i]:offsets[i + 1]], release, suppressed[i])
                 for i, (block, release) in enumerate(zip(linked.blocks, releases, strict=True)))


def _complement(linked: Linked, publications: Sequence[Publication | None], truth: Sequence[int],
                finding: Finding, solver: IntegerSolver, policy: Policy,
                programs: dict[tuple[int | None, int], _ComplementProgram]) -> set[tuple[int, Ref]] | None:
    """The cheapest set of this release's published numbers (block, ref) whose suppression clears `finding`.

    A finding within one block of linked ledgers is first tried within that block alone, its
    link classes held at the truth (small and fast; any choice is re-audited over everything);
    if that finds nothing, or the finding is about the link, over the whole system. `programs`:
    the complement programs of this round by (block or None, bound), built once and shared by
    the round's findings, which differ only in their witness rows (the solver keeps a system
    it has seen: the relaxations of one system start from the last one's basis)."""
    k = policy.k
    published = [v for p in publications if p is not None for v in p.cells.values() if v is not None]
    scale = 2 * max([*truth, *published, 0]) + 2 * k
    terms = finding.target.terms or terms_of_sum(list(finding.target.categories))
    block = linked.block_of(terms) if linked.link is not None else None
    scopes = ([block] if block is not None and publications[block] is not None else []) + [None]
    for scope in scopes:
        # A witness rarely needs a cell to move by more than a couple of k; the small bound keeps the
        # relaxation tight (fast), the large one is the fallback. Either only limits the choice.
        for bound in (2 * k, scale * max(1, linked.size)):
            if (scope, bound) not in programs:
                programs[(scope, bound)] = _complement_program(linked, publications, truth, scale, bound, scope,
                                                               policy.withhold_mandatory)
            chosen = _complement_within(programs[(scope, bound)], truth, finding, solver, k)
            if chosen is not None:
                return chosen
    return None


class _ComplementProgram(NamedTuple):
    """The unknowns and rows of a complement program, before the witness rows of a finding."""

    system: LinearSystem
    switches: tuple[_Switch, ...]
    objective: Terms
    shift: int  # the system's first variable in the whole system's indices (a block's offset)
    whole: bool  # over the whole linked system (else one block)


def _complement_program(linked: Linked, publications: Sequence[Publication | None], truth: Sequence[int],
                        scale: int, bound: int, block: int | None, withhold_mandatory: bool) -> _ComplementProgram:
    offsets = linked.offsets
    if block is None:  # the whole system: every past publication of every block, and the link
        shift, n = 0, linked.size
        rows: list[Row] = linked.rows()
        scope = range(len(publications))
    else:  # one block, its link classes at the truth, variables in local indices
        shift, n = offsets[block], offsets[block + 1] - offsets[block]
        universe = linked.blocks[block].universe
        rows = [row for p in linked.blocks[block].publications for row in publication_rows(universe, p)]
        for _, atoms in linked.classes(block):
            value = sum(truth[shift + a] for a in atoms)
            rows.append(Row(tuple((a, 1) for a in atoms), value, value))
        scope = [block]
    lower, upper = [0] * n, [scale] * n
    switches: list[_Switch] = []

    def new_variable(high: int) -> int:
        lower.append(0)
        upper.append(high)
        return len(lower) - 1

    for block_index in scope:
        publication = publications[block_index]
        if publication is None:
            continue
        universe, offset = linked.blocks[block_index].universe, offsets[block_index] - shift
        release = publication.release
        for (table_name, key), value in publication.cells.items():
            if value is None:
                continue
            terms = terms_of(universe, [(publication.selections[(table_name, key)], 1)], offset)
            mandatory = key in release.table(table_name).mandatory
            if mandatory and not withhold_mandatory:
                rows.append(Row(terms, value, value))
                continue
            weight = (1 + value) * (WITHHOLDING if mandatory else 1)
            z, plus, minus = new_variable(1), new_variable(bound), new_variable(bound)
            rows.append(Row(terms_of_sum([terms, ((plus, -1), (minus, 1))]), value, value))
            rows.append(Row(((z, -bound), (plus, 1), (minus, 1)), None, 0))
            switches.append(_Switch((block_index, ("cell", (table_name, key))), z, weight, (plus, minus)))
        for percentage in release.percentages:
            p = publication.percentages[percentage.name]
            if p is None:
                continue
            z, slack = new_variable(1), new_variable(202 * bound)
            for row in percentage_rows(universe, publication.selections[percentage.numerator],
                                       publication.selections[percentage.denominator], p, offset):
                sign = 1 if row.low is not None else -1  # loosen whichever side the row bounds
                rows.append(Row(terms_of_sum([row.terms, ((slack, sign),)]), row.low, row.high))
            rows.append(Row(((z, -202 * bound), (slack, 1)), None, 0))
            switches.append(_Switch((block_index, ("percentage", percentage.name)), z, 1, (slack,)))

    system = LinearSystem(tuple(lower), tuple(upper), tuple(rows))
    objective: Terms = tuple(sorted((s.variable, s.weight) for s in switches))
    return _ComplementProgram(system, tuple(switches), objective, shift, block is None)


def _complement_within(program: _ComplementProgram, truth: Sequence[int], finding: Finding, solver: IntegerSolver,
                       k: int) -> set[tuple[int, Ref]] | None:
    system, switches, objective, shift = program.system, program.switches, program.objective, program.shift
    best: tuple[int, set[tuple[int, Ref]]] | None = None
    # a group empty in truth: one category is possible already (the finding); a branch met at no
    # cost is that category, and clears nothing
    empty_group = bool(finding.target.categories) and not any(dot(t, truth) for t in finding.target.categories)
    for branch in _witness_branches(finding, truth, k):
        branch = [Row(tuple((v - shift, c) for v, c in row.terms), row.low, row.high) for row in branch]
        try:
            on = _rounded_choice(system, branch, objective, switches, solver) if program.whole else NOT_ROUNDED
            if on is NOT_ROUNDED:
                point = solver.solve(IntegerProgram(system, tuple(branch), objective, gap=0.25,
                                                    node_limit=COMPLEMENT_NODES))
                on = None if point is None or not system.holds(point, branch) else \
                    frozenset(i for i, switch in enumerate(switches) if point[switch.variable] >= 1)
        except SolverFailed:
            continue
        if on is None or empty_group and not on:
            continue
        cost = sum(switches[i].weight for i in on)
        if best is None or cost < best[0]:
            best = (cost, {switches[i].ref for i in on})
    return None if best is None else best[1]


def _rounded_choice(system: LinearSystem, branch: Sequence[Row], objective: Terms, switches: Sequence[_Switch],
                    solver: IntegerSolver) -> frozenset[int] | None | object:
    """LP rounding, for programs over the whole linked system (thousands of unknowns, where
    branch-and-bound takes seconds): solve the relaxation and switch on every number it moves at
    all (indices into `switches`). None: not even the relaxation has a witness in this branch.

    The relaxation's witness may be fractional: the choice is kept unverified when it switches
    something on (the round's audit re-checks it exactly; a choice that does not clear the
    finding comes back as a finding whose relaxation is met at no cost), and, when it switches
    nothing on, only if the rounded point is itself an integer witness — otherwise
    `NOT_ROUNDED`, and the caller searches by branch-and-bound. Deterministic, like that search."""
    relaxed = solver.relax(IntegerProgram(system, tuple(branch), objective))
    if relaxed is None:
        return None
    on = frozenset(i for i, switch in enumerate(switches)
                   if sum(relaxed[d] for d in switch.deviations) > MOVED)
    if on:
        return on
    rounded = [round(x) for x in relaxed]
    for switch in switches:
        rounded[switch.variable] = 0
    return on if system.holds(rounded, branch) else NOT_ROUNDED


def _witness_branches(finding: Finding, truth: Sequence[int], k: int) -> list[list[Row]]:
    """Each alternative point (rows on the atoms) that would clear the finding."""
    target = finding.target
    if target.categories:
        present = [i for i, terms in enumerate(target.categories) if dot(terms, truth) >= 1]
        keep = present[0] if len(present) == 1 else None
        branches = []
        for seen in ([keep] if keep is not None else range(len(target.categories))):
            others = terms_of_sum([t for i, t in enumerate(target.categories) if i != seen])
            if others:
                branches.append([Row(others, 1, None)])
        return branches
    value = dot(target.terms, truth)
    if target.signed:  # a change: zero, or k or more either way
        return [[Row(target.terms, 0, 0)], [Row(target.terms, k, None)], [Row(target.terms, None, -k)]]
    if value >= k:  # pinned at a large value: any other value will do
        return [[Row(target.terms, value + 1, None)], [Row(target.terms, None, value - 1)]]
    return [[Row(target.terms, None, 0)], [Row(target.terms, k, None)]]
