"""Linked ledgers: families over the same people, audited as one integer system."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from domain.reporting.integer_programs import LinearSystem, Row, Terms
from domain.reporting.ledger import Ledger, Publication, publication_rows, terms_of
from domain.reporting.publication_targets import ledger_targets_constrained
from domain.reporting.tables import Selection, Universe
from domain.reporting.targets import Target, Unions


@dataclass
class _LinkMemo:
    """What a `Linked` works out once for its universes and link cells, whatever is published."""

    classes: dict[int, list[tuple[Selection, list[int]]]] = field(default_factory=dict)
    link_rows: list[Row] | None = None


@dataclass(frozen=True, eq=False)
class Linked:
    """The ledgers of several *blocks* (families) over the same people, glued by link counts.

    Each block is a `Ledger` over its own universe (its own dimensions, few atoms). The blocks
    describe the same people, so they share information beyond the totals they publish: the
    *link* is a universe of the dimensions the blocks have in common (organisation, quarter,
    vintage, newness, consent, age band, program, ...), one unknown count per link atom, and
    `cells[b][a]` maps atom `a` of block `b` to the link selection it belongs to (a product
    set: the link dimensions the block's atom fixes, the others whole; None: not linked). For
    every block and every distinct link selection, the block's atoms in it sum to the link
    atoms in it — a fact the outsider knows by definition (the same clients, counted twice).

    **Exactness.** When every block's atoms map onto a *coarsening* of the link (each block's
    selections partition the link atoms it covers) and the blocks share nothing else — given
    the link counts, each block's remaining dimensions are its own — any point of every block
    agreeing on the link counts is the projection of one joint cross-classification (within
    each link atom, a table with the blocks' splits as margins always exists in integers). So
    the system below has exactly the outsider's joint feasible set projected onto the blocks'
    atoms and the link counts, and auditing it is as exact as auditing the joint universe,
    with the atoms of the blocks plus the link instead of their product.

    Variables: block 0's atoms, block 1's, ..., then the link atoms (`offset`). Link counts are
    targets too (kind ``link``): every cell of the link's cross-classification with margins.
    """

    blocks: tuple[Ledger, ...]
    link: Universe | None = None
    cells: tuple[tuple[Selection | None, ...], ...] = ()
    unions: Unions = ()  # unions of link codes blocks publish as one category (audited link cells)
    _memo: _LinkMemo = field(default_factory=_LinkMemo, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.link is not None and (
            len(self.cells) != len(self.blocks)
            or any(len(c) != b.universe.size for c, b in zip(self.cells, self.blocks, strict=True))
        ):
            raise ValueError("a link cell (or None) for every atom of every block")

    @property
    def offsets(self) -> tuple[int, ...]:
        """Where each block's atoms start, then where the link's start."""
        offsets, at = [], 0
        for block in self.blocks:
            offsets.append(at)
            at += block.universe.size
        return (*offsets, at)

    @property
    def size(self) -> int:
        return self.offsets[-1] + (self.link.size if self.link is not None else 0)

    def with_publications(self, publications: Sequence[Publication | None]) -> Linked:
        blocks = tuple(
            b if p is None else b.with_publication(p)
            for b, p in zip(self.blocks, publications, strict=True)
        )
        # the same universes: the same link rows
        return Linked(blocks, self.link, self.cells, self.unions, self._memo)

    def publication_rows(self) -> list[Row]:
        offsets = self.offsets
        return [
            row
            for i, block in enumerate(self.blocks)
            for p in block.publications
            for row in publication_rows(block.universe, p, offsets[i])
        ]

    def classes(self, block: int) -> list[tuple[Selection, list[int]]]:
        """A block's atoms (local indices) grouped by the link selection they belong to."""
        memo = self._memo.classes
        if block not in memo:
            classes: dict[Selection, list[int]] = {}
            for atom, selection in enumerate(self.cells[block] if self.link is not None else ()):
                if selection is not None:
                    classes.setdefault(selection, []).append(atom)
            memo[block] = list(classes.items())
        return memo[block]

    def link_rows(self) -> list[Row]:
        """For every block and link selection: the block's atoms in it = the link atoms in it."""
        if self.link is None:
            return []
        if self._memo.link_rows is None:
            offsets, rows = self.offsets, []
            for i in range(len(self.blocks)):
                for selection, atoms in self.classes(i):
                    link_terms = terms_of(self.link, [(selection, -1)], offsets[-1])
                    block_terms = [(offsets[i] + a, 1) for a in atoms]
                    rows.append(Row(tuple(sorted(block_terms + list(link_terms))), 0, 0))
            self._memo.link_rows = rows
        return list(self._memo.link_rows)

    def local(self, system: LinearSystem, truth: Sequence[int] | None, block: int) -> LinearSystem:
        """Block `block`'s own facts; with `truth`, each of its link classes held at its true
        total.

        Two exact shortcuts, in local indices (the block's atoms). With the classes held at the
        truth, a point of this small system, with every other variable at the truth, is a point
        of the whole system (every link row still holds): a witness found here is a witness
        there. Without them it is a relaxation of the whole system (fewer facts): no point here
        proves that there is none there."""
        offsets = self.offsets
        low, high = offsets[block], offsets[block + 1]
        rows = [
            Row(tuple((v - low, c) for v, c in row.terms), row.low, row.high)
            for row in system.rows
            if row.terms and low <= row.terms[0][0] and row.terms[-1][0] < high
        ]
        if truth is not None:
            for _, atoms in self.classes(block):
                value = sum(truth[low + a] for a in atoms)
                rows.append(Row(tuple((a, 1) for a in atoms), value, value))
        return LinearSystem(system.lower[low:high], system.upper[low:high], tuple(rows))

    def block_of(self, terms: Terms) -> int | None:
        """The block holding every variable of `terms` (None: several, or the link)."""
        if not terms:
            return None
        offsets = self.offsets
        for i in range(len(self.blocks)):
            if offsets[i] <= terms[0][0] and terms[-1][0] < offsets[i + 1]:
                return i
        return None

    def rows(self) -> list[Row]:
        return self.publication_rows() + self.link_rows()

    def vector(
        self,
        counts: Sequence[Mapping[tuple[str, ...], int]],
        link_counts: Mapping[tuple[str, ...], int] | None = None,
    ) -> tuple[int, ...]:
        """True counts of every block (and of the link) as one vector over the system's
        variables."""
        vector = [
            x
            for block, c in zip(self.blocks, counts, strict=True)
            for x in block.universe.vector(c)
        ]
        if self.link is not None:
            vector.extend(self.link.vector(link_counts or {}))
        return tuple(vector)

    def targets(self, rows: Sequence[Row]) -> list[Target]:
        offsets = self.offsets
        constrained = {v for row in rows for v, _ in row.terms}
        targets = [
            t
            for i, block in enumerate(self.blocks)
            for t in ledger_targets_constrained(block, constrained, offsets[i])
        ]
        if self.link is not None:
            link = Ledger(self.link)
            targets.extend(
                ledger_targets_constrained(link, constrained, offsets[-1], "link", self.unions)
            )
        # Each block's targets are distinct and over its own variables, so only targets over no
        # variable at all (an empty selection) can coincide across blocks: the first one is kept.
        unique, seen = [], set()
        for target in targets:
            if not target.terms and not any(target.categories):
                key = (target.terms, target.categories, target.pin)
                if key in seen:
                    continue
                seen.add(key)
            unique.append(target)
        return unique
