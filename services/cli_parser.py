"""The `haven` command line's arguments: every command, its options and their help."""

from __future__ import annotations

import argparse
import os
from decimal import Decimal
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    """The parser of every `haven` command and its options (`haven --help`)."""
    parser = argparse.ArgumentParser(
        prog="haven", description="Haven: confidential case management."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the service (embedded PostgreSQL unless HAVEN_DATABASE_URL is set)"
    )
    serve.add_argument("--demo", action="store_true", help="seed synthetic demo data")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="worker processes (default: one per CPU core this process may use, %(default)s here)",
    )

    from services.identity.cli import add_token_command

    add_token_command(commands)

    demo = commands.add_parser("demo", help="seed synthetic, entirely fictitious cases")
    demo.add_argument("--cases", type=int, default=200, help="number of intakes (default 200)")
    demo.add_argument("--seed", type=int, default=7, help="the same seed gives the same cases")
    demo.add_argument(
        "--bulk",
        action="store_true",
        help="write the same cases through the bulk path (large databases for sizing)",
    )

    db = commands.add_parser("db", help="database administration")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply schema migrations")

    verify = commands.add_parser(
        "verify", help="check every stream's hash chain and authentication tags"
    )
    verify.add_argument(
        "--checkpoint",
        type=Path,
        metavar="F",
        help="also check the log against this signed checkpoint: streams deleted, truncated, "
        "rewritten or rolled back since it was taken",
    )
    commands.add_parser(
        "restore-check",
        help="after a restore: erase again every case on the erasure list the database still "
        "holds (ids and dates only; also run at every server start-up)",
    )
    checkpoint = commands.add_parser(
        "checkpoint",
        help="sign the log's head (every stream's head, counts) with the key outside the database",
    )
    checkpoint.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="a file, or a directory for checkpoint-<time>.json (default: standard output)",
    )

    commands.add_parser("worker", help="run the projections only (no API), until interrupted")
    projections = commands.add_parser("projections", help="read models")
    projection_commands = projections.add_subparsers(dest="projections_command", required=True)
    rebuild = projection_commands.add_parser(
        "rebuild", help="rebuild from the start of the log, then swap in"
    )
    rebuild.add_argument(
        "names", nargs="*", metavar="NAME", help="projections to rebuild (default: all)"
    )
    rebuild.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for a stream-local projection's bulk pass (default: one per CPU; 1: none)",
    )
    rebuild.add_argument(
        "--retry-quarantined",
        action="store_true",
        help="apply the projection's quarantined streams again (after mending the cause)",
    )
    projection_commands.add_parser(
        "status", help="generation, lag and quarantined streams of every projection"
    )
    wait = projection_commands.add_parser(
        "wait", help="wait until every projection has applied the log as it is now"
    )
    wait.add_argument(
        "--timeout", type=float, default=30.0, help="seconds (default 30); exit 1 when exceeded"
    )

    add_keys_command(commands)

    report = commands.add_parser(
        "report", help="de-identified federal reports (k=11, audited, recorded)"
    )
    report_commands = report.add_subparsers(dest="report_command", required=True)
    federal = report_commands.add_parser(
        "federal", help="the quarterly federal report (OVC TIMS, HHS/OTIP, VOCA, HUD)"
    )
    federal.add_argument("--period", required=True, help="calendar quarter, e.g. 2026Q3")
    federal.add_argument("--org", help="one organisation (default: roll-up across organisations)")
    federal.add_argument("--format", choices=["json", "csv"], default="json")
    federal.add_argument(
        "--out",
        type=Path,
        metavar="F",
        help="json: the file to write; csv: a directory (one file per table); default: stdout",
    )
    federal.add_argument(
        "--dp-epsilon",
        type=Decimal,
        metavar="E",
        help="differential-privacy mode: noisy counts (OpenDP discrete Laplace) spending E per "
        "client instead of suppressed ones, within the disclosure policy "
        "(`haven report policy show`)",
    )
    federal.add_argument(
        "--field",
        action="append",
        metavar="NAME",
        help="only the tables answering a funder template's field (repeatable): a codebook "
        "table, a template's name for one (people_trained, individuals_screened), or an "
        "identifying field such as date_of_birth, answered with an aggregate (and logged as "
        "refused)",
    )
    policy = report_commands.add_parser(
        "policy", help="the disclosure policy of differentially private releases"
    )
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    policy_commands.add_parser("show", help="print the policy in force")
    policy_set = policy_commands.add_parser(
        "set",
        help="set the policy (as the database owner: HAVEN_DATABASE_URL naming it); "
        "unnamed numbers stay",
    )
    policy_set.add_argument(
        "--lifetime", type=Decimal, metavar="E", help="epsilon each client may be charged, ever"
    )
    policy_set.add_argument(
        "--per-release", type=Decimal, metavar="E", help="epsilon one release may charge a client"
    )
    policy_set.add_argument(
        "--requester-budget",
        type=Decimal,
        metavar="E",
        help="epsilon the reporters of one organisation, per role, may spend, ever",
    )
    policy_set.add_argument(
        "--noise-floor",
        type=Decimal,
        metavar="S",
        help="the smallest noise scale a release may use",
    )
    policy_set.add_argument(
        "--by", required=True, metavar="WHO", help="who sets it (recorded with the change)"
    )

    from services.export_command import add_export_command

    add_export_command(commands)

    from services.retention.command import add_retention_command

    add_retention_command(commands)

    from services.tasks.command import add_follow_up_rules_command

    add_follow_up_rules_command(commands)

    from services.screening.command import add_instruments_command

    add_instruments_command(commands)

    from services.outreach.command import add_activities_command

    add_activities_command(commands)

    from services.directory.command import add_directory_command

    add_directory_command(commands)

    from services.organisations.cli import add_organisation_command

    add_organisation_command(commands)

    from services.case_import.command import add_import_command

    add_import_command(commands)

    bench = commands.add_parser("bench", help="benchmarks; print a table, optionally write JSON")
    bench.add_argument(
        "suite", choices=["store", "http", "projections", "report", "erasure", "keys"]
    )
    bench.add_argument("--json", type=Path, metavar="PATH", help="write the figures as JSON")
    bench.add_argument(
        "--workers", type=int, default=1, help="http: the server's worker processes (default 1)"
    )
    bench.add_argument(
        "--history",
        action="store_true",
        help="report: release a fiscal year of a 20-organisation deployment, each release timed",
    )
    bench.add_argument(
        "--organisations", type=int, default=20, help="report --history: organisations (default 20)"
    )
    bench.add_argument(
        "--keys", type=int, default=100_000, help="keys: data keys to re-wrap (default 100,000)"
    )
    return parser


def add_keys_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`haven keys status | rotate | retire` (docs/operations.md#key-rotation)."""
    keys = commands.add_parser("keys", help="the organisations' key-encryption keys (KEKs)")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    status = keys_commands.add_parser(
        "status", help="per organisation: KEK versions, their state, the keys each wraps"
    )
    status.add_argument("--org", metavar="O", help="one organisation (default: all)")
    status.add_argument("--json", action="store_true", help="print JSON")
    rotate = keys_commands.add_parser(
        "rotate",
        help="make a new KEK version active and re-wrap every data key under it (online; "
        "resumes after an interruption)",
    )
    rotate.add_argument("--org", metavar="O", help="one organisation (default: all)")
    rotate.add_argument(
        "--batch", type=int, default=500, help="stream keys per transaction (default 500)"
    )
    rotate.add_argument(
        "--walkers",
        type=int,
        default=2,
        help="slices of the streams re-wrapped side by side, a connection each (default 2)",
    )
    retire = keys_commands.add_parser(
        "retire",
        help="remove a KEK version that no data key or secret references "
        "(default: every retiring version with none left)",
    )
    retire.add_argument("--org", metavar="O", help="one organisation (default: all)")
    retire.add_argument(
        "version", nargs="?", metavar="VERSION", help="a kek id, as `haven keys status` names it"
    )
