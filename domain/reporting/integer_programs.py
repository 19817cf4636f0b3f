"""The port to an integer-programming solver: linear rows, systems and programs over integers.

The audit and complementary suppression ask their questions as integer programs and check
every point a solver returns against these rows in exact integer arithmetic, so a solver
(`services.reporting.solver` is HiGHS) is trusted for proofs of infeasibility only, never
for a witness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

Terms = tuple[tuple[int, int], ...]  # (variable index, integer coefficient), sorted, merged


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
        return (
            len(point) == len(self.lower)
            and all(lo <= x <= hi for lo, x, hi in zip(self.lower, point, self.upper, strict=True))
            and all(row.holds(point) for row in self.rows)
            and all(row.holds(point) for row in extra)
        )


@dataclass(frozen=True)
class IntegerProgram:
    system: LinearSystem
    extra: tuple[Row, ...] = ()
    objective: Terms = ()
    maximise: bool = False
    gap: float = 0.0  # relative optimality gap accepted (0: optimal); feasibility is never relaxed
    # Branch-and-bound nodes; past them the best point found will do (None if none). A node
    # limit, not a time limit: the same program gives the same answer on any machine, any load.
    node_limit: int | None = None


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


def dot(terms: Terms, point: Sequence[int]) -> int:
    return sum(c * point[v] for v, c in terms)


def terms_of_sum(parts: Sequence[Terms]) -> Terms:
    merged: dict[int, int] = {}
    for terms in parts:
        for v, c in terms:
            merged[v] = merged.get(v, 0) + c
    return tuple(sorted((v, c) for v, c in merged.items() if c))
