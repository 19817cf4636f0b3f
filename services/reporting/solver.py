"""The disclosure audit's integer solver: HiGHS, through its own Python interface (`highspy`).

`domain.reporting` formulates and judges but may import only the standard library, so the
numerical engine is this adapter behind its `IntegerSolver` port
(`domain.reporting.integer_programs`), handed to `audit`/`protect` by the composition root.
highspy rather than scipy's `milp`: both are HiGHS, but scipy bundles an older one and
exposes few of its options (no presolve switch, no model kept loaded between programs). A
point HiGHS gets wrong can only cost a needless suppression, never a disclosure: the domain
checks every point again in Python integers.
"""

from __future__ import annotations

import weakref

import numpy as np
from highspy import _core as highs  # see _quiet_highs

from domain.reporting.integer_programs import IntegerProgram, LinearSystem, Row, SolverFailed

_Status = highs.HighsModelStatus
_INFEASIBLE = (_Status.kInfeasible, _Status.kUnboundedOrInfeasible)  # no program here is unbounded
_STOPPED_WITH_A_POINT = (
    _Status.kSolutionLimit,
    _Status.kInterrupt,
)  # the node limit, for an optimisation


class _Compiled:
    """Rows in row-wise sparse storage (where each row starts, its columns, its coefficients)
    with their bounds (None: infinite)."""

    def __init__(self, rows: tuple[Row, ...] = ()) -> None:
        columns, coefficients, starts = [], [], [0]
        for row in rows:
            for v, c in row.terms:
                columns.append(v)
                coefficients.append(c)
            starts.append(len(columns))
        self.start, self.index = np.array(starts, dtype=np.int32), np.array(columns, dtype=np.int32)
        self.coefficient = np.array(coefficients, dtype=np.int64)
        self.lower = [row.low for row in rows]
        self.upper = [row.high for row in rows]

    @property
    def value(self) -> np.ndarray:
        return self.coefficient.astype(float)

    @property
    def low(self) -> np.ndarray:
        return np.array([-highs.kHighsInf if b is None else b for b in self.lower], dtype=float)

    @property
    def high(self) -> np.ndarray:
        return np.array([highs.kHighsInf if b is None else b for b in self.upper], dtype=float)

    def joined(self, other: _Compiled) -> _Compiled:
        joined = _Compiled()
        joined.start = np.concatenate([self.start, other.start[1:] + self.start[-1]])
        joined.index = np.concatenate([self.index, other.index])
        joined.coefficient = np.concatenate([self.coefficient, other.coefficient])
        joined.lower, joined.upper = self.lower + other.lower, self.upper + other.upper
        return joined

    def holds(self, point: np.ndarray) -> bool:
        """Every row at `point`, in int64 arithmetic (exact for the counts we hold)."""
        sums = np.zeros(len(self.lower), dtype=np.int64)
        np.add.at(
            sums,
            np.repeat(np.arange(len(self.lower)), np.diff(self.start)),
            self.coefficient * point[self.index],
        )
        return all(
            (lo is None or s >= lo) and (hi is None or s <= hi)
            for s, lo, hi in zip(sums.tolist(), self.lower, self.upper, strict=True)
        )


class WarmRelaxation:
    """One system's linear relaxation, kept loaded in HiGHS for every program over it.

    A program sets its objective, adds its own rows and runs from the basis the previous one
    left (dual simplex re-optimises from there instead of from scratch); its rows are then
    freed (both bounds infinite), which keeps that basis valid for the next. Complementary
    suppression relaxes one system for every finding of a round and each of its witness
    branches, which differ only in those rows.

    HiGHS's `time_limit` bounds the time of every run of a model together, not of one run: a
    model kept loaded for hundreds of programs would pass it on the way and fail every program
    after that (the audit would then block or refuse releases depending on the machine's
    speed). So each program's run gets the limit anew (`limit_this_run`).

    The vertex returned can depend on the programs solved before it on the same system (a
    program may have several optima); that sequence is fixed by the data, so a release is
    still the same on any machine."""

    def __init__(self, solver: highs._Highs, columns: int, rows: int, time_limit: float) -> None:
        self.solver, self.columns, self.rows, self.time_limit = solver, columns, rows, time_limit

    def limit_this_run(self) -> None:
        self.solver.setOptionValue("time_limit", self.solver.getRunTime() + self.time_limit)

    def run(self, program: IntegerProgram) -> np.ndarray | None:
        solver, extra = self.solver, _Compiled(program.extra)
        self.limit_this_run()
        solver.changeColsCost(
            self.columns, np.arange(self.columns, dtype=np.int32), _cost(program, self.columns)
        )
        added = len(extra.lower)
        if added:
            solver.addRows(
                added,
                extra.low,
                extra.high,
                len(extra.index),
                extra.start[:-1],
                extra.index,
                extra.value,
            )
        try:
            return _outcome(solver, program, integral=False)
        finally:
            for row in range(self.rows, self.rows + added):
                solver.changeRowBounds(row, -highs.kHighsInf, highs.kHighsInf)
            self.rows += added


def _quiet_highs() -> highs._Highs:
    """A HiGHS instance that prints nothing. highspy's public `Highs` enables callbacks in its
    constructor, which prints HiGHS's banner to standard output before any option can be set
    (HiGHS #2749) — and `haven report federal` may be writing a report there."""
    solver = highs._Highs()
    solver.setOptionValue("output_flag", False)
    return solver


class HighsSolver:
    """`IntegerSolver` on HiGHS. A program with a `node_limit` accepts the best point found within
    it (deterministic: the same program gets the same answer on any machine). `time_limit`
    seconds per program is only a safety net: past it, SolverFailed (the audit then blocks).

    HiGHS runs with a fixed random seed, so the same program gets the same answer on any
    machine. Every variable has finite bounds, so no program is unbounded: HiGHS's "unbounded
    or infeasible" is infeasible. A system's constraint matrix is compiled once (CSR, cached
    by the system object) for every program over it; a program adds at most a few rows."""

    def __init__(self, time_limit: float = 30.0) -> None:
        self.time_limit = time_limit
        self._cache: weakref.WeakKeyDictionary[LinearSystem, _Compiled] = (
            weakref.WeakKeyDictionary()
        )
        self._warm: weakref.WeakKeyDictionary[LinearSystem, WarmRelaxation] = (
            weakref.WeakKeyDictionary()
        )
        self.lp_only = 0  # programs settled by the relaxation alone
        self.branched = 0  # programs that needed branch-and-bound
        self.relaxed = 0  # relaxations solved (`relax`)

    def _compiled(self, system: LinearSystem) -> _Compiled:
        compiled = self._cache.get(system)
        if compiled is None:
            compiled = self._cache[system] = _Compiled(system.rows)
        return compiled

    def _rows(self, program: IntegerProgram) -> _Compiled:
        """The system's rows (compiled once per system), then the program's own."""
        compiled = self._compiled(program.system)
        return compiled.joined(_Compiled(program.extra)) if program.extra else compiled

    def _model(self, program: IntegerProgram, rows: _Compiled, integral: bool) -> highs.HighsLp:
        system = program.system
        n = len(system.lower)
        start, index, value, low, high = rows.start, rows.index, rows.value, rows.low, rows.high
        model = highs.HighsLp()
        model.num_col_, model.num_row_ = n, len(low)
        model.col_cost_ = _cost(program, n)
        model.col_lower_ = np.array(system.lower, dtype=float)
        model.col_upper_ = np.array(system.upper, dtype=float)
        model.row_lower_, model.row_upper_ = low, high
        model.a_matrix_.format_ = highs.MatrixFormat.kRowwise
        model.a_matrix_.num_col_, model.a_matrix_.num_row_ = n, len(low)
        model.a_matrix_.start_, model.a_matrix_.index_, model.a_matrix_.value_ = start, index, value
        if integral:
            model.integrality_ = [highs.HighsVarType.kInteger] * n
        return model

    def _loaded(self, program: IntegerProgram, rows: _Compiled, integral: bool) -> highs._Highs:
        solver = _quiet_highs()
        solver.setOptionValue("time_limit", float(self.time_limit))
        if integral and program.node_limit is not None:
            solver.setOptionValue("mip_max_nodes", int(program.node_limit))
        if integral and program.gap:
            solver.setOptionValue("mip_rel_gap", float(program.gap))
        if not integral:  # relaxations, whose vertex is used as it is: see `relax`
            solver.setOptionValue("presolve", "off")
        if solver.passModel(self._model(program, rows, integral)) == highs.HighsStatus.kError:
            raise SolverFailed("HiGHS refused the model")
        return solver

    def _branch_and_bound(self, program: IntegerProgram, rows: _Compiled) -> np.ndarray | None:
        """The solver's integer point (None: infeasible); SolverFailed when it stopped without
        one."""
        return _outcome(self._loaded(program, rows, integral=True), program, integral=True)

    def _relaxation(self, program: IntegerProgram) -> np.ndarray | None:
        """The program's relaxation, solved on its system's loaded model (`WarmRelaxation`)."""
        warm = self._warm.get(program.system)
        if warm is None:
            bare = IntegerProgram(program.system)
            compiled = self._compiled(program.system)
            warm = self._warm[program.system] = WarmRelaxation(
                self._loaded(bare, compiled, integral=False),
                len(program.system.lower),
                len(compiled.lower),
                self.time_limit,
            )
        return warm.run(program)

    def relax(self, program: IntegerProgram) -> tuple[float, ...] | None:
        """The relaxation's optimal vertex as it is (the LP rounding of complementary
        suppression), solved without presolve: these programs differ from the one before by a
        row or two, and presolving each of them again costs more than it saves."""
        point = self._relaxation(program)
        if point is None:
            return None
        self.relaxed += 1
        return tuple(float(x) for x in point)

    def solve(self, program: IntegerProgram) -> tuple[int, ...] | None:
        """The LP relaxation first: an infeasible relaxation proves the program infeasible, and
        an optimal vertex that is integral (tables with margins are nearly totally unimodular,
        so it usually is) and satisfies every row in exact int64 arithmetic is the answer. Only
        otherwise does branch-and-bound run. A program with a node limit optimises
        (complementary suppression): its relaxation is rarely integral, so branch-and-bound
        (whose root is that relaxation) runs directly and keeps the best point found."""
        rows = self._rows(program)  # compiled once for both passes and the check
        for integral in (False, True) if program.node_limit is None else (True,):
            found = self._branch_and_bound(program, rows) if integral else self._relaxation(program)
            if found is None:
                return None
            point = np.rint(found).astype(np.int64)
            if np.all(np.abs(found - point) <= 1e-7) and _holds(program, rows, point):
                if integral:
                    self.branched += 1
                else:
                    self.lp_only += 1
                return tuple(int(x) for x in point)
        raise SolverFailed("HiGHS returned a point that violates a constraint")


def _cost(program: IntegerProgram, columns: int) -> np.ndarray:
    cost = np.zeros(columns)
    for v, c in program.objective:
        cost[v] += -c if program.maximise else c
    return cost


def _outcome(solver: highs._Highs, program: IntegerProgram, integral: bool) -> np.ndarray | None:
    """Run the loaded model: its point (None: infeasible); SolverFailed when it stopped without
    one."""
    solver.run()
    status = solver.getModelStatus()
    if status in _INFEASIBLE:
        return None
    solution = solver.getSolution()
    stopped_with_a_point = (
        integral
        and program.node_limit is not None
        and status in _STOPPED_WITH_A_POINT
        and solution.value_valid
    )
    if status != _Status.kOptimal and not stopped_with_a_point or not solution.value_valid:
        raise SolverFailed(f"HiGHS stopped: {solver.modelStatusToString(status)}")
    return np.asarray(solution.col_value, dtype=float)


def _holds(program: IntegerProgram, rows: _Compiled, point: np.ndarray) -> bool:
    system = program.system
    return bool(
        np.all(point >= np.array(system.lower)) and np.all(point <= np.array(system.upper))
    ) and rows.holds(point)
