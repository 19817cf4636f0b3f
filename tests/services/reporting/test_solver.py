"""The audit's HiGHS adapter: it answers as the port says, and it never writes to standard output
(`haven report federal` writes its report there by default)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from domain.reporting.integer_programs import IntegerProgram, LinearSystem, Row, SolverFailed
from services.reporting.solver import HighsSolver, WarmRelaxation

# x0 + x1 = 3, x0 - x1 = 0 has no integer point (x0 = x1 = 1.5); its relaxation has that one.
HALVES = LinearSystem((0, 0), (10, 10), (Row(((0, 1), (1, 1)), 3, 3), Row(((0, 1), (1, -1)), 0, 0)))
# x0 + x1 + x2 = 4 with x0 >= 1: an integral table.
TABLE = LinearSystem((0, 0, 0), (4, 4, 4), (Row(((0, 1), (1, 1), (2, 1)), 4, 4),))


def test_an_integer_point_is_found_and_satisfies_every_row() -> None:
    point = HighsSolver().solve(
        IntegerProgram(TABLE, (Row(((0, 1),), 1, None),), objective=((2, 1),), maximise=True)
    )
    assert point == (1, 0, 3)


def test_a_fractional_relaxation_is_no_integer_point() -> None:
    solver = HighsSolver()
    assert solver.relax(IntegerProgram(HALVES)) == (1.5, 1.5)  # control: the relaxation is feasible
    assert (
        solver.solve(IntegerProgram(HALVES)) is None
    )  # branch-and-bound proves there is no integer point


def test_an_infeasible_program_is_none() -> None:
    program = IntegerProgram(TABLE, (Row(((0, 1), (1, 1)), 5, None),))  # x0 + x1 >= 5 > 4
    assert HighsSolver().solve(program) is None
    assert HighsSolver().relax(program) is None


def test_relaxations_of_one_system_keep_no_row_or_objective_of_the_one_before() -> None:
    """The solver keeps a system's relaxation loaded and adds each program's rows to it: a row of
    an earlier program must not constrain a later one (x0 <= 1 kept would make x0 >= 3
    infeasible: the control), nor its objective linger. Each answer is the one
    a fresh solver gives."""
    at_most_one = IntegerProgram(
        TABLE, (Row(((0, 1),), None, 1),), objective=((0, 1),), maximise=True
    )
    at_least_three = IntegerProgram(TABLE, (Row(((0, 1),), 3, None),), objective=((0, 1),))
    nothing_more = IntegerProgram(TABLE, objective=((0, 1),), maximise=True)
    both = IntegerProgram(TABLE, (*at_most_one.extra, *at_least_three.extra))
    assert (
        HighsSolver().relax(both) is None
    )  # control: with the first program's row left in, no point
    warm = HighsSolver()
    assert [warm.relax(p)[0] for p in (at_most_one, at_least_three, nothing_more)] == [
        1.0,
        3.0,
        4.0,
    ]
    for program in (at_most_one, at_least_three, nothing_more):
        assert HighsSolver().relax(program)[0] == warm.relax(program)[0]
    assert (
        warm.relax(IntegerProgram(TABLE, (Row(((0, 1), (1, 1)), 5, None),))) is None
    )  # still infeasible when it is
    assert warm.relax(at_least_three)[0] == 3.0  # and feasible again after


def _relax_until_the_limit_is_spent_twice(solver: HighsSolver) -> None:
    """Relaxations of one system (each maximising another variable, so that each one iterates)."""
    programs = [IntegerProgram(TABLE, objective=((i, 1),), maximise=True) for i in range(3)]
    solver.relax(programs[0])
    model = solver._warm[TABLE].solver  # the loaded model: its run time counts every run so far
    runs = 0
    while model.getRunTime() <= 2 * solver.time_limit:
        runs += 1  # SolverFailed once HiGHS says the time is up
        assert solver.relax(programs[runs % 3]) == tuple(
            4.0 if i == runs % 3 else 0.0 for i in range(3)
        )


def test_a_system_kept_loaded_gives_each_program_the_whole_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HiGHS's time limit bounds every run of a model together. A system's relaxation is kept
    loaded for hundreds of programs (a round of complementary suppression): once their time
    together passes the limit, each program must still get the limit for itself, or every
    program after that fails and the audit refuses releases depending on the machine's speed.
    Control: with the limit set once, when the model is loaded, the programs fail."""
    with monkeypatch.context() as patched:
        patched.setattr(WarmRelaxation, "limit_this_run", lambda self: None)
        with pytest.raises(SolverFailed, match="Time limit"):
            _relax_until_the_limit_is_spent_twice(HighsSolver(time_limit=0.01))
    _relax_until_the_limit_is_spent_twice(HighsSolver(time_limit=0.01))


def _stdout_of(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout


def test_solving_writes_nothing_to_standard_output() -> None:
    # control: highspy's public Highs() prints HiGHS's banner on standard output when it is made
    assert "HiGHS" in _stdout_of("import highspy; highspy.Highs()")
    assert (
        _stdout_of(
            "from services.reporting.solver import HighsSolver\n"
            "from tests.services.reporting.test_solver import HALVES, TABLE\n"
            "from domain.reporting.integer_programs import IntegerProgram\n"
            "solver = HighsSolver()\n"
            "solver.solve(IntegerProgram(HALVES)); solver.relax(IntegerProgram(TABLE))\n"
        )
        == ""
    )
