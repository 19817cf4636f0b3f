"""The disclosure audit's integer solver: scipy's HiGHS (`scipy.optimize.milp`).

`domain.reporting` formulates and judges; it may import only the standard library
(tests/test_architecture.py), so the numerical engine is this adapter behind the
`domain.reporting.audit.IntegerSolver` port. It is pure computation (no I/O) and lives with
the composition root, which hands it to `audit`/`protect`.

**LP first.** Each feasibility program (the audit's) is solved as its LP relaxation (integrality off). An infeasible
relaxation proves the integer program infeasible; an optimal vertex that is integral (table
constraints with margins are nearly totally unimodular, so it usually is) and satisfies
every row in exact int64 arithmetic is returned as is. Only otherwise does branch-and-bound
run. An optimisation with a node limit (complementary suppression) goes to branch-and-bound
directly and keeps the best point found within the limit. `relax` returns the relaxation's
optimal vertex as it is (the LP rounding of complementary suppression). The constraint matrix of a ledger is compiled once (CSR, cached by the system object)
and reused for every program over it; a program adds at most a few rows.

Returned points are checked again, in Python integers, by the domain; an optimum the
solver gets wrong can only cost a needless suppression, never a disclosure.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array, vstack

from domain.reporting.audit import IntegerProgram, LinearSystem, Row, SolverFailed

_OPTIMAL, _INFEASIBLE = 0, 2


class _Compiled:
    def __init__(self, n: int, rows: tuple[Row, ...]) -> None:
        self.matrix = _matrix(n, rows)
        self.low = np.array([-np.inf if r.low is None else r.low for r in rows], dtype=float)
        self.high = np.array([np.inf if r.high is None else r.high for r in rows], dtype=float)


def _matrix(n: int, rows: tuple[Row, ...] | list[Row]) -> csr_array:
    data, columns, pointers = [], [], [0]
    for row in rows:
        for v, c in row.terms:
            columns.append(v)
            data.append(c)
        pointers.append(len(columns))
    return csr_array((np.array(data, dtype=np.int64), np.array(columns, dtype=np.int64),
                      np.array(pointers, dtype=np.int64)), shape=(len(rows), n))


class HighsSolver:
    """`IntegerSolver` on HiGHS. A program with a `node_limit` accepts the best point found within
    it (deterministic: the same program gets the same answer on any machine). `time_limit`
    seconds per program is only a safety net: past it, SolverFailed (the audit then blocks)."""

    def __init__(self, time_limit: float = 30.0) -> None:
        self.time_limit = time_limit
        self._cache: weakref.WeakKeyDictionary[LinearSystem, _Compiled] = weakref.WeakKeyDictionary()
        self.lp_only = 0  # programs settled by the relaxation alone
        self.branched = 0  # programs that needed branch-and-bound
        self.relaxed = 0  # relaxations solved (`relax`)

    def _compiled(self, system: LinearSystem) -> _Compiled:
        compiled = self._cache.get(system)
        if compiled is None:
            compiled = self._cache[system] = _Compiled(len(system.lower), system.rows)
        return compiled

    def _arguments(self, program: IntegerProgram) -> dict[str, Any]:
        """milp's arguments for `program` (integrality left to the caller)."""
        system = program.system
        n = len(system.lower)
        compiled = self._compiled(system)
        matrix, low, high = compiled.matrix, compiled.low, compiled.high
        if program.extra:
            extra = _Compiled(n, program.extra)
            matrix = vstack([matrix, extra.matrix], format="csr")
            low, high = np.concatenate([low, extra.low]), np.concatenate([high, extra.high])
        cost = np.zeros(n)
        for v, c in program.objective:
            cost[v] += -c if program.maximise else c
        options: dict[str, Any] = {"time_limit": self.time_limit, "presolve": True}
        if program.node_limit is not None:
            options["node_limit"] = program.node_limit
        if program.gap:
            options["mip_rel_gap"] = program.gap
        return {"c": cost, "constraints": [LinearConstraint(matrix, low, high)] if matrix.shape[0] else [],
                "bounds": Bounds(np.array(system.lower, dtype=float), np.array(system.upper, dtype=float)),
                "options": options}

    def relax(self, program: IntegerProgram) -> tuple[float, ...] | None:
        result = milp(**self._arguments(program), integrality=np.zeros(len(program.system.lower)))
        if result.status == _INFEASIBLE:
            return None
        if result.status != _OPTIMAL or result.x is None:
            raise SolverFailed(f"HiGHS stopped: {result.message}")
        self.relaxed += 1
        return tuple(float(x) for x in result.x)

    def solve(self, program: IntegerProgram) -> tuple[int, ...] | None:
        system = program.system
        n = len(system.lower)
        arguments = self._arguments(program)
        constraint = arguments["constraints"][0] if arguments["constraints"] else None
        # a program with a node limit optimises (complementary suppression): its relaxation is
        # rarely integral, so branch-and-bound (whose root is that relaxation) runs directly
        for integral in (False, True) if program.node_limit is None else (True,):
            result = milp(**arguments, integrality=np.full(n, 1 if integral else 0))
            if result.status == _INFEASIBLE:
                return None
            good_enough = program.node_limit is not None and integral and result.x is not None
            if result.status != _OPTIMAL and not good_enough or result.x is None:
                raise SolverFailed(f"HiGHS stopped: {result.message}")
            point = np.rint(result.x).astype(np.int64)
            if np.all(np.abs(result.x - point) <= 1e-7) and _holds(constraint, point, system):
                if integral:
                    self.branched += 1
                else:
                    self.lp_only += 1
                return tuple(int(x) for x in point)
        raise SolverFailed("HiGHS returned a point that violates a constraint")


def _holds(constraint: LinearConstraint | None, point: np.ndarray, system: LinearSystem) -> bool:
    if np.any(point < np.array(system.lower)) or np.any(point > np.array(system.upper)):
        return False
    if constraint is None:
        return True
    values = (constraint.A @ point).astype(float)  # int64 products: exact for the counts we hold
    return bool(np.all(values >= constraint.lb) and np.all(values <= constraint.ub))
