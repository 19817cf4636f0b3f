"""The model of a release: atomic counts, tables over them, and what a release publishes.

Everything an outsider can learn from federal aggregates is a linear function of the
*atoms*, the counts of the finest cross-classification, every dimension and code listed in
advance from a versioned codebook (REFERENCE §3.2: categories are never derived from the
data, zeros are atoms too). Every cell, totals included, is a sum of atoms over an explicit
`Selection`, frozen when a release is built, so a later codebook version that adds codes does
not change what an old release meant. An original and its revision, a quarter and its
year-to-date are simply different selections of the same atoms. Only codes and counts here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from domain.codebook import Codebook

TOTAL = "*"  # the code of a marginal total in a cell key

Selection = tuple[frozenset[str], ...]  # allowed codes, one set per universe dimension
CellKey = tuple[str, ...]  # one code (or TOTAL) per classification of a table
Atom = tuple[str, ...]  # one code per universe dimension


class InvalidCounts(ValueError):
    """Counts do not fit the universe (the message names the rule, never a count or code)."""


@dataclass(frozen=True)
class Dimension:
    name: str
    codes: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.codes or len(set(self.codes)) != len(self.codes) or TOTAL in self.codes:
            raise ValueError(f"dimension {self.name!r} needs distinct codes other than {TOTAL!r}")

    @classmethod
    def from_codebook(
        cls, codebook: Codebook, list_name: str, name: str | None = None
    ) -> Dimension:
        """Every code of a codebook list, in the codebook's order (zeros included by design)."""
        return cls(name or list_name, tuple(codebook.lists[list_name]))


@dataclass(frozen=True)
class Universe:
    """The atomic cross-classification: one unknown non-negative integer per atom."""

    dimensions: tuple[Dimension, ...]
    _position: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [d.name for d in self.dimensions]
        if len(set(names)) != len(names):
            raise ValueError("dimension names must be distinct")
        object.__setattr__(self, "_position", {name: i for i, name in enumerate(names)})

    @property
    def size(self) -> int:
        size = 1
        for dimension in self.dimensions:
            size *= len(dimension.codes)
        return size

    def position(self, name: str) -> int:
        """The index of the dimension called `name` (KeyError when there is none)."""
        return self._position[name]

    def dimension(self, name: str) -> Dimension:
        return self.dimensions[self._position[name]]

    def atoms(self) -> Iterable[Atom]:
        return itertools.product(*(d.codes for d in self.dimensions))

    def index(self, atom: Atom) -> int:
        index = 0
        for dimension, code in zip(self.dimensions, atom, strict=True):
            index = index * len(dimension.codes) + dimension.codes.index(code)
        return index

    def atom(self, index: int) -> Atom:
        codes = []
        for dimension in reversed(self.dimensions):
            index, position = divmod(index, len(dimension.codes))
            codes.append(dimension.codes[position])
        return tuple(reversed(codes))

    def select(self, where: Mapping[str, str | Iterable[str]] | None = None) -> Selection:
        """A selection: the named dimensions restricted to the given code(s), the rest whole."""
        where = where or {}
        unknown = set(where) - set(self._position)
        if unknown:
            raise ValueError(f"unknown dimensions {sorted(unknown)}")
        selection = []
        for dimension in self.dimensions:
            allowed = where.get(dimension.name)
            if allowed is None:
                selection.append(frozenset(dimension.codes))
                continue
            codes = frozenset([allowed] if isinstance(allowed, str) else allowed)
            if not codes <= set(dimension.codes):
                raise ValueError(f"codes outside dimension {dimension.name!r}")
            selection.append(codes)
        return tuple(selection)

    def restrict(self, selection: Selection, where: Mapping[str, frozenset[str]]) -> Selection:
        """`selection` intersected with further restrictions on some dimensions."""
        return tuple(
            codes & where[d.name] if d.name in where else codes
            for d, codes in zip(self.dimensions, selection, strict=True)
        )

    def indices(self, selection: Selection) -> tuple[int, ...]:
        """The atoms of a selection, as indices (ascending)."""
        found = [0]
        for dimension, codes in zip(self.dimensions, selection, strict=True):
            width = len(dimension.codes)
            positions = [i for i, code in enumerate(dimension.codes) if code in codes]
            found = [base * width + p for base in found for p in positions]
        return tuple(found)

    def vector(self, counts: Mapping[Atom, int]) -> tuple[int, ...]:
        """True counts as a dense vector over the atoms; atoms not mentioned are zero."""
        vector = [0] * self.size
        for atom, count in counts.items():
            if len(atom) != len(self.dimensions) or any(
                code not in d.codes for d, code in zip(self.dimensions, atom, strict=True)
            ):
                raise InvalidCounts("a count names an atom outside the universe")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise InvalidCounts("counts must be non-negative integers")
            vector[self.index(atom)] = count
        return tuple(vector)


@dataclass(frozen=True)
class Classification:
    """How a table groups one dimension: each group code stands for a set of atom codes (the
    identity grouping of a dimension, or a coarser one: organisation -> grant -> state,
    quarter -> year-to-date -> fiscal year)."""

    name: str
    dimension: str
    groups: tuple[tuple[str, frozenset[str]], ...]

    @classmethod
    def of(cls, dimension: Dimension, name: str | None = None) -> Classification:
        return cls(
            name or dimension.name,
            dimension.name,
            tuple((code, frozenset([code])) for code in dimension.codes),
        )

    @classmethod
    def grouping(
        cls, name: str, dimension: str, groups: Mapping[str, Iterable[str]]
    ) -> Classification:
        return cls(
            name, dimension, tuple((code, frozenset(codes)) for code, codes in groups.items())
        )

    def __post_init__(self) -> None:
        codes = [code for code, _ in self.groups]
        if not codes or len(set(codes)) != len(codes) or TOTAL in codes:
            raise ValueError(f"classification {self.name!r} needs distinct group codes")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.groups)

    @property
    def members(self) -> Mapping[str, frozenset[str]]:
        members = dict(self.groups)
        members[TOTAL] = frozenset().union(*members.values())
        return members

    @property
    def partition(self) -> bool:
        """Disjoint groups: the total is then the sum of the group cells (a table line)."""
        seen: set[str] = set()
        for _, codes in self.groups:
            if seen & codes:
                return False
            seen |= codes
        return True


@dataclass(frozen=True)
class Table:
    """A cross-tabulation with all marginal totals, over a fixed filter of the universe.

    `where` fixes dimensions the table does not break down (a quarter, a vintage, an
    organisation for a per-organisation table). `sensitive` names the classifications whose
    categories are sensitive (trafficking type, victim status): each row of the other
    classifications is an outsider-identifiable group (§3.5). `mandatory` lists cell keys a
    funder requires even from a unit below the minimum reporting size.
    """

    name: str
    by: tuple[Classification, ...]
    where: tuple[tuple[str, frozenset[str]], ...] = ()
    sensitive: frozenset[str] = frozenset()
    mandatory: frozenset[CellKey] = frozenset()

    @classmethod
    def of(
        cls,
        name: str,
        by: Sequence[Classification],
        where: Mapping[str, str | Iterable[str]] | None = None,
        sensitive: Iterable[str] = (),
        mandatory: Iterable[CellKey] = (),
    ) -> Table:
        fixed = tuple(
            (d, frozenset([c]) if isinstance(c, str) else frozenset(c))
            for d, c in (where or {}).items()
        )
        return cls(name, tuple(by), fixed, frozenset(sensitive), frozenset(mandatory))

    def __post_init__(self) -> None:
        names = [c.name for c in self.by]
        if len(set(names)) != len(names) or not self.sensitive <= set(names):
            raise ValueError(
                f"table {self.name!r}: "
                "classifications must be distinct and include the sensitive ones"
            )

    def keys(self) -> tuple[CellKey, ...]:
        return tuple(itertools.product(*((*c.codes, TOTAL) for c in self.by)))

    def coordinates(self, key: CellKey) -> dict[str, str]:
        return {c.name: code for c, code in zip(self.by, key, strict=True)}

    def selection(self, universe: Universe, key: CellKey) -> Selection:
        selection = universe.restrict(universe.select(), dict(self.where))
        for classification, code in zip(self.by, key, strict=True):
            selection = universe.restrict(
                selection, {classification.dimension: classification.members[code]}
            )
        return selection

    def lines(self) -> list[tuple[CellKey, tuple[CellKey, ...]]]:
        """Every (total, parts) whose parts sum to the total: one per key and partitioning
        position."""
        lines = []
        for key in self.keys():
            for i, classification in enumerate(self.by):
                if key[i] == TOTAL and classification.partition:
                    lines.append(
                        (
                            key,
                            tuple(
                                key[:i] + (code,) + key[i + 1 :] for code in classification.codes
                            ),
                        )
                    )
        return lines

    def rows(self) -> list[tuple[CellKey, Classification, tuple[CellKey, ...]]]:
        """Outsider-identifiable groups: (row total key, sensitive classification, category keys).

        A row fixes every classification but one sensitive one (to a code or the total); its
        categories are that sensitive classification's codes.
        """
        rows = []
        for key in self.keys():
            for i, classification in enumerate(self.by):
                if key[i] == TOTAL and classification.name in self.sensitive:
                    rows.append(
                        (
                            key,
                            classification,
                            tuple(
                                key[:i] + (code,) + key[i + 1 :] for code in classification.codes
                            ),
                        )
                    )
        return rows


@dataclass(frozen=True)
class Percentage:
    """A published percentage numerator/denominator, rounded half up to a whole percent: an
    equation over cells too (§3.3)."""

    name: str
    numerator: tuple[str, CellKey]  # (table name, cell key)
    denominator: tuple[str, CellKey]


@dataclass(frozen=True)
class Group:
    """A declared outsider-identifiable group (minors, a nationality group) and a sensitive
    breakdown."""

    name: str
    where: tuple[tuple[str, frozenset[str]], ...]
    breakdown: Classification

    @classmethod
    def of(
        cls, name: str, where: Mapping[str, str | Iterable[str]], breakdown: Classification
    ) -> Group:
        return cls(
            name,
            tuple(
                (d, frozenset([c]) if isinstance(c, str) else frozenset(c))
                for d, c in where.items()
            ),
            breakdown,
        )


@dataclass(frozen=True)
class Release:
    """What one release publishes (its shape, not its numbers): tables, percentages, groups."""

    name: str
    codebook_version: str
    tables: tuple[Table, ...]
    percentages: tuple[Percentage, ...] = ()
    groups: tuple[Group, ...] = ()

    def __post_init__(self) -> None:
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError("table names must be distinct within a release")
        for percentage in self.percentages:
            for table, key in (percentage.numerator, percentage.denominator):
                if table not in names or key not in self.table(table).keys():
                    raise ValueError(f"percentage {percentage.name!r} refers to an unknown cell")

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)


def total(universe: Universe, truth: Sequence[int], selection: Selection) -> int:
    return sum(truth[i] for i in universe.indices(selection))


def tabulate(universe: Universe, truth: Sequence[int], table: Table) -> dict[CellKey, int]:
    """Every cell of a table, totals included, from the true counts."""
    return {key: total(universe, truth, table.selection(universe, key)) for key in table.keys()}


def rounded_percent(numerator: int, denominator: int) -> int | None:
    """100 * numerator / denominator rounded half up, in integers; None for a zero denominator."""
    if denominator <= 0:
        return None
    return (200 * numerator + denominator) // (2 * denominator)
