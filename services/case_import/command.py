"""`haven import cases FILE.csv --org O --by WHO --team T [--dry-run]`: open a case for each
row of a CSV of intakes, as the worker `--by` of organisation `--org` would through
`POST /v1/cases` (`services.case_import.importing`; the columns: docs/operations.md,
"Bringing records in").

It prints one line per row (its number, the outcome, the case id) and, for a refused row, a
line per fault naming the column and the rule, never a value; then a summary. Exit status: 0
when every row was imported or had been before, 1 when a row was refused, 2 when the file
cannot be used at all.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from domain.identifiers import is_identifier
from services.bootstrap import runtime
from services.case_import.importing import FileRefused, ImportReport, import_cases, read_rows
from services.commands.ports import Actor
from services.settings import Settings

MAX_FILE_BYTES = 64 * 1024 * 1024


def add_import_command(commands: Any) -> None:
    """`haven import ...` on the `haven` parser's subcommands."""
    importing = commands.add_parser("import", help="bring records in from another system")
    import_commands = importing.add_subparsers(dest="import_command", required=True)
    cases = import_commands.add_parser(
        "cases", help="open a case for each row of a CSV of intakes (re-running is harmless)"
    )
    cases.add_argument("file", type=Path, metavar="FILE", help="a CSV file, UTF-8, with a header")
    cases.add_argument("--org", required=True, metavar="O", help="the organisation of the cases")
    cases.add_argument(
        "--by", required=True, metavar="WHO", help="the worker who imports (recorded; the "
        "cases' worker unless a row names one)",
    )  # fmt: skip
    cases.add_argument(
        "--team", required=True, metavar="T", help="the cases' team unless a row names one"
    )
    cases.add_argument("--dry-run", action="store_true", help="check and report; record nothing")


def _fail(message: str) -> int:
    print(f"haven import: {message}", file=sys.stderr)
    return 2


async def run_import_command(settings: Settings, url: str, args: argparse.Namespace) -> int:
    if not all(is_identifier(value) for value in (args.org, args.by, args.team)):
        return _fail("--org, --by and --team must be identifiers")
    try:
        if args.file.stat().st_size > MAX_FILE_BYTES:
            return _fail("the file is larger than an import takes; import it in parts")
        text = args.file.read_bytes().decode("utf-8-sig")
    except OSError:
        return _fail("the file cannot be read")
    except UnicodeDecodeError:
        return _fail("the file is not UTF-8 text")
    try:
        for _ in read_rows(text):  # the header and the row count, before any connection
            pass
    except FileRefused as refused:
        for fault in refused.faults:
            print(f"haven import: {fault}", file=sys.stderr)
        return 2
    except csv.Error:  # its message may quote the text: the rule only
        return _fail("the file is not CSV this import reads (RFC 4180, comma-separated)")
    async with runtime(settings, url) as rt:
        report = await import_cases(
            rt, Actor(args.by, args.org), args.team, text, dry_run=args.dry_run
        )
    _print_report(report)
    return 0 if report.refused == 0 else 1


def _print_report(report: ImportReport) -> None:
    for row in report.rows:
        print(f"row {row.row} {row.outcome} {row.case_id or ''}".rstrip())
        for fault in row.faults:
            print(f"  {fault.column or 'row'}: {fault.rule}")
    what = "dry run, nothing recorded" if report.dry_run else "recorded"
    print(
        f"haven import: {report.created} created, {report.exists} imported before, "
        f"{report.refused} refused ({what})"
    )
