"""The cells of a universe's cross-classification as audit targets, built once and filtered fast.

The audit protects every cell of a universe's cross-classification with margins (and with
named unions of codes, `Unions`) unless the cell contains an atom no fact constrains
(`publication_targets.ledger_targets`). A release audits the same universes many times, and a
link universe's cross-classification alone has some 10^5 cells over some 3 * 10^6 atom
memberships, so the cells are built once per universe (`CrossClassification`), and filtered
per audit from the few unconstrained atoms instead of by testing every cell.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from domain.reporting.integer_programs import Terms
from domain.reporting.tables import TOTAL, Universe

Coordinates = tuple[tuple[str, str], ...]  # (dimension or classification name, code)
# Unions of codes of a dimension published as one category: (dimension, ((name, codes), ...)), ...
Unions = tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...]


@dataclass(frozen=True, slots=True)
class Target:
    """Something the audit protects (`audit`). `categories` is empty unless it is a group."""

    # "atom" | "margin" | "suppressed_cell" | "suppressed_sum" | "difference" | "change" |
    # "group" | "link"
    kind: str
    release: str | None
    table: str | None
    coordinates: Coordinates
    terms: Terms = ()
    categories: tuple[Terms, ...] = ()
    pin: bool = False  # a suppressed cell: also blocked when pinned to one non-zero value
    # a change (may be negative): blocked when every value lies in -(k-1)..k-1 without 0
    signed: bool = False


@dataclass(frozen=True)
class _Classes:
    """One dimension of the cross-classification, its codes grouped by the atom codes they cover."""

    codes: tuple[str, ...]  # the first code of each class (its name in a target's coordinates)
    # per class: the positions of the atom codes it covers, ascending
    members: tuple[tuple[int, ...], ...]
    # per atom code position: the classes covering it, ascending
    covering: tuple[tuple[int, ...], ...]


def _classes(
    universe: Universe, name: str, unions: Iterable[tuple[str, tuple[str, ...]]]
) -> _Classes:
    dimension = universe.dimension(name)
    position = universe.position(name)
    # A union named like a code replaces it in place, as a dict update does; the total comes last.
    named = {**{code: (code,) for code in dimension.codes}, **dict(unions)}
    classes: dict[tuple[int, ...], str] = {}
    for code, covered in [*named.items(), (TOTAL, ())]:
        # `select` refuses unknown codes
        allowed = universe.select({} if code == TOTAL else {name: covered})[position]
        classes.setdefault(tuple(i for i, c in enumerate(dimension.codes) if c in allowed), code)
    members = tuple(classes)
    return _Classes(
        tuple(classes.values()),
        members,
        tuple(
            tuple(c for c, positions in enumerate(members) if p in positions)
            for p in range(len(dimension.codes))
        ),
    )


def _strides(widths: list[int]) -> tuple[int, ...]:
    """Mixed-radix place values, the last dimension fastest (the order of `itertools.product`)."""
    strides, stride = [], 1
    for width in reversed(widths):
        strides.append(stride)
        stride *= width
    return tuple(reversed(strides))


@dataclass(frozen=True, eq=False)
class CrossClassification:
    """Every distinct cell of a universe's cross-classification with margins (and unions).

    * A cell is a choice of one *class* per dimension: the codes of a dimension (a code, a
      union, the total) that cover the same atom codes are one class, named by its first
      code. Cells that differ only in codes of one class cover the same atoms (a dimension of
      one code and its total, a union of one code), and the audit keeps only the first of
      them in product order — the cell of every class's first code. `cells` lists those only,
      atoms computed from strides, each list prefix computed once.
    * A cell contains an atom exactly when each of its classes covers the atom's code, so the
      cells that contain one unconstrained atom are enumerated from the atom (`touching`)
      instead of being found by testing every atom of every cell. Unconstrained atoms are few
      (usually none: a released ledger's facts cover its universe).
    * A cell is named by its `index` in the product of the classes (mixed radix), so what the
      audit caches per cell and what `touching` excludes meet without building the cells
      again.

    Every empty cell (a union of no codes) covers the same atoms — none — and only the first
    in product order is kept too.
    """

    names: tuple[str, ...]
    dimensions: tuple[_Classes, ...]
    atom_strides: tuple[int, ...]  # of an atom's index (`Universe.index`)
    cell_strides: tuple[int, ...]  # of a cell's index, over the classes

    def cells(self) -> Iterator[tuple[int, Coordinates, tuple[int, ...]]]:
        """(index, coordinates, atoms ascending) of every distinct cell, in product order."""
        if not self.dimensions:  # the universe of one atom
            yield 0, (), (0,)
            return
        pairs = [
            [(name, code) for code in classes.codes]
            for name, classes in zip(self.names, self.dimensions, strict=True)
        ]
        # Cells by prefix, one dimension at a time: the atoms of each prefix are listed once.
        prefixes: list[tuple[int, Coordinates, list[int]]] = [(0, (), [0])]
        for classes, coordinate, stride, place in zip(  # every dimension but the last (below)
            self.dimensions[:-1], pairs, self.atom_strides, self.cell_strides, strict=False
        ):
            prefixes = [
                (
                    index + c * place,
                    (*coordinates, pair),
                    [a + p * stride for a in atoms for p in members],
                )
                for index, coordinates, atoms in prefixes
                for c, (pair, members) in enumerate(zip(coordinate, classes.members, strict=True))
            ]
        last, stride, place = self.dimensions[-1], self.atom_strides[-1], self.cell_strides[-1]
        empty_seen = False
        for index, coordinates, atoms in prefixes:
            for c, (pair, members) in enumerate(zip(pairs[-1], last.members, strict=True)):
                cell = tuple([a + p * stride for a in atoms for p in members])
                if not cell:
                    if empty_seen:
                        continue
                    empty_seen = True
                yield index + c * place, (*coordinates, pair), cell

    def touching(self, atoms: Iterable[int]) -> set[int]:
        """The indices of the cells containing any of `atoms`: per atom, every choice of a class
        covering its code in each dimension."""
        found: set[int] = set()
        for atom in atoms:
            indices = [0]
            for classes, stride, place in zip(
                self.dimensions, self.atom_strides, self.cell_strides, strict=True
            ):
                p, atom = divmod(atom, stride)
                indices = [i + c * place for i in indices for c in classes.covering[p]]
            found.update(indices)
        return found


@functools.lru_cache(maxsize=64)  # small: one entry per universe, a few kilobytes
def cross_classification(universe: Universe, unions: Unions = ()) -> CrossClassification:
    """`unions`: named unions of codes of some dimensions, classified as if they were codes
    (a union of a dimension the universe lacks is ignored)."""
    names = tuple(d.name for d in universe.dimensions)
    by_dimension = dict(unions)
    dimensions = tuple(_classes(universe, name, by_dimension.get(name, ())) for name in names)
    return CrossClassification(
        names,
        dimensions,
        _strides([len(d.covering) for d in dimensions]),
        _strides([len(d.codes) for d in dimensions]),
    )


class CrossTargets:
    """The distinct cells of a universe's cross-classification as targets, built once (a `Target`
    is immutable): variables from `offset` on; kind `kind`, else "margin" for a cell with a total
    and "atom" for the others."""

    def __init__(self, universe: Universe, unions: Unions, offset: int, kind: str | None) -> None:
        self.cross = cross_classification(universe, unions)
        # shared by every cell: terms cost a pointer each
        term = [(offset + a, 1) for a in range(universe.size)]
        self.targets: dict[int, Target] = {  # by cell index, in product order
            index: Target(
                kind or ("margin" if any(code == TOTAL for _, code in coordinates) else "atom"),
                None,
                None,
                coordinates,
                tuple(map(term.__getitem__, atoms)),
            )
            for index, coordinates, atoms in self.cross.cells()
        }

    @functools.cached_property
    def by_terms(self) -> dict[Terms, int]:
        """The cell index of each target's terms (only ledgers with publications ask)."""
        return {target.terms: index for index, target in self.targets.items()}

    def passing(self, free: Sequence[int]) -> tuple[list[Target], set[int]]:
        """The targets of the cells without an atom of `free` (local indices), in order; and the
        indices of the cells left out."""
        if not free:
            return list(self.targets.values()), set()
        excluded = self.cross.touching(free)
        return [t for index, t in self.targets.items() if index not in excluded], excluded

    def passed(self, terms: Terms, excluded: set[int]) -> bool:
        """Whether a cell with these terms is among the targets `passing` returned."""
        index = self.by_terms.get(terms)
        return index is not None and index not in excluded


# Kept across audits, least recently used dropped first beyond _CACHE_CELLS cells (some 0.3 kB
# each; a release's link universe has some 65,000, and an organisation's release with its
# revision audits some 500,000 over all its universes: a smaller cache builds them again at
# every audit). A lock: releases may run in threads.
_CACHE: OrderedDict[tuple[Universe, Unions, int, str | None], CrossTargets] = OrderedDict()
_CACHE_CELLS = 600_000
_CACHE_LOCK = threading.Lock()


def cross_targets(
    universe: Universe, unions: Unions = (), offset: int = 0, kind: str | None = None
) -> CrossTargets:
    key = (universe, unions, offset, kind)
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    # unlocked: two threads may build it, the same
    found = CrossTargets(universe, unions, offset, kind)
    with _CACHE_LOCK:
        _CACHE[key] = found
        cells = sum(len(c.targets) for c in _CACHE.values())
        while cells > _CACHE_CELLS and len(_CACHE) > 1:
            cells -= len(_CACHE.popitem(last=False)[1].targets)
    return found
