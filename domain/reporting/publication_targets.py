"""What an audit bounds in one ledger: the cross-classification and what its publications add.

The cells of the universe's cross-classification come from `domain.reporting.targets`; each
publication adds its suppressed cells, its lines of suppressed cells and its groups, and any
two published cells add their difference or their change (`difference_targets`). Why each
target is there, and when it is blocked, is the subject of `domain.reporting.audit`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

from domain.reporting.integer_programs import Row
from domain.reporting.ledger import Ledger, terms_of
from domain.reporting.tables import Selection, Universe
from domain.reporting.targets import Target, Unions, cross_targets


def ledger_targets(
    ledger: Ledger,
    rows: Sequence[Row],
    offset: int = 0,
    kind: str | None = None,
    unions: Unions = (),
) -> list[Target]:
    """Every target of one ledger (see `domain.reporting.audit`). `rows`: every fact (in the
    indices of the whole system when the ledger is a block of a `Linked` one, starting at
    `offset`); `kind` overrides the kind of the cross-classification's cells (link counts);
    `unions` adds the cells of unions of codes to the cross-classification
    (`targets.cross_classification`)."""
    constrained = {v for row in rows for v, _ in row.terms}
    return ledger_targets_constrained(ledger, constrained, offset, kind, unions)


def ledger_targets_constrained(
    ledger: Ledger,
    constrained: Set[int],
    offset: int = 0,
    kind: str | None = None,
    unions: Unions = (),
) -> list[Target]:
    """`ledger_targets` given the variables some fact constrains (`Linked.targets` finds them
    once for every block)."""
    universe = ledger.universe
    cross = cross_targets(universe, unions, offset, kind)  # built once per universe, offset, kind
    # A cell with an atom no fact constrains is left out: that atom alone can make it large.
    free = [a for a in range(universe.size) if offset + a not in constrained]
    cells, excluded = cross.passing(free)
    targets = []
    for publication in ledger.publications:
        name = publication.release.name
        selections = publication.selections
        for table_name, key in publication.suppressed():
            table = publication.release.table(table_name)
            targets.append(
                Target(
                    "suppressed_cell",
                    name,
                    table_name,
                    tuple(table.coordinates(key).items()),
                    terms_of(universe, [(selections[(table_name, key)], 1)], offset),
                    pin=True,
                )
            )
        for table in publication.release.tables:
            for total_key, parts in table.lines():
                hidden = [key for key in parts if publication.cells[(table.name, key)] is None]
                if len(hidden) >= 2:
                    hidden_cells = [(selections[(table.name, k)], 1) for k in hidden]
                    targets.append(
                        Target(
                            "suppressed_sum",
                            name,
                            table.name,
                            tuple(table.coordinates(total_key).items()),
                            terms_of(universe, hidden_cells, offset),
                        )
                    )
            for row_key, _classification, categories in table.rows():
                targets.append(
                    Target(
                        "group",
                        name,
                        table.name,
                        tuple(table.coordinates(row_key).items()),
                        categories=tuple(
                            terms_of(universe, [(selections[(table.name, k)], 1)], offset)
                            for k in categories
                        ),
                    )
                )
        for group in publication.release.groups:
            base = universe.restrict(universe.select(), dict(group.where))
            dimension = group.breakdown.dimension
            targets.append(
                Target(
                    "group",
                    name,
                    None,
                    (("group", group.name), ("breakdown", group.breakdown.name)),
                    categories=tuple(
                        terms_of(
                            universe, [(universe.restrict(base, {dimension: codes}), 1)], offset
                        )
                        for _, codes in group.breakdown.groups
                    ),
                )
            )
    targets.extend(difference_targets(ledger, offset))
    # The same cell published twice (a revision) is one target, and so is a published cell (or a
    # difference) that is a cell of the cross-classification: the first one listed is kept. The
    # cells are distinct already (`targets.CrossTargets`) and come first.
    unique: dict[tuple[object, ...], Target] = {}
    for target in targets:
        if not target.categories and not target.pin and cross.passed(target.terms, excluded):
            continue
        unique.setdefault((target.terms, target.categories, target.pin), target)
    return [*cells, *unique.values()]


def difference_targets(ledger: Ledger, offset: int = 0) -> list[Target]:
    """The records in one published cell and not in another that it contains, and the changes
    of a cell between two times.

    Two cells (of any publications) whose selections differ in one dimension only, one code
    set inside the other — a revision against its original (vintages), a year-to-date against
    a quarter (quarters), a roll-up against an organisation, a category group against one of
    its codes — publish the count of their difference too. That difference is a union of codes
    of one dimension, which the margins do not cover when it is more than one code.

    In the ledger's `changes` dimension (vintages) neither need contain the other: a revision
    after a correction counts versions its original did not, and stops counting some it did.
    The two publish the cell's change, a difference of two unions that may be negative (kind
    ``change``, signed): a change of 1..k-1 either way says how many records of the cell were
    erased, corrected or added late, and is blocked as an atom is.

    With the ledger's `units`, a cell of one unit (an organisation's table) stands for the same
    cell of every unit: releases of the others (a roll-up, the other organisations) must not
    pin a difference that a unit's own later release would publish, since that release could
    then only be withheld.
    """
    universe = ledger.universe
    changes = ledger.changes_position
    origin: dict[Selection, tuple[str, str]] = {}
    for publication in ledger.publications:
        for (table_name, _), selection in publication.selections.items():
            origin.setdefault(selection, (publication.release.name, table_name))
    if ledger.units is not None:  # the same cells of every other unit, which may publish them later
        u = universe.position(ledger.units)
        for selection, named in list(origin.items()):
            if len(selection[u]) == 1:
                for code in universe.dimensions[u].codes:
                    unit = (*selection[:u], frozenset([code]), *selection[u + 1 :])
                    origin.setdefault(unit, named)
    groups: dict[tuple[int, Selection], list[Selection]] = {}
    for selection in origin:
        for d in range(len(selection)):
            groups.setdefault((d, selection[:d] + selection[d + 1 :]), []).append(selection)
    targets = []
    for (d, _), members in groups.items():
        dimension = (("dimension", universe.dimensions[d].name),)
        for i, outer in enumerate(members):
            for j, inner in enumerate(members):
                if inner[d] < outer[d]:
                    difference = outer[:d] + (outer[d] - inner[d],) + outer[d + 1 :]
                    name, table_name = origin[outer]
                    targets.append(
                        Target(
                            "difference",
                            name,
                            table_name,
                            dimension,
                            terms_of(universe, [(difference, 1)], offset),
                        )
                    )
                elif d == changes and i < j and not (inner[d] <= outer[d] or outer[d] <= inner[d]):
                    earlier, later = outer, inner  # members are in ledger order
                    name, table_name = origin[later]
                    targets.append(
                        Target(
                            "change",
                            name,
                            table_name,
                            dimension,
                            terms_of(universe, [(later, 1), (earlier, -1)], offset),
                            signed=True,
                        )
                    )
    if changes is not None:
        targets.extend(revised_differences(universe, origin, changes, offset))
    return targets


def revised_differences(
    universe: Universe, origin: Mapping[Selection, tuple[str, str]], changes: int, offset: int
) -> list[Target]:
    """The differences of two cells of different times whose selections also differ in one more
    dimension, one code set inside the other: a revised total (all clients, every lifetime alive
    at the revision) minus the original's breakdown total (consenting clients, the lifetimes
    alive at the original) is the non-consenting clients plus the late records, a count no
    single-dimension pair shows. Signed unless the one cell contains the other (a change, as in
    `difference_targets`). `origin`: the release and table that first published each selection."""
    groups: dict[tuple[int, Selection], list[Selection]] = {}
    for selection in origin:
        for d in range(len(selection)):
            if d != changes:
                rest = tuple(codes for i, codes in enumerate(selection) if i not in (d, changes))
                groups.setdefault((d, rest), []).append(selection)
    targets = []
    for (d, _), members in groups.items():
        dimension = (
            ("dimension", universe.dimensions[d].name),
            ("dimension", universe.dimensions[changes].name),
        )
        for outer in members:
            for inner in members:
                if inner[d] < outer[d] and inner[changes] != outer[changes]:
                    contained = inner[changes] <= outer[changes]
                    name, table_name = origin[outer]
                    terms = terms_of(universe, [(outer, 1), (inner, -1)], offset)
                    targets.append(
                        Target(
                            "difference" if contained else "change",
                            name,
                            table_name,
                            dimension,
                            terms,
                            signed=not contained,
                        )
                    )
    return targets
