"""The document of a federal release: its tables in codebook order, each cell with its status,
and the CSV files of a document.

A cell is `published`, `suppressed` (a breakdown cell, k = 11) or `withheld` (a funder's
mandatory total that the disclosure policy could not publish); the last two have a null count.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from domain.reporting.federal_codebook import Family, TableSpec
from domain.reporting.federal_families import MERGED_DIMS
from domain.reporting.tables import TOTAL, Table

if TYPE_CHECKING:
    from domain.reporting.families import FamilyRelease


class DocumentError(Exception):
    """The families' releases disagree about a cell they share."""


def _coverage(spec: TableSpec) -> str:
    return {"quarter": "quarter", "ytd": "fiscal_year_to_date", "grant_year": "fiscal_year"}[
        spec.period
    ]


def _dims(table: Table, key: Sequence[str]) -> dict[str, str]:
    return {
        c.name: ("total" if code == TOTAL else code) for c, code in zip(table.by, key, strict=True)
    }


def table_entry(tables: dict[str, dict[str, Any]], spec: TableSpec) -> dict[str, Any]:
    """The output table of `spec` in `tables`, added (without cells) on first use."""
    return tables.setdefault(
        spec.name,
        {"name": spec.name, "program": spec.program, "coverage": _coverage(spec), "cells": []},
    )


def cell_dims(family: Family, table: Table, key: Sequence[str]) -> dict[str, str]:
    """A cell's output dims; a table merged across families names the family's code first."""
    dims = _dims(table, key)
    merged = MERGED_DIMS.get(table.name)
    return dims if merged is None else {merged: family.name.split("_", 1)[1], **dims}


PUBLISHED, SUPPRESSED, WITHHELD_CELL = "published", "suppressed", "withheld"
WITHHELD_NOTE = (
    "withheld under the disclosure policy: with the numbers released before, it would let a count "
    "of 1 to 10 be derived; its clients are counted in the totals that are published"
)


def render(releases: Sequence[FamilyRelease]) -> list[dict[str, Any]]:
    """The output tables: every table in codebook order, cells in table order, merged across
    families. A cell's `status`: published; suppressed (a breakdown cell, k = 11); or withheld
    (a funder's mandatory total that the disclosure policy could not publish)."""
    tables: dict[str, dict[str, Any]] = {}
    values: dict[tuple[str, str], tuple[dict[str, str], int | None, bool]] = {}
    for fr in releases:
        for spec in fr.family.tables:
            try:
                table = fr.publication.release.table(spec.name)
            except StopIteration:
                continue
            out = table_entry(tables, spec)
            for key in table.keys():
                dims = cell_dims(fr.family, table, key)
                ident = (spec.name, json.dumps(dims, sort_keys=True))
                value = fr.publication.cells[(spec.name, key)]
                mandatory = key in table.mandatory
                if ident not in values:
                    values[ident] = (dims, value, mandatory)
                    out["cells"].append(ident)
                else:  # the same cell published by another family: suppressed if either did
                    before = values[ident][1]
                    if before is not None and value is not None and before != value:
                        raise DocumentError("a table shared by two families disagrees with itself")
                    values[ident] = (
                        dims,
                        None if before is None or value is None else value,
                        mandatory or values[ident][2],
                    )
    rendered = []
    for out in tables.values():
        out["cells"] = [_cell(*values[ident]) for ident in out["cells"]]
        rendered.append(out)
    return rendered


def _cell(dims: dict[str, str], count: int | None, mandatory: bool) -> dict[str, Any]:
    status = PUBLISHED if count is not None else WITHHELD_CELL if mandatory else SUPPRESSED
    return {"dims": dims, "count": count, "status": status}


def withheld_cells(tables: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The certificate's list of withheld mandatory cells (table and dims)."""
    return [
        {"table": table["name"], "dims": cell["dims"]}
        for table in tables
        for cell in table["cells"]
        if cell.get("status") == WITHHELD_CELL
    ]


def render_csv(document: Mapping[str, Any]) -> dict[str, str]:
    """One CSV per table (dims columns, then count and status; an empty count: suppressed or
    withheld, as the status says), plus the certificate."""
    files: dict[str, str] = {}
    for table in document["tables"]:
        columns = list(table["cells"][0]["dims"]) if table["cells"] else []
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            [*columns, "count", "status", "period", "coverage", "codebook_version", "ledger_hash"]
        )
        for cell in table["cells"]:
            count = "" if cell["count"] is None else str(cell["count"])
            status = cell.get("status", PUBLISHED if cell["count"] is not None else SUPPRESSED)
            writer.writerow(
                [
                    *(cell["dims"][c] for c in columns),
                    count,
                    status,
                    document["period"],
                    table.get("coverage", "quarter"),
                    document["codebook_version"],
                    document["certificate"].get("ledger_hash", ""),
                ]
            )  # a DP release has no ledger hash
        files[f"{table['name']}.csv"] = buffer.getvalue()
    files["certificate.json"] = (
        json.dumps(
            {
                "period": document["period"],
                "codebook_version": document["codebook_version"],
                "certificate": document["certificate"],
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    return files
