"""`haven export CASE --org O`: a survivor's own record, written by the operator on the server
for the privacy officer who answers the survivor's request.

The same use case as `GET /v1/cases/{id}/export` (`services.commands.case_export`), so the
same JSON (or HTML document) and the same access record, written before anything is: actor
`cli:<who>` (`--by`, default the operating-system account running the command), role
`privacy_officer`, part `export`, basis `privacy-review`, request id `haven-cli`. A case that
is not in `--org` (another organisation's, missing or erased) is refused like a missing one;
when the access cannot be recorded nothing is written. `--out` creates the file readable by
its owner only and never overwrites one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import sys
from pathlib import Path

from services.settings import Settings

CLI_REQUEST_ID = "haven-cli"
CLI_ROLE = "privacy_officer"


def _write_new(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(content)


async def run_export_command(settings: Settings, url: str, args: argparse.Namespace) -> int:
    from domain.identifiers import is_identifier
    from events.access_log import AccessNotRecorded
    from events.store import utc_now
    from services.api.cases.export_document import render_html
    from services.api.cases.schemas.export import export_json, export_view
    from services.authorisation import AuthorisationError
    from services.bootstrap import runtime
    from services.commands.case_export import export_case
    from services.commands.case_reads import Reader
    from services.identity.claims import DEFAULT_TEAM, Principal

    who = args.by or getpass.getuser()
    if not is_identifier(args.org) or not is_identifier(who):
        print("haven export: --org and --by must be identifiers", file=sys.stderr)
        return 2
    if args.out is not None and args.out.exists():
        print(
            "haven export: --out names a file that exists; it is not overwritten", file=sys.stderr
        )
        return 2
    principal = Principal(
        user_id=f"cli:{who}",
        organisation_id=args.org,
        roles=frozenset({CLI_ROLE}),
        team_id=DEFAULT_TEAM,
        token_id=None,
        expires_at=utc_now() + dt.timedelta(minutes=5),
    )
    async with runtime(settings, url) as rt:
        try:
            export = await export_case(rt, Reader(principal, CLI_REQUEST_ID), args.case)
        except AuthorisationError:
            print("haven export: no such case in this organisation", file=sys.stderr)
            return 1
        except AccessNotRecorded:
            print(
                "haven export: the export could not be recorded, so nothing was exported",
                file=sys.stderr,
            )
            return 1
    view = export_view(export)
    content = render_html(view).encode() if args.format == "html" else export_json(view)
    if args.out is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return 0
    _write_new(args.out, content)
    print(f"haven export: wrote {args.out}", file=sys.stderr)
    return 0


def add_export_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`haven export`'s arguments."""
    import uuid

    export = commands.add_parser(
        "export",
        help="a survivor's own record: everything held about one case (recorded as an access)",
    )
    export.add_argument("case", type=uuid.UUID, metavar="CASE", help="the case's id")
    export.add_argument(
        "--org", required=True, help="the case's organisation (any other: no such case)"
    )
    export.add_argument("--format", choices=["json", "html"], default="json")
    export.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="a new file (mode 0600, never overwritten); default: standard output",
    )
    export.add_argument(
        "--by",
        metavar="WHO",
        help="who asks for the export, recorded as the access's actor `cli:WHO` "
        "(default: the operating-system account)",
    )
