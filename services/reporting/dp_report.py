"""`haven report federal --dp-epsilon E`: the quarter's federal tables with differential privacy.

For funders who accept noisy counts instead of suppressed ones: the codebook's quarterly
tables become tables of bounded contributions (`dp_tables`), released by
`services.reporting.dp.release_noisy`. The per-client rows (subject pseudonym and codes) are
read through the reporting role and live only in this process: the output holds counts,
never a subject.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from domain.reporting.families import MINIMUM_UNIT, ROLL_UP
from domain.reporting.federal_codebook import CATEGORIES, VERSION, WITHHELD
from domain.reporting.federal_families import FAMILIES
from domain.reporting.inputs import GROUP_COLUMNS, family_key
from services.reporting.access import (
    check_period,
    parse_period,
    refuse_other_mode,
    reporting_connection,
)
from services.reporting.dp import Requester, release_noisy
from services.reporting.dp_contributions import DPTable, bound_contributions, codebook_cells


def dp_tables(rows: list[asyncpg.Record], *, minimum_unit: int = MINIMUM_UNIT) -> list[DPTable]:
    """The DP tables of a scope's rows: every quarterly table of the codebook whose cells are
    single categories (`TableSpec.where` empty; year-to-date and grant-year tables are left to
    the suppression path), with all its codebook cells, zeros included.

    The privacy unit is the client: a client has at most one row per quarter in
    ``reporting.federal_inputs``, so adds 1 to at most one cell of each table
    (`max_contribution=1`), and the L1 sensitivity of the release is the number of tables.
    As in the suppression path, non-mandatory breakdowns count only clients who consented to
    statistics, and a table counting fewer than `minimum_unit` clients releases only its
    mandatory grand total (a non-mandatory table nothing): a 12-client agency's numbers reach
    the funder as its totals, or inside a larger unit, never broken down."""
    tables: dict[str, DPTable] = {}
    for family in FAMILIES:
        if family.population not in ("served", "entered", "closed"):
            continue
        for spec in family.tables:
            if spec.period != "quarter" or spec.where or spec.name in tables:
                continue
            positions = [family.dimensions.index(d) for d in spec.by]
            cells, everyone = [], set()
            for row in rows:
                key = family_key(family, row)
                if key is None:
                    continue
                everyone.add(row["subject"])
                codes = [key[2 + i] for i in positions]
                if WITHHELD in codes:
                    continue  # a non-consenting client: counted in mandatory totals only
                cells.append((row["subject"], dict(zip(spec.by, codes, strict=True))))
            if len(everyone) < minimum_unit:  # a unit too small to break down
                if spec.mandatory:
                    tables[spec.name] = bound_contributions(
                        spec.name,
                        codebook_cells({}),
                        1,
                        [(subject, {}) for subject in sorted(everyone)],
                    )
                continue
            codebook = codebook_cells({d: CATEGORIES[d] for d in spec.by})
            tables[spec.name] = bound_contributions(spec.name, codebook, 1, cells)
    return list(tables.values())


async def run_dp_report(
    reporting_url: str,
    period_label: str,
    org: str | None = None,
    *,
    epsilon: Decimal,
    per_client_budget: Decimal | None = None,
    requester: Requester | None = None,
    requester_budget: Decimal | None = None,
) -> dict[str, Any]:
    """The DP release of `period_label` for `org` (None: the roll-up), as JSON. A re-run
    returns the same numbers and spends nothing; a period released in the other mode is
    refused (`access.refuse_other_mode`)."""
    period = parse_period(period_label)
    scope = org or ROLL_UP
    async with reporting_connection(reporting_url) as conn:
        await check_period(conn, period)
        await refuse_other_mode(conn, period, "differential-privacy")
        rows = await conn.fetch(
            f"""SELECT subject, {", ".join(GROUP_COLUMNS)} FROM reporting.federal_inputs
                 WHERE quarter = $1 AND ($2::text IS NULL OR organisation = $2)""",
            period.label,
            org,
        )
        release = await release_noisy(
            conn,
            release_key=f"federal/{scope}",
            period=period.label,
            codebook_version=VERSION,
            tables=dp_tables(rows),
            epsilon_per_release=epsilon,
            per_client_budget=per_client_budget,
            requester=requester,
            requester_budget=requester_budget,
        )
    return release.to_json()
