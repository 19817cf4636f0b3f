"""Complementary suppression: which further numbers of a release to withhold to clear a finding.

The cheapest choice, by a small integer program weighted so that small cells go first and a
funder's mandatory total is withheld only when nothing else will do. A choice is a proposal
only: the next round of `suppression.protect_linked` audits it over everything.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Final, Literal, NamedTuple

from domain.reporting.audit import Finding
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
from domain.reporting.ledger import Publication, Ref, percentage_rows, publication_rows, terms_of
from domain.reporting.linked import Linked

# A mandatory cell costs this many times another: withheld only when nothing else will do.
WITHHOLDING = 1000
# Per complement program: the best choice found by then will do (deterministic).
COMPLEMENT_NODES = 200
# A relaxed deviation above this moves its number (LP rounding); HiGHS' tolerance is 1e-7.
MOVED = 1e-6


class _Rounding(enum.Enum):
    NOT_ROUNDED = "not rounded"  # LP rounding settled nothing: search by branch-and-bound


NOT_ROUNDED: Final = _Rounding.NOT_ROUNDED


class _Switch(NamedTuple):
    """A publishable number of this release that a complement program may suppress."""

    ref: tuple[int, Ref]  # (block, ("cell", (table, key)) or ("percentage", name))
    variable: int  # 1: suppressed
    weight: int  # its cost in the objective
    deviations: tuple[int, ...]  # the variables by which a witness moves it off its published value


class ComplementProgram(NamedTuple):
    """The unknowns and rows of a complement program, before the witness rows of a finding.

    A witness clears a finding: a point of the outsider's feasible set where the target is 0
    or at least k (a suppressed cell: at another value; a group: another category non-zero).
    The unknowns are the atoms plus, per publishable number j, a switch z_j and deviations
    p_j, m_j <= M z_j with cell_j(x) - p_j + m_j = published_j; the objective is
    sum z_j * w_j * (1 + published_j), so small cells go first and totals are kept; w_j is 1,
    or `WITHHOLDING` for a cell the table marks mandatory (a funder's total).
    """

    system: LinearSystem
    switches: tuple[_Switch, ...]
    objective: Terms
    shift: int  # the system's first variable in the whole system's indices (a block's offset)
    whole: bool  # over the whole linked system (else one block)


def complement(
    linked: Linked,
    publications: Sequence[Publication | None],
    truth: Sequence[int],
    finding: Finding,
    solver: IntegerSolver,
    k: int,
    withhold_mandatory: bool,
    programs: dict[tuple[int | None, int], ComplementProgram],
) -> set[tuple[int, Ref]] | None:
    """The cheapest set of this release's published numbers (block, ref) whose suppression
    clears `finding`.

    A finding within one block of linked ledgers is first tried within that block alone, its
    link classes held at the truth (small and fast; any choice is re-audited over everything);
    if that finds nothing, or the finding is about the link, over the whole system. `programs`:
    the complement programs of this round by (block or None, bound), built once and shared by
    the round's findings, which differ only in their witness rows (the solver keeps a system
    it has seen: the relaxations of one system start from the last one's basis).
    `withhold_mandatory`: whether a mandatory cell may be withheld (`suppression.Policy`).

    Within one block the program is solved to within 25 % of the optimum, or the best found
    in `COMPLEMENT_NODES` branch-and-bound nodes; over the whole linked system (thousands of
    unknowns) by LP rounding (`_rounded_choice`), branch-and-bound only if that settles
    nothing. The deviations are bounded by 2k first (a tight relaxation), by a large bound if
    that finds nothing."""
    published = [
        v for p in publications if p is not None for v in p.cells.values() if v is not None
    ]
    scale = 2 * max([*truth, *published, 0]) + 2 * k
    terms = finding.target.terms or terms_of_sum(list(finding.target.categories))
    block = linked.block_of(terms) if linked.link is not None else None
    scopes = ([block] if block is not None and publications[block] is not None else []) + [None]
    for scope in scopes:
        # A witness rarely needs a cell to move by more than a couple of k; the small bound keeps
        # the relaxation tight (fast), the large one is the fallback. Either only limits the choice.
        for bound in (2 * k, scale * max(1, linked.size)):
            if (scope, bound) not in programs:
                programs[(scope, bound)] = _complement_program(
                    linked, publications, truth, scale, bound, scope, withhold_mandatory
                )
            chosen = _complement_within(programs[(scope, bound)], truth, finding, solver, k)
            if chosen is not None:
                return chosen
    return None


def _complement_program(
    linked: Linked,
    publications: Sequence[Publication | None],
    truth: Sequence[int],
    scale: int,
    bound: int,
    block: int | None,
    withhold_mandatory: bool,
) -> ComplementProgram:
    offsets = linked.offsets
    if block is None:  # the whole system: every past publication of every block, and the link
        shift, n = 0, linked.size
        rows: list[Row] = linked.rows()
        scope: Sequence[int] = range(len(publications))
    else:  # one block, its link classes at the truth, variables in local indices
        shift, n = offsets[block], offsets[block + 1] - offsets[block]
        universe = linked.blocks[block].universe
        rows = [
            row for p in linked.blocks[block].publications for row in publication_rows(universe, p)
        ]
        for _, atoms in linked.classes(block):
            total = sum(truth[shift + a] for a in atoms)
            rows.append(Row(tuple((a, 1) for a in atoms), total, total))
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
            ref = (block_index, ("cell", (table_name, key)))
            switches.append(_Switch(ref, z, weight, (plus, minus)))
        for percentage in release.percentages:
            p = publication.percentages[percentage.name]
            if p is None:
                continue
            z, slack = new_variable(1), new_variable(202 * bound)
            for row in percentage_rows(
                universe,
                publication.selections[percentage.numerator],
                publication.selections[percentage.denominator],
                p,
                offset,
            ):
                sign = 1 if row.low is not None else -1  # loosen whichever side the row bounds
                rows.append(Row(terms_of_sum([row.terms, ((slack, sign),)]), row.low, row.high))
            rows.append(Row(((z, -202 * bound), (slack, 1)), None, 0))
            switches.append(_Switch((block_index, ("percentage", percentage.name)), z, 1, (slack,)))

    system = LinearSystem(tuple(lower), tuple(upper), tuple(rows))
    objective: Terms = tuple(sorted((s.variable, s.weight) for s in switches))
    return ComplementProgram(system, tuple(switches), objective, shift, block is None)


def _complement_within(
    program: ComplementProgram,
    truth: Sequence[int],
    finding: Finding,
    solver: IntegerSolver,
    k: int,
) -> set[tuple[int, Ref]] | None:
    system, switches, objective = program.system, program.switches, program.objective
    shift = program.shift
    best: tuple[int, set[tuple[int, Ref]]] | None = None
    # a group empty in truth: one category is possible already (the finding); a branch met at no
    # cost is that category, and clears nothing
    categories = finding.target.categories
    empty_group = bool(categories) and not any(dot(t, truth) for t in categories)
    for branch in _witness_branches(finding, truth, k):
        branch = [
            Row(tuple((v - shift, c) for v, c in row.terms), row.low, row.high) for row in branch
        ]
        try:
            on = (
                _rounded_choice(system, branch, objective, switches, solver)
                if program.whole
                else NOT_ROUNDED
            )
            if on is NOT_ROUNDED:
                point = solver.solve(
                    IntegerProgram(
                        system, tuple(branch), objective, gap=0.25, node_limit=COMPLEMENT_NODES
                    )
                )
                on = (
                    None
                    if point is None or not system.holds(point, branch)
                    else frozenset(
                        i for i, switch in enumerate(switches) if point[switch.variable] >= 1
                    )
                )
        except SolverFailed:
            continue
        if on is None or empty_group and not on:
            continue
        cost = sum(switches[i].weight for i in on)
        if best is None or cost < best[0]:
            best = (cost, {switches[i].ref for i in on})
    return None if best is None else best[1]


def _rounded_choice(
    system: LinearSystem,
    branch: Sequence[Row],
    objective: Terms,
    switches: Sequence[_Switch],
    solver: IntegerSolver,
) -> frozenset[int] | None | Literal[_Rounding.NOT_ROUNDED]:
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
    on = frozenset(
        i for i, switch in enumerate(switches) if sum(relaxed[d] for d in switch.deviations) > MOVED
    )
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
        for seen in [keep] if keep is not None else range(len(target.categories)):
            others = terms_of_sum([t for i, t in enumerate(target.categories) if i != seen])
            if others:
                branches.append([Row(others, 1, None)])
        return branches
    value = dot(target.terms, truth)
    if target.signed:  # a change: zero, or k or more either way
        return [
            [Row(target.terms, 0, 0)],
            [Row(target.terms, k, None)],
            [Row(target.terms, None, -k)],
        ]
    if value >= k:  # pinned at a large value: any other value will do
        return [[Row(target.terms, value + 1, None)], [Row(target.terms, None, value - 1)]]
    return [[Row(target.terms, None, 0)], [Row(target.terms, k, None)]]
