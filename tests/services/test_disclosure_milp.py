"""The audit's HiGHS adapter: it answers as the port says, and it never writes to standard output
(`haven report federal` writes its report there by default)."""

from __future__ import annotations

import subprocess
import sys

from domain.reporting.audit import IntegerProgram, LinearSystem, Row
from services.disclosure_milp import HighsSolver

# x0 + x1 = 3, x0 - x1 = 0 has no integer point (x0 = x1 = 1.5); its relaxation has that one.
HALVES = LinearSystem((0, 0), (10, 10), (Row(((0, 1), (1, 1)), 3, 3), Row(((0, 1), (1, -1)), 0, 0)))
# x0 + x1 + x2 = 4 with x0 >= 1: an integral table.
TABLE = LinearSystem((0, 0, 0), (4, 4, 4), (Row(((0, 1), (1, 1), (2, 1)), 4, 4),))


def test_an_integer_point_is_found_and_satisfies_every_row() -> None:
    point = HighsSolver().solve(IntegerProgram(TABLE, (Row(((0, 1),), 1, None),), objective=((2, 1),), maximise=True))
    assert point == (1, 0, 3)


def test_a_fractional_relaxation_is_no_integer_point() -> None:
    solver = HighsSolver()
    assert solver.relax(IntegerProgram(HALVES)) == (1.5, 1.5)  # control: the relaxation is feasible
    assert solver.solve(IntegerProgram(HALVES)) is None  # branch-and-bound proves there is no integer point


def test_an_infeasible_program_is_none() -> None:
    program = IntegerProgram(TABLE, (Row(((0, 1), (1, 1)), 5, None),))  # x0 + x1 >= 5 > 4
    assert HighsSolver().solve(program) is None
    assert HighsSolver().relax(program) is None


def _stdout_of(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_solving_writes_nothing_to_standard_output() -> None:
    # control: highspy's public Highs() prints HiGHS's banner on standard output when it is made
    assert "HiGHS" in _stdout_of("import highspy; highspy.Highs()")
    assert _stdout_of(
        "from services.disclosure_milp import HighsSolver\n"
        "from tests.services.test_disclosure_milp import HALVES, TABLE\n"
        "from domain.reporting.audit import IntegerProgram\n"
        "solver = HighsSolver()\n"
        "solver.solve(IntegerProgram(HALVES)); solver.relax(IntegerProgram(TABLE))\n") == ""
