"""A union of codes that a family publishes as one category (an age group, over the link's age
bands) is a cell of the link's cross-classification: the audit protects it like a code."""

from __future__ import annotations

from domain.reporting.integer_programs import Row
from domain.reporting.ledger import Ledger
from domain.reporting.publication_targets import ledger_targets
from tests.domain.reporting.support import universe_of

MINOR = (("band", (("minor", ("0-11", "12-17")),)),)


def test_a_named_union_of_codes_is_classified_like_a_code() -> None:
    universe = universe_of(organisation=("a", "b"), band=("0-11", "12-17", "adult"))
    rows = [Row(tuple((atom, 1) for atom in range(universe.size)), 30, 30)]
    minors_of_a = ((0, 1), (1, 1))  # organisation a, bands 0-11 and 12-17
    plain = ledger_targets(Ledger(universe), rows)
    assert minors_of_a not in {
        t.terms for t in plain
    }  # control: no cell of the codes alone is this union
    cells = {t.coordinates: t.terms for t in ledger_targets(Ledger(universe), rows, unions=MINOR)}
    assert cells[(("organisation", "a"), ("band", "minor"))] == minors_of_a
    assert cells[(("organisation", "*"), ("band", "minor"))] == ((0, 1), (1, 1), (3, 1), (4, 1))
    assert len(cells) == len({t.coordinates for t in plain}) + 3  # minor in a, in b, in all
