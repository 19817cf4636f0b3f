"""The activity measures of a federal release: OVC TIMS performance measures of training,
outreach and technical assistance, per quarter, per organisation or rolled up.

They count an organisation's activities (`domain.outreach`) — trainings held, the people of
each audience sector they reached, outreach events and their contacts, technical assistance
given and its hours — which are organisational facts: no one is named, and a participant is a
professional or a member of the public reached, not a survivor. So they are **not suppressed**
and not part of the k = 11 audit: the suppression rule protects people served and screened
(`domain.reporting.families`), and a training for three police officers discloses nothing
about anyone Haven serves. They are released with the tables about people, under the same
codebook version, recorded with the release and covered by its ledger hash, and a late
activity of a released quarter makes its re-run a revision like any late record.

Every table lists every category in advance, zeros included. Pure: aggregated rows in.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.outreach.codes import SECTORS

NOT_SUPPRESSED_NOTE = (
    "counts of activities and of the professionals and members of the public they reached: "
    "organisational facts, not about people served, published as counted without suppression"
)


@dataclass(frozen=True)
class ActivityTable:
    name: str
    kinds: tuple[str, ...]  # activity kinds counted (`domain.outreach.codes.KINDS`)
    by: str | None  # "sector" (audience sector), "kind", or None (the measures alone)
    measures: tuple[str, str, str]  # names of: activities, participants, hours
    description: str
    program: str = "ovc_tims"


ACTIVITY_TABLES: tuple[ActivityTable, ...] = (
    ActivityTable(
        "tims_trainings_by_sector",
        ("training",),
        "sector",
        ("trainings", "people_trained", "hours"),
        "OVC TIMS: trainings held in the quarter, people trained and training hours, by the "
        "audience sector trained (a training counts once in each sector it reached; the total "
        "counts it once). Not about people served: published without suppression",
    ),
    ActivityTable(
        "tims_outreach",
        ("outreach_event", "public_awareness"),
        "kind",
        ("events", "contacts", "hours"),
        "OVC TIMS: outreach events and public-awareness activities in the quarter, the people "
        "they reached (contacts) and their hours. Not about people served: published without "
        "suppression",
    ),
    ActivityTable(
        "tims_technical_assistance",
        ("technical_assistance",),
        None,
        ("deliveries", "recipients", "hours"),
        "OVC TIMS: technical assistance delivered in the quarter: deliveries, the people who "
        "received it and its hours. Not about people served: published without suppression",
    ),
)


# every word an activity table's output holds besides counts: dimension names and codes
ACTIVITY_WORDS = frozenset(
    {"sector", "kind", "measure", "total", *SECTORS}
    | {kind for table in ACTIVITY_TABLES for kind in table.kinds}
    | {measure for table in ACTIVITY_TABLES for measure in table.measures}
)


def _number(value: Any) -> int | float:
    """Hours are quarter hours: a whole number when whole, else exact in binary."""
    number = float(value)
    return int(number) if number.is_integer() else number


def activity_tables(
    rows: Sequence[Mapping[str, Any]], quarter: str, organisations: Container[str] | None
) -> list[dict[str, Any]]:
    """The activity tables of `quarter` in the output's shape (``{"name", "program",
    "coverage", "cells": [{"dims", "count", "status"}]}``), every cell published.

    `rows`: aggregated rows (organisation, quarter, kind, sector — None for each activity once
    — activities, participants, hours), as `reporting_ledger.activity_counts` returns them.
    `organisations`: the organisations counted (None: all, the roll-up)."""
    sums: dict[tuple[str, str | None], list[Any]] = {}
    for row in rows:
        if row["quarter"] != quarter or (
            organisations is not None and row["organisation"] not in organisations
        ):
            continue
        total = sums.setdefault((row["kind"], row["sector"]), [0, 0, 0.0])
        total[0] += row["activities"]
        total[1] += row["participants"]
        total[2] += float(row["hours"])
    out = []
    for table in ACTIVITY_TABLES:
        every: list[tuple[str, str | None]] = [(kind, None) for kind in table.kinds]
        groups: list[tuple[dict[str, str], list[tuple[str, str | None]]]] = [({}, every)]
        if table.by == "sector":
            groups = [({"sector": s}, [(k, s) for k in table.kinds]) for s in SECTORS]
            groups.append(({"sector": "total"}, every))
        elif table.by == "kind":
            groups = [({"kind": k}, [(k, None)]) for k in table.kinds]
            groups.append(({"kind": "total"}, every))
        cells = []
        for dims, keys in groups:
            values = [sum(sums.get(key, [0, 0, 0.0])[i] for key in keys) for i in range(3)]
            for measure, value in zip(table.measures, values, strict=True):
                cells.append(
                    {
                        "dims": {**dims, "measure": measure},
                        "count": _number(value),
                        "status": "published",
                    }
                )
        out.append(
            {"name": table.name, "program": table.program, "coverage": "quarter", "cells": cells}
        )
    return out
