"""`haven directory import FILE --org O --by WHO [--dry-run]` and `haven directory export
[--org O] [--out F]`: load an HSDS document into the directory as an organisation's
administrator would (`services.directory.importing`), and write the directory out as one.

The import prints one line per record (its JSON pointer, the outcome, and for a refusal the
pointers of the members at fault with their rules, never a value) and a summary. The export
reads the directory's read model (run the worker, or `haven projections rebuild directory`,
first) and writes the public records: no confidential location's address is ever in it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from domain.directory.document import MAX_EXPORT, DocumentRefused, export_document
from domain.identifiers import is_identifier
from projections.directory import listed_services
from projections.queries import ViewNotBuilt
from services.bootstrap import runtime
from services.commands.ports import Actor
from services.directory.importing import ImportReport, import_document
from services.settings import Settings

MAX_FILE_BYTES = 64 * 1024 * 1024


def add_directory_command(commands: Any) -> None:
    """`haven directory ...` on the `haven` parser's subcommands."""
    directory = commands.add_parser("directory", help="the service directory (HSDS documents)")
    directory_commands = directory.add_subparsers(dest="directory_command", required=True)
    load = directory_commands.add_parser(
        "import", help="list an HSDS document's services for an organisation"
    )
    load.add_argument("file", type=Path, metavar="FILE", help="an HSDS JSON document")
    load.add_argument("--org", required=True, metavar="O", help="the organisation that lists them")
    load.add_argument("--by", required=True, metavar="WHO", help="who imports (recorded)")
    load.add_argument("--dry-run", action="store_true", help="report only; record nothing")
    export = directory_commands.add_parser("export", help="write the directory as HSDS JSON")
    export.add_argument("--org", metavar="O", help="one organisation's listings (default: all)")
    export.add_argument("--out", type=Path, metavar="F", help="the file (default: stdout)")


async def run_directory_command(settings: Settings, url: str, args: argparse.Namespace) -> int:
    for value in (args.org, getattr(args, "by", None)):
        if value is not None and not is_identifier(value):
            print("haven directory: --org and --by must be identifiers", file=sys.stderr)
            return 2
    if args.directory_command == "import":
        return await _import(settings, url, args)
    return await _export(settings, url, args)


async def _import(settings: Settings, url: str, args: argparse.Namespace) -> int:
    try:
        if args.file.stat().st_size > MAX_FILE_BYTES:
            print("haven directory: the file is larger than an import takes", file=sys.stderr)
            return 2
        body = args.file.read_bytes()
    except OSError:
        print("haven directory: the file cannot be read", file=sys.stderr)
        return 2
    async with runtime(settings, url) as rt:
        try:
            report = await import_document(
                rt.store, Actor(args.by, args.org), body, dry_run=args.dry_run
            )
        except DocumentRefused as refused:
            for pointer, rule in refused.faults:
                print(f"haven directory: {pointer or '/'} {rule}", file=sys.stderr)
            return 2
    _print_report(report)
    return 0 if report.refused == 0 else 1


def _print_report(report: ImportReport) -> None:
    for record in report.records:
        print(f"{record.pointer} {record.outcome} {record.service_id or ''}".rstrip())
        for fault in record.errors:
            print(f"  {fault.pointer or '/'} {fault.detail}")
    what = "dry run, nothing recorded" if report.dry_run else "recorded"
    print(
        f"haven directory: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.refused} refused ({what})"
    )


async def _export(settings: Settings, url: str, args: argparse.Namespace) -> int:
    async with runtime(settings, url) as rt:
        try:
            listed = await listed_services(rt.pool, args.org, limit=MAX_EXPORT + 1)
        except ViewNotBuilt:
            print(
                "haven directory: the directory is not built yet (run the worker)", file=sys.stderr
            )
            return 1
    if len(listed) > MAX_EXPORT:
        print(
            f"haven directory: more than {MAX_EXPORT} services; export one organisation's (--org)",
            file=sys.stderr,
        )
        return 2
    document = msgspec.json.encode(export_document(item.record for item in listed))
    if args.out is None:
        sys.stdout.write(document.decode() + "\n")
    else:
        args.out.write_bytes(document + b"\n")
        print(f"haven directory: {len(listed)} services written", file=sys.stderr)
    return 0
