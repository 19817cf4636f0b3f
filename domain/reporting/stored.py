"""The disclosure ledger's storage form: publications as JSON, and back.

A stored publication holds the family's universe (dimension names and codes, in order), the
release's tables (classifications, fixed filters, sensitive and mandatory cells) and every
published number with the code sets it sums over. That is what `domain.reporting.audit`
needs to rebuild every equation an outsider holds; it holds no true count that was not
published (a suppressed cell is `null`), no subject and no date.

Universes grow: a later release may know more organisations or (after late data) more
vintages, and a later codebook version more categories. Selections are explicit code sets,
so an old publication keeps its meaning inside a larger universe (`merge_universe`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.reporting.ledger import Publication
from domain.reporting.tables import Classification, Dimension, Release, Table, Universe


def universe_to_json(universe: Universe) -> list[list[Any]]:
    return [[d.name, list(d.codes)] for d in universe.dimensions]


def merge_universe(names: Sequence[str], parts: Sequence[Mapping[str, Sequence[str]]]) -> Universe:
    """The dimensions `names`, each with every code any part lists (first appearance order)."""
    dimensions = []
    for name in names:
        codes: list[str] = []
        for part in parts:
            for code in part.get(name, ()):
                if code not in codes:
                    codes.append(code)
        dimensions.append(Dimension(name, tuple(codes)))
    return Universe(tuple(dimensions))


def _table_to_json(table: Table) -> dict[str, Any]:
    return {
        "name": table.name,
        "by": [
            [c.name, c.dimension, [[code, sorted(codes)] for code, codes in c.groups]]
            for c in table.by
        ],
        "where": [[d, sorted(codes)] for d, codes in table.where],
        "sensitive": sorted(table.sensitive),
        "mandatory": sorted(list(key) for key in table.mandatory),
    }


def _table_from_json(data: Mapping[str, Any]) -> Table:
    return Table(
        data["name"],
        tuple(
            Classification(
                name, dimension, tuple((code, frozenset(codes)) for code, codes in groups)
            )
            for name, dimension, groups in data["by"]
        ),
        tuple((d, frozenset(codes)) for d, codes in data["where"]),
        frozenset(data["sensitive"]),
        frozenset(tuple(key) for key in data["mandatory"]),
    )


def publication_to_json(universe: Universe, publication: Publication) -> dict[str, Any]:
    if publication.release.percentages or publication.release.groups:
        raise ValueError("federal releases publish tables only")
    return {
        "universe": universe_to_json(universe),
        "release": {
            "name": publication.release.name,
            "codebook_version": publication.release.codebook_version,
            "tables": [_table_to_json(t) for t in publication.release.tables],
        },
        "cells": [
            [
                table,
                list(key),
                value,
                [sorted(codes) for codes in publication.selections[(table, key)]],
            ]
            for (table, key), value in publication.cells.items()
        ],
    }


def publication_from_json(data: Mapping[str, Any]) -> Publication:
    release = Release(
        data["release"]["name"],
        data["release"]["codebook_version"],
        tuple(_table_from_json(t) for t in data["release"]["tables"]),
    )
    cells = {(table, tuple(key)): value for table, key, value, _ in data["cells"]}
    selections = {
        (table, tuple(key)): tuple(frozenset(codes) for codes in selection)
        for table, key, _, selection in data["cells"]
    }
    return Publication(release, cells, {}, selections)


def stored_universe(data: Mapping[str, Any]) -> dict[str, list[str]]:
    return {name: list(codes) for name, codes in data["universe"]}
