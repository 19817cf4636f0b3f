"""The ledger: every publication ever released, and the facts each one gives away.

Each published number is an equation over the atoms (non-negative integer unknowns) and each
published percentage a pair of inequalities (REFERENCE §3.3); what an outsider can infer is
what these facts, all of them together, allow (`domain.reporting.audit`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.reporting.integer_programs import Row, Terms
from domain.reporting.tables import CellKey, Release, Selection, Universe

CellRef = tuple[str, CellKey]  # (table name, cell key)
# A publishable number of a release: ("cell", CellRef) or ("percentage", name).
Ref = tuple[str, object]


@dataclass(frozen=True, eq=False)
class Publication:
    """What one release actually published: every cell (None = suppressed) and percentage.

    The selection of every cell is resolved when the publication is built, so a later
    codebook that adds codes does not change what an old publication meant.
    """

    release: Release
    cells: Mapping[CellRef, int | None]
    percentages: Mapping[str, int | None]
    selections: Mapping[CellRef, Selection]

    @classmethod
    def of(
        cls,
        universe: Universe,
        release: Release,
        cells: Mapping[CellRef, int | None],
        percentages: Mapping[str, int | None] | None = None,
    ) -> Publication:
        selections = {
            (t.name, key): t.selection(universe, key) for t in release.tables for key in t.keys()
        }
        if set(cells) != set(selections):
            raise ValueError("a publication gives every cell of every table (None for suppressed)")
        percentages = dict(percentages or {})
        if set(percentages) != {p.name for p in release.percentages}:
            raise ValueError("a publication gives every percentage (None for suppressed)")
        return cls(release, dict(cells), percentages, selections)

    def suppressed(self) -> list[CellRef]:
        return [ref for ref, value in self.cells.items() if value is None]


@dataclass(frozen=True)
class Ledger:
    universe: Universe
    publications: tuple[Publication, ...] = ()
    # The dimension of record vintages (`domain.reporting.vintages`), if any: two published
    # cells that differ only there are one cell at two times, and publish its change
    # (`publication_targets.difference_targets`).
    changes: str | None = None
    # The dimension of reporting units (organisations), if any: a unit's cells are audited for
    # every unit, released or not yet (`publication_targets.difference_targets`), so that what
    # the others publish never pins a difference in the tables a unit will publish later.
    units: str | None = None

    @property
    def changes_position(self) -> int | None:
        """The index of the `changes` dimension in the universe (None without one)."""
        return None if self.changes is None else self.universe.position(self.changes)

    def with_publication(self, publication: Publication) -> Ledger:
        if any(p.release.name == publication.release.name for p in self.publications):
            raise ValueError("a release name is used once; a revision is a new release")
        return Ledger(self.universe, (*self.publications, publication), self.changes, self.units)

    def digest(self) -> str:
        """SHA-256 over every published number and its meaning (for the disclosure certificate)."""

        def selection(s: Selection) -> list[list[str]]:
            return [sorted(codes) for codes in s]

        document = (
            [[d.name, list(d.codes)] for d in self.universe.dimensions],
            [
                {
                    "release": p.release.name,
                    "codebook": p.release.codebook_version,
                    "cells": sorted(
                        [t, list(k), v, selection(p.selections[(t, k)])]
                        for (t, k), v in p.cells.items()
                    ),
                    "percentages": sorted(
                        [
                            [
                                q.name,
                                p.percentages[q.name],
                                list(q.numerator[1]),
                                q.numerator[0],
                                list(q.denominator[1]),
                                q.denominator[0],
                            ]
                            for q in p.release.percentages
                        ]
                    ),
                }
                for p in self.publications
            ],
        )
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def terms_of(universe: Universe, parts: Sequence[tuple[Selection, int]], offset: int = 0) -> Terms:
    """Sums over selections as terms; `offset`: where the universe's atoms start (a linked
    block)."""
    merged: dict[int, int] = {}
    for selection, coefficient in parts:
        for index in universe.indices(selection):
            merged[offset + index] = merged.get(offset + index, 0) + coefficient
    return tuple(sorted((v, c) for v, c in merged.items() if c))


def publication_rows(universe: Universe, publication: Publication, offset: int = 0) -> list[Row]:
    """The facts a publication gives away: one equation per published cell, two rows per
    percentage."""
    rows = [
        Row(terms_of(universe, [(publication.selections[ref], 1)], offset), value, value)
        for ref, value in publication.cells.items()
        if value is not None
    ]
    for percentage in publication.release.percentages:
        p = publication.percentages[percentage.name]
        if p is not None:
            rows.extend(
                percentage_rows(
                    universe,
                    publication.selections[percentage.numerator],
                    publication.selections[percentage.denominator],
                    p,
                    offset,
                )
            )
    return rows


def percentage_rows(
    universe: Universe, numerator: Selection, denominator: Selection, percent: int, offset: int = 0
) -> list[Row]:
    """p = round_half_up(100 n / d)  <=>  200 n - (2p - 1) d >= 0  and  200 n - (2p + 1) d <= -1."""
    low = terms_of(universe, [(numerator, 200), (denominator, -(2 * percent - 1))], offset)
    high = terms_of(universe, [(numerator, 200), (denominator, -(2 * percent + 1))], offset)
    positive = terms_of(universe, [(denominator, 1)], offset)
    return [Row(low, 0, None), Row(high, None, -1), Row(positive, 1, None)]
