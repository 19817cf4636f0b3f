"""Shared pieces of the disclosure-control tests: the solver, small universes, an attacker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from domain.reporting.audit import audit, ledger_system
from domain.reporting.integer_programs import IntegerProgram, Row, Terms
from domain.reporting.ledger import Ledger, Publication, terms_of
from domain.reporting.suppression import primary, publish
from domain.reporting.tables import Atom, Release, Selection, Universe
from services.reporting.solver import HighsSolver

SOLVER = HighsSolver(time_limit=20.0)


def naive(ledger: Ledger, release: Release, counts: Mapping[Atom, int]) -> Ledger:
    """The control: primary suppression only (every 1..10 withheld), no complements, no audit."""
    truth = ledger.universe.vector(counts)
    return ledger.with_publication(
        publish(ledger.universe, truth, release, primary(ledger.universe, truth, release))
    )


def raw(ledger: Ledger, release: Release, counts: Mapping[Atom, int]) -> Ledger:
    """The control of controls: every true count published."""
    truth = ledger.universe.vector(counts)
    return ledger.with_publication(publish(ledger.universe, truth, release, set()))


def attacker_interval(
    ledger: Ledger, selection: Selection, minus: Selection | None = None
) -> tuple[int, int]:
    """What an outsider solving the published equations learns about a selection (less another,
    say a cell's change between two releases): [min, max]."""
    system = ledger_system(ledger)
    terms = terms_of(
        ledger.universe, [(selection, 1), *([(minus, -1)] if minus is not None else [])]
    )
    low = SOLVER.solve(IntegerProgram(system, (), terms, maximise=False))
    high = SOLVER.solve(IntegerProgram(system, (), terms, maximise=True))
    assert low is not None and high is not None
    return sum(c * low[v] for v, c in terms), sum(c * high[v] for v, c in terms)


def derivable_small(ledger: Ledger, selection: Selection) -> bool:
    low, high = attacker_interval(ledger, selection)
    return 1 <= low and high <= 10


def ok(ledger: Ledger, counts: Mapping[Atom, int] | None = None) -> bool:
    truth = ledger.universe.vector(counts) if counts is not None else None
    return audit(ledger, SOLVER, truth).ok


def published_values(publication: Publication) -> list[int]:
    return [v for v in publication.cells.values() if v is not None]


def holds(rows: Sequence[Row], point: Sequence[int]) -> bool:
    return all(row.holds(point) for row in rows)


def value(terms: Terms, point: Sequence[int]) -> int:
    return sum(c * point[v] for v, c in terms)


def universe_of(**dimensions: Sequence[str]) -> Universe:
    from domain.reporting.tables import Dimension

    return Universe(tuple(Dimension(name, tuple(codes)) for name, codes in dimensions.items()))
