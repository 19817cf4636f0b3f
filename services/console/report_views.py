"""What the report pages and downloads make of a federal release's document
(`services.reporting.release.federal_release`): its tables as rows to show, the certificate's
main facts, the one CSV file, and the downloads' file names.

A cell's status is `published`, `suppressed` or `withheld` (the suppression mode, whose
document says so) or `noisy` (every cell of a differential-privacy release).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from domain.reporting.federal_families import FAMILIES
from services.console.i18n import N_

NOISY = "noisy"
PROGRAMS = {
    "ovc_tims": N_("OVC TIMS"),
    "hhs_otip": N_("HHS/OTIP"),
    "voca": N_("VOCA"),
    "hud": N_("HUD"),
}
COVERAGES = {
    "quarter": N_("the quarter"),
    "fiscal_year_to_date": N_("the fiscal year to date"),
    "fiscal_year": N_("the fiscal year"),
}
SUPPRESSION_FACTS = (
    ("scope", N_("Scope")),
    ("revision", N_("Revision")),
    ("method", N_("Method")),
    ("k", N_("Threshold k")),
    ("minimum_reporting_unit", N_("Minimum reporting unit (clients)")),
    ("codebook_version", N_("Codebook version")),
    ("ledger_hash", N_("Ledger hash")),
)
AUDIT_FACTS = (
    ("result", N_("Audit result")),
    ("families", N_("Families audited")),
    ("targets", N_("Audit targets")),
    ("solves", N_("Solver runs")),
    ("publications_audited", N_("Publications audited")),
)
DP_FACTS = (
    ("release_key", N_("Release")),
    ("mechanism", N_("Mechanism")),
    ("library", N_("Library")),
    ("privacy_unit", N_("Privacy unit")),
    ("epsilon_per_client", N_("Epsilon spent per client")),
    ("per_client_budget", N_("Lifetime budget per client")),
    ("l1_sensitivity", N_("L1 sensitivity")),
    ("scale", N_("Noise scale")),
    ("post_processing", N_("Post-processing")),
)
# a DP document's tables name neither program nor coverage: the codebook's quarterly tables
CODEBOOK_PROGRAMS = {spec.name: spec.program for family in FAMILIES for spec in family.tables}
CSV_COLUMNS = ("period", "table", "program", "coverage", "cell", "count", "status")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


class Cell(NamedTuple):
    codes: list[str]
    number: int | float | None  # hours of activity may be fractional (2.5)
    status: str


class TableView(NamedTuple):
    name: str
    program: str
    coverage: str
    dimensions: list[str]
    cells: list[Cell]


def status_of(cell: Mapping[str, Any], dp: bool) -> str:
    if dp:
        return NOISY
    status = cell.get("status")
    if isinstance(status, str):
        return status
    return "published" if cell.get("count") is not None else "suppressed"


def program_of(table: Mapping[str, Any]) -> str:
    return str(table.get("program") or CODEBOOK_PROGRAMS.get(table["name"], ""))


def tables(document: Mapping[str, Any], dp: bool) -> list[TableView]:
    """The document's tables, each cell with its codes in the table's dimension order."""
    shown = []
    for table in document["tables"]:
        dimensions = list(table["cells"][0]["dims"]) if table["cells"] else []
        shown.append(
            TableView(
                name=table["name"],
                program=PROGRAMS.get(program_of(table), program_of(table)),
                coverage=COVERAGES.get(table.get("coverage", "quarter"), table.get("coverage")),
                dimensions=dimensions,
                cells=[
                    Cell(
                        [str(cell["dims"].get(d, "")) for d in dimensions],
                        cell["count"],
                        status_of(cell, dp),
                    )
                    for cell in table["cells"]
                ],
            )
        )
    return shown


def certificate_facts(certificate: Mapping[str, Any], dp: bool) -> list[tuple[str, str]]:
    """(label, value) of the certificate's main facts; the download holds all of it."""
    facts: list[tuple[str, str]] = []
    for key, label in DP_FACTS if dp else SUPPRESSION_FACTS:
        if key in certificate:
            facts.append((label, str(certificate[key])))
    audit = certificate.get("audit")
    if not dp and isinstance(audit, Mapping):
        facts.extend((label, str(audit[key])) for key, label in AUDIT_FACTS if key in audit)
    return facts


def withheld(certificate: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The withheld mandatory cells the certificate lists: (table, cell)."""
    return [
        (str(item.get("table", "")), cell_label(item.get("dims") or {}))
        for item in certificate.get("withheld") or []
        if isinstance(item, Mapping)
    ]


def cell_label(dims: Mapping[str, Any]) -> str:
    """`name=code; name=code`, or `total` for a table without breakdown."""
    return "; ".join(f"{name}={code}" for name, code in dims.items()) or "total"


def safe(value: object) -> str:
    """A CSV field that a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def count_text(count: float | None) -> str:
    """A published count as the CSV writes it: whole numbers without a decimal point, hours
    of activity as they are (2.5); empty when not published."""
    if count is None:
        return ""
    return str(int(count)) if float(count).is_integer() else f"{count:g}"


def csv_text(document: Mapping[str, Any], dp: bool) -> str:
    """One CSV of every cell: period, table, program, coverage, cell (`cell_label`), count
    (empty when not published) and status (`published`, `suppressed`, `withheld`, `noisy`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for table in document["tables"]:
        for cell in table["cells"]:
            count = cell["count"]
            writer.writerow(
                [
                    safe(document["period"]),
                    safe(table["name"]),
                    safe(program_of(table)),
                    safe(table.get("coverage", "quarter")),
                    safe(cell_label(cell["dims"])),
                    count_text(count),
                    safe(status_of(cell, dp)),
                ]
            )
    return buffer.getvalue()


def file_name(period: str, org: str | None, dp: bool, kind: str, extension: str) -> str:
    """`federal-2026Q3-all.csv`, `federal-2026Q3-org-harbor-dp-certificate.json`..."""
    parts = ["federal", period, org or "all", *(["dp"] if dp else []), *([kind] if kind else [])]
    name = "-".join(parts)
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:120] + "." + extension


def attachment(name: str) -> str:
    return f'attachment; filename="{name}"'


def summary_counts(shown: Sequence[TableView]) -> dict[str, int]:
    """How many cells of each status the tables hold."""
    counts: dict[str, int] = {}
    for table in shown:
        for cell in table.cells:
            counts[cell.status] = counts.get(cell.status, 0) + 1
    return counts
