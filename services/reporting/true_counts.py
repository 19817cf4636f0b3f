"""The true counts of a period: the input of every disclosure method, never output as they are.

They are read as aggregates only (no row, no subject leaves SQL) through the reporting role
(`access.reporting_connection`), and counted by the domain's rules (`domain.reporting.inputs`).
Screenings and activities live in read models the role cannot read: it gets their counts from
the owner's aggregate functions `reporting_ledger.identification_counts` and
`reporting_ledger.activity_counts` (migration 0013), never a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from domain.reporting.families import (
    ROLL_UP,
    FamilyState,
    cell_truth,
    family_tables,
    organisations_in,
)
from domain.reporting.federal_families import FAMILIES
from domain.reporting.inputs import GROUP_COLUMNS, BaseCounts, InputsOutsideCodebook, count_inputs
from domain.reporting.periods import Period, index_of
from services.reporting.access import ReportError
from services.reporting.document import cell_dims, table_entry


async def read_true_counts(
    conn: asyncpg.Connection, period: Period, horizon: str
) -> dict[str, BaseCounts]:
    """Per family, the true counts of every final quarter of the period's fiscal year — the
    ledger may hold later quarters than the period — as aggregates only: no row leaves SQL."""
    quarters = [q for q in period.fiscal_quarters if index_of(q) < index_of(horizon)]
    columns = ", ".join(GROUP_COLUMNS)
    rows = await conn.fetch(
        f"""SELECT {columns}, count(*) AS clients FROM reporting.federal_inputs
             WHERE quarter = ANY($1::text[]) GROUP BY {columns}""",
        quarters,
    )
    services = await conn.fetch(
        """SELECT f.organisation, f.quarter, c.code, count(*) AS clients,
                  count(*) FILTER (WHERE f.services[c.position] > 0) AS received
             FROM reporting.federal_inputs f CROSS JOIN reporting.federal_service_categories c
            WHERE f.quarter = ANY($1::text[]) AND f.statistics_consent
            GROUP BY f.organisation, f.quarter, c.code""",
        quarters,
    )
    outcomes = await conn.fetch(
        """SELECT f.organisation, f.quarter, split_part(o.pair, ':', 1) AS domain,
                  split_part(o.pair, ':', 2) AS change, count(*) AS clients
             FROM reporting.federal_inputs f CROSS JOIN LATERAL unnest(f.outcome_changes) o(pair)
            WHERE f.quarter = ANY($1::text[]) AND f.statistics_consent
            GROUP BY 1, 2, 3, 4""",
        quarters,
    )
    screenings = await conn.fetch(
        """SELECT organisation, quarter, result, outcome, screenings
             FROM reporting_ledger.identification_counts($1::text[])""",
        quarters,
    )
    try:
        return count_inputs(rows, services, screenings, outcomes)
    except InputsOutsideCodebook as error:
        raise ReportError(str(error)) from None


async def read_activity_rows(conn: asyncpg.Connection, period: Period) -> list[asyncpg.Record]:
    """The activities of the period's quarter as aggregates (organisation, quarter, kind, sector,
    activities, participants, hours): organisational facts, published as counted
    (`domain.reporting.activity_measures`)."""
    return await conn.fetch(
        """SELECT organisation, quarter, kind, sector, activities, participants, hours
             FROM reporting_ledger.activity_counts($1::text[])
            ORDER BY organisation, quarter, kind, sector NULLS FIRST""",
        [period.label],
    )


def true_tables(
    period: Period, scope: str, counts: Mapping[str, BaseCounts]
) -> list[dict[str, Any]]:
    """The hook for another disclosure method (differential privacy, `services.reporting.dp`):
    every codebook table about people of the release (the activity measures are published as
    counted whatever the method) with its fixed cells and their TRUE counts, in the
    output's shape (``[{"name", "program", "coverage", "cells": [{"dims", "count"}]}]``).

    A method takes this and returns what it publishes in the same shape. These numbers must
    never be output as they are; `counts` comes from `read_true_counts`. The job does not
    wire any such method to the CLI or the API.
    """
    organisations = organisations_in(counts, scope)
    chosen = [scope] if scope != ROLL_UP else organisations
    out: dict[str, dict[str, Any]] = {}
    for family in FAMILIES:
        if (
            all(spec.period == "grant_year" for spec in family.tables)
            and not period.ends_fiscal_year
        ):
            continue
        state = FamilyState(family, period.fiscal_year)
        universe = state.universe(organisations)
        base = counts[family.name]
        for spec, table in zip(
            [s for s in family.tables if s.period != "grant_year" or period.ends_fiscal_year],
            family_tables(family, universe, period, chosen),
            strict=True,
        ):
            entry = table_entry(out, spec)
            for key in table.keys():
                dims = cell_dims(family, table, key)
                if all(c["dims"] != dims for c in entry["cells"]):
                    entry["cells"].append(
                        {
                            "dims": dims,
                            "count": cell_truth(universe, base, table.selection(universe, key)),
                        }
                    )
    return list(out.values())
