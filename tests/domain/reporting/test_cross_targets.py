"""The cross-classification targets built once and filtered per audit (`domain.reporting.targets`)
are exactly the targets of the direct construction — every cell, every atom tested — in its
order: the order of the audit's targets decides which cells protection suppresses."""

from __future__ import annotations

import itertools
import random

from domain.reporting.integer_programs import Row
from domain.reporting.ledger import Ledger
from domain.reporting.linked import Linked
from domain.reporting.publication_targets import ledger_targets
from domain.reporting.suppression import publish
from domain.reporting.tables import TOTAL, Classification, Release, Table, Universe
from domain.reporting.targets import Target
from tests.domain.reporting.support import universe_of

UNIONS = (
    (
        "band",
        (
            ("minor", ("0-11", "12-17")),
            ("everyone", ("0-11", "12-17", "adult")),
            ("young", ("0-11",)),
            ("nobody", ()),
        ),
    ),
)


def direct(
    universe: Universe,
    rows: list[Row],
    offset: int = 0,
    kind: str | None = None,
    unions: tuple = (),
) -> list[Target]:
    """The cross-classification's targets built the straightforward way: every cell's atoms
    listed, every atom tested, repeats dropped after."""
    constrained = {v - offset for row in rows for v, _ in row.terms}
    names = [d.name for d in universe.dimensions]
    members = {
        d.name: {**{code: (code,) for code in d.codes}, **dict(dict(unions).get(d.name, ()))}
        for d in universe.dimensions
    }
    unique: dict[tuple[object, ...], Target] = {}
    for coordinates in itertools.product(*((*members[name], TOTAL) for name in names)):
        atoms = universe.indices(
            universe.select(
                {
                    name: members[name][code]
                    for name, code in zip(names, coordinates, strict=True)
                    if code != TOTAL
                }
            )
        )
        if all(a in constrained for a in atoms):
            target = Target(
                kind or ("margin" if TOTAL in coordinates else "atom"),
                None,
                None,
                tuple(zip(names, coordinates, strict=True)),
                tuple((offset + a, 1) for a in atoms),
            )
            unique.setdefault((target.terms, target.categories, target.pin), target)
    return list(unique.values())


def facts_over(atoms: list[int], offset: int = 0) -> list[Row]:
    return [Row(((offset + a, 1),), 0, None) for a in atoms]


def test_the_cells_are_the_direct_constructions_whatever_atoms_the_facts_leave_unconstrained() -> (
    None
):
    universe = universe_of(
        organisation=("a", "b", "c"),
        vintage=("v1",),
        band=("0-11", "12-17", "adult"),
        consent=("yes", "no"),
    )
    chooser = random.Random(7)
    for offset, kind, unions in [(0, None, ()), (40, None, UNIONS), (9, "link", UNIONS)]:
        for unconstrained in [0, 1, 2, 5, universe.size - 1, universe.size]:
            free = set(chooser.sample(range(universe.size), unconstrained))
            rows = facts_over([a for a in range(universe.size) if a not in free], offset)
            assert ledger_targets(Ledger(universe), rows, offset, kind, unions) == direct(
                universe, rows, offset, kind, unions
            ), (offset, kind, unconstrained)


def test_a_published_cell_that_is_a_cell_of_the_cross_classification_is_listed_once_where_it_first_was() -> (  # noqa: E501
    None
):
    universe = universe_of(
        quarter=("Q1", "Q2"), organisation=("a", "b"), band=("0-11", "12-17", "adult")
    )
    by = [
        Classification.of(universe.dimension("organisation")),
        Classification.of(universe.dimension("band")),
    ]
    tables = (
        Table.of("q1", by, where={"quarter": "Q1"}),
        Table.of("ytd", by, where={"quarter": ("Q1", "Q2")}),
    )
    truth = tuple(range(3, 3 + universe.size))
    suppressed = {("cell", ("q1", ("a", "0-11"))), ("cell", ("q1", ("a", "12-17")))}
    ledger = Ledger(universe).with_publication(
        publish(universe, truth, Release("r1", "v", tables), suppressed)
    )
    rows = facts_over([a for a in range(universe.size) if a != 5])  # one atom no fact constrains
    cells = direct(universe, rows, unions=UNIONS)
    # With no fact, no cell is a target but the empty one: the rest are the ledger's other targets.
    others = [
        t
        for t in ledger_targets(ledger, [], unions=UNIONS)
        if t not in direct(universe, [], unions=UNIONS)
    ]
    listed = {(t.terms, t.categories, t.pin) for t in cells}
    targets = ledger_targets(ledger, rows, unions=UNIONS)
    assert targets == [*cells, *(t for t in others if (t.terms, t.categories, t.pin) not in listed)]
    # what that drops: the suppressed sum (a, minor) and most differences
    # (Q2 = year-to-date less Q1)
    dropped = [t for t in others if (t.terms, t.categories, t.pin) in listed]
    assert {"suppressed_sum", "difference"} == {t.kind for t in dropped}
    assert {"suppressed_cell", "difference"} <= {
        t.kind for t in targets[len(cells) :]
    }  # the others stay


def test_linked_blocks_keep_their_own_cells_and_the_link_its_unions() -> None:
    one = universe_of(organisation=("a", "b"), band=("0-11", "12-17", "adult"))
    two = universe_of(organisation=("a", "b"), consent=("yes", "no"))
    link = universe_of(organisation=("a", "b"), band=("0-11", "12-17", "adult"))
    linked = Linked(
        (Ledger(one), Ledger(two)), link, ((None,) * one.size, (None,) * two.size), UNIONS
    )  # no link rows
    rows = facts_over([a for a in range(linked.size) if a not in (1, 8)])
    offsets = linked.offsets
    assert linked.targets(rows) == [
        *direct(one, rows, offsets[0]),
        *direct(two, rows, offsets[1]),
        *direct(link, rows, offsets[2], "link", UNIONS),
    ]
    assert linked.targets(rows) == linked.targets(rows)  # built once, the same again
